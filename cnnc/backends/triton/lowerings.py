"""How each layer kind enters the one kernel template (template.py).

Anchors set their group's gather and window (`geometry`), the length of its reduction
(`reduction`), the weight arrays the kernel reads (`weights`) and how `prepare` packs them
from the Keras parameters (`emit_prepare`). Affine epilogues say which per-channel arrays
they need and emit their line. Other epilogues are emitted by their role (Epilogue
flavour), prologues by theirs (Prologue flavour, geometry.Map); views and concat joins
cost no kernel (the planner makes them aliases and slices).

The gathers (template.emit_anchor):
  pointwise  a 1x1 stride-1 conv or a dense layer: rows read as they are
  window     K slices of one tap (kh, kw) and contiguous channels (Cin a multiple of 16)
  flat       the whole (kh, kw, cin) axis cut in BK slices, each element's tap computed
  direct     no GEMM: per tap and input channel of the group, a multiply-add per output
             channel (depthwise; grouped convs with fewer than 16 filters per group)
  separable  the depthwise result of BK channels, computed in registers, is the A tile
             of the pointwise GEMM
"""

from __future__ import annotations

from ...errors import CnncError
from ...layers import ACTIVATIONS


class Lowering:
    """A kind's place in the kernel template."""

    weights: tuple = ()

    def geometry(self, k, anchor) -> None:
        raise CnncError(f"{anchor.name}: {anchor.kind} is not an anchor of the triton backend", anchor.line, anchor.col)


def _window(k, anchor) -> None:
    a = anchor.attrs
    (k.KH, k.KW), (k.SH, k.SW) = a["kernel"], a["stride"]
    k.DH, k.DW = a.get("dilation") or (1, 1)
    k.PT, _, k.PL, _ = anchor.spec.pads(anchor.inputs[0].out, a)


def _gemm_gather(k) -> str:
    if (k.KH, k.KW, k.SH, k.SW, k.PT, k.PL) == (1, 1, 1, 1, 0, 0) and not k.transposed:
        return "pointwise"
    return "window" if k.CING % 16 == 0 else "flat"


def _bias(e, anchor, c: int) -> None:
    if "bias" in anchor.params:
        e.line(f"b = _f64(params[{anchor.name + '.bias'!r}])")
    else:
        e.comment(f"{anchor.name} has no bias (bias=false)")
        e.line(f"b = torch.zeros({c}, dtype=torch.float64)")


def _fold(e, k) -> None:
    """Per-channel affine maps (batchnorm, layerscale, normalize) folded into the (K, C) weight
    `w` and bias `b` (output channel last)."""
    for n in k.g.nodes[len(k.prologue) + 1:]:
        if n.name not in k.folded:
            break
        e.comment(f"{n.name} folded into {k.anchor.name}")
        k.affine(n).emit_scale_shift(n, e)
        e.line("w, b = w * s, b * s + t")


def _per_channel(k, anchor, gather: str) -> None:
    """dwconv and sepconv's depthwise part: each input channel is a group of one, and makes
    M (the multiplier) channels."""
    _window(k, anchor)
    k.M = anchor.attrs["multiplier"]
    k.CING, k.FG, k.gather = 1, k.M, gather


def _prepare_weights(e, k, weight: str, view: str = "") -> None:
    """The anchor's weight array `weight` as the (K, C) matrix (`view` reorders it first),
    its bias, the batchnorms folded into both, packed for the kernel."""
    a = k.anchor
    e.line(f"w = _f64(params[{a.name + '.' + weight!r}]){view}.reshape({k.K}, {k.C})")
    _bias(e, a, k.C)
    _fold(e, k)
    e.line(f"state[{k.name + '.w'!r}], state[{k.name + '.b'!r}] = _pack(w, b, {k.KP}, {k.CP})")


