"""The numpy backend: the reference. Generates a self-contained Python module.

The module needs only numpy (it never imports cnnc) and holds, in this order:
constants (INPUT_SHAPE, OUTPUT_SHAPE, WEIGHTS_EXT, the PARAMS table), the array helpers
every module carries (carried/numpy_ops.py), one function per *distinct* step of
`forward` (`layer_*` for a layer or fused group, `view_*` for a view) and per distinct
way of preparing a group's weights (`prepare_*`: folds batchnorm, reshapes kernels),
the tables PREPARES and STEPS that say which step uses which, `prepare(params)` and
`forward`, which walk those tables (carried/numpy_model.py), and the weights reader and
`Model` (carried/weights_io.py) with `load(path=None)`. Steps whose code is the same but
for names (a `repeat`, identical branches) share one function, and what grows with the
network is table rows, not code (carried/tables.py), so a 100,000-layer program compiles
in linear time and a few hundred megabytes (BENCHMARKS.md, "compile scaling").

Fused groups come from the shared planner (passes/fusion.py) under `NumpyPolicy`,
which says what one numpy function can absorb: a batchnorm it can fold
(passes/fold.py), activation layers, for a conv one max pool, and for an anchor a
residual add. Each kind is computed by its entry in LOWERINGS (one per keyword): the
group's head emits the code that makes `y`, every absorbed node an in-place step on
it. The anchors on images (conv, dwconv, sepconv, deconv: ChunkedAnchor) run over the
batch in chunks small enough for their working arrays (the im2col matrix, the
depthwise taps, the col2im buffer) to stay in cache; within a chunk a conv's max pool
is taken *before* the bias and activation when these are monotone per channel (max
commutes with them), which is exact and four times cheaper for a 2x2 pool. Views
(flatten, dropout) are a one-line function (a reshape, the input itself).

Layout: NHWC float32; kernels in Keras layout (KH, KW, Cin, Cout), flattened to
(KH*KW*Cin, Cout) so an im2col row (i, j, c) meets the matching weight; every anchor's
prepared matrix has its output channel last, so a batchnorm folds into it alike.
"""

from __future__ import annotations

import hashlib

from ..errors import CnncError
from ..layers import ACTIVATIONS, Epilogue, Image, Role, activation_of
from ..passes.fold import folds_into
from ..passes.fusion import Policy, plan
from . import carried
from .emitter import Emitter, check_table_names, shared_comment, source_line
from .pending import require_lowerings

WEIGHTS_EXT = ".npz"

# the prefix of a folded batchnorm's parameters in its group's prepare function (`p['bn.gamma']`)
BN_ROLE = "bn."

# A call of fewer multiply-adds than this runs BLAS on one thread (when threadpoolctl is
# installed and neither OPENBLAS_NUM_THREADS nor OMP_NUM_THREADS is set): measured with
# `benchmarks/numpy_cpu.py --threads-policy` (BENCHMARKS.md, "BLAS threads"): two threads never
# beat one by 20 % in any call measured, so the threshold is far above them all. The
# backend's GEMMs are chunk-sized (CHUNK_BYTES), so a second thread mostly waits at the end
# of each, and on a busy machine for a scheduler slice.
ONE_BLAS_THREAD_BELOW = 10**12

# An im2col chunk (images x OH x OW x KH*KW*Cin floats) of about this many bytes
# stays in L2 with its GEMM output; measured best for LeNet at batch 256.
CHUNK_BYTES = 1 << 20


# --- grouping ------------------------------------------------------------------

class NumpyPolicy(Policy):
    """What one generated numpy function absorbs (the planner in passes/fusion.py
    decides the structure): a batchnorm only where it folds into the anchor's
    weights, activations until a pool, a pool where the head's lowering takes one
    (a conv takes a max pool, computed by tap), and a residual add after an anchor.
    Concat is an `np.concatenate`."""

    concat_in_place = False

    def absorbs(self, group, node) -> bool:
        head, kind = group.nodes[0], node.spec.epilogue
        if kind is Epilogue.AFFINE:
            return len(group.nodes) == 1 and node.spec.foldable and folds_into(head)
        if kind is Epilogue.ACTIVATION:
            return not group.has(Epilogue.POOL)
        if kind is Epilogue.POOL:
            return LOWERINGS[head.kind].takes_pool(node) and not group.has(Epilogue.POOL) \
                and not group.has(Epilogue.ADD)
        if kind is Epilogue.ADD:   # `y += skip` inside the anchor's chunk loop: a plain sum of two
            return head.spec.role is Role.ANCHOR and not group.has(Epilogue.POOL) and not group.has(Epilogue.ADD) \
                and LOWERINGS[node.kind].plain(node)
        return False


