"""The source of one fused @triton.jit kernel: every fusion group becomes this one
template, specialised by its layers (the module docstring of cnnc/backends/triton/
explains the shape). Tile sizes are constexpr parameters set at launch from the chosen
config (carried/triton_tiles.py): nothing here depends on them.
"""

from __future__ import annotations

from ...layers import ACTIVATIONS, Epilogue
from ..emitter import Emitter, source_line


def emit_reducers(e: Emitter) -> None:
    e.comment("tl.sum/tl.max/tl.zeros are library @jit functions: when triton was imported before")
    e.comment("TRITON_INTERPRET was set they fail in the interpreter; builtins and these combiners do not")
    e.line("_sum = tl.standard._sum_combine")
    e.line("_max = tl.standard._elementwise_max")


def emit_kernel(k, e: Emitter) -> None:
    ptrs = [p for p, _ in k.pointer_args()]
    consts = [f"{name}: tl.constexpr" for name, _ in k.constexprs()] + [f"{t}: tl.constexpr" for t in k.tile_params()]
    e.line("@triton.jit")
    e.line(f"def {k.name}(")
    with e.indented():
        e.line(f"{', '.join(ptrs)}, NB,")
        for i in range(0, len(consts), 6):
            e.line(", ".join(consts[i:i + 6]) + ",")
    with e.block("):"):
        for n in (k.g.nodes or []):
            e.comment(source_line(n))
        if k.g.copy_into is not None:
            e.comment(f"line {k.g.copy_into.line}: copy {k.src.name} into its slice of {k.g.copy_into.name}")
        if k.reduce:
            e.comment("globalpool: one program per image (and channel tile) sums all its pixels")
            e.line("pid_n = tl.program_id(1)")
            e.line("offs_n = pid_n * BN + tl.arange(0, BN)")
            e.line("mask_n = offs_n < C")
            e.line("img0 = tl.program_id(0).to(tl.int64)")
            e.line("img = tl.full([BM], 0, dtype=tl.int64) + img0")
            e.line("total = tl.full([BN], 0.0, dtype=tl.float32)")
            with e.block("for p0 in range(0, PH * PW, BM):"):
                e.line("offs_p = p0 + tl.arange(0, BM)")
                e.line("mask_m = offs_p < PH * PW")
                e.line("ph = offs_p // PW")
                e.line("pw = offs_p % PW")
                emit_body(k, e)
                e.line("total += tl.reduce(tl.where(mask_m[:, None] & mask_n[None, :], acc, 0.0), 0, _sum)")
            e.line("tl.store(out_ptr + img0 * CT + COFF + offs_n, total / (PH * PW), mask=mask_n)")
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


def emit_anchor(k, e: Emitter) -> None:
    if k.anchor is None:
        e.line("src = ((img * IH + oh) * IW + ow) * CIN_T + CIN_OFF")
        e.line("acc = tl.load(x_ptr + src[:, None] + offs_n[None, :], "
               "mask=valid[:, None] & mask_n[None, :], other=0.0)")
        return
    prec = k.precision
    e.line("acc = tl.full([BM, BN], 0.0, dtype=tl.float32)")
    # the B tile: the packed weights are CP x KP with K contiguous (the K-major operand the
    # tensor cores read), zero past K and C, and BK/BN divide KP/CP: no mask
    b_tile = "b = tl.load(w_ptr + offs_n[None, :] * KP + offs_k[:, None])"
    if k.gather == "window":
        e.comment("implicit GEMM: K runs over (kh, kw, cin), the Keras kernel order; BK divides Cin,")
        e.comment("so each BK slice is one tap (kh, kw) and contiguous channels")
        with e.block("for k0 in range(0, K, BK):"):
            e.line("tap = k0 // CIN")
            e.line("ih = oh * SH - PT + tap // KW")
            e.line("iw = ow * SW - PL + tap % KW")
            e.line("inside = valid & (ih >= 0) & (ih < IH) & (iw >= 0) & (iw < IW)")
            e.line("offs_c = k0 % CIN + tl.arange(0, BK)")
            e.line("src = ((img * IH + ih) * IW + iw) * CIN_T + CIN_OFF")
            e.line("a = tl.load(x_ptr + src[:, None] + offs_c[None, :], mask=inside[:, None], other=0.0)")
            e.line("offs_k = k0 + tl.arange(0, BK)")
            e.line(b_tile)
            e.line(f'acc = tl.dot(a, b, acc, input_precision="{prec}")')
    else:
        if k.gather == "pointwise":
            e.line("src = ((img * IH + oh) * IW + ow) * CIN_T + CIN_OFF")
        with e.block("for k0 in range(0, K, BK):"):
            e.line("offs_k = k0 + tl.arange(0, BK)")
            if k.gather == "pointwise":
                e.line("a = tl.load(x_ptr + src[:, None] + offs_k[None, :], "
                       "mask=valid[:, None] & (offs_k[None, :] < K), other=0.0)")
            else:
                e.comment("implicit GEMM over a few channels: the whole (kh, kw, cin) axis in BK slices")
                e.line("kh = offs_k // (KW * CIN)")
                e.line("kw = (offs_k // CIN) % KW")
                e.line("ci = offs_k % CIN")
                e.line("ih = oh[:, None] * SH - PT + kh[None, :]")
                e.line("iw = ow[:, None] * SW - PL + kw[None, :]")
                e.line("a_mask = valid[:, None] & (offs_k[None, :] < K) & (ih >= 0) & (ih < IH) & (iw >= 0) & (iw < IW)")
                e.line("a = tl.load(x_ptr + ((img[:, None] * IH + ih) * IW + iw) * CIN_T + CIN_OFF + ci[None, :], "
                       "mask=a_mask, other=0.0)")
            e.line(b_tile)
            e.line(f'acc = tl.dot(a, b, acc, input_precision="{prec}")')
    e.line("acc += tl.load(b_ptr + offs_n)[None, :]")
    emit_activation(e, k.anchor.activation, k.anchor.name)


def emit_ops(k, e: Emitter, ops, H, W, h, w, valid) -> None:
    for n in ops:
        kind = n.spec.epilogue
        if kind is Epilogue.AFFINE:
            v = k.arg(n)
            e.comment(f"{n.name}: batchnorm as x * scale + shift")
            e.line(f"acc = acc * tl.load({v}_scale + offs_n, mask=mask_n, other=0.0)[None, :] "
                   f"+ tl.load({v}_shift + offs_n, mask=mask_n, other=0.0)[None, :]")
        elif kind is Epilogue.ACTIVATION:
            emit_activation(e, n.activation, n.name)
        elif kind is Epilogue.ADD:
            v = k.arg(n)
            e.comment(f"{n.name}: add {k.other_input(n).name}, read at the same position")
            e.line(f"res = (((img * {H} + {h}) * {W} + {w}) * {v.upper()}_T + {v.upper()}_OFF)")
            e.line(f"acc += tl.load({v}_ptr + res[:, None] + offs_n[None, :], "
                   f"mask={valid}[:, None] & mask_n[None, :], other=0.0)")


def emit_activation(e: Emitter, act: str, name: str) -> None:
    """The activation's lines from the one table of activations (layers/activations.py)."""
    for line in ACTIVATIONS[act].triton:
        if line.startswith("# "):
            e.comment(f"{name}: {line[2:]}")
        else:
            e.line(line)
