"""The source of one fused @triton.jit kernel: every fusion group becomes this one
template, specialised by its layers (the module docstring of cnnc/backends/triton/
explains the shape, lowerings.py the gathers). Tile sizes are constexpr parameters set at
launch from the chosen config (carried/triton_tiles.py): nothing here depends on them.
"""

from __future__ import annotations

from ...layers import ACTIVATIONS, Epilogue, activation_of
from ..emitter import Emitter, source_line


def emit_reducers(e: Emitter) -> None:
    e.comment("tl.sum/tl.max/tl.zeros are library @jit functions: when triton was imported before")
    e.comment("TRITON_INTERPRET was set they fail in the interpreter; builtins and these combiners do not")
    e.line("_sum = tl.standard._sum_combine")
    e.line("_max = tl.standard._elementwise_max")
    e.line("")
    e.line("")
    e.line("@triton.jit")
    with e.block("def _max_nan(a, b):"):
        e.comment("the larger of two values; NaN if either is NaN (numpy's max)")
        e.line("return tl.maximum(a, b, propagate_nan=tl.PropagateNan.ALL)")


def _signature(k, e: Emitter) -> None:
    ptrs = [p for p, _ in k.pointer_args()]
    consts = [f"{name}: tl.constexpr" for name, _ in k.constexprs()] + [f"{t}: tl.constexpr" for t in k.tile_params()]
    e.line("@triton.jit")
    e.line(f"def {k.name}(")
    with e.indented():
        e.line(f"{', '.join(ptrs)}, NB,")
        for i in range(0, len(consts), 6):
            e.line(", ".join(consts[i:i + 6]) + ",")


def emit_kernel(k, e: Emitter) -> None:
    if k.row is not None:
        emit_row_kernel(k, e)
        return
    _signature(k, e)
    with e.block("):"):
        for n in (k.g.nodes or []):
            e.comment(source_line(n))
        if k.g.copy_into is not None:
            e.comment(f"line {k.g.copy_into.line}: copy {k.src.name} into its slice of {k.g.copy_into.name}")
        if k.reduce:
            what = "takes the largest value of" if k.reduce_max else "sums"
            e.comment(f"a global pool: one program per image (and channel tile) {what} all its pixels")
            e.line("pid_n = tl.program_id(1)")
            _group_offset(k, e)
            e.line("offs_n = pid_n * BN + tl.arange(0, BN)")
            e.line("mask_n = offs_n < C")
            e.line("img0 = tl.program_id(0).to(tl.int64)")
            e.line("img = tl.full([BM], 0, dtype=tl.int64) + img0")
            start = 'float("-inf")' if k.reduce_max else "0.0"
            e.line(f"total = tl.full([BN], {start}, dtype=tl.float32)")
            with e.block("for p0 in range(0, PH * PW, BM):"):
                e.line("offs_p = p0 + tl.arange(0, BM)")
                e.line("mask_m = offs_p < PH * PW")
                e.line("ph = offs_p // PW")
                e.line("pw = offs_p % PW")
                emit_body(k, e)
                if k.reduce_max:
                    e.line('part = tl.reduce(tl.where(mask_m[:, None], acc, float("-inf")), 0, _max_nan)')
                    e.line("total = tl.maximum(total, part, propagate_nan=tl.PropagateNan.ALL)")
                else:
                    e.line("total += tl.reduce(tl.where(mask_m[:, None] & mask_n[None, :], acc, 0.0), 0, _sum)")
            out = "total" if k.reduce_max else "total / (PH * PW)"
            e.line(f"tl.store(out_ptr + img0 * CT + COFF + offs_n, {out}, mask=mask_n)")
            return
        e.comment("grouped program order: GROUP_M row tiles share each column tile while it is in L2")
        e.line("rows = NB * (PH * PW)")
        e.line("tiles_m = (rows + BM - 1) // BM")
        e.line("tiles_n = (C + BN - 1) // BN")
        e.line("pid = tl.program_id(0)")
        e.line("first_m = (pid // (GROUP_M * tiles_n)) * GROUP_M")
        e.line("group_m = tl.minimum(tiles_m - first_m, GROUP_M)")
        e.line("pid_m = first_m + (pid % (GROUP_M * tiles_n)) % group_m")
        e.line("pid_n = (pid % (GROUP_M * tiles_n)) // group_m")
        _group_offset(k, e)
        e.line("offs_n = pid_n * BN + tl.arange(0, BN)")
        e.line("mask_n = offs_n < C")
        e.line("offs_m = pid_m * BM + tl.arange(0, BM)")
        e.line("mask_m = offs_m < rows")
        e.line("img = (offs_m // (PH * PW)).to(tl.int64)")
        e.line("ph = (offs_m % (PH * PW)) // PW")
        e.line("pw = offs_m % PW")
        emit_body(k, e)
        e.line("dst = ((img * PH + ph) * PW + pw) * CT + COFF")
        e.line("tl.store(out_ptr + dst[:, None] + offs_n[None, :], acc, mask=mask_m[:, None] & mask_n[None, :])")