NUMPY = NumpyPolicy()


class Group:
    """Nodes computed by one generated function, sorted into the parts the code
    generator emits; `head` reads the inputs."""

    def __init__(self, nodes):
        self.nodes = list(nodes)
        self.head = self.nodes[0]
        self.bn = None          # a folded affine epilogue (batchnorm, layerscale, normalize)
        self.acts = []          # activation layers applied after the head
        self.pool = None        # a max pool fused into a conv group
        self.res = None         # a residual join fused into an anchor's group ...
        self.skip = None        # ... and its other input, computed before the group
        self.post = []          # activation layers after the residual
        for n in self.nodes[1:]:
            kind = n.spec.epilogue
            if kind is Epilogue.AFFINE:
                self.bn = n
            elif kind is Epilogue.ACTIVATION:
                (self.post if self.res is not None else self.acts).append(n)
            elif kind is Epilogue.POOL:
                self.pool = n
            elif kind is Epilogue.ADD:
                before = self.nodes[self.nodes.index(n) - 1]
                self.res, self.skip = n, (n.inputs[1] if n.inputs[0] is before else n.inputs[0])

    @property
    def last(self):
        return self.nodes[-1]

    @property
    def inputs(self) -> list:
        """The nodes the group's function reads, in its parameter order."""
        return self.head.inputs + ([self.skip] if self.res is not None else [])


def plan_groups(net) -> list:
    """The numpy functions, in execution order: the planner's groups under NUMPY,
    plus one per concat (which the planner leaves to the backend)."""
    p = plan(net, NUMPY)
    groups = [Group(g.nodes) for g in p.groups] + [Group([j]) for j in p.joins]
    position = {n.name: i for i, n in enumerate(net.nodes)}
    return sorted(groups, key=lambda g: position[g.last.name])


# --- what the generated code allocates (the lowerings' scratch) -----------------------

# numpy runs an in-place ufunc with a broadcast operand (`_add_bias`, `_relu`'s zero row)
# through a buffer of this many elements (np.getbufsize()), plus its iterator's bookkeeping
UFUNC_BUFFER = 8192
UFUNC_OVERHEAD = 1104


def ufunc_buffer(elements: int) -> int:
    """Bytes numpy holds while an in-place float32 ufunc with a broadcast operand runs."""
    return 4 * min(elements, UFUNC_BUFFER) + UFUNC_OVERHEAD


def _entry(act):
    """An activation's table entry from its name (or the entry itself: a variant with its parameter)."""
    return ACTIVATIONS[act] if isinstance(act, str) else act


def activation_scratch(act, elements: int, rows: int) -> int:
    """Bytes an activation's numpy lines hold beyond y (its `numpy_scratch` in the table)."""
    per_element, per_row, buffered = _entry(act).numpy_scratch
    return per_element * elements + per_row * rows + (ufunc_buffer(elements) if buffered else 0)


def _elements(t) -> int:
    size = 1
    for d in t.dims:
        size *= d
    return size


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


def _pool_scratch(node, n: int) -> int:
    """What `_Gen.pool` holds besides its output: the padded copy of its input (or the
    window counts of an average over real pixels), and the ufunc buffer of its
    `np.maximum(out, tap, out=out)` / `out += tap` over the strided taps."""
    inp = node.inputs[0].out
    (kh, kw) = node.attrs["kernel"]
    t, b, l, r = node.spec.pads(inp, node.attrs)
    buffered = ufunc_buffer(n * _elements(node.out))
    padded = 4 * n * (inp.h + t + b) * (inp.w + l + r) * inp.c if (t or b or l or r) else 0
    if node.spec.reduce == "avg" and node.attrs["padding"] == "same" and padded:
        padded = max(padded, 8 * node.out.h * node.out.w)
    return padded + (buffered if kh * kw > 1 else 0)


def group_scratch(g, n: int) -> int:
    """The most bytes the group's function holds at once besides its inputs and its result."""
    head = LOWERINGS[g.head.kind]
    most = head.scratch(g, n)
    if not head.whole:
        for node in g.nodes[1:]:
            if node is not g.bn and node is not g.pool:
                most = max(most, LOWERINGS[node.kind].apply_scratch(node, n))
    return most


# --- lowerings: how each kind is computed --------------------------------------------

