"""The layer registry: every fact about a layer kind, in one place.

Each `LayerKind` declares its arguments (positional and `key=value`), its shape rule
(per spatial axis for image ops, so `cnnc shapes` can search the smallest input
axis by axis), its parameter shapes in the Keras layouts of SPEC §3, its
multiply-adds, and its *fusion role* -- what the planner in passes/fusion.py reads:

    anchor    conv, dense: a GEMM that can absorb an epilogue
    epilogue  batchnorm ("affine"), activations ("activation"), pools ("pool"),
              globalpool ("reduce"), residual ("add")
    view      flatten, dropout: no work at inference
    join      concat: branches write into one buffer

Backends implement kinds by keyword; parsing, shape inference, the summary and the
planner all read from here. Adding a layer kind means one entry here plus one
implementation per backend.
"""

from __future__ import annotations

from .records import FrozenRecord


# --- types on the graph's edges -------------------------------------------------

class Image(FrozenRecord):
    __slots__ = ("h", "w", "c")

    @property
    def dims(self) -> tuple:
        return (self.h, self.w, self.c)

    def __str__(self) -> str:
        return f"{self.h}x{self.w}x{self.c}"

    def describe(self) -> str:
        return f"an image {self}"


class Vector(FrozenRecord):
    __slots__ = ("n",)

    @property
    def dims(self) -> tuple:
        return (self.n,)

    def __str__(self) -> str:
        return str(self.n)

    def describe(self) -> str:
        return f"a vector of {self.n}"


class ShapeError(Exception):
    """A layer cannot take its input; the message is in the program's own terms."""


class CollapseError(ShapeError):
    """The image would shrink to zero (or less) along an axis."""


ACTIVATIONS = ("relu", "sigmoid", "tanh", "softmax", "linear")


# --- window arithmetic (conv and pooling), shared by every stage ---------------

