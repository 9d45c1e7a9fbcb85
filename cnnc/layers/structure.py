"""The graph's own nodes: the `input`, and the joins that blocks make (`residual`, `concat`)."""

from __future__ import annotations

from . import args as A
from .base import LayerKind
from .roles import Epilogue, Role
from .types import Image, ShapeError, Vector


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
