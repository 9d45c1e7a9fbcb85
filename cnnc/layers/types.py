"""The types on the graph's edges (Image HxWxC, Vector N) and the shape errors."""

from __future__ import annotations

from ..records import FrozenRecord


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