def window(n: int, k: int, s: int, padding) -> tuple[int, int, int]:
    """Output size and (top/left, bottom/right) padding of a window along one axis.

    `padding` is "valid", "same" (TensorFlow: out = ceil(n/s), the smaller half of
    the padding on top/left) or an int p (p on both sides, as in PyTorch).
    """
    if padding == "valid":
        return (n - k) // s + 1, 0, 0
    if padding == "same":
        out = -(-n // s)
        total = max((out - 1) * s + k - n, 0)
        return out, total // 2, total - total // 2
    p = int(padding)
    return (n + 2 * p - k) // s + 1, p, p


def dropped(n: int, k: int, s: int, padding) -> int:
    """Real rows (or columns) at the bottom/right that no window reaches.

    Only when windows touch or overlap (k >= s): a 1x1 stride-2 conv skips every
    other row by design, which is not "dropping the edge". Padding rows that no
    window reaches are not real pixels and are not counted.
    """
    if padding == "same" or k < s:
        return 0
    p = 0 if padding == "valid" else int(padding)
    span = n + 2 * p - k
    return max(span % s - p, 0) if span >= 0 else 0


# --- argument specs --------------------------------------------------------------

class ArgError(Exception):
    pass


def _int(v, what: str) -> int:
    if v.kind != "number" or not _is_int(v.text):
        raise ArgError(f"{what} must be a positive integer, got '{v.text}'")
    n = int(v.text)
    if n <= 0:
        raise ArgError(f"{what} must be a positive integer, got {n}")
    return n


def _is_int(text: str) -> bool:
    t = text.lstrip("+-")
    return t.isdigit()


def count(what: str):
    return lambda v: _int(v, what)


def pair(what: str):
    """`3` or `3x5` (height x width), both positive."""
    def parse(v):
        if v.kind == "number" and _is_int(v.text):
            n = int(v.text)
            if n <= 0:
                raise ArgError(f"{what} must be positive, got {n}")
            return (n, n)
        if v.kind == "size":
            parts = [int(p) for p in v.text.split("x")]
            if len(parts) != 2:
                raise ArgError(f"{what} is height x width (like 3x3) or one number, got '{v.text}'")
            if min(parts) <= 0:
                raise ArgError(f"{what} must be positive, got {v.text}")
            return tuple(parts)
        raise ArgError(f"{what} must be a size like 3x3 or 3, got '{v.text}'")
    return parse


def padding(v):
    if v.kind == "word" and v.text in ("valid", "same"):
        return v.text
    if v.kind == "number" and _is_int(v.text) and int(v.text) >= 0:
        return int(v.text)
    raise ArgError(f"padding must be valid, same or a number of pixels >= 0, got '{v.text}'")


def activation(v):
    if v.kind == "word" and v.text in ACTIVATIONS:
        return v.text
    raise ArgError(f"activation must be one of {', '.join(ACTIVATIONS)}, got '{v.text}'")


def decimal(what: str, lo: float, hi: float, lo_closed: bool, hi_closed: bool):
    def parse(v):
        try:
            x = float(v.text)
        except ValueError:
            x = None
        if v.kind != "number" or x is None or x != x:
            raise ArgError(f"{what} must be a decimal number, got '{v.text}'")
        ok_lo = x >= lo if lo_closed else x > lo
        ok_hi = x <= hi if hi_closed else x < hi
        if not (ok_lo and ok_hi):
            interval = ("[" if lo_closed else "(") + f"{lo:g}, " + (f"{hi:g}" if hi != float("inf") else "inf") + ("]" if hi_closed else ")")
            raise ArgError(f"{what} must be in {interval}, got {v.text}")
        return x
    return parse


def input_shape(v):
    if v.kind == "size":
        parts = [int(p) for p in v.text.split("x")]
        if len(parts) == 3:
            if min(parts) <= 0:
                raise ArgError(f"input sizes must be positive, got {v.text}")
            return tuple(parts)
        if len(parts) == 2 and min(parts) > 0:
            raise ArgError(f"input is height x width x channels, got {v.text}; "
                           f"write {v.text}x1 for grayscale or {v.text}x3 for RGB")
    raise ArgError(f"input is height x width x channels like 28x28x1, got '{v.text}'")


class Param(FrozenRecord):
    """A declared argument: `name` (also the attrs key), `parse` (Value -> python value,
    raises ArgError), whether it is `required`, its `default`."""
    __slots__ = ("name", "parse", "required", "default")
    _defaults = {"required": True, "default": None}


# --- the kinds -------------------------------------------------------------------

class LayerKind:
    keyword: str = ""
    role: str = "opaque"           # anchor | epilogue | view | join | input
    epilogue: "str | None" = None  # for role == "epilogue": affine | activation | pool | reduce | add
    positional: tuple = ()
    options: dict = {}
    takes_activation = False       # a bare ACT word or activation=ACT sets attrs["activation"]
    on = "any"                     # "image", "vector" or "any": what input it needs
    makes_vector = False           # image in, vector out (flatten, globalpool)
    joins = False                  # a block's join node: its shape rule is `join`, not `infer`

    # Shape rule. Image kinds override `spatial` (one axis) and `channels`.
    def spatial(self, n: int, axis: int, attrs: dict) -> int:
        return n

    def channels(self, c: int, attrs: dict) -> int:
        return c

    def infer(self, inp, attrs):
        if self.on == "image" and not isinstance(inp, Image):
            raise ShapeError(f"{self.keyword} needs an image HxWxC but gets {inp.describe()}; "
                             f"it must come before flatten, globalpool and dense")
        if self.on == "vector" and not isinstance(inp, Vector):
            raise ShapeError(f"{self.keyword} needs a vector but gets {inp.describe()}; "
                             f"add flatten or globalpool before it")
        if isinstance(inp, Image):
            h, w = self.spatial(inp.h, 0, attrs), self.spatial(inp.w, 1, attrs)
            if h <= 0 or w <= 0:
                raise CollapseError(self.collapse_message(inp, h, w, attrs))
            return Image(h, w, self.channels(inp.c, attrs))
        return inp

    def collapse_message(self, inp, h, w, attrs) -> str:
        return f"the image collapses: {inp} in gives {max(h, 0)}x{max(w, 0)} out"

    def join(self, types: list, sides=None):
        """The output type of a join node (residual, concat) from its inputs' types."""
        raise NotImplementedError(self.keyword)

    def params(self, inp, out, attrs) -> dict:
        """Parameter shapes, by suffix (`kernel`, `bias`, ...), in Keras layouts."""
        return {}

    def macs(self, inp, out, attrs) -> int:
        return 0

    def geometry(self, attrs):
        """(kernel, stride) per axis for receptive-field arithmetic."""
        return (1, 1), (1, 1)

    def dropped_edges(self, inp, attrs) -> tuple[int, int]:
        """Rows and columns this layer silently drops (for the warning)."""
        return 0, 0


class _Window(LayerKind):
    """Conv and pooling share the sliding-window rule."""
    on = "image"

    def spatial(self, n, axis, attrs):
        return window(n, attrs["kernel"][axis], attrs["stride"][axis], attrs["padding"])[0]

    def geometry(self, attrs):
        return attrs["kernel"], attrs["stride"]

    def pads(self, inp, attrs) -> tuple[int, int, int, int]:
        """(top, bottom, left, right) padding on the image `inp`, per `window()`."""
        k, s, p = attrs["kernel"], attrs["stride"], attrs["padding"]
        _, top, bottom = window(inp.h, k[0], s[0], p)
        _, left, right = window(inp.w, k[1], s[1], p)
        return top, bottom, left, right

    def dropped_edges(self, inp, attrs):
        k, s, p = attrs["kernel"], attrs["stride"], attrs["padding"]
        return dropped(inp.h, k[0], s[0], p), dropped(inp.w, k[1], s[1], p)

    def collapse_message(self, inp, h, w, attrs):
        k, s, p = attrs["kernel"], attrs["stride"], attrs["padding"]
        stride = s[0] if s[0] == s[1] else f"{s[0]}x{s[1]}"
        return (f"the image collapses: {self.keyword} {k[0]}x{k[1]} (stride {stride}, padding {p}) "
                f"turns {inp} into {max(h, 0)}x{max(w, 0)}x{self.channels(inp.c, attrs)}; "
                f"use padding=same or a smaller kernel or stride, or a larger input")


class Conv(_Window):
    keyword = "conv"
    role = "anchor"
    positional = (Param("filters", count("the number of filters")), Param("kernel", pair("the kernel size")))
    options = {"stride": Param("stride", pair("the stride"), False, (1, 1)),
               "padding": Param("padding", padding, False, "valid")}
    takes_activation = True

    def channels(self, c, attrs):
        return attrs["filters"]

    def params(self, inp, out, attrs):
        kh, kw = attrs["kernel"]
        return {"kernel": (kh, kw, inp.c, attrs["filters"]), "bias": (attrs["filters"],)}

    def macs(self, inp, out, attrs):
        kh, kw = attrs["kernel"]
        return out.h * out.w * out.c * kh * kw * inp.c


class _Pool(_Window):
    role = "epilogue"
    epilogue = "pool"
    positional = (Param("kernel", pair("the pool size")),)
    options = {"stride": Param("stride", pair("the stride"), False, None),  # None: the pool size
               "padding": Param("padding", padding, False, "valid")}


class MaxPool(_Pool):
    keyword = "pool"

    def infer(self, inp, attrs):
        # max pooling never picks a padded pixel, so every window needs a real one:
        # integer padding p must stay below the pool size (PyTorch asks p <= k/2)
        p, k = attrs["padding"], attrs["kernel"]
        if not isinstance(p, str) and p >= min(k):
            raise ShapeError(f"pool padding {p} is not smaller than the pool size {k[0]}x{k[1]}: "
                             f"windows at the border would hold only padding; use "
                             + (f"padding={min(k) - 1} or less, or padding=same" if min(k) > 1
                                else "padding=valid or padding=same"))
        return super().infer(inp, attrs)


class AvgPool(_Pool):
    keyword = "avgpool"


class GlobalPool(LayerKind):
    keyword = "globalpool"
    role = "epilogue"
    epilogue = "reduce"
    on = "image"
    makes_vector = True

    def infer(self, inp, attrs):
        super().infer(inp, attrs)
        return Vector(inp.c)


class Flatten(LayerKind):
    keyword = "flatten"
    role = "view"
    makes_vector = True

    def infer(self, inp, attrs):
        return Vector(inp.h * inp.w * inp.c) if isinstance(inp, Image) else inp


class Dense(LayerKind):
    keyword = "dense"
    role = "anchor"
    on = "vector"
    positional = (Param("units", count("the number of units")),)
    takes_activation = True

    def infer(self, inp, attrs):
        super().infer(inp, attrs)
        return Vector(attrs["units"])

    def params(self, inp, out, attrs):
        return {"kernel": (inp.n, out.n), "bias": (out.n,)}

    def macs(self, inp, out, attrs):
        return inp.n * out.n


class BatchNorm(LayerKind):
    keyword = "batchnorm"
    role = "epilogue"
    epilogue = "affine"
    options = {"eps": Param("eps", decimal("eps", 0.0, float("inf"), False, False), False, 0.001)}

    def params(self, inp, out, attrs):
        c = (inp.dims[-1],)
        return {"gamma": c, "beta": c, "mean": c, "var": c}


class Dropout(LayerKind):
    keyword = "dropout"
    role = "view"
    positional = (Param("rate", decimal("the dropout rate", 0.0, 1.0, True, False)),)


class Activation(LayerKind):
    """`relu`, `softmax`, ... alone; attrs["activation"] is the keyword."""
    role = "epilogue"
    epilogue = "activation"

    def __init__(self, name: str):
        self.keyword = name


class Input(LayerKind):
    keyword = "input"
    role = "input"
    positional = (Param("shape", input_shape),)


class Residual(LayerKind):
    """The join of a residual block: out = block(x) + shortcut(x)."""
    keyword = "residual"
    role = "epilogue"
    epilogue = "add"
    joins = True

    def join(self, types, sides=("the block", "the shortcut")):
        a, b = types
        if a != b:
            raise ShapeError(f"shapes do not agree: {sides[0]} gives {a.describe()} "
                             f"but {sides[1]} gives {b.describe()}")
        return a


class Concat(LayerKind):
    """The join of a concat block: branches stacked on channels."""
    keyword = "concat"
    role = "join"
    joins = True

    def join(self, types, sides=None):
        if all(isinstance(t, Image) for t in types):
            first = types[0]
            for i, t in enumerate(types[1:], 2):
                if (t.h, t.w) != (first.h, first.w):
                    raise ShapeError(f"shapes do not agree: branches must match in height and width, but "
                                     f"branch 1 gives {first} and branch {i} gives {t}; give the branches "
                                     f"the same strides and padding=same")
            return Image(first.h, first.w, sum(t.c for t in types))
        if all(isinstance(t, Vector) for t in types):
            return Vector(sum(t.n for t in types))
        desc = ", ".join(f"branch {i} gives {t.describe()}" for i, t in enumerate(types, 1))
        raise ShapeError(f"shapes do not agree: cannot join images and vectors: {desc}")


KINDS: dict[str, LayerKind] = {k.keyword: k for k in (
    Conv(), MaxPool(), AvgPool(), GlobalPool(), Flatten(), Dense(), BatchNorm(), Dropout(), Input(),
    Residual(), Concat(), *(Activation(a) for a in ACTIVATIONS))}

# Statements a user may write (the joins are made by blocks, not written).
STATEMENTS = tuple(k for k in KINDS if k not in ("residual", "concat"))
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
                    attrs["activation"] = activation(a.value)
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
                    attrs["activation"] = activation(a.value)
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
    if isinstance(kind, _Pool) and attrs["stride"] is None:
        attrs["stride"] = attrs["kernel"]
    if isinstance(kind, Activation):
        attrs["activation"] = kind.keyword
    return attrs


USAGE = {
    "conv": "conv FILTERS KERNEL [stride=S] [padding=valid|same|P] [ACT]",
    "pool": "pool SIZE [stride=S] [padding=valid|same|P]",
    "avgpool": "avgpool SIZE [stride=S] [padding=valid|same|P]",
    "dense": "dense UNITS [ACT]",
    "dropout": "dropout RATE",
    "batchnorm": "batchnorm [eps=E]",
    "input": "input HxWxC",
}


def _usage_hint(kind: LayerKind) -> str:
    u = USAGE.get(kind.keyword)
    return f" (usage: {u})" if u else ""


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
    if spec.role == "join" or spec.epilogue == "add":
        sep = " + " if spec.epilogue == "add" else ", "
        return f"{node.kind}: " + sep.join(i.name for i in node.inputs)
    if isinstance(spec, Activation):
        return node.kind
    parts = [node.kind]
    for p in spec.positional:
        # a conv kernel reads 3x3 by habit; pool sizes and strides read 2
        parts.append(_text(a.get(p.name), square_as_one=not isinstance(spec, Conv)))
    for name, p in spec.options.items():
        default = a.get("kernel") if isinstance(spec, _Pool) and name == "stride" else p.default
        if name in a and a[name] != default:
            parts.append(f"{name}={_text(a[name])}")
    if spec.takes_activation and a.get("activation", "linear") != "linear":
        parts.append(a["activation"])
    return " ".join(parts)
