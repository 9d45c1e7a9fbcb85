"""What one Triton kernel of this backend can absorb: its Policy for the shared planner.

Kept apart from the code generator so that `cnnc shapes` (its `kernel` column) can plan
without importing it.
"""

from __future__ import annotations

from ..layers import Epilogue, Image, Prologue
from ..passes.fusion import Policy

# softmax is fused into a group when its whole channel row fits one tile of this many
# lanes (a GEMM tile 16 rows x 1024 channels still fits a GPU's registers and shared memory)
SOFTMAX_MAX = 1024


class TritonPolicy(Policy):
    """Every epilogue flavour, one pool per group, a globalpool last, softmax while its
    row fits one tile; concat branches written in place; zeropad, nearest upsample and
    a gate by a vector (the scale join, multiply) done by the gather of the anchor (on an
    image) that reads them. Adds of any arity and scale fold into the epilogue."""
    concat_in_place = True

    def absorbs(self, group, node) -> bool:
        last = group.nodes[-1]
        if group.has(Epilogue.REDUCE):
            return False   # the reduction ends the group: its rows are images, not pixels
        kind = node.spec.epilogue
        if kind in (Epilogue.AFFINE, Epilogue.ACTIVATION):
            return node.activation != "softmax" or node.out.dims[-1] <= SOFTMAX_MAX
        if kind is Epilogue.ADD:
            return True
        if kind is Epilogue.POOL:
            return not group.has(Epilogue.POOL) and isinstance(last.out, Image)
        if kind is Epilogue.REDUCE:
            return isinstance(last.out, Image)
        return False

    def folds_prologue(self, chain, anchor) -> bool:
        if anchor.spec.on != "image":
            return False
        for p in chain:
            if p.spec.prologue is Prologue.RESAMPLE and not p.spec.gather_only(p.attrs):
                return False   # bilinear mixes four pixels: a kernel of its own
            if p.spec.prologue is Prologue.GATE and isinstance(p.inputs[1].out, Image):
                return False   # a gate of the image's own shape (multiply a b): read pixel by pixel, alone
        return sum(p.spec.prologue is Prologue.GATE for p in chain) <= 1


TRITON = TritonPolicy()
