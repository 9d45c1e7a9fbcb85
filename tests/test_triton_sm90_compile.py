"""Every kind of kernel the triton backend emits compiles for a Hopper GPU (sm_90),
with no GPU present: triton.compile runs the real compiler pipeline down to ptxas.

The interpreter tests check what the kernels compute; they cannot see a kernel the
GPU compiler rejects (a construct the interpreter accepts, a tile too large for
shared memory). This test sees that, and that tf32 reaches the tensor cores
(wgmma) while ieee stays in fp32 FMAs.
"""

from __future__ import annotations

import re

import pytest

import cnnc

torch = pytest.importorskip("torch")
triton = pytest.importorskip("triton")

# one network that reaches every code path: 1-channel input, tanh/sigmoid/relu/softmax,
# avg pool (same: real-pixel count; integer: window size), max pool on the input (a
# kernel without an anchor), a concat with an in-place and a copied branch, a residual
# with a shortcut conv and a non-folded batchnorm, globalpool fused into a conv group
EVERYTHING = ("input 8x8x1; conv 16 3x3 padding=same tanh; avgpool 3 stride=2 padding=same; "
              "c: conv 16 1x1 sigmoid; concat { branch { } branch { pool 3 stride=1 padding=1; relu } }; "
              "residual { conv 32 3x3 padding=same relu; batchnorm } shortcut { conv 32 1x1 }; "
              "avgpool 2 padding=1; conv 24 2x2 stride=2 padding=same; globalpool; dense 20 softmax")
WIDE_SOFTMAX = "input 1x1x5000; softmax"   # no anchor, one row of 8192 lanes per program


def _compile(net, precision):
    """(kernel name, compiled kernel) for every group, compiled for sm_90."""
    from cnnc.backends.triton import compile_for_gpu

    return [(name, ck) for name, _, _, ck in compile_for_gpu(net, precision, 90)]


def _stack_bytes(ck) -> int:
    """Bytes of stack (register spills) of a compiled kernel."""
    from cnnc.backends.triton import resource_usage

    usage = resource_usage(ck)
    if usage is None:
        pytest.skip("triton's cuobjdump is not installed")
    return usage["stack"]


def _mma(ptx: str) -> set:
    return set(re.findall(r"\b(wgmma\.mma_async\S*|mma\.sync\S*)", ptx))


def test_every_kernel_kind_compiles_for_sm90_with_tf32():
    kernels = _compile(cnnc.parse(EVERYTHING), "tf32")
    names = [n for n, _ in kernels]
    assert len(names) == 8 and any("copy" in n for n in names)
    for name, ck in kernels:
        assert ck.metadata.shared <= 228 * 1024, name   # fits an H100's shared memory per block
        assert _stack_bytes(ck) == 0, f"{name} spills registers"
        ptx = ck.asm["ptx"]
        if "conv" in name or "dense" in name:
            assert any("tf32" in m for m in _mma(ptx)), f"{name}: tf32 GEMM not on the tensor cores"


def test_a_vgg_sized_conv_with_an_overlapping_pool_does_not_spill():
    # 64 -> 128 channels, 64x64 tile, pool windows evaluated in a loop (not unrolled)
    (name, ck), = _compile(cnnc.parse("input 16x16x64; conv 128 3x3 padding=same relu; pool 3 stride=2 padding=same"),
                           "tf32")
    assert _stack_bytes(ck) == 0


def test_ieee_stays_in_fp32():
    kernels = _compile(cnnc.parse("input 8x8x3; conv 32 3x3 relu; pool 2"), "ieee")
    (name, ck), = kernels
    assert not _mma(ck.asm["ptx"]) and "fma.rn.f32" in ck.asm["ptx"]


def test_a_wide_softmax_row_compiles():
    (name, ck), = _compile(cnnc.parse(WIDE_SOFTMAX), "ieee")
    assert ck.metadata.shared <= 228 * 1024
    # a 1000-way classifier: softmax fused into the dense, 16 x 1024 tile on 8 warps
    (name, ck), = _compile(cnnc.parse("input 1x1x64; flatten; dense 1000 softmax"), "tf32")
    assert ck.metadata.num_warps == 8 and ck.metadata.shared <= 228 * 1024
    assert _stack_bytes(ck) == 0
