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

Files: geometry.py (a group's shapes), template.py (the kernel source), lowerings.py
(kinds), module.py (the module around the kernels), sm90.py (ptxas without a GPU),
tuning.py (tuning records on disk, `cnnc tune`).
"""

from __future__ import annotations

from ...errors import CnncError
from ..pending import require_lowerings
from ..triton_fusion import TRITON, wide_row
from .geometry import Kernel, RowKernel
from .lowerings import LOWERINGS
from .module import WEIGHTS_EXT, emit_module
from .sm90 import compile_for_gpu, resource_usage

REQUIRES = (("torch", "triton"), ("triton", "triton"))   # what the generated module imports
PRECISIONS = ("ieee", "tf32")

__all__ = ["LOWERINGS", "PRECISIONS", "REQUIRES", "WEIGHTS_EXT", "compile_for_gpu", "generate", "plan_kernels",
           "resource_usage"]


def plan_kernels(net, precision: str):
    """(fusion plan, [Kernel], folded batchnorms) of `net` for this backend."""
    from ...passes.fold import foldable_batchnorms
    from ...passes.fusion import plan as make_plan

    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    require_lowerings(net, LOWERINGS, "triton backend")
    plan = make_plan(net, TRITON)
    folded = set(foldable_batchnorms(net))
    kernels = []
    for g in plan.groups:
        if g.copy_into is None and g.anchor is None and wide_row(g.nodes[0]):
            kernels.append(RowKernel(g, plan, folded, precision, LOWERINGS))
            continue
        k = Kernel(g, plan, folded, precision, LOWERINGS)
        kernels.append(k)
        if k.anchor is not None and wide_row(k.anchor):
            # a buffer name no node has (nodes are identifiers): the anchor's result before its softmax
            k.defer_row(f"{k.anchor.name} before {k.anchor.activation}")
            kernels.append(RowKernel(g, plan, folded, precision, LOWERINGS, after=k))
    check_tiles(net, kernels)
    return plan, kernels, folded


def check_tiles(net, kernels) -> None:
    """CnncError at the layer of the first kernel that no tile can run (the tile rules of
    carried/triton_tiles.py): a module that compiles runs."""
    from ..carried.triton_tiles import default_config

    for k in kernels:
        try:
            default_config(k.geometry())
        except ValueError:
            node = k.row or k.anchor or (k.g.nodes or [k.src])[0]
            raise CnncError(f"{node.name}: the triton backend has no legal tile for this layer's kernel "
                            f"({k.g.describe()}, {k.C} channels)", node.line, node.col, net.filename) from None


def generate(net, precision: str = "ieee", **options) -> str:
    if options:
        raise CnncError(f"the triton backend takes no option '{next(iter(options))}' "
                        f"(it takes precision='ieee' or 'tf32'; the device is CUDA when there is one)",
                        1, 1, net.filename)
    plan, kernels, folded = plan_kernels(net, precision)
    return emit_module(net, plan, kernels, folded, precision)