def _group_offset(k, e: Emitter) -> None:
    if k.grouped:
        e.comment("a grouped conv: this column tile lies in one group, which reads its own CING channels")
        e.line("goff = (pid_n * BN) // FG * CING")


def emit_body(k, e: Emitter) -> None:
    """acc[BM, BN]: the group's value at output rows (img, ph, pw)."""
    if k.pool is None:
        e.line("oh = ph")
        e.line("ow = pw")
        e.line("valid = mask_m")
        emit_anchor(k, e)
        emit_ops(k, e, k.pre, "OH", "OW", "oh", "ow", "valid")
        return
    is_max = k.pool.spec.reduce == "max"
    pad = k.pool.attrs["padding"]
    e.comment(f"{k.pool.name}: evaluate at each of the PKHxPKW window positions, reduce in registers")
    if is_max:
        e.line('pooled = tl.full([BM, BN], float("-inf"), dtype=tl.float32)')
    else:
        e.line("pooled = tl.full([BM, BN], 0.0, dtype=tl.float32)")
        if pad == "same":
            e.line("count = tl.full([BM], 0.0, dtype=tl.float32)")
    with e.block("for i in range(PKH):"):
        with e.block("for j in range(PKW):"):
            e.line("oh = ph * PSH - PPT + i")
            e.line("ow = pw * PSW - PPL + j")
            e.line("valid = mask_m & (oh >= 0) & (oh < OH) & (ow >= 0) & (ow < OW)")
            emit_anchor(k, e)
            emit_ops(k, e, k.pre, "OH", "OW", "oh", "ow", "valid")
            if is_max:
                e.comment("max pooling never picks a padded position")
                e.line("pooled = tl.where(valid[:, None], tl.maximum(pooled, acc, propagate_nan=tl.PropagateNan.ALL), pooled)")
            else:
                e.line("pooled += tl.where(valid[:, None], acc, 0.0)")
                if pad == "same":
                    e.line("count += valid.to(tl.float32)")
    if is_max:
        e.comment("rows past the end hold -inf: zero them so later ops stay finite")
        e.line("acc = tl.where(mask_m[:, None], pooled, 0.0)")
    elif pad == "same":
        e.comment("padding=same: the average counts real pixels only (TensorFlow)")
        e.line("acc = pooled / tl.maximum(count, 1.0)[:, None]")
    else:
        e.comment("valid or integer padding: divide by the window size (padded zeros count)")
        e.line("acc = pooled / (PKH * PKW)")
    emit_ops(k, e, k.post, "PH", "PW", "ph", "pw", "mask_m")


# --- reading the input: the anchor's gather, through the prologues folded into it -------

