"""Convolutions: `conv` (dilated, grouped, with or without bias), `dwconv` (depthwise),
`sepconv` (depthwise then 1x1) and `deconv` (transposed). Keras 3's layers, layouts and
defaults: Conv2D, DepthwiseConv2D, SeparableConv2D, Conv2DTranspose."""

from __future__ import annotations

from ..limits import shown
from . import args as A
from .base import LayerKind, Window, per_axis, transposed
from .roles import Role
from .types import ShapeError

_STRIDE = A.Param("stride", A.pair("the stride"), False, (1, 1))
_PADDING = A.Param("padding", A.padding, False, "valid")
_DILATION = A.Param("dilation", A.pair("the dilation"), False, (1, 1))
_MULTIPLIER = A.Param("multiplier", A.count("the depth multiplier"), False, 1)
_BIAS = A.Param("bias", A.boolean("bias"), False, True)


def _square(p) -> str:
    return str(p[0]) if p[0] == p[1] else f"{p[0]}x{p[1]}"


class Conv(Window):
    """Conv2D(filters, kernel, strides, padding, dilation_rate, groups, use_bias): with G
    groups, input channels g·Cin/G.. feed output channels g·F/G.., kernel (KH, KW, Cin/G, F)."""
    keyword = "conv"
    role = Role.ANCHOR
    positional = (A.Param("filters", A.count("the number of filters")), A.Param("kernel", A.pair("the kernel size")))
    options = {"stride": _STRIDE, "padding": _PADDING, "dilation": _DILATION,
               "groups": A.Param("groups", A.count("groups"), False, 1), "bias": _BIAS}
    takes_activation = True
    folds_affine = True
    usage = "conv FILTERS KERNEL [stride=S] [padding=valid|same|P] [dilation=D] [groups=G] [bias=false] [ACT]"

    def check(self, attrs):
        if attrs["dilation"] != (1, 1) and attrs["stride"] != (1, 1):
            raise A.ArgError(f"dilation={_square(attrs['dilation'])} with stride={_square(attrs['stride'])}: "
                             f"a dilated conv has stride 1 (Keras's Conv2D refuses both)", option="dilation")
        g, f = attrs["groups"], attrs["filters"]
        if f % g:
            raise A.ArgError(f"groups={g} does not divide the {f} filters; groups must divide both the "
                             f"input channels and the filters", option="groups")

    def infer(self, inp, attrs):
        out = super().infer(inp, attrs)
        g = attrs["groups"]
        if inp.c % g:
            raise ShapeError(f"groups={g} does not divide the {inp.c} input channels of {inp.describe()}; "
                             f"groups must divide both the input channels and the filters")
        return out

    def channels(self, c, attrs):
        return attrs["filters"]

    def params(self, inp, out, attrs):
        kh, kw = attrs["kernel"]
        p = {"kernel": (kh, kw, inp.c // attrs["groups"], attrs["filters"])}
        if attrs["bias"]:
            p["bias"] = (attrs["filters"],)
        return p

    def macs(self, inp, out, attrs):
        kh, kw = attrs["kernel"]
        return out.h * out.w * out.c * kh * kw * (inp.c // attrs["groups"])


class DepthwiseConv(Window):
    """DepthwiseConv2D: each input channel c has its own M filters; output channel c·M + m
    is channel c convolved with kernel[:, :, c, m]. Kernel (KH, KW, C, M), bias (C·M,)."""
    keyword = "dwconv"
    role = Role.ANCHOR
    positional = (A.Param("kernel", A.pair("the kernel size")),)
    options = {"stride": _STRIDE, "padding": _PADDING, "dilation": _DILATION, "multiplier": _MULTIPLIER,
               "bias": _BIAS}
    takes_activation = True
    folds_affine = True
    usage = "dwconv KERNEL [stride=S] [padding=valid|same|P] [dilation=D] [multiplier=M] [bias=false] [ACT]"

    def channels(self, c, attrs):
        return c * attrs["multiplier"]

    def params(self, inp, out, attrs):
        kh, kw = attrs["kernel"]
        p = {"kernel": (kh, kw, inp.c, attrs["multiplier"])}
        if attrs["bias"]:
            p["bias"] = (out.c,)
        return p

    def macs(self, inp, out, attrs):
        kh, kw = attrs["kernel"]
        return out.h * out.w * out.c * kh * kw


class SeparableConv(Window):
    """SeparableConv2D: a depthwise conv without bias (`depthwise` (KH, KW, Cin, M)), then a
    1x1 conv to F filters (`pointwise` (1, 1, Cin·M, F)) with the bias (F,); the stride,
    padding and dilation are the depthwise part's."""
    keyword = "sepconv"
    role = Role.ANCHOR
    positional = (A.Param("filters", A.count("the number of filters")), A.Param("kernel", A.pair("the kernel size")))
    options = {"stride": _STRIDE, "padding": _PADDING, "dilation": _DILATION, "multiplier": _MULTIPLIER,
               "bias": _BIAS}
    takes_activation = True
    folds_affine = True
    initializers = {"depthwise": "glorot_uniform", "pointwise": "glorot_uniform"}
    usage = "sepconv FILTERS KERNEL [stride=S] [padding=valid|same|P] [dilation=D] [multiplier=M] [bias=false] [ACT]"

    def channels(self, c, attrs):
        return attrs["filters"]

    def params(self, inp, out, attrs):
        kh, kw = attrs["kernel"]
        m, f = attrs["multiplier"], attrs["filters"]
        p = {"depthwise": (kh, kw, inp.c, m), "pointwise": (1, 1, inp.c * m, f)}
        if attrs["bias"]:
            p["bias"] = (f,)
        return p

    def macs(self, inp, out, attrs):
        kh, kw = attrs["kernel"]
        mid = inp.c * attrs["multiplier"]
        return out.h * out.w * mid * kh * kw + out.h * out.w * mid * out.c


def _deconv_padding(v):
    if v.kind == "word" and v.text in ("valid", "same"):
        return v.text
    raise A.ArgError(f"deconv padding must be valid or same (a transposed conv takes no pixel count, as "
                     f"Keras's Conv2DTranspose), got '{shown(v.text)}'", ("valid", "same") if v.kind == "word" else ())


class TransposedConv(LayerKind):
    """Conv2DTranspose: every input pixel adds kernel · x at stride s into the output (the
    gradient of a conv). Kernel (KH, KW, F, Cin), bias (F,); sizes per base.transposed()."""
    keyword = "deconv"
    role = Role.ANCHOR
    on = "image"
    positional = (A.Param("filters", A.count("the number of filters")), A.Param("kernel", A.pair("the kernel size")))
    options = {"stride": _STRIDE, "padding": A.Param("padding", _deconv_padding, False, "valid"), "bias": _BIAS}
    takes_activation = True
    folds_affine = True
    usage = "deconv FILTERS KERNEL [stride=S] [padding=valid|same] [bias=false] [ACT]"

    def spatial(self, n, axis, attrs):
        return transposed(n, attrs["kernel"][axis], attrs["stride"][axis], attrs["padding"])[0]

    def channels(self, c, attrs):
        return attrs["filters"]

    def crops(self, inp, attrs) -> tuple[int, int, int, int]:
        """(top, bottom, left, right): what is dropped from each side of the full transposed
        convolution ((n - 1)*s + k per axis); negative where zeros are added instead."""
        (kh, kw), (sh, sw), p = attrs["kernel"], attrs["stride"], attrs["padding"]
        _, top, bottom = transposed(inp.h, kh, sh, p)
        _, left, right = transposed(inp.w, kw, sw, p)
        return top, bottom, left, right

    def params(self, inp, out, attrs):
        kh, kw = attrs["kernel"]
        p = {"kernel": (kh, kw, attrs["filters"], inp.c)}
        if attrs["bias"]:
            p["bias"] = (attrs["filters"],)
        return p

    def macs(self, inp, out, attrs):
        kh, kw = attrs["kernel"]
        return inp.h * inp.w * inp.c * out.c * kh * kw

    def geometry(self, attrs):
        # an output pixel gets contributions from at most ceil(k / s) input pixels per axis
        (kh, kw), (sh, sw) = attrs["kernel"], attrs["stride"]
        return (-(-kh // sh), -(-kw // sw)), (1, 1)

    def growth(self, attrs):
        return attrs["stride"]

    def reads(self, axis, n_in, n_out, attrs):
        # input i adds into positions i*s .. i*s + k - 1 of the full result, of which the
        # output keeps those from `top` on: output u reads every i with 0 <= u + top - i*s < k
        k, s = attrs["kernel"][axis], attrs["stride"][axis]
        top = transposed(n_in, k, s, attrs["padding"])[1]
        return [[i for i in range(max(0, -(-(u + top - k + 1) // s)), min(n_in - 1, (u + top) // s) + 1)]
                for u in range(n_out)]

    def arithmetic(self, inp, out, attrs):
        k, s, p = attrs["kernel"], attrs["stride"], attrs["padding"]
        if p == "same":
            return per_axis(inp, out, lambda a, n, o: f"{o} = {n} × {s[a]}")
        return per_axis(inp, out, lambda a, n, o: f"{o} = {n} × {s[a]} + max({k[a]} − {s[a]}, 0)")
