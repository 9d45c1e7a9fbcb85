"""What one Triton kernel of this backend can absorb: its Policy for the shared planner.

It imports nothing of the code generator, nor torch or triton, so that `cnnc shapes` (its
`kernel` column) can plan with it: the package's __init__ loads the rest on first use.
"""

from __future__ import annotations

from ...layers import Epilogue, Image, Prologue, Role
from ...passes.fusion import Policy

# A whole-row epilogue (softmax, layernorm) is fused into a group when its channel row fits
# one tile of this many lanes (a GEMM tile 16 rows x 1024 channels still fits a GPU's
# registers and shared memory). A wider row gets a row kernel of its own (template.py
# emit_row_kernel), which loops over the row in chunks.
SOFTMAX_MAX = ROW_MAX = 1024


def row_op(node) -> bool:
    """Does `node` work on each pixel's whole channel row (softmax, as an activation alone or an
    anchor's; layernorm)?"""
    return node.spec.epilogue is Epilogue.ROW or node.activation == "softmax"


def wide_row(node) -> bool:
    """A whole-row op on a row wider than one tile: it runs in a row kernel of its own."""
    return row_op(node) and node.out.dims[-1] > ROW_MAX


class TritonPolicy(Policy):
    """Every epilogue flavour, one pool per group, a globalpool last, softmax and layernorm
    while their row fits one tile (a wider one: a row kernel that takes the elementwise
    epilogues after it, and an anchor with a wide softmax takes nothing); concat branches
    written in place; zeropad, crop, nearest upsample and a gate by a vector (the scale join,
    multiply) done by the gather of the anchor (on an image) that reads them. Adds of any
    arity and scale fold into the epilogue."""
    concat_in_place = True

    def absorbs(self, group, node) -> bool:
        last = group.nodes[-1]
        if group.has(Epilogue.REDUCE):
            return False   # the reduction ends the group: its rows are images, not pixels
        head = group.anchor or group.nodes[0]
        if wide_row(head):   # a row kernel: elementwise epilogues only, applied as it writes
            return node.spec.epilogue in (Epilogue.AFFINE, Epilogue.ACTIVATION, Epilogue.ADD) and not row_op(node) \
                and head.spec.role is not Role.ANCHOR
        kind = node.spec.epilogue
        if kind in (Epilogue.AFFINE, Epilogue.ACTIVATION, Epilogue.ROW):
            return not wide_row(node)
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
