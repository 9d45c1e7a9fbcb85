"""The layer registry: every fact about a layer kind, in one place.

    types.py        Image, Vector (the types on the graph's edges), shape errors
    roles.py        fusion roles (Role, Epilogue, Prologue): all the planner reads of a kind
    args.py         argument parsers (`3x3`, `same`, `0.5`) and Param
    base.py         LayerKind (what a kind declares) and the window arithmetic
    kinds.py        the kinds (the convolutions in convolution.py) and ALL: arguments, shape
                    rule, parameter shapes (Keras layouts), MACs, role
    activations.py  the activations: one table for every backend and bridge

This module assembles them (KINDS) and reads a statement's arguments (`parse_args`) and
writes a layer back as a statement (`statement`). Parsing, shape inference, the summary
and the planner read only from here. Each backend and bridge lowers every kind through
one table keyed by the keyword (its LOWERINGS); tests/test_registry.py fails when a kind
lacks a lowering anywhere. Adding a kind is one class in kinds.py or convolution.py (listed
in kinds.py ALL) plus one lowering per backend and bridge.
"""

from __future__ import annotations

from ..limits import shown
from .activations import ACTIVATIONS
from .activations import NAMES as ACTIVATION_NAMES
from .activations import activation_of
from .args import ArgError, Param
from .base import LayerKind, Window, dropped, window
from .kinds import ALL
from .roles import Epilogue, Prologue, Role
from .types import CollapseError, Image, ShapeError, Vector

__all__ = ["ACTIVATIONS", "ACTIVATION_NAMES", "ALIASES", "BLOCKS", "KINDS", "OPTION_ALIASES", "STATEMENTS", "ArgError",
           "CollapseError", "Epilogue", "Image", "LayerKind", "Param", "Prologue", "Role", "ShapeError", "Vector",
           "Window", "activation_of", "dropped", "parse_args", "statement", "window"]

KINDS: dict = {k.keyword: k for k in ALL}

# Statements a user may write: the layers, and the joins written with names (`add a b`);
# the other joins are made by blocks.
STATEMENTS = tuple(k for k, spec in KINDS.items() if not spec.joins or spec.named)
BLOCKS = ("residual", "shortcut", "concat", "add", "branch", "repeat", "scale")

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
    "drop": "dropout", "sum": "add", "cat": "concat", "concatenate": "concat",
    "depthwiseconv2d": "dwconv", "depthwiseconv": "dwconv", "depthwise": "dwconv", "dwconv2d": "dwconv",
    "separableconv2d": "sepconv", "separableconv": "sepconv", "separable": "sepconv",
    "conv2dtranspose": "deconv", "convtranspose2d": "deconv", "convtranspose": "deconv",
    "transposedconv": "deconv", "deconvolution": "deconv", "deconv2d": "deconv",
    "upsampling2d": "upsample", "upsampling": "upsample", "upsample2d": "upsample", "interpolate": "upsample",
    "zeropadding2d": "zeropad", "zeropad2d": "zeropad", "zeropadding": "zeropad", "pad": "zeropad",
    "globalmaxpooling2d": "globalmaxpool", "globalmaxpool2d": "globalmaxpool", "adaptivemaxpool2d": "globalmaxpool",
    "rescaling": "rescale",
    "layernormalization": "layernorm", "ln": "layernorm", "normalization": "normalize",
    "cropping2d": "crop", "cropping": "crop", "crop2d": "crop",
    "mul": "multiply", "squeezeexcitation": "scale", "squeezeexcite": "scale", "se": "scale",
}


# Keras's option names -> ours (an option, or an argument written positionally here)
OPTION_ALIASES = {
    "strides": "stride", "kernel_size": "kernel", "pool_size": "kernel", "epsilon": "eps",
    "dilation_rate": "dilation", "depth_multiplier": "multiplier", "use_bias": "bias", "interpolation": "mode",
}

# Activations of Keras or PyTorch that cnnc does not have: named as such, never "corrected"
# to one that merely looks alike (selu is not elu).
FOREIGN_ACTIVATIONS = ("selu", "prelu", "softplus", "softsign", "exponential", "mish", "celu", "glu",
                       "log_softmax", "logsigmoid", "hardtanh", "rrelu", "threshold", "softmin")


def _closest(word: str, candidates) -> "str | None":
    from ..errors import closest

    return closest(word, candidates)


