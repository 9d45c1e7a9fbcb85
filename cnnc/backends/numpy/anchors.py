"""The numpy lowerings of the anchors: the convolutions on images (conv, dwconv, sepconv,
deconv), computed a chunk of images at a time with the group's epilogues inside the
chunk loop, and dense."""

from __future__ import annotations

from ...layers import activation_of
from .group import Group
from .lowering import BN_ROLE, Lowering, param
from .scratch import activation_entry, activation_scratch, pool_scratch, ufunc_buffer

# An im2col chunk (images x OH x OW x KH*KW*Cin floats) of about this many bytes
# stays in L2 with its GEMM output; measured best for LeNet at batch 256.
CHUNK_BYTES = 1 << 20


def _im2col_bytes(m, c, h, w, kh, kw, sh, sw, oh, ow) -> int:
    """The matrix `_conv` builds for m images (h x w x c, padded) -- none when a 1x1
    convolution's strided pixels reshape to rows as a view (numpy's rule: each axis's
    stride is the next one's stride times its size, size-1 axes aside)."""
    if kh == kw == 1:
        axes = [(size, stride) for size, stride in ((m, h * w * c), (oh, sh * w * c), (ow, sw * c)) if size > 1]
        if all(a[1] == b[1] * b[0] for a, b in zip(axes, axes[1:])):
            return 0
        return 4 * m * oh * ow * c
    return 4 * m * oh * ow * kh * kw * c


def anchor_prepare(gen, group, weights: str, matrix: str) -> None:
    """Leaves `w`, `b` in prepare(): the anchor's array `weights` as `matrix` (an expression
    over it, `k`, with the output channel on the last axis), and its bias (zeros without
    one), with a following batchnorm folded into both."""
    e, h = gen.e, group.head
    bias = param("bias") if "bias" in h.params else None
    e.line(f"k = {param(weights)}")
    e.line(f"w = {matrix}")
    if group.bn is not None:
        e.comment(f"{h.name} with {group.bn.name} folded in")
        e.line(f"w, b = {gen.lowering(group.bn).fold(group.bn, 'w', bias, BN_ROLE)}")
    elif bias is not None:
        e.line(f"b = {bias}")
    else:
        e.line(f"b = np.zeros({h.out.dims[-1]}, np.float32)")


