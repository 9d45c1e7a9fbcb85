"""Patterns of ONNX nodes that are one cnnc statement, rewritten before conversion.

The exact GELU, as PyTorch's exporter (opsets before 20) writes it: x · ½ · (1 + erf(x/√2)),
with x/√2 a Div by √2 or a Mul by 1/√2 and the three factors multiplied in any grouping,
becomes one `Gelu` node. Every value inside the pattern must be read only inside it. (x ·
sigmoid(x) needs no rewrite here: it is a multiply of x by sigmoid(x), which
importers/simplify.py says as `silu`.)
"""

from __future__ import annotations

import math

import numpy as np

from .reader import Node

SQRT2 = math.sqrt(2.0)


def _scalar(model, makers, name) -> "float | None":
    """The value of `name` when it is a constant of one number (an initializer or a Constant)."""
    ref = model.tensors.get(name)
    if ref is None:
        n = makers.get(name)
        if n is None or n.op_type != "Constant" or n.domain:
            return None
        ref = n.attrs.get("value")
        if not hasattr(ref, "array"):
            v = n.attrs.get("value_float")
            return float(v) if isinstance(v, float) else None
    if ref.size != 1 or ref.data_type not in (1, 10, 11, 16):
        return None
    return float(np.asarray(ref.array()).reshape(()))


def _close(v, want) -> bool:
    return v is not None and math.isclose(v, want, rel_tol=1e-6)


def _other(node, name):
    """The other input of a two-input node, given one (None if it does not read `name`)."""
    if len(node.inputs) != 2 or name not in node.inputs:
        return None
    return node.inputs[1] if node.inputs[0] == name else node.inputs[0]


def fuse_gelu(model) -> None:
    makers = {o: n for n in model.nodes for o in n.outputs if o}
    readers = model.consumers()

    def only_reader(name, op_type):
        r = readers.get(name, [])
        return r[0] if len(r) == 1 and r[0].op_type == op_type and not r[0].domain else None

    gone: set = set()
    replaced: dict = {}
    for e in model.nodes:
        if e.op_type != "Erf" or e.domain or e.index in gone:
            continue
        d = makers.get(e.inputs[0])
        if d is None or d.domain or d.op_type not in ("Div", "Mul") or len(readers.get(d.outputs[0], [])) != 1:
            continue
        x, c = d.inputs
        want = SQRT2 if d.op_type == "Div" else 1 / SQRT2
        if not _close(_scalar(model, makers, c), want):
            if d.op_type == "Div" or not _close(_scalar(model, makers, x), want):
                continue
            x, c = c, x
        a = only_reader(e.outputs[0], "Add")
        if a is None or not _close(_scalar(model, makers, _other(a, e.outputs[0])), 1.0):
            continue
        m1 = only_reader(a.outputs[0], "Mul")
        if m1 is None:
            continue
        other = _other(m1, a.outputs[0])
        pattern = [d, e, a, m1]
        if other == x:                                      # (x · (1 + erf)) · ½
            m2 = only_reader(m1.outputs[0], "Mul")
            if m2 is None or not _close(_scalar(model, makers, _other(m2, m1.outputs[0])), 0.5):
                continue
            end = m2
        elif _close(_scalar(model, makers, other), 0.5):   # ((1 + erf) · ½) · x
            m2 = only_reader(m1.outputs[0], "Mul")
            if m2 is None or _other(m2, m1.outputs[0]) != x:
                continue
            end = m2
        else:                                               # (x · ½) · (1 + erf)
            h = makers.get(other)
            if h is None or h.op_type != "Mul" or h.domain or len(readers.get(other, [])) != 1 \
                    or not _close(_scalar(model, makers, _other(h, x)), 0.5):
                continue
            pattern.append(h)
            end = m1
        if end not in pattern:
            pattern.append(end)
        gone.update(n.index for n in pattern)
        replaced[end.index] = Node(e.name, "Gelu", "", [x], [end.outputs[0]], {}, end.index)
    if replaced:
        model.nodes = [replaced.get(n.index, n) for n in model.nodes
                       if n.index not in gone or n.index in replaced]