class Lowering:
    """How the numpy backend computes one kind.

    prepare(gen, group)  lines of the group's prepare function that put what the group's
                         function reads into its state `s` (only for the head), from `p`:
                         the group's parameters by role (`p['kernel']`, `p['bn.gamma']`)
    params(group)        the group function's parameters (the inputs it reads)
    body(gen, group)     as the head: code that makes `y` from the parameters; returns
                         whether y is a fresh array (else it may alias an input). The
                         generator then applies the absorbed nodes, unless `whole`.
    apply(gen, node, fresh)  as an absorbed node: change y in place; returns freshness
    view(gen, node, src) for a view: the expression of its value (its step's function)

    and what the code it emits allocates, so that `cnnc shapes --batch` can say how much
    memory a forward pass takes without running it (cnnc/memory.py adds up the lifetimes):

    scratch(group, n)    as the head, for a batch of n: the most bytes the group's function
                         holds at one moment besides its inputs and the array it returns
                         (which the caller counts, whole, from the moment it exists): im2col
                         matrices, padded copies, per-chunk results, an activation's
                         temporaries, numpy's ufunc buffer (`ufunc_buffer`) for an in-place
                         operation with a broadcast operand. For a `whole` lowering this
                         covers the whole group; otherwise the generator's group takes the
                         largest of it and each absorbed node's `apply_scratch`.
    apply_scratch(node, n)  as an absorbed node: the bytes its in-place step holds beyond y.

    Both are plain arithmetic on shapes (no numpy: `cnnc shapes` never imports it). The
    defaults (0) fit code that allocates nothing but its result (`y = a + b`,
    `np.concatenate`). tests/test_memory.py checks every kind against tracemalloc: a new
    lowering declares its scratch, and a new kind adds a program there.
    """
    whole = False   # body() emits the whole group (its epilogues too) and the return

    def takes_pool(self, node) -> bool:
        return False

    def scratch(self, group, n: int) -> int:
        return 0

    def apply_scratch(self, node, n: int) -> int:
        return 0

    def prepare(self, gen, group) -> None:
        pass

    def params(self, group) -> list:
        return ["x", "skip"] if group.res is not None else ["x"]

    def body(self, gen, group) -> bool:
        raise CnncError(f"the numpy backend cannot compute {group.head.kind} ({group.head.name}) as a function",
                        group.head.line, group.head.col)

    def apply(self, gen, node, fresh) -> bool:
        raise CnncError(f"the numpy backend cannot fuse {node.kind} ({node.name})", node.line, node.col)

    def view(self, gen, node, src) -> str:
        raise CnncError(f"the numpy backend has no view for {node.kind} ({node.name})", node.line, node.col)


def _bn_args(bn, role: str = "") -> str:
    """A batchnorm's gamma, beta, mean, var and eps as arguments of _fold/_affine: 1.0 for a
    missing gamma (scale=false), 0.0 for a missing beta (center=false). `role`: its place in
    the group (ROLES), which prefixes its parameters in the group's `p`."""
    missing = {"gamma": "1.0", "beta": "0.0"}
    arrays = [f"p[{role + q!r}]" if q in bn.params else missing[q] for q in ("gamma", "beta", "mean", "var")]
    return ", ".join(arrays) + f", {bn.attrs['eps']!r}"


def _p(suffix: str, role: str = "") -> str:
    """A parameter of the group's layer in `role` ('': the head, BN_ROLE: a folded affine
    epilogue) in its group's prepare function: `p['kernel']`, `p['bn.gamma']`."""
    return f"p[{role + suffix!r}]"


def _anchor_prepare(gen, group, weights: str, matrix: str) -> None:
    """Leaves `w`, `b` in prepare(): the anchor's array `weights` as `matrix` (an expression
    over it, `k`, with the output channel on the last axis), and its bias (zeros without
    one), with a following batchnorm folded into both."""
    e, h = gen.e, group.head
    bias = _p("bias") if "bias" in h.params else None
    e.line(f"k = {_p(weights)}")
    e.line(f"w = {matrix}")
    if group.bn is not None:
        e.comment(f"{h.name} with {group.bn.name} folded in")
        e.line(f"w, b = {LOWERINGS[group.bn.kind].fold(group.bn, 'w', bias, BN_ROLE)}")
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
        _anchor_prepare(gen, group, "kernel", f"k.reshape(-1, {f})")
        if self.general(h):
            gen.e.comment(f"{g} group(s): (group, KH*KW*Cin/G, F/G)")
            gen.e.line(f"s['w'] = np.ascontiguousarray(w.reshape(-1, {g}, {f // g}).transpose(1, 0, 2))")
        else:
            gen.e.line("s['w'] = np.ascontiguousarray(w)")

    @staticmethod
    def plan(g: Group) -> dict:
        h = g.head
        acts = [h.activation] + [activation_of(n) for n in g.acts]
        monotone = all(_entry(a).monotone for a in acts)
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
            pool_pad = _pool_scratch(g.pool, m)
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
        _anchor_prepare(gen, group, "kernel", f"k.reshape({kh * kw}, {h.out.c})")
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
        gen.e.line(f"s['dw'] = np.ascontiguousarray({_p('depthwise')}.reshape({kh * kw}, {mid}))")
        _anchor_prepare(gen, group, "pointwise", f"k.reshape({mid}, {h.out.c})")
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
        _anchor_prepare(gen, group, "kernel", "k.transpose(3, 0, 1, 2)")
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
        _anchor_prepare(gen, group, "kernel", "k")
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