class _Reader:
    """Reads one statement's arguments for parse_args. Every problem is reported; where what
    was meant is clear (a Keras spelling, a near miss, `3 x 3`) the argument is read as
    meant -- the program still fails, but the shapes after it are the fixed program's, so
    its later, independent mistakes are found too. `broken` is set when nothing is clear."""

    __slots__ = ("kind", "report_error", "who", "broken")

    def __init__(self, kind: LayerKind, report_error, label):
        self.kind, self.report_error = kind, report_error
        self.who = label or kind.keyword
        self.broken = False

    def error(self, message: str, line, col) -> None:
        self.report_error(f"{self.who}: {message}", line, col)

    def value(self, param, v, at):
        """`param`'s parse of v; a near miss among its words is reported (at `at`, the option
        or the argument) and read as meant."""
        try:
            return param.parse(v)
        except ArgError as e:
            guess = _closest(v.text, e.choices) if e.choices else None
            if guess is None:
                raise
            self.error(f"{e}; did you mean '{guess}'?", *at)
            return param.parse(type(v)(guess, "word", v.line, v.col))

    def activation(self, v, at) -> str:
        if v.kind == "word" and v.text in ACTIVATIONS:
            return v.text
        if v.text in ("None", "none"):   # Keras's activation=None: no activation, which is linear here
            self.error(f"unknown activation '{v.text}'; did you mean 'linear'? "
                       f"(no activation is written linear here)", *at)
            return "linear"
        names = ", ".join(ACTIVATION_NAMES)
        guess = None if v.text.lower() in FOREIGN_ACTIVATIONS else _closest(v.text, ACTIVATION_NAMES)
        if guess is not None:
            self.error(f"unknown activation '{shown(v.text)}'; did you mean '{guess}'?", *at)
            return guess
        if v.kind != "word":
            raise ArgError(f"the activation must be one of {names}, got '{shown(v.text)}'")
        self.error(f"unknown activation '{shown(v.text)}'; the activations are {names}", *at)
        return "linear"   # any activation keeps the shape: the layers after it are checked as they are

    def option_word(self, v, attrs: dict) -> bool:
        """`conv 8 3x3 same`: a word that one of the kind's options takes, written alone."""
        if v.kind != "word":
            return False
        for name, param in self.kind.options.items():
            if name in attrs:
                continue
            try:
                value = param.parse(v)
            except ArgError:
                continue
            self.error(f"'{shown(v.text)}' alone is not an argument of {self.kind.keyword}; did you mean {name}={shown(v.text)}?",
                       v.line, v.col)
            attrs[name] = value
            return True
        return False

    def unknown_option(self, a, attrs: dict, pos: list) -> None:
        """`strides=2` (Keras), `pading=same` (a typo), `kernel_size=3` (an argument here)."""
        kind, key, v = self.kind, a.key, a.value
        allowed = list(kind.options) + (["activation"] if kind.takes_activation else [])
        target = OPTION_ALIASES.get(key.lower(), key.lower())
        keras = key.lower() in OPTION_ALIASES
        positional = {p.name: p for p in pos}
        if target not in allowed and target not in positional:
            # an option of other statements (deconv's dilation=) is not a misspelt one of this
            taken_elsewhere = any(target in k.options for k in ALL)
            target = None if taken_elsewhere else _closest(key, allowed + list(positional))
            keras = False
        where = f"unknown option '{shown(key)}' for {kind.keyword}"
        if target in positional:
            p = positional[target]
            self.error(f"{where}; {kind.keyword} takes its {p.name} as an argument, not as an option"
                       + _usage_hint(kind), a.line, a.col)
            pos.remove(p)
            attrs[p.name] = self.value(p, v, (a.line, a.col))
        elif target is not None and target not in attrs:
            if v.text in ("True", "False"):   # Python's booleans, written as the option takes them
                v = type(v)(v.text.lower(), v.kind, v.line, v.col)
            fix = f"write {target}={shown(v.text)} (Keras's {shown(key)}= is {target}= here)" if keras \
                else f"did you mean {target}={shown(v.text)}?"
            self.error(f"{where}; {fix}", a.line, a.col)
            at = (a.line, a.col)
            attrs[target] = self.activation(v, at) if target == "activation" else self.value(kind.options[target], v, at)
        elif self.activation_parameter(key, attrs):
            act = ACTIVATIONS[attrs["activation"]]
            self.error(f"{where}; {act.name}'s {key} is set by a statement of its own (`{act.name} {key}="
                       f"{shown(v.text)}` after {kind.keyword}); as the activation of {kind.keyword} it is "
                       f"{act.param[1]!r}", a.line, a.col)
        else:   # nothing it could mean: read the rest without it
            hint = f"; {kind.keyword} takes " + ", ".join(f"{o}=" for o in allowed) if allowed \
                else f"; {kind.keyword} takes no options"
            self.error(where + hint, a.line, a.col)

    def activation_parameter(self, key: str, attrs: dict) -> bool:
        """`conv 8 3x3 leaky_relu slope=0.1`: the parameter of the statement's own activation."""
        act = ACTIVATIONS.get(attrs.get("activation", ""))
        return act is not None and act.param is not None and act.param[0] == key

    def spaced_size(self, args, i: int, param):
        """`3 x 3`, `3 x3` or `3X3` at args[i] (a size with spaces): (the size Value, args
        used), reported; or None."""
        parts, j = [args[i].value.text], i + 1
        while j < len(args) and args[j].key is None and args[j].value.kind == "word":
            w = args[j].value.text
            if w in ("x", "X") and j + 1 < len(args) and args[j + 1].key is None \
                    and args[j + 1].value.kind == "number" and args[j + 1].value.text.isdigit():
                parts.append(args[j + 1].value.text)
                j += 2
            elif w[:1] in ("x", "X") and w[1:].isascii() and w[1:].isdigit():   # x3 or X3
                parts.append(w[1:])
                j += 1
            else:
                break
        if len(parts) == 1:
            return None
        v = args[i].value
        size = "x".join(parts)
        written = " ".join(a.value.text for a in args[i:j])
        self.error(f"write {size} without spaces, not '{shown(written)}'; a size is one word, its numbers joined by x",
                   v.line, v.col)
        return type(v)(size, "size", v.line, v.col), j - i


