"""The triton backend's entry points (the package exports them): the kernels of a network
(`plan_kernels`, with `check_tiles`) and `generate`, which writes the module around them."""

from __future__ import annotations

from ...errors import CnncError
from ..pending import require_lowerings
from .geometry import Kernel, RowKernel
from .lowerings import LOWERINGS
from .module import WEIGHTS_EXT, emit_module
from .policy import TRITON, wide_row
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
    from .carried.triton_tiles import default_config

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