class ChunkedAnchor(Lowering):
    """An anchor on images, computed a chunk of images at a time so that its working arrays
    (im2col matrix, taps, col2im buffer) stay in cache, with the group's epilogues inside
    the chunk loop: bias (a row as long as an image row: a long inner loop), activations,
    a max pool (conv only), the residual add and the activations after it.

    Subclasses give `weights` (prepare's lines that leave `w` and `b`), `store` (what the
    chunk reads from the state), `padded` (whether the input is zero-padded first),
    `work_floats` (per image, for the chunk size), `compute` (code that makes `y` for the
    chunk from `src`) and `compute_bytes` (what that code holds at its busiest)."""
    whole = True
    padded = True

    def prepare(self, gen, group) -> None:
        self.weights(gen, group)
        width = self.bias_width(group)
        gen.e.comment(f"the bias repeated along an image row ({width} pixels): a long inner loop")
        gen.e.line(f"s['b'] = np.tile(b, {width})")

    def bias_width(self, g) -> int:
        return g.head.out.w

    def weights(self, gen, group) -> None:
        raise NotImplementedError

    def store(self, h) -> list:
        """State entries the chunk reads, as local names: [(local, state key suffix)]."""
        return [("w", "w")]

    def work_floats(self, g) -> int:
        raise NotImplementedError

    def step(self, g) -> int:
        """Images per chunk: about CHUNK_BYTES of working arrays."""
        return max(1, CHUNK_BYTES // (self.work_floats(g) * 4))

    def compute(self, gen, g, src, step) -> bool:
        """Lines that make `y` for the images in `src`; returns whether the group's pool is done."""
        raise NotImplementedError

    def compute_bytes(self, g, m: int, prev: int) -> int:
        """The most `compute`'s code holds for a chunk of m images, its new `y` included, while
        the previous chunk's arrays (of `prev` images) are still bound to its names."""
        raise NotImplementedError

    def kept_bytes(self, g, m: int) -> int:
        """What `compute` leaves bound besides `y` through the epilogue, for m images."""
        return 0

    def out_of(self, g):
        return (g.pool or g.last).out

    def _pads(self, h) -> tuple:
        return h.spec.pads(h.inputs[0].out, h.attrs) if self.padded else (0, 0, 0, 0)

    def padded_bytes(self, g, n: int) -> int:
        """The zero-padded input buffer, for the whole call."""
        h = g.head
        inp = h.inputs[0].out
        t, b, l, r = self._pads(h)
        if not (t or b or l or r):
            return 0
        return 4 * min(n, self.step(g)) * (inp.h + t + b) * (inp.w + l + r) * inp.c

    def scratch(self, g: Group, n: int) -> int:
        """What body() allocates besides `out`: the padded buffer, then per chunk of m images
        the busiest of making y (compute_bytes) and of the epilogue (y with numpy's buffer
        for `_add_bias`, with each activation's temporaries). The first two chunks bound
        every other."""
        h, f = g.head, g.head.out.c
        step = self.step(g)

        def phases(m: int, prev: int) -> int:
            y = 4 * m * h.out.h * h.out.w * f
            kept = y + self.kept_bytes(g, m)
            acts = [h.activation] + [activation_of(x) for x in g.acts + g.post]
            return max([self.compute_bytes(g, m, prev), kept + ufunc_buffer(y // 4)]
                       + [kept + activation_scratch(a, y // 4, y // 4 // f) for a in acts])

        busiest = phases(min(n, step), 0)
        if n > step:
            busiest = max(busiest, phases(min(step, n - step), step))
        return self.padded_bytes(g, n) + busiest

    def body(self, gen, g: Group) -> bool:
        e, h = gen.e, g.head
        inp = h.inputs[0].out
        out = self.out_of(g)
        step = self.step(g)
        for local, key in self.store(h):
            e.line(f"{local} = s[{key!r}]")
        e.line("bias = s['b']")
        e.line("n = x.shape[0]")
        e.line(f"out = np.empty((n, {out.h}, {out.w}, {out.c}), np.float32)")
        t, b, l, r = self._pads(h)
        if t or b or l or r:
            e.comment("one zero-padded buffer: each chunk overwrites its interior, the border stays 0")
            e.line(f"xp = np.zeros((min(n, {step}), {inp.h + t + b}, {inp.w + l + r}, {inp.c}), np.float32)")
        e.comment(f"{step} image(s) at a time: the working arrays stay in cache")
        with e.block(f"for i in range(0, n, {step}):"):
            src = f"x[i:i + {step}]"
            if t or b or l or r:
                e.line(f"m = min({step}, n - i)")
                e.line(f"xp[:m, {t}:{t + inp.h}, {l}:{l + inp.w}] = {src}")
                src = "xp[:m]"
            pooled = self.compute(gen, g, src, step)
            e.line("_add_bias(y, bias)")
            fresh = True
            for act in [h.activation] + [activation_of(n) for n in g.acts]:
                fresh = gen.activation(act, fresh)
            if g.pool is not None and not pooled:
                gen.pool(g.pool, "y", out="y")
            if g.res is not None:
                e.line(f"y += skip[i:i + {step}]")
                for n in g.post:
                    fresh = gen.activation(activation_of(n), fresh)
            e.line(f"out[i:i + {step}] = y")
        e.line("return out")
        return True


def _dilation(a) -> tuple:
    return a.get("dilation") or (1, 1)


def _dwconv_bytes(m: int, oh: int, ow: int, cm: int) -> int:
    """What `_dwconv` holds for m images: its result, the tap product it adds, and numpy's
    buffers for the product's two buffered operands (the strided tap, the broadcast weights)."""
    return 2 * 4 * m * oh * ow * cm + 2 * ufunc_buffer(m * oh * ow * cm)


class ConvLowering(ChunkedAnchor):
    """im2col + one GEMM per chunk of images (one GEMM per group of channels for a grouped
    conv); a max pool after it is taken by tap, or before the bias and activations."""

    def takes_pool(self, node) -> bool:
        return node.spec.reduce == "max"

    @staticmethod
    def general(h) -> bool:
        """Dilated or grouped: im2col by taps and a GEMM per group (_gconv)."""
        return _dilation(h.attrs) != (1, 1) or h.attrs["groups"] != 1

    def weights(self, gen, group) -> None:
        h = group.head
        f, g = h.attrs["filters"], h.attrs["groups"]
        anchor_prepare(gen, group, "kernel", f"k.reshape(-1, {f})")
        if self.general(h):
            gen.e.comment(f"{g} group(s): (group, KH*KW*Cin/G, F/G)")
            gen.e.line(f"s['w'] = np.ascontiguousarray(w.reshape(-1, {g}, {f // g}).transpose(1, 0, 2))")
        else:
            gen.e.line("s['w'] = np.ascontiguousarray(w)")

    @staticmethod
    def plan(g: Group) -> dict:
        h = g.head
        acts = [h.activation] + [activation_of(n) for n in g.acts]
        monotone = all(activation_entry(a).monotone for a in acts)
        pool = g.pool.attrs if g.pool is not None else None
        # A max pool with disjoint, unpadded windows is computed by pool tap: the conv
        # evaluated only where tap (i, j) of each window lands (stride sh*ph), then an
        # elementwise max of contiguous arrays -- no strided pooling, no wasted rows.
        by_tap = (pool is not None and monotone and pool["padding"] == "valid"
                  and pool["kernel"] == pool["stride"])
        early = pool is not None and monotone  # pool before the bias and activations
        return {"acts": acts, "by_tap": by_tap, "early": early, "bias_w": (g.pool.out.w if early else h.out.w)}

    def bias_width(self, g) -> int:
        return self.plan(g)["bias_w"]

    def work_floats(self, g) -> int:
        h = g.head
        (kh, kw), inp, out = h.attrs["kernel"], h.inputs[0].out, self.out_of(g)
        rows = out.h * out.w if self.plan(g)["by_tap"] else h.out.h * h.out.w
        return rows * max(kh * kw * inp.c, out.c)

    def _call(self, h, src, geo, offs=None) -> str:
        if self.general(h):
            dh, dw = _dilation(h.attrs)
            return f"_gconv({src}, w, {geo}, {dh}, {dw}" + (f", {offs})" if offs else ")")
        return f"_conv({src}, w, {geo}" + (f", {offs})" if offs else ")")

    def compute(self, gen, g, src, step) -> bool:
        e, h, a = gen.e, g.head, g.head.attrs
        (kh, kw), (sh, sw) = a["kernel"], a["stride"]
        plan = self.plan(g)
        if plan["by_tap"]:
            out = g.pool.out
            (ph, pw) = g.pool.attrs["kernel"]
            taps = [(i, j) for i in range(ph) for j in range(pw)]
            e.line(f"xi = {src}")
            e.comment(f"{g.pool.name} by tap: the conv at each of the {ph}x{pw} window offsets, max-ed")
            e.comment("before the bias and activation (max commutes with both)")
            geo = f"{kh}, {kw}, {sh * ph}, {sw * pw}, {out.h}, {out.w}"
            e.line(f"y = {self._call(h, 'xi', geo)}")
            with e.block(f"for a, b in {tuple(taps[1:])!r}:"):
                offs = ("a" if sh == 1 else f"a * {sh}") + ", " + ("b" if sw == 1 else f"b * {sw}")
                e.line(f"np.maximum(y, {self._call(h, 'xi', geo, offs)}, out=y)")
            return True
        e.line(f"y = {self._call(h, src, f'{kh}, {kw}, {sh}, {sw}, {h.out.h}, {h.out.w}')}")
        if plan["early"]:
            e.comment("max pool first: max commutes with the bias and monotone activations")
            gen.pool(g.pool, "y", out="y")
            return True
        return False

    def _work_bytes(self, h, m, hp, wp, sh, sw, oh, ow) -> int:
        """What `_conv` / `_gconv` hold besides their result for m images: the im2col matrix
        (for a grouped conv also one group's columns and its GEMM result)."""
        (kh, kw), c, f = h.attrs["kernel"], h.inputs[0].out.c, h.out.c
        if not self.general(h):
            return _im2col_bytes(m, c, hp, wp, kh, kw, sh, sw, oh, ow)
        cols = 4 * m * oh * ow * kh * kw * c
        g = h.attrs["groups"]
        if g == 1:
            return cols
        return cols + 4 * m * oh * ow * (kh * kw * c // g + f // g)

    def scratch(self, g: Group, n: int) -> int:
        """What body() allocates besides `out`, phase by phase. Per chunk of m images:
        the padded buffer, the im2col matrix with the GEMM result, the pool and the
        activations' temporaries -- and the previous chunk's result, which `y` keeps
        alive until it is rebound. The first two chunks bound every other."""
        h, a = g.head, g.head.attrs
        inp = h.inputs[0].out
        sh, sw = a["stride"]
        t, b, l, r = self._pads(h)
        plan = self.plan(g)
        step, by_tap, early = self.step(g), plan["by_tap"], plan["early"]
        out = (g.pool or g.last).out
        f = h.out.c
        hp, wp = inp.h + t + b, inp.w + l + r

        def acts(y_elems, names) -> int:
            return max([activation_scratch(x, y_elems, y_elems // f) for x in names] + [0])

        def phases(m: int, prev: int) -> int:
            """The busiest moment of a chunk of m images after a chunk of `prev`."""
            if by_tap:
                (ph, pw) = g.pool.attrs["kernel"]
                y = 4 * m * out.h * out.w * f
                cols = self._work_bytes(h, m, hp, wp, sh * ph, sw * pw, out.h, out.w)
                old = 4 * prev * out.h * out.w * f
                taps = old + cols + y + (y if ph * pw > 1 else 0)
                return max(taps, y + ufunc_buffer(y // 4), y + acts(y // 4, plan["acts"]))
            conv = 4 * m * h.out.h * h.out.w * f
            cols = self._work_bytes(h, m, hp, wp, sh, sw, h.out.h, h.out.w)
            if g.pool is None:
                old = 4 * prev * h.out.h * h.out.w * f
                post = acts(conv // 4, [activation_of(x) for x in g.post])
                return max(old + cols + conv, conv + ufunc_buffer(conv // 4),
                           conv + acts(conv // 4, plan["acts"]), conv + post)
            pooled = 4 * m * out.h * out.w * f
            pool_pad = pool_scratch(g.pool, m)
            old = 4 * prev * out.h * out.w * f   # the previous chunk's pooled `y`
            if early:   # y = pool(y) before the bias
                return max(old + cols + conv, old + conv + pool_pad + pooled,
                           pooled + ufunc_buffer(pooled // 4), pooled + acts(pooled // 4, plan["acts"]))
            # the pool after the activations
            return max(old + cols + conv, conv + ufunc_buffer(conv // 4), conv + acts(conv // 4, plan["acts"]),
                       conv + pool_pad + pooled)

        busiest = phases(min(n, step), 0)
        if n > step:
            busiest = max(busiest, phases(min(step, n - step), step))
        return self.padded_bytes(g, n) + busiest


class DepthwiseLowering(ChunkedAnchor):
    """Per tap, a strided view of the image times that tap's C*M weights, accumulated."""

    def weights(self, gen, group) -> None:
        h = group.head
        kh, kw = h.attrs["kernel"]
        gen.e.comment("taps x output channels (c*M + m)")
        anchor_prepare(gen, group, "kernel", f"k.reshape({kh * kw}, {h.out.c})")
        gen.e.line("s['w'] = np.ascontiguousarray(w)")

    def work_floats(self, g) -> int:
        return 2 * g.head.out.h * g.head.out.w * g.head.out.c

    def compute(self, gen, g, src, step) -> bool:
        h, a = g.head, g.head.attrs
        (kh, kw), (sh, sw), (dh, dw) = a["kernel"], a["stride"], _dilation(a)
        gen.e.line(f"y = _dwconv({src}, w, {kh}, {kw}, {sh}, {sw}, {h.out.h}, {h.out.w}, {dh}, {dw})")
        return False

    def compute_bytes(self, g, m, prev) -> int:
        o = g.head.out
        return 4 * prev * o.h * o.w * o.c + _dwconv_bytes(m, o.h, o.w, o.c)


class SeparableLowering(ChunkedAnchor):
    """The depthwise part by taps (no bias), then the pointwise 1x1 as one GEMM."""

    def weights(self, gen, group) -> None:
        h = group.head
        (kh, kw), cin = h.attrs["kernel"], h.inputs[0].out.c
        mid = cin * h.attrs["multiplier"]
        gen.e.line(f"s['dw'] = np.ascontiguousarray({param('depthwise')}.reshape({kh * kw}, {mid}))")
        anchor_prepare(gen, group, "pointwise", f"k.reshape({mid}, {h.out.c})")
        gen.e.line("s['w'] = np.ascontiguousarray(w)")

    def store(self, h) -> list:
        return [("dw", "dw"), ("w", "w")]

    def work_floats(self, g) -> int:
        h = g.head
        return h.out.h * h.out.w * (2 * h.inputs[0].out.c * h.attrs["multiplier"] + h.out.c)

    def compute(self, gen, g, src, step) -> bool:
        h, a = g.head, g.head.attrs
        (kh, kw), (sh, sw), (dh, dw) = a["kernel"], a["stride"], _dilation(a)
        oh, ow = h.out.h, h.out.w
        gen.e.line(f"d = _dwconv({src}, dw, {kh}, {kw}, {sh}, {sw}, {oh}, {ow}, {dh}, {dw})")
        gen.e.line(f"y = (d.reshape(-1, d.shape[3]) @ w).reshape(d.shape[0], {oh}, {ow}, {h.out.c})")
        return False

    def compute_bytes(self, g, m, prev) -> int:
        h = g.head
        o, mid = h.out, h.inputs[0].out.c * h.attrs["multiplier"]
        old_y, old_d = 4 * prev * o.h * o.w * o.c, 4 * prev * o.h * o.w * mid
        d, y = 4 * m * o.h * o.w * mid, 4 * m * o.h * o.w * o.c
        # the depthwise part while the last chunk's d and y live; the GEMM while its y lives
        return max(old_d + old_y + _dwconv_bytes(m, o.h, o.w, mid), old_y + d + y)

    def kept_bytes(self, g, m: int) -> int:
        o = g.head.out
        return 4 * m * o.h * o.w * g.head.inputs[0].out.c * g.head.attrs["multiplier"]   # `d`


class TransposedLowering(ChunkedAnchor):
    """One GEMM (Cin -> KH*KW*F per input pixel), then col2im at the stride, cropped as the
    registry says (spec.crops)."""
    padded = False

    def weights(self, gen, group) -> None:
        h = group.head
        (kh, kw), f, cin = h.attrs["kernel"], h.out.c, h.inputs[0].out.c
        gen.e.comment("kernel (KH, KW, F, Cin) as (Cin, KH, KW, F): the output channel last")
        anchor_prepare(gen, group, "kernel", "k.transpose(3, 0, 1, 2)")
        gen.e.line(f"s['w'] = np.ascontiguousarray(w.reshape({cin}, {kh * kw * f}))")

    def work_floats(self, g) -> int:
        h = g.head
        (kh, kw), inp = h.attrs["kernel"], h.inputs[0].out
        return inp.h * inp.w * kh * kw * h.out.c + 2 * h.out.h * h.out.w * h.out.c

    def compute(self, gen, g, src, step) -> bool:
        h, a = g.head, g.head.attrs
        (kh, kw), (sh, sw) = a["kernel"], a["stride"]
        top, _, left, _ = h.spec.crops(h.inputs[0].out, a)
        gen.e.line(f"y = _deconv({src}, w, {kh}, {kw}, {sh}, {sw}, {h.out.h}, {h.out.w}, {top}, {left})")
        return False

    def compute_bytes(self, g, m, prev) -> int:
        h, a = g.head, g.head.attrs
        (kh, kw), (sh, sw), inp, o = a["kernel"], a["stride"], h.inputs[0].out, h.out
        top, bottom, left, right = h.spec.crops(inp, a)
        full_h, full_w = max((inp.h - 1) * sh + kh, top + o.h), max((inp.w - 1) * sw + kw, left + o.w)
        cols = 4 * m * inp.h * inp.w * kh * kw * o.c
        full = 4 * m * full_h * full_w * o.c
        y = 4 * m * o.h * o.w * o.c
        # the GEMM's columns and the full output, with numpy's buffers for the strided adds
        # (three operands); then a crop copies the kept part out of it
        adds = 3 * ufunc_buffer(m * inp.h * inp.w * o.c)
        crop = y if (full_h, full_w) != (o.h, o.w) else 0
        return 4 * prev * o.h * o.w * o.c + cols + full + max(adds, crop)


class DenseLowering(Lowering):
    def prepare(self, gen, group) -> None:
        anchor_prepare(gen, group, "kernel", "k")
        gen.e.line("s['w'] = np.ascontiguousarray(w)")
        gen.e.line("s['b'] = b")

    def scratch(self, g: Group, n: int) -> int:
        units = n * g.head.out.n
        return max(ufunc_buffer(units), activation_scratch(g.head.activation, units, n))

    def body(self, gen, g: Group) -> bool:
        h = g.head
        gen.e.line("y = x @ s['w']")
        gen.e.line("y += s['b']")
        return gen.activation(h.activation, True)