class WindowGEMM(Lowering):
    """conv: an implicit GEMM over (kh, kw, cin) windows, dilated and grouped as asked. With G
    groups each column tile lies in one group (BN divides F/G) and gathers that group's
    Cin/G channels; fewer than 16 filters per group cannot feed tl.dot: the direct gather."""
    weights = (("w_ptr", "w"), ("b_ptr", "b"))

    def geometry(self, k, anchor) -> None:
        _window(k, anchor)
        g = anchor.attrs.get("groups", 1)
        k.CING = k.CIN // g
        if g == 1:
            k.gather = _gemm_gather(k)
        elif (k.C // g) % 16 == 0:
            k.FG, k.grouped = k.C // g, True
            k.gather = _gemm_gather(k)
        else:
            k.FG, k.gather = k.C // g, "direct"

    def reduction(self, k) -> int:
        return k.KH * k.KW * k.CING

    def emit_prepare(self, k, e) -> None:
        _prepare_weights(e, k, "kernel")


class VectorGEMM(WindowGEMM):
    """dense: the 1x1 case on a 1x1 image; its input is read as one vector (a flatten is a view)."""

    def geometry(self, k, anchor) -> None:
        k.CIN, k.IH, k.IW = k.IH * k.IW * k.CIN, 1, 1
        k.CING = k.CIN
        k.gather = "pointwise"


class Depthwise(Lowering):
    """dwconv: per-channel windows, not a GEMM: output channel c*M + m is input channel c
    (the group of one channel) times its own KH x KW filter. Kernel (KH, KW, C, M) is the
    (taps, C*M) matrix of the direct gather."""
    weights = (("w_ptr", "w"), ("b_ptr", "b"))

    def geometry(self, k, anchor) -> None:
        _per_channel(k, anchor, "direct")

    def reduction(self, k) -> int:
        return k.KH * k.KW

    def emit_prepare(self, k, e) -> None:
        _prepare_weights(e, k, "kernel")


class Separable(Lowering):
    """sepconv: the depthwise part (no bias) computed for BK of its Cin*M channels at a time
    in registers, then multiplied by the pointwise (Cin*M, F) weights with tl.dot; a
    batchnorm after it folds into the pointwise weights and the bias."""
    weights = (("w_ptr", "w"), ("b_ptr", "b"), ("d_ptr", "d"))

    def geometry(self, k, anchor) -> None:
        _per_channel(k, anchor, "separable")

    def reduction(self, k) -> int:
        return k.CIN * k.M

    def emit_prepare(self, k, e) -> None:
        _prepare_weights(e, k, "pointwise")
        a = k.anchor
        e.comment("the depthwise part: (taps, Cin*M), each row zero-padded to KP")
        e.line(f"d = _f64(params[{a.name + '.depthwise'!r}]).reshape({k.KH * k.KW}, {k.K})")
        e.line(f"state[{k.name + '.d'!r}] = _pack_rows(d, {k.KP})")


class TransposedGEMM(WindowGEMM):
    """deconv: a GEMM whose gather inverts the stride: output pixel o takes input pixel
    (o + crop - tap) / stride where that divides exactly (crop: what Keras drops at the
    top/left of the full transposed convolution, spec.crops). Kernel (KH, KW, F, Cin) is
    transposed to (KH, KW, Cin, F), the layout of a conv's."""

    def geometry(self, k, anchor) -> None:
        a = anchor.attrs
        (k.KH, k.KW), (k.SH, k.SW) = a["kernel"], a["stride"]
        k.PT, _, k.PL, _ = anchor.spec.crops(anchor.inputs[0].out, a)
        k.transposed = True
        k.CING = k.CIN
        k.gather = _gemm_gather(k)

    def emit_prepare(self, k, e) -> None:
        _prepare_weights(e, k, "kernel", ".permute(0, 1, 3, 2)")


class BatchNormAffine(Lowering):
    """batchnorm that does not fold: x * scale + shift per channel (gamma 1 with scale=false,
    beta 0 with center=false). Its kin (layerscale, normalize) differ only in how `prepare`
    finds the scale and the shift (`emit_scale_shift`: float64 tensors `s`, `t` of (C,))."""
    arrays = ("scale", "shift")

    def emit_scale_shift(self, n, e) -> None:
        e.line(f"s, t = _affine(params, {n.name!r}, {n.attrs['eps']!r})")

    def emit_prepare(self, k, n, e) -> None:
        self.emit_scale_shift(n, e)
        e.line(f"state[{k.name + '.' + n.name + '.scale'!r}] = s.to(DEVICE, torch.float32).contiguous()")
        e.line(f"state[{k.name + '.' + n.name + '.shift'!r}] = t.to(DEVICE, torch.float32).contiguous()")

    def emit(self, k, n, e) -> None:
        v = k.arg(n)
        e.comment(f"{n.name}: batchnorm as x * scale + shift")
        e.line(f"acc = acc * tl.load({v}_scale + offs_n, mask=mask_n, other=0.0)[None, :] "
               f"+ tl.load({v}_shift + offs_n, mask=mask_n, other=0.0)[None, :]")


class LayerScaleAffine(BatchNormAffine):
    """layerscale: channel c times gamma[c] (a shift of 0)."""

    def emit_scale_shift(self, n, e) -> None:
        e.line(f"s = _f64(params[{n.name + '.gamma'!r}])")
        e.line("t = torch.zeros_like(s)")


class NormalizeAffine(BatchNormAffine):
    """normalize: (x - mean) / max(sqrt(var), 1e-7) as x * scale + shift, from its weights or the
    program's constants."""

    def emit_scale_shift(self, n, e) -> None:
        consts = n.spec.constants(n.attrs, n.out.dims[-1])
        if consts is None:
            e.line(f"mean, var = _f64(params[{n.name + '.mean'!r}]), _f64(params[{n.name + '.var'!r}])")
        else:
            e.line(f"mean = torch.tensor({list(consts[0])!r}, dtype=torch.float64)")
            e.line(f"var = torch.tensor({list(consts[1])!r}, dtype=torch.float64)")
        e.line("s = 1.0 / torch.sqrt(var).clamp_min(1e-7)")
        e.line("t = -mean * s")


class LayerNormRow(Lowering):
    """layernorm: each row of channels normalised by its mean and biased variance, then gamma and
    beta. Fused (`emit`), the tile holds the whole row (BN >= C, as a fused softmax); a wider row
    runs in a row kernel of its own (`emit_wide`, template.emit_row_kernel), three passes over
    the row in BN-channel chunks: the mean, the variance around it, the result."""
    arrays = ("gamma", "beta")

    def emit_prepare(self, k, n, e) -> None:
        for a in self.arrays:
            e.line(f"state[{k.name + '.' + n.name + '.' + a!r}] = _f64(params[{n.name + '.' + a!r}])"
                   f".to(DEVICE, torch.float32).contiguous()")

    def _affine(self, k, n, e, x: str) -> None:
        v = k.arg(n)
        e.line(f"acc = {x} * tl.load({v}_gamma + offs_n, mask=mask_n, other=0.0)[None, :] "
               f"+ tl.load({v}_beta + offs_n, mask=mask_n, other=0.0)[None, :]")

    def emit(self, k, n, e) -> None:
        e.comment(f"{n.name}: layernorm over the whole channel row (BN covers C)")
        e.line("mean = tl.reduce(tl.where(mask_n[None, :], acc, 0.0), 1, _sum) / C")
        e.line("d = tl.where(mask_n[None, :], acc - mean[:, None], 0.0)")
        e.line(f"rstd = 1.0 / tl.sqrt(tl.reduce(d * d, 1, _sum) / C + {float(n.attrs['eps'])!r})")
        self._affine(k, n, e, "d * rstd[:, None]")

    def emit_wide_stats(self, k, n, e, load) -> None:
        """A row kernel's passes before the last: the row's mean, then its variance around it
        (`load(e, other)` reads the chunk at c0 as `x`)."""
        e.comment(f"{n.name}: layernorm over rows wider than a tile: the mean, then the variance around")
        e.comment("it, each a pass over the row in BN-channel chunks; the last pass writes the result")
        e.line("total = tl.full([BM], 0.0, dtype=tl.float32)")
        with e.block("for c0 in range(0, C, BN):"):
            load(e, "0.0")
            e.line("total += tl.reduce(x, 1, _sum)")
        e.line("mean = total / C")
        e.line("total = tl.full([BM], 0.0, dtype=tl.float32)")
        with e.block("for c0 in range(0, C, BN):"):
            load(e, "0.0")
            e.line("d = tl.where(mask_n[None, :], x - mean[:, None], 0.0)")
            e.line("total += tl.reduce(d * d, 1, _sum)")
        e.line(f"rstd = 1.0 / tl.sqrt(total / C + {float(n.attrs['eps'])!r})")

    def emit_wide_value(self, k, n, e) -> None:
        """The last pass: the chunk `x` normalised, as `acc`."""
        self._affine(k, n, e, "(x - mean[:, None]) * rstd[:, None]")


class ConstantAffine(Lowering):
    """rescale: x * scale + offset, the same two numbers for every value."""
    arrays = ()

    def emit_prepare(self, k, n, e) -> None:
        pass

    def emit(self, k, n, e) -> None:
        e.comment(f"{n.name}: rescale")
        e.line(f"acc = acc * {float(n.attrs['scale'])!r} + {float(n.attrs['offset'])!r}")


IN_TEMPLATE = Lowering()   # activations, pools, reductions, adds, prologues, views, joins: by role

LOWERINGS: dict = {
    "conv": WindowGEMM(), "dense": VectorGEMM(), "dwconv": Depthwise(), "sepconv": Separable(),
    "deconv": TransposedGEMM(), "batchnorm": BatchNormAffine(), "rescale": ConstantAffine(),
    "layerscale": LayerScaleAffine(), "normalize": NormalizeAffine(), "layernorm": LayerNormRow(),
    **{kind: IN_TEMPLATE for kind in ("pool", "avgpool", "globalpool", "globalmaxpool", "residual", "concat",
                                      "flatten", "dropout", "input", "zeropad", "crop", "upsample", "scale", "add",
                                      "multiply",
                                      *ACTIVATIONS)},
}