def parse_args(kind: LayerKind, args, report_error, label: "str | None" = None) -> "dict | None":
    """Turn a statement's Args into attrs per the kind's declaration.

    Reports each problem through report_error(message, line, col), prefixed with
    `label` (the layer's name) or the keyword. Returns None if an argument was wrong
    in a way that leaves its meaning unclear; attrs read as meant otherwise (the
    problems are reported all the same: see _Reader).
    """
    attrs: dict = {}
    pos = list(kind.positional)
    seen_opts: set = set()
    r = _Reader(kind, report_error, label)
    i = 0
    while i < len(args):
        a = args[i]
        v = a.value
        at = (v.line, v.col) if a.key is None else (a.line, a.col)
        step = 1
        try:
            if a.key is None:
                if v.kind == "word" and v.text not in ACTIVATIONS and not pos and r.option_word(v, attrs):
                    pass
                elif kind.takes_activation and v.kind == "word" and "activation" not in attrs \
                        and (v.text in ACTIVATIONS or not pos):
                    attrs["activation"] = r.activation(v, at)
                elif kind.takes_activation and v.text in ACTIVATIONS and "activation" in attrs:
                    r.error(f"the activation is given twice ('{attrs['activation']}' and '{shown(v.text)}')", v.line, v.col)
                elif pos:
                    p = pos.pop(0)
                    if v.kind == "number" and i + 1 < len(args) and args[i + 1].value.kind == "word":
                        spaced = r.spaced_size(args, i, p) if v.text.isdigit() else None
                        if spaced is not None:
                            v, step = spaced
                    attrs[p.name] = r.value(p, v, at)
                else:
                    r.error(f"{kind.keyword} takes no more arguments, got '{shown(v.text)}'" + _usage_hint(kind),
                            v.line, v.col)
            elif a.key in seen_opts:
                r.error(f"option '{shown(a.key)}' is given twice", a.line, a.col)
            else:
                seen_opts.add(a.key)
                if a.key == "activation" and kind.takes_activation:
                    if "activation" in attrs:
                        r.error("the activation is given twice", a.line, a.col)
                    else:
                        attrs["activation"] = r.activation(v, at)
                elif a.key in kind.options:
                    attrs[a.key] = r.value(kind.options[a.key], v, at)
                else:
                    r.unknown_option(a, attrs, pos)
        except ArgError as e:
            r.error(str(e), *at)
            r.broken = True
        i += step
    missing = [p for p in pos if p.required]
    if missing and not r.broken:
        names = " and ".join(p.name for p in missing)
        raise_at = args[-1] if args else None
        report_error(f"{label + ': ' if label else ''}{kind.keyword} is missing its {names}" + _usage_hint(kind),
                     *((raise_at.line, raise_at.col) if raise_at else (None, None)))
        r.broken = True
    if r.broken:
        return None
    kind.unset(attrs)
    try:
        kind.check(attrs)
    except ArgError as e:
        at = next((a for a in args if a.key == e.option), None) if e.option else None
        report_error(f"{label or kind.keyword}: {e}", *((at.line, at.col) if at else (None, None)))
        return None
    kind.defaults(attrs)
    return attrs


def _usage_hint(kind: LayerKind) -> str:
    return f" (usage: {kind.usage})" if kind.usage else ""


# --- how a layer reads back as a statement ----------------------------------------

def _text(value, square_as_one: bool = True) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple) and value and isinstance(value[0], float):
        return ",".join(repr(v) for v in value)   # normalize's mean=0.485,0.456,0.406
    if isinstance(value, tuple):
        if square_as_one and len(value) == 2 and value[0] == value[1]:
            return str(value[0])
        return "x".join(str(v) for v in value)
    if isinstance(value, float):
        return repr(value)   # the shortest text that reads back as the same number
    return str(value)


def statement(node) -> str:
    """The layer as a program would write it, from the kind's own declarations:
    `conv 32 3x3 relu`, `pool 2 stride=1 padding=same`, `batchnorm eps=1e-05`.
    Options at their defaults are left out. Joins name their inputs
    (`residual: conv_2 + input`, `residual: conv_4 + input (scale=0.17)`). Code comments, plans and pictures all use this."""
    spec, a = node.spec, node.attrs or {}
    if spec.joins:
        scale = (node.attrs or {}).get("scale", 1.0)
        return f"{node.kind}: " + spec.separator.join(i.name for i in node.inputs) + \
            (f" (scale={_text(scale)})" if scale != 1.0 else "")
    if spec.epilogue is Epilogue.ACTIVATION and not spec.options:
        return node.kind
    parts = [node.kind]
    for p in spec.positional:
        if a.get(p.name) is None:
            continue   # an optional positional left out (zeropad top=1)
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
