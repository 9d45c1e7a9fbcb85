"""Pooling: `pool`, `avgpool` (windows) and `globalpool`, `globalmaxpool` (every pixel)."""

from __future__ import annotations

from . import args as A
from .base import LayerKind, Window
from .roles import Epilogue, Role
from .types import ShapeError, Vector


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
    """GlobalAveragePooling2D: image HxWxC -> vector C."""
    keyword = "globalpool"
    role = Role.EPILOGUE
    epilogue = Epilogue.REDUCE
    reduce = "avg"
    on = "image"
    makes_vector = True

    def infer(self, inp, attrs):
        super().infer(inp, attrs)
        return Vector(inp.c)


class GlobalMaxPool(GlobalPool):
    """GlobalMaxPooling2D: the largest value of each channel, image HxWxC -> vector C."""
    keyword = "globalmaxpool"
    reduce = "max"
