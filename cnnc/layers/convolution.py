"""Convolutions: `conv`."""

from __future__ import annotations

from . import args as A
from .base import Window
from .roles import Role


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
