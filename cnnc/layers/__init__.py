"""The layer registry: every fact about a layer kind, in one place.

    types.py        Image, Vector (the types on the graph's edges), shape errors
    roles.py        fusion roles (Role, Epilogue): all the planner reads of a kind
    args.py         argument parsers (`3x3`, `same`, `0.5`) and Param
    base.py         LayerKind (what a kind declares) and the window arithmetic
    kinds.py        the kinds: arguments, shape rule, parameter shapes (Keras layouts), MACs, role
    activations.py  the activations: one table for every backend and bridge

This module assembles them (KINDS) and reads a statement's arguments (`parse_args`) and
writes a layer back as a statement (`statement`). Parsing, shape inference, the summary
and the planner read only from here. Each backend and bridge lowers every kind through
one table keyed by the keyword (its LOWERINGS); tests/test_registry.py fails when a kind
lacks a lowering anywhere. Adding a kind is one class in kinds.py plus one lowering per
backend and bridge.
"""

from __future__ import annotations

from .activations import ACTIVATIONS
from .activations import NAMES as ACTIVATION_NAMES
from .args import ArgError, Param
from .base import LayerKind, Window, dropped, window
from .kinds import ALL
from .roles import Epilogue, Role
from .types import CollapseError, Image, ShapeError, Vector

__all__ = ["ACTIVATIONS", "ACTIVATION_NAMES", "ALIASES", "BLOCKS", "KINDS", "STATEMENTS", "ArgError",
           "CollapseError", "Epilogue", "Image", "LayerKind", "Param", "Role", "ShapeError", "Vector", "Window",
           "dropped", "parse_args", "statement", "window"]

KINDS: dict = {k.keyword: k for k in ALL}

# Statements a user may write (the joins are made by blocks, not written).
STATEMENTS = tuple(k for k, spec in KINDS.items() if not spec.joins)
BLOCKS = ("residual", "shortcut", "concat", "branch", "repeat")

# What Keras/PyTorch users write instead (lower case, no underscores) -> our keyword,
# for "did you mean" where spelling distance alone would not find it.
ALIASES = {
    "conv2d": "conv", "convolution": "conv", "convolution2d": "conv",
    "maxpool": "pool", "maxpool2d": "pool", "maxpooling": "pool", "maxpooling2d": "pool",
    "averagepooling2d": "avgpool", "avgpool2d": "avgpool", "averagepool": "avgpool",
    "globalaveragepooling2d": "globalpool", "globalavgpool": "globalpool", "gap": "globalpool",
    "adaptiveavgpool2d": "globalpool",
    "batchnormalization": "batchnorm", "batchnorm2d": "batchnorm", "bn": "batchnorm",
    "fc": "dense", "fullyconnected": "dense",
    "drop": "dropout", "add": "residual", "cat": "concat", "concatenate": "concat",
}


def _activation(v):
    if v.kind == "word" and v.text in ACTIVATIONS:
        return v.text
    raise ArgError(f"activation must be one of {', '.join(ACTIVATION_NAMES)}, got '{v.text}'")


def parse_args(kind: LayerKind, args, report_error, label: "str | None" = None) -> "dict | None":
    """Turn a statement's Args into attrs per the kind's declaration.

    Reports each problem through report_error(message, line, col), prefixed with
    `label` (the layer's name) or the keyword; returns None if any argument was wrong.
    """
    attrs: dict = {}
    ok = True
    pos = list(kind.positional)
    seen_opts: set = set()
    for a in args:
        try:
            if a.key is None:
                if kind.takes_activation and a.value.kind == "word" and "activation" not in attrs \
                        and (a.value.text in ACTIVATIONS or not pos):
                    attrs["activation"] = _activation(a.value)
                elif kind.takes_activation and a.value.text in ACTIVATIONS and "activation" in attrs:
                    raise ArgError(f"the activation is given twice ('{attrs['activation']}' and '{a.value.text}')")
                elif pos:
                    p = pos.pop(0)
                    attrs[p.name] = p.parse(a.value)
                else:
                    raise ArgError(f"{kind.keyword} takes no more arguments, got '{a.value.text}'"
                                   + _usage_hint(kind))
            else:
                if a.key in seen_opts:
                    raise ArgError(f"option '{a.key}' is given twice")
                seen_opts.add(a.key)
                if a.key == "activation" and kind.takes_activation:
                    if "activation" in attrs:
                        raise ArgError("the activation is given twice")
                    attrs["activation"] = _activation(a.value)
                elif a.key in kind.options:
                    attrs[a.key] = kind.options[a.key].parse(a.value)
                else:
                    allowed = list(kind.options) + (["activation"] if kind.takes_activation else [])
                    hint = f"; {kind.keyword} takes " + ", ".join(f"{o}=" for o in allowed) if allowed \
                        else f"; {kind.keyword} takes no options"
                    raise ArgError(f"unknown option '{a.key}' for {kind.keyword}{hint}")
        except ArgError as e:
            report_error(f"{label or kind.keyword}: {e}", a.value.line if a.key is None else a.line,
                         a.value.col if a.key is None else a.col)
            ok = False
    missing = [p for p in pos if p.required]
    if missing and ok:
        names = " and ".join(p.name for p in missing)
        raise_at = args[-1] if args else None
        report_error(f"{label + ': ' if label else ''}{kind.keyword} is missing its {names}" + _usage_hint(kind),
                     *((raise_at.line, raise_at.col) if raise_at else (None, None)))
        ok = False
    if not ok:
        return None
    for p in pos:
        attrs.setdefault(p.name, p.default)
    for name, p in kind.options.items():
        attrs.setdefault(name, p.default)
    if kind.takes_activation:
        attrs.setdefault("activation", "linear")
    kind.defaults(attrs)
    return attrs


def _usage_hint(kind: LayerKind) -> str:
    return f" (usage: {kind.usage})" if kind.usage else ""


# --- how a layer reads back as a statement ----------------------------------------

def _text(value, square_as_one: bool = True) -> str:
    if isinstance(value, tuple):
        if square_as_one and len(value) == 2 and value[0] == value[1]:
            return str(value[0])
        return "x".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def statement(node) -> str:
    """The layer as a program would write it, from the kind's own declarations:
    `conv 32 3x3 relu`, `pool 2 stride=1 padding=same`, `batchnorm eps=1e-05`.
    Options at their defaults are left out. Joins name their inputs
    (`residual: conv_2 + input`). Code comments, plans and pictures all use this."""
    spec, a = node.spec, node.attrs or {}
    if spec.joins:
        sep = " + " if spec.epilogue is Epilogue.ADD else ", "
        return f"{node.kind}: " + sep.join(i.name for i in node.inputs)
    if spec.epilogue is Epilogue.ACTIVATION:
        return node.kind
    parts = [node.kind]
    for p in spec.positional:
        # a conv kernel reads 3x3 by habit (a window with filters); pool sizes and strides read 2
        parts.append(_text(a.get(p.name), square_as_one=not (p.name == "kernel" and spec.takes_activation)))
    effective = dict(a)
    effective.update({name: p.default for name, p in spec.options.items()})
    spec.defaults(effective)   # defaults that depend on other arguments (a pool's stride)
    for name in spec.options:
        if name in a and a[name] != effective[name]:
            parts.append(f"{name}={_text(a[name])}")
    if spec.takes_activation and a.get("activation", "linear") != "linear":
        parts.append(a["activation"])
    return " ".join(parts)
