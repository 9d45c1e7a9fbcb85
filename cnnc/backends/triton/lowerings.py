"""How each layer kind enters the one kernel template (template.py): anchors set the
GEMM geometry of their group's kernel; epilogues are emitted by their role (Epilogue
flavour); views and concat joins cost no kernel (the planner makes them aliases and
slices)."""

from __future__ import annotations

from ...errors import CnncError
from ...layers import ACTIVATIONS
from ..pending import Pending


class Lowering:
    """A kind's place in the kernel template."""

    def geometry(self, k, anchor) -> None:
        raise CnncError(f"{anchor.name}: {anchor.kind} is not an anchor of the triton backend", anchor.line, anchor.col)


class WindowGEMM(Lowering):
    """conv: an implicit GEMM over (kh, kw, cin) windows."""

    def geometry(self, k, anchor) -> None:
        a = anchor.attrs
        (k.KH, k.KW), (k.SH, k.SW) = a["kernel"], a["stride"]
        k.PT, _, k.PL, _ = anchor.spec.pads(k.src.out, a)


class VectorGEMM(Lowering):
    """dense: the 1x1 case on a 1x1 image; its input is read as one vector (a flatten is a view)."""

    def geometry(self, k, anchor) -> None:
        k.KH = k.KW = k.SH = k.SW = 1
        k.PT = k.PL = 0
        k.CIN, k.IH, k.IW = k.IH * k.IW * k.CIN, 1, 1


IN_TEMPLATE = Lowering()   # epilogues, views, joins: handled by role

LOWERINGS: dict = {
    "conv": WindowGEMM(), "dense": VectorGEMM(),
    **{kind: IN_TEMPLATE for kind in ("batchnorm", "pool", "avgpool", "globalpool", "residual", "concat",
                                      "flatten", "dropout", "input", *ACTIVATIONS)},
    **{kind: Pending("triton backend") for kind in ("dwconv", "sepconv", "deconv", "upsample", "zeropad",
                                                     "globalmaxpool", "rescale", "scale")},
}
