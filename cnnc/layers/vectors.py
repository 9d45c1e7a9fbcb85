"""From images to vectors and on: `flatten`, `dense`."""

from __future__ import annotations

from . import args as A
from .base import LayerKind
from .roles import Role
from .types import Image, Vector


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
