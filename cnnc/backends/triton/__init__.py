"""The Triton backend: one fused @triton.jit kernel per fusion group.

`generate(net, precision="ieee")` returns the source of a module that imports only
torch and triton (and the standard library). Every group (cnnc/passes/fusion.py)
becomes one kernel of the same shape, specialised by its layers (template.py):

    rows   = output pixels (N*H*W, batch folded in) tiled by BM; a globalpool group
             instead runs one program per image and loops over its pixels
    cols   = output channels tiled by BN (the whole row when softmax is fused)
    order  = one program per (row tile, column tile), in grouped order: GROUP_M row
             tiles run against one column tile while its weights are in L2
    anchor = implicit-GEMM convolution in NHWC, K ordered (kh, kw, cin) -- exactly
             the Keras kernel (KH, KW, Cin, Cout) seen as a (K, Cout) matrix, packed
             once at load time as (Cout, K), K contiguous, zero-padded -- accumulated
             in fp32 by tl.dot in BK slices; a dense layer is the 1x1 case on a 1x1
             image; a depthwise conv is per-channel windows instead (no GEMM), a
             separable conv's depthwise part is computed in registers as the A tile of
             its pointwise GEMM, a transposed conv's gather inverts its stride; with no
             anchor the "GEMM" is a plain load of the input
    prologue: zeropad, nearest upsample and a scale join read only by the anchor are
             done by its gather (a shifted or divided pixel index, a gate multiply)
    epilogue, in graph order: bias, batchnorm (folded into the weights when it
             directly follows a linear anchor), activation, residual add (the other
             tensor is loaded at the same position), then a max/avg pool: the anchor
             is evaluated at each window position and reduced in registers; ops after
             the pool run on the pooled tile; a globalpool sums the tile's rows.

Tiles (BM, BN, BK, warps, stages) are not part of the code: they are constexpr
parameters set at launch from a config chosen per kernel and batch size
(carried/triton_tiles.py says which configs are legal and which to try;
carried/triton_tuner.py picks one: a tuning record, a measurement, or the default).

Vectors are 1x1xN images throughout, so flatten is a view and dense is a 1x1 conv.
Every tensor access carries (channel stride, channel offset): that is how a concat
branch writes straight into its slice of the concat buffer.

Files: policy.py (what one kernel absorbs: the planner's Policy), backend.py (the entry
points: the kernels of a network, `generate`), geometry.py (a group's shapes),
template.py (the kernel source), lowerings.py (kinds), module.py (the module around the
kernels), sm90.py (ptxas without a GPU), tuning.py (tuning records on disk, `cnnc tune`),
carried/ (the code only Triton modules carry: tile rules, tuner, runtime; what every
backend's modules carry is in cnnc/backends/carried/).
"""

from __future__ import annotations

import sys

__all__ = ["LOWERINGS", "PRECISIONS", "REQUIRES", "WEIGHTS_EXT", "compile_for_gpu", "generate", "plan_kernels",
           "resource_usage"]


def __getattr__(name: str):
    """The package's exports, from backend.py, loaded on first use: importing the package (as
    importing its policy does, for `cnnc shapes`) loads neither the code generator nor torch
    and triton, which its carried tuner imports."""
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    __import__(f"{__name__}.backend")   # not importlib, which `cnnc shapes` would load for nothing
    value = getattr(sys.modules[f"{__name__}.backend"], name)
    globals()[name] = value
    return value
