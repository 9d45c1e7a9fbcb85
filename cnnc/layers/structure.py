"""The graph's own nodes: the `input`, and the joins that blocks make (`residual`, `concat`,
`scale`). A join's `separator` is how its statement reads its inputs (`residual: conv_2 + input`)."""

from __future__ import annotations

from . import args as A
from .base import LayerKind
from .roles import Epilogue, Prologue, Role
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
    separator = " + "

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
    separator = ", "

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


class Scale(LayerKind):
    """The join of a scale block (squeeze-and-excitation): out = x · gate, where the block
    maps the image x (HxWxC) to a gate of C values that multiplies every pixel, channel by
    channel. Inputs: [x, gate]. Keras: Multiply([x, Reshape((1, 1, C))(gate)])."""
    keyword = "scale"
    role = Role.PROLOGUE
    prologue = Prologue.GATE
    joins = True
    separator = " * "

    def join(self, types, sides=None):
        x, gate = types
        if not isinstance(x, Image):
            raise ShapeError(f"scale {{ }} gates an image, but its input is {x.describe()}")
        if not isinstance(gate, Vector) or gate.n != x.c:
            got = gate.describe() + ("; end it with globalpool and dense layers"
                                     if isinstance(gate, Image) else "")
            raise ShapeError(f"the block must end in a vector of {x.c} values (one per channel of the "
                             f"{x} image it gates, e.g. `globalpool; dense 8 relu; dense {x.c} sigmoid`), "
                             f"but it gives {got}")
        return x

    def join_axis(self, sizes, relaxed):
        x, gate = sizes
        if x is None or gate is not None:
            raise ShapeError("the gate must be a vector of the image's channels")
        return x
