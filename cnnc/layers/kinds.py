"""The layer kinds of the language: each class is every fact about one statement."""

from __future__ import annotations

from . import args as A
from .activations import NAMES as ACTIVATION_NAMES
from .base import LayerKind, Window
from .roles import Epilogue, Role
from .types import Image, ShapeError, Vector


class Conv(Window):
    keyword = "conv"
    role = Role.ANCHOR
    positional = (A.Param("filters", A.count("the number of filters")), A.Param("kernel", A.pair("the kernel size")))
    options = {"stride": A.Param("stride", A.pair("the stride"), False, (1, 1)),
               "padding": A.Param("padding", A.padding, False, "valid")}
    takes_activation = True
    folds_affine = True
    usage = "conv FILTERS KERNEL [stride=S] [padding=valid|same|P] [ACT]"

    def channels(self, c, attrs):
        return attrs["filters"]

    def params(self, inp, out, attrs):
        kh, kw = attrs["kernel"]
        return {"kernel": (kh, kw, inp.c, attrs["filters"]), "bias": (attrs["filters"],)}

    def macs(self, inp, out, attrs):
        kh, kw = attrs["kernel"]
        return out.h * out.w * out.c * kh * kw * inp.c


class Pool(Window):
    """Max and average pooling; `reduce` says which."""
    role = Role.EPILOGUE
    epilogue = Epilogue.POOL
    reduce = ""   # "max" | "avg"
    positional = (A.Param("kernel", A.pair("the pool size")),)
    options = {"stride": A.Param("stride", A.pair("the stride"), False, None),  # None: the pool size
               "padding": A.Param("padding", A.padding, False, "valid")}

    def defaults(self, attrs) -> None:
        if attrs["stride"] is None:
            attrs["stride"] = attrs["kernel"]


class MaxPool(Pool):
    keyword = "pool"
    reduce = "max"
    usage = "pool SIZE [stride=S] [padding=valid|same|P]"

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


class AvgPool(Pool):
    keyword = "avgpool"
    reduce = "avg"
    usage = "avgpool SIZE [stride=S] [padding=valid|same|P]"


class GlobalPool(LayerKind):
    keyword = "globalpool"
    role = Role.EPILOGUE
    epilogue = Epilogue.REDUCE
    reduce = "avg"
    on = "image"
    makes_vector = True

    def infer(self, inp, attrs):
        super().infer(inp, attrs)
        return Vector(inp.c)


class Flatten(LayerKind):
    keyword = "flatten"
    role = Role.VIEW
    makes_vector = True

    def infer(self, inp, attrs):
        return Vector(inp.h * inp.w * inp.c) if isinstance(inp, Image) else inp


class Dense(LayerKind):
    keyword = "dense"
    role = Role.ANCHOR
    on = "vector"
    positional = (A.Param("units", A.count("the number of units")),)
    takes_activation = True
    folds_affine = True
    usage = "dense UNITS [ACT]"

    def infer(self, inp, attrs):
        super().infer(inp, attrs)
        return Vector(attrs["units"])

    def params(self, inp, out, attrs):
        return {"kernel": (inp.n, out.n), "bias": (out.n,)}

    def macs(self, inp, out, attrs):
        return inp.n * out.n


class BatchNorm(LayerKind):
    keyword = "batchnorm"
    role = Role.EPILOGUE
    epilogue = Epilogue.AFFINE
    options = {"eps": A.Param("eps", A.decimal("eps", 0.0, float("inf"), False, False), False, 0.001)}
    usage = "batchnorm [eps=E]"
    non_trainable = ("mean", "var")
    foldable = True

    def params(self, inp, out, attrs):
        c = (inp.dims[-1],)
        return {"gamma": c, "beta": c, "mean": c, "var": c}


class Dropout(LayerKind):
    keyword = "dropout"
    role = Role.VIEW
    positional = (A.Param("rate", A.decimal("the dropout rate", 0.0, 1.0, True, False)),)
    usage = "dropout RATE"


class ActivationLayer(LayerKind):
    """`relu`, `softmax`, ... alone; attrs["activation"] is the keyword."""
    role = Role.EPILOGUE
    epilogue = Epilogue.ACTIVATION

    def __init__(self, name: str):
        self.keyword = name

    def defaults(self, attrs) -> None:
        attrs["activation"] = self.keyword


class Input(LayerKind):
    keyword = "input"
    role = Role.INPUT
    positional = (A.Param("shape", A.input_shape),)
    usage = "input HxWxC"


class Residual(LayerKind):
    """The join of a residual block: out = block(x) + shortcut(x)."""
    keyword = "residual"
    role = Role.EPILOGUE
    epilogue = Epilogue.ADD
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
    role = Role.JOIN
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


ALL = (Conv(), MaxPool(), AvgPool(), GlobalPool(), Flatten(), Dense(), BatchNorm(), Dropout(), Input(),
       Residual(), Concat(), *(ActivationLayer(a) for a in ACTIVATION_NAMES))
