"""The converter registry: one converter per ONNX op type, and per opset where the op's
meaning changed (as onnx2torch keys its converters).

    @converter("ReduceMean", since=13)      # axes an attribute
    def reduce_mean_13(ctx, node, ins): ...
    @converter("ReduceMean", since=18)      # axes the second input
    def reduce_mean_18(ctx, node, ins): ...

A model of opset V uses, for each op, the converter with the largest `since` <= V. A
converter gets the Context (values.py), the Node (reader.py) and its inputs' values (Tensor,
Const, or None for an input left out) and returns the values of the node's outputs (a list,
or one value for a node with one output). It raises Unsayable with what cnnc would need, or
Malformed for attributes of the wrong type or out of range (a damaged file).
"""

from __future__ import annotations

CONVERTERS: dict = {}   # op type -> [(since, function)], largest since first

# the oldest opset whose ops the converters read (torch.onnx.export writes 17 and 18+)
MIN_OPSET = 13


def converter(op_type: str, since: int = MIN_OPSET):
    def register(f):
        entries = CONVERTERS.setdefault(op_type, [])
        if any(s == since for s, _ in entries):
            raise ValueError(f"two converters for {op_type} since opset {since}")
        entries.append((since, f))
        entries.sort(key=lambda e: -e[0])
        return f
    return register


def converter_for(op_type: str, opset: int):
    """The converter for `op_type` in a model of `opset`, or None."""
    for since, f in CONVERTERS.get(op_type, ()):
        if since <= opset:
            return f
    return None


def _load() -> None:
    """Register every converter (the modules register themselves when imported)."""
    from . import elementwise, layers, shapes  # noqa: F401


_load()