class BatchNormLowering(Lowering):
    """On its own (not folded): x * scale + shift, per channel."""

    def fold(self, node, w: str, bias, role: str) -> str:
        """The expression of (w, b): `w` and the anchor's `bias` (an expression or None) with this
        per-channel affine map folded in; its parameters are `p`'s with the prefix `role`."""
        return f"_fold({w}, {bias}, {_bn_args(node, role)})"

    def prepare(self, gen, group) -> None:
        h = group.head
        gen.e.line(f"s['scale'], s['shift'] = _affine({_bn_args(h)})")

    def body(self, gen, g: Group) -> bool:
        gen.e.line("y = x * s['scale']")
        gen.e.line("y += s['shift']")
        return True

    def scratch(self, g: Group, n: int) -> int:
        return ufunc_buffer(n * _elements(g.head.out))


class LayerScaleLowering(Lowering):
    """Channel c times gamma[c]; after a linear anchor, folded into its weights."""

    def fold(self, node, w: str, bias, role: str) -> str:
        return f"_fold_affine({w}, {bias}, {_p('gamma', role)}, 0.0)"

    def prepare(self, gen, group) -> None:
        gen.e.line(f"s['gamma'] = {_p('gamma')}")

    def body(self, gen, g: Group) -> bool:
        gen.e.line("y = x * s['gamma']")
        return True

    def scratch(self, g: Group, n: int) -> int:
        return ufunc_buffer(n * _elements(g.head.out))


def _normalize_arrays(node, role: str = "") -> str:
    """normalize's mean and variance as arguments: the program's constants, one per channel, or
    its weights (`p`'s, with the prefix `role`)."""
    consts = node.spec.constants(node.attrs, node.out.dims[-1])
    if consts is None:
        return f"{_p('mean', role)}, {_p('var', role)}"
    mean, var = consts
    return f"np.array({list(mean)!r}, np.float32), np.array({list(var)!r}, np.float32)"


class NormalizeLowering(Lowering):
    """(x - mean) / max(sqrt(var), 1e-7) per channel, in float32 as Keras's Normalization; after a
    linear anchor, folded into its weights as x * scale + shift."""

    def fold(self, node, w: str, bias, role: str) -> str:
        return f"_fold_affine({w}, {bias}, *_normalize_affine({_normalize_arrays(node, role)}))"

    def prepare(self, gen, group) -> None:
        h = group.head
        gen.e.line(f"s['mean'], s['den'] = _normalize_den({_normalize_arrays(h)})")

    def body(self, gen, g: Group) -> bool:
        gen.e.line("y = x - s['mean']")
        gen.e.line("y /= s['den']")
        return True

    def scratch(self, g: Group, n: int) -> int:
        return ufunc_buffer(n * _elements(g.head.out))


class LayerNormLowering(Lowering):
    """Each pixel's channels (a vector's values) normalised by their mean and biased variance,
    in float32 (as Keras's LayerNormalization on the torch backend), then gamma and beta."""

    def prepare(self, gen, group) -> None:
        for q in ("gamma", "beta"):
            gen.e.line(f"s[{q!r}] = {_p(q)}")

    def body(self, gen, g: Group) -> bool:
        h = g.head
        gen.e.line(f"y = _layernorm(x, s['gamma'], s['beta'], {h.attrs['eps']!r})")
        return True

    def scratch(self, g: Group, n: int) -> int:
        """_layernorm's row statistics (the mean, then the variance: a float32 per row each),
        the squares it averages (one float32 per element), and numpy's buffers for its
        in-place operations with a broadcast operand."""
        elems = n * _elements(g.head.out)
        rows = elems // g.head.out.dims[-1]
        return 4 * elems + 8 * rows + ufunc_buffer(elems)


