"""Kinds that move pixels without weights: `zeropad` (ZeroPadding2D) and `upsample`
(UpSampling2D). Both are prologues: what they make is the input of what reads them."""

from __future__ import annotations

from . import args as A
from .base import LayerKind
from .roles import Prologue, Role

_SIDES = ("top", "bottom", "left", "right")


class ZeroPad(LayerKind):
    """ZeroPadding2D: `zeropad P` (P rows and columns on every side), `zeropad PHxPW` (PH rows
    above and below, PW columns left and right), or `zeropad top=T bottom=B left=L right=R`
    (unset sides 0). attrs["sides"] is the resolved (top, bottom, left, right)."""
    keyword = "zeropad"
    role = Role.PROLOGUE
    prologue = Prologue.PAD
    on = "image"
    positional = (A.Param("padding", A.pixels("the padding"), False, None),)
    options = {side: A.Param(side, A.at_least_zero(f"the {side} padding"), False, None) for side in _SIDES}
    usage = "zeropad P | zeropad PHxPW | zeropad top=T bottom=B left=L right=R"

    def check(self, attrs):
        given = [s for s in _SIDES if attrs[s] is not None]
        if attrs["padding"] is not None and given:
            raise A.ArgError(f"give the padding once: zeropad P, or {given[0]}= and the other sides, "
                             f"not both", option=given[0])
        if attrs["padding"] is None and not given:
            raise A.ArgError(f"zeropad needs its padding (usage: {self.usage})")

    def defaults(self, attrs):
        if attrs["padding"] is not None:
            ph, pw = attrs["padding"]
            attrs["sides"] = (ph, ph, pw, pw)
        else:
            attrs["sides"] = tuple(attrs[s] or 0 for s in _SIDES)

    def spatial(self, n, axis, attrs):
        t, b, l, r = attrs["sides"]
        return n + (t + b if axis == 0 else l + r)

    def padding_added(self, attrs):
        return attrs["sides"]

    def same_on_both_axes(self, attrs):
        t, b, l, r = attrs["sides"]
        return (t, b) == (l, r)

    def gather_only(self, attrs):
        return True


class Upsample(LayerKind):
    """UpSampling2D(size, interpolation): H·KH x W·KW. `nearest` repeats each pixel;
    `bilinear` interpolates with half-pixel centres (PyTorch's align_corners=False):
    output pixel o reads input (o + 0.5)/K - 0.5, clamped to the image."""
    keyword = "upsample"
    role = Role.PROLOGUE
    prologue = Prologue.RESAMPLE
    on = "image"
    positional = (A.Param("size", A.pair("the upsampling size")),)
    options = {"mode": A.Param("mode", A.choice("mode", ("nearest", "bilinear")), False, "nearest")}
    usage = "upsample SIZE [mode=nearest|bilinear]"

    def spatial(self, n, axis, attrs):
        return n * attrs["size"][axis]

    def geometry(self, attrs):
        if attrs["mode"] == "bilinear":   # two neighbours per axis, unless nothing grows
            return tuple(2 if k > 1 else 1 for k in attrs["size"]), (1, 1)
        return (1, 1), (1, 1)

    def growth(self, attrs):
        return attrs["size"]

    def gather_only(self, attrs):
        return attrs["mode"] == "nearest"
