"""The numpy lowerings of what moves, picks or pools pixels: crop, zeropad, upsample, the
pools, and the views (flatten, dropout)."""

from __future__ import annotations

from ...layers import Image
from .group import Group
from .lowering import Lowering
from .scratch import UFUNC_BUFFER, UFUNC_OVERHEAD, pool_scratch, ufunc_buffer


class CropLowering(Lowering):
    def body(self, gen, g: Group) -> bool:
        t, b, l, r = g.head.attrs["sides"]
        inp = g.head.inputs[0].out
        gen.e.line(f"y = x[:, {t}:{inp.h - b}, {l}:{inp.w - r}].copy()")
        return True


class PoolLowering(Lowering):
    def body(self, gen, g: Group) -> bool:
        gen.pool(g.head, "x", out="y")
        return True

    def scratch(self, g: Group, n: int) -> int:
        return pool_scratch(g.head, n)


class GlobalPoolLowering(Lowering):
    """The mean (globalpool) or the largest value (globalmaxpool) over every pixel: spec.reduce."""

    def body(self, gen, g: Group) -> bool:
        if g.head.spec.reduce == "max":
            gen.e.line("y = x.max(axis=(1, 2))")
        else:
            gen.e.line("y = x.mean(axis=(1, 2), dtype=np.float32)")
        return True

    def scratch(self, g: Group, n: int) -> int:
        if g.head.spec.reduce == "max":   # a plain reduction: only the iterator's bookkeeping
            return UFUNC_OVERHEAD
        # numpy's reduction over two axes with a dtype buffers up to four operand blocks
        return 16 * min(n * g.head.out.n, UFUNC_BUFFER) + UFUNC_OVERHEAD


class ZeroPadLowering(Lowering):
    def body(self, gen, g: Group) -> bool:
        t, b, l, r = g.head.attrs["sides"]
        gen.e.line(f"y = _pad(x, {t}, {b}, {l}, {r})")
        return bool(t or b or l or r)   # no padding at all hands back x itself


class UpsampleLowering(Lowering):
    def body(self, gen, g: Group) -> bool:
        (kh, kw), mode = g.head.attrs["size"], g.head.attrs["mode"]
        gen.e.line(f"y = {'_upsample' if mode == 'nearest' else '_bilinear'}(x, {kh}, {kw})")
        return True

    def scratch(self, g: Group, n: int) -> int:
        """Nearest is one copy (the result). Bilinear interpolates along H (a result of
        H*KH x W), then along W: two weighted gathers of the output's size while the first
        result lives, with a ufunc buffer, and the taps' indices and weights."""
        kw, mode = g.head.attrs["size"][1], g.head.attrs["mode"]
        if mode == "nearest":
            return 0
        o = g.head.out
        out = n * o.h * o.w * o.c
        first = n * o.h * (o.w // kw) * o.c
        return 4 * max(3 * first, first + 2 * out) + ufunc_buffer(out) + 20 * (o.h + o.w)


class FlattenLowering(Lowering):
    def view(self, gen, node, src) -> str:
        if isinstance(node.inputs[0].out, Image):
            return f"{src}.reshape({src}.shape[0], {node.out.n})"
        return src


class IdentityLowering(Lowering):
    def view(self, gen, node, src) -> str:
        return src