def _tap(k, e: Emitter, h: str, w: str, kh: str, kw: str, valid: str) -> None:
    """ih, iw, inside: where output position (h, w) reads the anchor's input at tap (kh, kw)."""
    ah, aw = ("AH", "AW") if k.prologue else ("IH", "IW")
    if k.transposed:
        e.comment("a transposed conv: the input pixel whose stride lands on this output, if one does")
        e.line(f"th = {h} + PT - {kh}")
        e.line(f"tw = {w} + PL - {kw}")
        e.line(f"inside = {valid} & (th >= 0) & (tw >= 0) & (th % SH == 0) & (tw % SW == 0)")
        e.line("ih = th // SH")
        e.line("iw = tw // SW")
        e.line(f"inside = inside & (ih < {ah}) & (iw < {aw})")
    else:
        dh, dw = (" * DH", " * DW") if (k.DH, k.DW) != (1, 1) else ("", "")
        e.line(f"ih = {h} * SH - PT + {kh}{dh}")
        e.line(f"iw = {w} * SW - PL + {kw}{dw}")
        e.line(f"inside = {valid} & (ih >= 0) & (ih < {ah}) & (iw >= 0) & (iw < {aw})")
    _maps(k, e)


def _maps(k, e: Emitter) -> None:
    """(ih, iw, inside) from the anchor's input image back through the prologues to the source."""
    for m in k.maps:
        p = f"M{m.i}"
        if m.op == "pad":
            e.comment(f"{m.node.name}: zero padding folded into the gather")
            e.line(f"ih = ih - {p}T")
            e.line(f"iw = iw - {p}L")
            e.line(f"inside = inside & (ih >= 0) & (ih < {p}H) & (iw >= 0) & (iw < {p}W)")
        elif m.op == "crop":
            e.comment(f"{m.node.name}: cropping folded into the gather")
            e.line(f"ih = ih + {p}T")
            e.line(f"iw = iw + {p}L")
        elif m.op == "nearest":
            e.comment(f"{m.node.name}: nearest upsampling folded into the gather")
            e.line(f"ih = ih // {p}FH")
            e.line(f"iw = iw // {p}FW")


def _gate(k, e: Emitter, tile: str, channels: str, mask: str) -> None:
    """Multiply a gathered tile by the gate of a scale block or a multiply: per image and
    input channel, or -- an image of the tile's own shape -- per pixel too."""
    if k.gate is None:
        return
    if k.gate_image:
        e.comment(f"{k.gate.name}: times {k.gate.inputs[1].name}, read at the same position")
        e.line(f"{tile} = {tile} * tl.load(g_ptr + (((img * IH + ih) * IW + iw) * GATE_T + GATE_OFF)[:, None] "
               f"+ {channels}, mask={mask}, other=0.0)")
        return
    e.comment(f"{k.gate.name}: times the gate {k.gate.inputs[1].name}, per image and channel")
    e.line(f"{tile} = {tile} * tl.load(g_ptr + img[:, None] * GATE_T + GATE_OFF + {channels}, mask={mask}, other=0.0)")


def emit_anchor(k, e: Emitter) -> None:
    if k.anchor is None:
        _emit_load(k, e)
        return
    e.line("acc = tl.full([BM, BN], 0.0, dtype=tl.float32)")
    if k.gather == "direct":
        _emit_direct(k, e)
    elif k.gather == "separable":
        _emit_separable(k, e)
    else:
        _emit_gemm(k, e)
    e.line("acc += tl.load(b_ptr + offs_n)[None, :]")
    if k.deferred:
        e.comment(f"{k.anchor.name}: its {k.anchor.activation} runs in the row kernel after this one")
    else:
        emit_activation(e, k.anchor.activation, k.anchor.name)


# the B tile: the packed weights are CP x KP with K contiguous (the K-major operand the
# tensor cores read), zero past K and C, and BK/BN divide KP/CP: no mask
_B_TILE = "b = tl.load(w_ptr + offs_n[None, :] * KP + offs_k[:, None])"