class CropLowering(Lowering):
    def body(self, gen, g: Group) -> bool:
        t, b, l, r = g.head.attrs["sides"]
        inp = g.head.inputs[0].out
        gen.e.line(f"y = x[:, {t}:{inp.h - b}, {l}:{inp.w - r}].copy()")
        return True


class RescaleLowering(Lowering):
    """x * S + O, in float32 as Keras's Rescaling computes it."""

    def body(self, gen, g: Group) -> bool:
        a = g.head.attrs
        gen.e.line(f"y = x * np.float32({a['scale']!r})")
        if a["offset"]:
            gen.e.line(f"y += np.float32({a['offset']!r})")
        return True


class PoolLowering(Lowering):
    def body(self, gen, g: Group) -> bool:
        gen.pool(g.head, "x", out="y")
        return True

    def scratch(self, g: Group, n: int) -> int:
        return _pool_scratch(g.head, n)


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


def _broadcast(node) -> bool:
    """A gate join (scale, multiply) whose gate is a vector of the image's channels."""
    return node.inputs[0].out != node.inputs[1].out


class ScaleLowering(Lowering):
    """The scale join and multiply: the image times its gate, one value per image and channel
    -- or, for `multiply a b` of one shape, elementwise."""

    def params(self, group) -> list:
        return ["x", "gate"]

    def body(self, gen, g: Group) -> bool:
        gen.e.line("y = x * gate[:, None, None, :]" if _broadcast(g.head) else "y = x * gate")
        return True

    def scratch(self, g: Group, n: int) -> int:
        if not _broadcast(g.head):
            return 0
        return ufunc_buffer(n * _elements(g.head.out))   # the gate, broadcast over the pixels


class SumLowering(Lowering):
    """residual and add: the sum of the inputs, each times its coefficient (a scaled
    residual's block: spec.coefficients), in order -- Keras's Add sums left to right. A plain
    sum of two after an anchor is `y += skip` inside its group (NumpyPolicy)."""

    @staticmethod
    def plain(node) -> bool:
        return len(node.inputs) == 2 and all(c == 1.0 for c in node.spec.coefficients(node))

    def params(self, group) -> list:
        return ["*xs"]

    def body(self, gen, g: Group) -> bool:
        c = g.head.spec.coefficients(g.head)
        scaled = [i for i in range(len(c)) if c[i] != 1.0]
        order = scaled + [i for i in range(len(c)) if c[i] == 1.0]
        first = order[0]
        if c[first] != 1.0:
            gen.e.line(f"y = xs[{first}] * np.float32({c[first]!r})")
            rest = order[1:]
        else:
            gen.e.line(f"y = xs[{first}] + xs[{order[1]}]")
            rest = order[2:]
        for i in rest:
            gen.e.line(f"y += xs[{i}]" if c[i] == 1.0 else f"y += xs[{i}] * np.float32({c[i]!r})")
        return True

    def scratch(self, g: Group, n: int) -> int:
        c = g.head.spec.coefficients(g.head)
        # a second scaled input is a temporary of the output's size
        return 4 * n * _elements(g.head.out) if sum(x != 1.0 for x in c) > 1 else 0

    def apply(self, gen, node, fresh) -> bool:
        gen.e.line("y += skip")  # the group's generator passes the other operand as `skip`
        return True


class ConcatLowering(Lowering):
    def params(self, group) -> list:
        return ["*xs"]

    def body(self, gen, g: Group) -> bool:
        gen.e.line("y = np.concatenate(xs, axis=-1)")
        return True


