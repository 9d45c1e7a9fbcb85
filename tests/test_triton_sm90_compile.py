"""Every kind of kernel the triton backend emits compiles for a Hopper GPU (sm_90),
with no GPU present: triton.compile runs the real compiler pipeline down to ptxas.

The interpreter tests check what the kernels compute; they cannot see a kernel the
GPU compiler rejects (a construct the interpreter accepts, a tile too large for
shared memory) or one that spills registers. This test sees that, for a bounded sample
of the configs a tuner may pick: the defaults the example networks run with, and the
extremes of the candidates of each kind of kernel (largest tile, most register
pressure, most shared memory, deepest pipeline). `benchmarks/triton_gpu.py --sweep`
compiles every candidate.
"""

from __future__ import annotations

import os
import re

import pytest

import cnnc

torch = pytest.importorskip("torch")
triton = pytest.importorskip("triton")

from cnnc.backends.triton.carried import triton_tiles as T  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SM90_SHARED = 232448   # 227 KB per block on an H100/H200

# one network that reaches every code path: 1-channel input, tanh/sigmoid/relu/softmax,
# avg pool (same: real-pixel count; integer: window size), max pool on the input (a
# kernel without an anchor), a concat with an in-place and a copied branch, a residual
# with a shortcut conv and a non-folded batchnorm, globalpool fused into a conv group
EVERYTHING = ("input 8x8x1; conv 16 3x3 padding=same tanh; avgpool 3 stride=2 padding=same; "
              "c: conv 16 1x1 sigmoid; concat { branch { } branch { pool 3 stride=1 padding=1; relu } }; "
              "residual { conv 32 3x3 padding=same relu; batchnorm } shortcut { conv 32 1x1 }; "
              "avgpool 2 padding=1; conv 24 2x2 stride=2 padding=same; globalpool; dense 20 softmax")
WIDE_SOFTMAX = "input 1x1x5000; softmax"   # no anchor, one row of 8192 lanes per program
# the second edition's kernels: depthwise (direct gather) with a fused pool, grouped GEMM,
# transposed, separable, dilated, prologues folded into gathers, bilinear, globalmaxpool
NEW_KINDS = ("input 16x16x32; dwconv 3x3 padding=same multiplier=2; batchnorm; relu6; pool 2; "
             "conv 64 3x3 groups=4 padding=same; conv 32 3x3 groups=8; deconv 32 3x3 stride=2 padding=same; "
             "sepconv 48 3x3 padding=same relu; zeropad 1; upsample 2; conv 16 3x3 dilation=2; "
             "scale { globalmaxpool; dense 16 sigmoid }; dwconv 3x3 padding=same; "
             "upsample 2 mode=bilinear; conv 16 3x3 stride=2 relu; globalmaxpool")
# the widest layers of the examples: their kernels have the most candidates
WIDE = ("input 16x16x256; conv 512 3x3 padding=same relu; pool 3 stride=2 padding=same; "
        "residual { conv 512 1x1; batchnorm; relu }; flatten; dense 1000 softmax")


def _usage(ck) -> dict:
    from cnnc.backends.triton import resource_usage

    usage = resource_usage(ck)
    if usage is None:
        pytest.skip("triton's cuobjdump is not installed")
    return usage


def _mma(ptx: str) -> set:
    return set(re.findall(r"\b(wgmma\.mma_async\S*|mma\.sync\S*)", ptx))


def _check(name, cfg, ck, any_stack=False):
    """Fits shared memory, and never runs out of registers: no spill at ptxas's limit of 255
    per thread. With any_stack, no stack frame at all (ptxas may also spill a few bytes when
    it chooses fewer registers than the limit for occupancy: reported by --sweep)."""
    assert ck.metadata.shared <= SM90_SHARED, (name, cfg)
    use = _usage(ck)
    assert not (use["stack"] and use["registers"] >= 255), f"{name} {cfg} runs out of registers: {use}"
    if any_stack:
        assert use["stack"] == 0, f"{name} {cfg} spills: {use}"


def test_every_kernel_kind_compiles_for_sm90_with_tf32():
    from cnnc.backends.triton import compile_for_gpu

    kernels = compile_for_gpu(cnnc.parse(EVERYTHING), "tf32", 90)
    names = [n for n, _, _, _ in kernels]
    assert len(names) == 8 and any("copy" in n for n in names)
    for name, _, cfg, ck in kernels:
        _check(name, cfg, ck, any_stack=True)
        if "conv" in name or "dense" in name:
            assert any("tf32" in m for m in _mma(ck.asm["ptx"])), f"{name}: tf32 GEMM not on the tensor cores"


def test_ieee_stays_in_fp32():
    from cnnc.backends.triton import compile_for_gpu

    (name, _, cfg, ck), = compile_for_gpu(cnnc.parse("input 8x8x3; conv 32 3x3 relu; pool 2"), "ieee", 90)
    assert not _mma(ck.asm["ptx"]) and "fma.rn.f32" in ck.asm["ptx"]
    _check(name, cfg, ck)


def test_a_wide_softmax_row_compiles():
    from cnnc.backends.triton import compile_for_gpu

    (name, _, cfg, ck), = compile_for_gpu(cnnc.parse(WIDE_SOFTMAX), "ieee", 90)
    _check(name, cfg, ck)


def _extremes(geom):
    """The candidates at the edges of the sm_90 budget and of each range."""
    cands = T.candidates(geom)

    def pressure(c):
        _, acc, operands, rows = T.sm90_cost(geom, c)
        return acc + operands + 16 * rows

    picks = [max(cands, key=lambda c: (pressure(c), c["BM"] * c["BN"])),
             max(cands, key=lambda c: (T.sm90_cost(geom, c)[3], pressure(c))),
             max(cands, key=lambda c: (T.sm90_cost(geom, c)[0], c["num_stages"])),
             max(cands, key=lambda c: (c["BM"] * c["BN"], -c["num_warps"])),
             max(cands, key=lambda c: (c["BK"], c["num_stages"], c["BM"] * c["BN"]))]
    out = []
    for c in picks:
        if c not in out:
            out.append(c)
    return out


@pytest.mark.parametrize("precision", ["tf32", "ieee"])
def test_the_sampled_candidates_compile_without_spills(precision):
    from cnnc.backends.triton.sm90 import compile_kernel, kernel_classes

    nets = [cnnc.parse(WIDE), cnnc.parse(EVERYTHING), cnnc.parse(NEW_KINDS),
            cnnc.parse_file(os.path.join(ROOT, "examples", "lenet.cnn"))]
    classes = kernel_classes(nets, precision)
    seen = set()
    for cls, (k, fn) in classes.items():
        geom = k.geometry()
        extremes = _extremes(geom) if cls[0] in ("window", "pointwise", "direct", "separable") else []
        for cfg in [T.default_config(geom)] + extremes:
            key = (cls, tuple(cfg.values()))
            if key in seen:
                continue
            seen.add(key)
            _check(f"{k.name} {cls}", cfg, compile_kernel(fn, k, cfg))
    assert len(seen) >= 10