def _emit_gemm(k, e: Emitter) -> None:
    prec = k.precision
    goff = "goff + " if k.grouped else ""
    if k.gather == "window":
        e.comment("implicit GEMM: K runs over (kh, kw, cin), the Keras kernel order; BK divides Cin,")
        e.comment("so each BK slice is one tap (kh, kw) and contiguous channels")
        with e.block("for k0 in range(0, K, BK):"):
            e.line("tap = k0 // CING" if k.grouped else "tap = k0 // CIN")
            _tap(k, e, "oh", "ow", "tap // KW", "tap % KW", "valid")
            e.line("src = ((img * IH + ih) * IW + iw) * CIN_T + CIN_OFF")
            e.line(f"offs_c = {goff}k0 % {'CING' if k.grouped else 'CIN'} + tl.arange(0, BK)")
            e.line("a = tl.load(x_ptr + src[:, None] + offs_c[None, :], mask=inside[:, None], other=0.0)")
            _gate(k, e, "a", "offs_c[None, :]", "inside[:, None]")
            e.line("offs_k = k0 + tl.arange(0, BK)")
            e.line(_B_TILE)
            e.line(f'acc = tl.dot(a, b, acc, input_precision="{prec}")')
        return
    if k.gather == "pointwise":
        e.line("ih = oh")
        e.line("iw = ow")
        e.line("inside = valid")
        _maps(k, e)
        e.line("src = ((img * IH + ih) * IW + iw) * CIN_T + CIN_OFF")
    with e.block("for k0 in range(0, K, BK):"):
        e.line("offs_k = k0 + tl.arange(0, BK)")
        if k.gather == "pointwise":
            e.line("a_mask = inside[:, None] & (offs_k[None, :] < K)")
            e.line(f"a = tl.load(x_ptr + src[:, None] + {goff}offs_k[None, :], mask=a_mask, other=0.0)")
            _gate(k, e, "a", f"{goff}offs_k[None, :]", "a_mask")
        else:
            cin = "CING" if k.grouped else "CIN"
            e.comment("implicit GEMM over a few channels: the whole (kh, kw, cin) axis in BK slices")
            e.line(f"kh = offs_k // (KW * {cin})")
            e.line(f"kw = (offs_k // {cin}) % KW")
            e.line(f"ci = {goff}offs_k % {cin}")
            _tap(k, e, "oh[:, None]", "ow[:, None]", "kh[None, :]", "kw[None, :]", "valid[:, None]")
            e.line("a_mask = inside & (offs_k[None, :] < K)")
            e.line("a = tl.load(x_ptr + ((img[:, None] * IH + ih) * IW + iw) * CIN_T + CIN_OFF + ci[None, :], "
                   "mask=a_mask, other=0.0)")
            _gate(k, e, "a", "ci[None, :]", "a_mask")
        e.line(_B_TILE)
        e.line(f'acc = tl.dot(a, b, acc, input_precision="{prec}")')


def _emit_direct(k, e: Emitter) -> None:
    e.comment("per-channel windows, not a GEMM: each output channel reads the CING input channels")
    e.comment("of its group (depthwise: the one channel it multiplies) at every tap")
    e.line("grp = (offs_n // FG) * CING")
    with e.block("for t in range(KH * KW):"):
        _tap(k, e, "oh", "ow", "t // KW", "t % KW", "valid")
        e.line("src = ((img * IH + ih) * IW + iw) * CIN_T + CIN_OFF")
        with e.block("for ci in range(CING):"):
            e.line("a_mask = inside[:, None] & mask_n[None, :]")
            e.line("a = tl.load(x_ptr + src[:, None] + (grp + ci)[None, :], mask=a_mask, other=0.0)")
            _gate(k, e, "a", "(grp + ci)[None, :]", "a_mask")
            e.line("acc += a * tl.load(w_ptr + offs_n * KP + t * CING + ci)[None, :]")