class ActivationLowering(Lowering):
    def body(self, gen, g: Group) -> bool:
        gen.e.line("y = x")
        return gen.activation(activation_of(g.head), False)

    def apply(self, gen, node, fresh) -> bool:
        return gen.activation(activation_of(node), fresh)

    def scratch(self, g: Group, n: int) -> int:
        return self.apply_scratch(g.head, n)

    def apply_scratch(self, node, n: int) -> int:
        elems = n * _elements(node.out)
        return activation_scratch(activation_of(node), elems, elems // node.out.dims[-1])


class FlattenLowering(Lowering):
    def view(self, gen, node, src) -> str:
        if isinstance(node.inputs[0].out, Image):
            return f"{src}.reshape({src}.shape[0], {node.out.n})"
        return src


class IdentityLowering(Lowering):
    def view(self, gen, node, src) -> str:
        return src


LOWERINGS: dict = {
    "conv": ConvLowering(), "dwconv": DepthwiseLowering(), "sepconv": SeparableLowering(),
    "deconv": TransposedLowering(), "dense": DenseLowering(),
    "batchnorm": BatchNormLowering(), "rescale": RescaleLowering(),
    "layernorm": LayerNormLowering(), "layerscale": LayerScaleLowering(), "normalize": NormalizeLowering(),
    "crop": CropLowering(),
    "pool": PoolLowering(), "avgpool": PoolLowering(),
    "globalpool": GlobalPoolLowering(), "globalmaxpool": GlobalPoolLowering(),
    "zeropad": ZeroPadLowering(), "upsample": UpsampleLowering(),
    "residual": SumLowering(), "add": SumLowering(), "concat": ConcatLowering(), "scale": ScaleLowering(),
    "multiply": ScaleLowering(),
    "flatten": FlattenLowering(), "dropout": IdentityLowering(), "input": Lowering(),
    **{name: ActivationLowering() for name in ACTIVATIONS},
}


# --- emitting ---------------------------------------------------------------------

class _Gen:
    """The module's text. Code is written once per *distinct* function: the steps of
    `forward` (a group's function, or a view's) whose code is the same but for its name share
    one, and so do their prepare functions; what differs per layer (names, which values a
    step reads and frees, the parameters) goes in the tables PARAMS, PREPARES and STEPS.
    Steps are keyed by their code in a first pass that keeps only a hash per step, so a
    100,000-layer network never holds more than one step's text at a time."""

    def __init__(self, net):
        self.net = net
        self.e = Emitter()
        self.groups = plan_groups(net)
        self.steps = forward_steps(net, self.groups)

    def _text(self, emit, comments: bool = True) -> str:
        """What `emit()` writes, as text, leaving the module's emitter as it was."""
        saved, self.e = self.e, Emitter(comments=comments)
        try:
            emit()
            return self.e.source()
        finally:
            self.e = saved

    # -- module ---------------------------------------------------------------
    def module(self) -> str:
        e, net = self.e, self.net
        check_table_names(net, "numpy")
        e.line('"""A network compiled by cnnc (numpy backend). Needs only numpy.')
        e.line("")
        e.line("    import thismodule; model = thismodule.load(); y = model(x)   # x: (N, H, W, C)")
        e.line("")
        e.line("Generated code: edit the .cnn program and recompile instead. One function per distinct")
        e.line("layer or fused group (`layer_*`, `view_*`) and per distinct way of preparing its weights")
        e.line("(`prepare_*`); the tables PARAMS, PREPARES and STEPS say which layers use which.")
        e.line('"""')
        e.comment(f"source: {net.filename}")
        e.blank()
        e.line("import os")
        e.blank()
        e.line("import numpy as np")
        e.line("from numpy.lib.stride_tricks import as_strided")
        e.blank()
        e.line()
        carried.emit(e, "tables")
        e.blank()
        e.line()
        e.line(f"INPUT_SHAPE = {tuple(net.input_shape)!r}")
        e.line(f"OUTPUT_SHAPE = {tuple(net.output_shape)!r}")
        e.line(f"WEIGHTS_EXT = {WEIGHTS_EXT!r}")
        e.comment("the digest of the weights written beside this module: load() refuses others there")
        e.line(carried.DIGEST_LINE)
        e.line(f"MACS_PER_IMAGE = {net.total_macs}")
        e.comment("a call of fewer multiply-adds runs BLAS on one thread (with threadpoolctl; docs/numpy.md)")
        e.line(f"ONE_BLAS_THREAD_BELOW = {ONE_BLAS_THREAD_BELOW}")
        e.comment("parameter name, shape (Keras layouts)")
        e.table("PARAMS = {name: tuple(shape) for name, shape in ",
                ([name, list(shape)] for name, shape in net.param_shapes().items()), "}")
        e.blank()
        e.line()
        carried.emit(e, "numpy_ops")
        e.blank()
        e.line()
        prepares, steps = self.functions()
        e.blank()
        e.line()
        e.comment("step, its prepare function, its layers by role ('': the head, 'bn.': a folded batchnorm,")
        e.comment("layerscale or normalize)")
        e.table("PREPARES = [(step, globals()[fn], roles) for step, fn, roles in ", prepares, "]")
        e.comment("step (the node it computes), its function, the nodes it reads, the values it frees")
        e.table("STEPS = [(node, globals()[fn], reads, frees) for node, fn, reads, frees in ", steps, "]")
        e.blank()
        e.line()
        with e.block("def prepare(params):"):
            e.line('"""What each step reads: kernels as GEMM matrices, batchnorms folded (float32)."""')
            e.line("return prepare_rows(PREPARES, {k: np.asarray(v, dtype=np.float32) for k, v in params.items()})")
        e.blank()
        e.line()
        self.forward()
        e.blank()
        e.line()
        carried.emit(e, "safe_files")
        e.blank()
        e.line()
        carried.emit(e, "weights_io")
        e.blank()
        e.line()
        carried.emit(e, "numpy_model")
        e.blank()
        e.line()
        with e.block("def load(path=None):"):
            e.line('"""The model with the weights in `path` (default: the file beside this module)."""')
            e.line("digest = None")
            with e.block("if path is None:"):
                e.line("path, digest = os.path.splitext(os.path.abspath(__file__))[0] + WEIGHTS_EXT, WEIGHTS_SHA256")
            e.line("return Model(read_checked(path, PARAMS, digest), PARAMS, INPUT_SHAPE, prepare, forward)")
        return e.source()

    # -- the distinct functions -----------------------------------------------
    def functions(self) -> tuple:
        """Write each distinct step function and prepare function once, in order of first use;
        returns the rows of PREPARES and STEPS."""
        keys: dict = {}      # code hash -> index of the first step with that code
        users: dict = {}     # that index -> [(name, source lines)] of every step using it
        first: list = []     # per step: the index of the step whose function it calls
        for idx, (_, node, g) in enumerate(self.steps):
            for what in ("step", "prepare"):
                text = self._text(lambda: self.function(what, node, g, "FN"), comments=False)
                if not text.strip():
                    if what == "step":
                        raise AssertionError("every step has a function")
                    first.append(None)
                    continue
                k = (what, hashlib.sha256(_code(text).encode()).digest())
                i = keys.setdefault(k, idx)
                users.setdefault((what, i), []).append((node.name, (g.nodes if g is not None else [node])))
                first.append(i)
        e = self.e
        names = {}
        for idx, (_, node, g) in enumerate(self.steps):
            for j, what in enumerate(("step", "prepare")):
                if first[2 * idx + j] != idx:
                    continue
                fn = _function_name(what, node, g)
                names[(what, idx)] = fn
                used = users[(what, idx)]
                shared = None
                if len(used) > 1:
                    shared = shared_comment("steps", [n for n, _ in used], [m.line for _, ns in used for m in ns])
                e.blank()
                e.line()
                self.function(what, node, g, fn, shared)
        prepares, steps = [], []
        for idx, (ins, node, g) in enumerate(self.steps):
            steps.append([node.name, names[("step", first[2 * idx])], [i.name for i in ins], []])
            if first[2 * idx + 1] is not None:
                roles = [["", g.head.name]] + ([[BN_ROLE, g.bn.name]] if g.bn is not None else [])
                prepares.append([node.name, names[("prepare", first[2 * idx + 1])], roles])
        last = last_uses(self.steps)
        for idx, (ins, _, _) in enumerate(self.steps):
            steps[idx][3] = [i.name for i in dict.fromkeys(ins) if last.get(i.name) == idx
                             and i is not self.net.output and i is not self.net.input]
        return prepares, steps

    def function(self, what: str, node, g, fn: str, shared=None) -> None:
        """Step `node`'s function (what 'step': a group's or a view's) or its group's prepare
        function (what 'prepare'; nothing when the group has no weights), named `fn`."""
        e = self.e
        if what == "prepare":
            if g is None:
                return
            body = self._text(lambda: LOWERINGS[g.head.kind].prepare(self, g), comments=False)
            if not body.strip():
                return
            with e.block(f"def {fn}(p):"):
                e.line('"""The weights of a step, as its function reads them."""')
                for n in (g.head, g.bn) if e.commenting else ():   # a normalize of constants has no params
                    if n is not None:
                        e.comment(source_line(n))
                if shared:
                    e.comment(shared)
                e.line("s = {}")
                LOWERINGS[g.head.kind].prepare(self, g)
                e.line("return s")
            return
        if g is None:
            with e.block(f"def {fn}(s, x):"):
                e.comment(source_line(node) + " (a view: no work)")
                if shared:
                    e.comment(shared)
                e.line(f"return {LOWERINGS[node.kind].view(self, node, 'x')}")
            return
        self.group(g, fn, shared)

    # -- one group ------------------------------------------------------------
    def group(self, g: Group, fn: str, shared=None):
        e = self.e
        lowering = LOWERINGS[g.head.kind]
        with e.block(f"def {fn}(s, {', '.join(lowering.params(g))}):"):
            for n in g.nodes if e.commenting else ():
                e.comment(source_line(n))
            if shared:
                e.comment(shared)
            fresh = lowering.body(self, g)
            if lowering.whole:
                return
            for n in g.nodes[1:]:
                if n is not g.bn and n is not g.pool:
                    fresh = LOWERINGS[n.kind].apply(self, n, fresh)
            e.line("return y" if fresh else "return y.copy()  # never hand out the caller's array")

    def pool(self, node, src, out):
        """A max/avg pool of `src` into `out` (padding per the registry's window rule)."""
        e, a = self.e, node.attrs
        inp = node.inputs[0].out
        (kh, kw), (sh, sw), p = a["kernel"], a["stride"], a["padding"]
        oh, ow = node.out.h, node.out.w
        t, b, l, r = node.spec.pads(inp, a)
        geo = f"{kh}, {kw}, {sh}, {sw}, {oh}, {ow}"
        if node.spec.reduce == "max":
            if t or b or l or r:
                src = f"_pad({src}, {t}, {b}, {l}, {r}, -np.inf)"
            e.line(f"{out} = _maxpool({src}, {geo})")
            return
        if t or b or l or r:
            src = f"_pad({src}, {t}, {b}, {l}, {r})"
        e.line(f"{out} = _sumpool({src}, {geo})")
        if p == "same" and (t or b or l or r):
            e.comment("`same` averages over the real pixels only")
            e.line(f"{out} *= 1.0 / (_real_counts({inp.h}, {kh}, {sh}, {t}, {oh})[:, None] "
                   f"* _real_counts({inp.w}, {kw}, {sw}, {l}, {ow}))[:, :, None]")
        else:
            e.line(f"{out} *= np.float32({1.0 / (kh * kw)!r})")

    def activation(self, act, fresh) -> bool:
        """Apply `act` (a name or a table entry) to y (in place when y is fresh, else on a copy);
        returns the new freshness."""
        lines = _entry(act).numpy
        if not lines:
            return fresh
        if not fresh:
            self.e.line("y = y.copy()")
        for line in lines:
            if line.startswith("# "):
                self.e.comment(line[2:])
            else:
                self.e.line(line)
        return True

    # -- forward --------------------------------------------------------------
    def forward(self):
        e, net = self.e, self.net
        aliases = net.output
        while aliases.spec.role is Role.VIEW:
            aliases = aliases.inputs[0]
        copy = aliases is net.input   # the output is the input (or a view of it): hand out a copy
        with e.block("def forward(state, x, trace=None):"):
            e.line('"""x: float32 (N, H, W, C) -> the output; `trace` (a dict) receives every node computed."""')
            e.line(f"return run_steps(STEPS, state, x, {net.input.name!r}, {net.output.name!r}, trace, copy={copy},")
            e.line("                 work=x.shape[0] * MACS_PER_IMAGE, one_thread_below=ONE_BLAS_THREAD_BELOW)")


def _code(text: str) -> str:
    """A function's text without its comments: what decides whether two steps share it."""
    return "\n".join(line for line in text.split("\n") if not line.lstrip().startswith("#"))


def _function_name(what: str, node, g) -> str:
    """A function's name, from the first step that uses it: layer_HEAD, view_NODE, prepare_HEAD."""
    if what == "prepare":
        return f"prepare_{g.head.name}"
    return f"layer_{g.head.name}" if g is not None else f"view_{node.name}"



def forward_steps(net, groups) -> list:
    """What `forward` does, in order: (nodes it reads, node it writes, its group -- None
    for a view, a line that aliases its input). cnnc/memory.py follows the same steps."""
    steps = []
    by_last = {g.last.name: g for g in groups}
    for node in net.layers:
        if node.spec.role is Role.VIEW:
            steps.append((node.inputs, node, None))
        elif node.name in by_last:
            g = by_last[node.name]
            steps.append((g.inputs, node, g))
    return steps


def last_uses(steps) -> dict:
    """node name -> the index of the last step that reads it (forward deletes it there)."""
    last = {}
    for idx, (ins, _, _) in enumerate(steps):
        for i in ins:
            last[i.name] = idx
    return last


def generate(net, **options) -> str:
    """The source of the numpy module for `net` (deterministic)."""
    if options:
        raise CnncError(f"the numpy backend takes no option '{next(iter(options))}'", 1, 1, net.filename)
    require_lowerings(net, LOWERINGS, "numpy backend")
    return _Gen(net).module()