def _emit_separable(k, e: Emitter) -> None:
    e.comment("separable: the depthwise result of BK of the Cin*M channels, in registers, is the")
    e.comment("A tile of the pointwise GEMM")
    with e.block("for k0 in range(0, K, BK):"):
        e.line("offs_k = k0 + tl.arange(0, BK)")
        e.line("kin = offs_k // M")
        e.line("mid = tl.full([BM, BK], 0.0, dtype=tl.float32)")
        with e.block("for t in range(KH * KW):"):
            _tap(k, e, "oh", "ow", "t // KW", "t % KW", "valid")
            e.line("src = ((img * IH + ih) * IW + iw) * CIN_T + CIN_OFF")
            e.line("a_mask = inside[:, None] & (offs_k[None, :] < K)")
            e.line("a = tl.load(x_ptr + src[:, None] + kin[None, :], mask=a_mask, other=0.0)")
            _gate(k, e, "a", "kin[None, :]", "a_mask")
            e.line("mid += a * tl.load(d_ptr + t * KP + offs_k)[None, :]")
        e.line(_B_TILE)
        e.line(f'acc = tl.dot(mid, b, acc, input_precision="{k.precision}")')


def _emit_load(k, e: Emitter) -> None:
    """No anchor: the value is the input itself, read through a standalone prologue."""
    bilinear = next((m for m in k.maps if m.op == "bilinear"), None)
    if bilinear is None:
        e.line("ih = oh")
        e.line("iw = ow")
        e.line("inside = valid")
        _maps(k, e)
        e.line("src = ((img * IH + ih) * IW + iw) * CIN_T + CIN_OFF")
        e.line("acc = tl.load(x_ptr + src[:, None] + offs_n[None, :], "
               "mask=inside[:, None] & mask_n[None, :], other=0.0)")
        _gate(k, e, "acc", "offs_n[None, :]", "inside[:, None] & mask_n[None, :]")
        return
    p = f"M{bilinear.i}"
    e.comment(f"{bilinear.node.name}: bilinear, half-pixel centres: output o reads input (o + 0.5) / F - 0.5,")
    e.comment("clamped at 0 as PyTorch does (past the last pixel both taps are the last pixel); the rows")
    e.comment("are mixed first, then the columns (as numpy). A tap of weight exactly 0 adds nothing: an")
    e.comment("output on an input pixel is that pixel, so an infinite one stays infinite (not 0 * inf)")
    for axis, o, f, n in (("h", "oh", f"{p}FH", "IH"), ("w", "ow", f"{p}FW", "IW")):
        e.line(f"s{axis} = tl.maximum(({o}.to(tl.float32) + 0.5) / {f} - 0.5, 0.0)")
        e.line(f"{axis}0 = tl.minimum(s{axis}.to(tl.int64), {n} - 1)")
        e.line(f"{axis}1 = tl.minimum({axis}0 + 1, {n} - 1)")
        e.line(f"t{axis} = (s{axis} - {axis}0.to(tl.float32))[:, None]")
    e.line("m2 = valid[:, None] & mask_n[None, :]")
    e.line("base = img * IH")

    def px(h, w):
        return (f"tl.load(x_ptr + (((base + {h}) * IW + {w}) * CIN_T + CIN_OFF)[:, None] + offs_n[None, :], "
                f"mask=m2, other=0.0)")
    for name, h, w in (("p00", "h0", "w0"), ("p10", "h1", "w0"), ("p01", "h0", "w1"), ("p11", "h1", "w1")):
        e.line(f"{name} = {px(h, w)}")
    e.line("left = tl.where(th == 0.0, p00, p00 * (1.0 - th) + p10 * th)")
    e.line("right = tl.where(th == 0.0, p01, p01 * (1.0 - th) + p11 * th)")
    e.line("acc = tl.where(tw == 0.0, left, left * (1.0 - tw) + right * tw)")


def emit_ops(k, e: Emitter, ops, H, W, h, w, valid) -> None:
    for n in ops:
        kind = n.spec.epilogue
        if kind in (Epilogue.AFFINE, Epilogue.ROW):
            k.affine(n).emit(k, n, e)
        elif kind is Epilogue.ACTIVATION:
            emit_activation(e, activation_of(n), n.name)
        elif kind is Epilogue.ADD:
            coefficients = n.spec.coefficients(n)
            own = coefficients[k.own_input(n)]
            if own != 1.0:
                e.comment(f"{n.name}: the value computed here is scaled by {own!r}")
                e.line(f"acc = acc * {own!r}")
            for m, j, other, v in k.added():
                if m is not n:
                    continue
                c = coefficients[j]
                times = f" * {c!r}" if c != 1.0 else ""
                e.comment(f"{n.name}: add {other.name}{times}, read at the same position")
                e.line(f"res = (((img * {H} + {h}) * {W} + {w}) * {v.upper()}_T + {v.upper()}_OFF)")
                e.line(f"acc += tl.load({v}_ptr + res[:, None] + offs_n[None, :], "
                       f"mask={valid}[:, None] & mask_n[None, :], other=0.0){times}")


def emit_row_kernel(k, e: Emitter) -> None:
    """A softmax or layernorm over rows wider than a tile (geometry.RowKernel): one program per
    BM rows; passes over each row in BN-channel chunks find its statistics, and a last pass
    writes the result through the elementwise epilogues after it."""
    _signature(k, e)
    with e.block("):"):
        for n in k.g.nodes:
            e.comment(source_line(n))
        e.comment(f"{k.row.name}: a row of {k.C} channels is wider than a tile: a row kernel of its own")
        e.line("rows = NB * (PH * PW)")
        e.line("offs_m = tl.program_id(0) * BM + tl.arange(0, BM)")
        e.line("mask_m = offs_m < rows")
        e.line("img = (offs_m // (PH * PW)).to(tl.int64)")
        e.line("ph = (offs_m % (PH * PW)) // PW")
        e.line("pw = offs_m % PW")
        e.line("src = ((img * PH + ph) * PW + pw) * CIN_T + CIN_OFF")
        e.line("dst = ((img * PH + ph) * PW + pw) * CT + COFF")

        def load(e, other: str) -> None:
            e.line("offs_n = c0 + tl.arange(0, BN)")
            e.line("mask_n = offs_n < C")
            e.line(f"x = tl.load(x_ptr + src[:, None] + offs_n[None, :], mask=mask_m[:, None] & mask_n[None, :], "
                   f"other={other})")

        norm = k.row.spec.epilogue is Epilogue.ROW
        if norm:
            k.affine(k.row).emit_wide_stats(k, k.row, e, load)
        else:
            e.comment(f"{k.row.name}: softmax, online: each row's running max and the sum of exp(x - max)")
            e.comment("over it, rescaled whenever the max grows (a row of -inf only stays NaN, as numpy)")
            e.line('big = tl.full([BM], float("-inf"), dtype=tl.float32)')
            e.line("total = tl.full([BM], 0.0, dtype=tl.float32)")
            with e.block("for c0 in range(0, C, BN):"):
                load(e, 'float("-inf")')
                e.line("new = tl.maximum(big, tl.reduce(x, 1, _max))")
                e.line('shift = tl.where(new == float("-inf"), 0.0, new)')
                e.line("total = total * tl.exp(big - shift) + tl.reduce(tl.exp(x - shift[:, None]), 1, _sum)")
                e.line("big = new")
        with e.block("for c0 in range(0, C, BN):"):
            load(e, "0.0")
            if norm:
                k.affine(k.row).emit_wide_value(k, k.row, e)
            else:
                e.line("acc = tl.exp(x - big[:, None]) / total[:, None]")
            emit_ops(k, e, k.pre, "PH", "PW", "ph", "pw", "mask_m")
            e.line("tl.store(out_ptr + dst[:, None] + offs_n[None, :], acc, mask=mask_m[:, None] & mask_n[None, :])")


def emit_activation(e: Emitter, act, name: str) -> None:
    """The activation's lines from the one table of activations (layers/activations.py); `act`
    is its name or its entry (an activation statement with its own parameter)."""
    for line in (ACTIVATIONS[act] if isinstance(act, str) else act).triton:
        if line.startswith("# "):
            e.comment(f"{name}: {line[2:]}")
        else:
            e.line(line)
