"""The Triton backend: one fused @triton.jit kernel per fusion group.

`generate(net, precision="ieee")` returns the source of a module that imports only
torch and triton. Every group (cnnc/passes/fusion.py) becomes one kernel of the
same shape, specialised by its layers:

    rows   = output pixels (N*H*W, batch folded in) tiled by BLOCK_M; a globalpool
             group instead runs one program per image and loops over its pixels
    cols   = output channels tiled by BLOCK_N (the whole row when softmax is fused)
    anchor = implicit-GEMM convolution in NHWC, K ordered (kh, kw, cin) -- exactly
             the Keras kernel (KH, KW, Cin, Cout) seen as a (K, Cout) matrix --
             accumulated in fp32 by tl.dot; a dense layer is the 1x1 case on a 1x1
             image; with no anchor the "GEMM" is a plain load of the input
    epilogue, in graph order: bias, batchnorm (folded into the weights when it
             directly follows a linear anchor), activation, residual add (the other
             tensor is loaded at the same position), then a max/avg pool: the anchor
             is evaluated at each window position and reduced in registers; ops after
             the pool run on the pooled tile; a globalpool sums the tile's rows.

Vectors are 1x1xN images throughout, so flatten is a view and dense is a 1x1 conv.
Every tensor access carries (channel stride, channel offset): that is how a concat
branch writes straight into its slice of the concat buffer.
"""

from __future__ import annotations

from ..errors import CnncError
from ..layers import ACTIVATIONS, Epilogue, Image, Role
from . import carried
from .emitter import Emitter, source_line
from .pending import Pending, require_lowerings
from .triton_fusion import TRITON

WEIGHTS_EXT = ".safetensors"
REQUIRES = (("torch", "triton"), ("triton", "triton"))   # what the generated module imports
PRECISIONS = ("ieee", "tf32")

# Tile sizes. tl.dot needs every block dim >= 16; small channel counts are masked up to 16.
BLOCK_M = 64
BLOCK_N_MAX = 64
BLOCK_K_MAX = 32
# Kernels run with 4 warps. Two kinds get 8, because on 4 ptxas spills registers for
# sm_90: a tile of >= 16K accumulators (a softmax row of 1024 after a dense) and a GEMM
# with a fused pool. Inductor once miscompiled non-1x1 conv templates with num_warps=8
# (pytorch #173068), so both configurations are compiled for sm_90 and checked for
# spills by tests/test_triton_sm90_compile.py, and run against numpy by the GPU tests
# (LeNet: conv + pool; ResNet50: conv + 3x3/2 pool and the 1000-way softmax).
NUM_WARPS = 4
NUM_WARPS_WIDE = 8
NUM_STAGES = 2


def _pow2(n: int, lo: int = 16) -> int:
    p = lo
    while p < n:
        p *= 2
    return p


def _dims(t) -> tuple:
    """(H, W, C) of an edge type; a vector is a 1x1xN image."""
    return (t.h, t.w, t.c) if isinstance(t, Image) else (1, 1, t.n)


def _channel_total(plan, node) -> int:
    """The channel stride of a node's output: its buffer's channels (a concat slice
    lives in a wider buffer); a view is read contiguously in its own shape."""
    if node.spec.role is Role.VIEW:
        return _dims(node.out)[2]
    return _dims(plan.storage(node)[0].out)[2]


# --- one group, as the generator sees it ----------------------------------------

class _Kernel:
    """Geometry and epilogue of one fusion group."""

    def __init__(self, group, plan, folded: set, precision: str):
        self.g = group
        self.name = group.name
        src = group.source
        self.src = src
        self.in_owner, self.in_off = plan.storage(src)
        self.IH, self.IW, self.CIN = _dims(src.out)
        self.CIN_T = _channel_total(plan, src)
        anchor = group.anchor
        self.anchor = anchor
        nodes = list(group.nodes)
        if anchor is not None:
            nodes = nodes[1:]
            self.C = _dims(anchor.out)[2]
            self.OH, self.OW = _dims(anchor.out)[:2]
            LOWERINGS[anchor.kind].geometry(self, anchor)
        else:
            self.C = self.CIN
            self.OH, self.OW = self.IH, self.IW
        self.K = self.KH * self.KW * self.CIN if anchor is not None else 0
        self.pool = group.pool
        self.reduce = group.has(Epilogue.REDUCE)
        self.pre, self.post = [], []
        seen_pool = False
        for n in nodes:
            if n.spec.epilogue is Epilogue.POOL:
                seen_pool = True
            elif n.spec.epilogue is Epilogue.REDUCE:
                pass
            elif n.name in folded:
                continue
            else:
                (self.post if seen_pool else self.pre).append(n)
        if self.pool is not None:
            a = self.pool.attrs
            (self.PKH, self.PKW), (self.PSH, self.PSW) = a["kernel"], a["stride"]
            self.PPT, _, self.PPL, _ = self.pool.spec.pads(self.pool.inputs[0].out, a)
            self.PH, self.PW = _dims(self.pool.out)[:2]
        else:
            self.PH, self.PW = self.OH, self.OW
        last = group.last if group.copy_into is None else group.source
        if group.copy_into is not None:
            owner, base = plan.storage(group.copy_into)
            self.out_owner, self.out_off = owner, base + group.copy_offset
        else:
            self.out_owner, self.out_off = plan.storage(last)
        self.CT = _dims(self.out_owner.out)[2]
        self.softmax = any(n.activation == "softmax" for n in group.nodes)
        # how the GEMM's A tile is gathered: a 1x1 stride-1 conv (or dense) reads rows
        # as they are; a window over >= 16 channels loops (kh, kw) then channel slices,
        # so each slice is contiguous; fewer channels (the RGB or grey input) flatten
        # the whole (kh, kw, cin) axis so that a 3x3x1 window is one 16-wide slice
        self.gather = None
        if anchor is not None:
            if (self.KH, self.KW, self.SH, self.SW, self.PT, self.PL) == (1, 1, 1, 1, 0, 0):
                self.gather = "pointwise"
            elif self.CIN % 16 == 0:
                self.gather = "window"
            else:
                self.gather = "flat"
        if self.gather == "window":
            self.BK = BLOCK_K_MAX if self.CIN % BLOCK_K_MAX == 0 else 16   # a slice never straddles two taps
        else:
            self.BK = min(_pow2(self.K), BLOCK_K_MAX) if anchor is not None else 0
        if self.softmax:
            # the whole channel row in one tile; fewer rows (and a thinner K slice) as it widens
            self.BN = _pow2(self.C)
            if anchor is not None:
                self.BM = 16 if self.BN >= 256 else BLOCK_M
                if self.BN >= 512:
                    self.BK = 16
            else:
                self.BM = max(1, min(BLOCK_M, 4096 // self.BN))
        else:
            self.BN = min(_pow2(self.C), BLOCK_N_MAX)
            self.BM = BLOCK_M
        # a pool evaluates the GEMM in a loop while holding the pooled tile: on 4 warps ptxas
        # spilled (sm_90, 64x64 tiles), on 8 it does not
        wide = self.BM * self.BN >= 16384 or (self.pool is not None and anchor is not None)
        self.num_warps = NUM_WARPS_WIDE if wide else NUM_WARPS
        self.precision = precision
        self.residuals = [n for n in self.pre + self.post if n.spec.epilogue is Epilogue.ADD]
        self.plan = plan
        self.lines = sorted({n.line for n in group.nodes} or {group.copy_into.line})

    def other_input(self, node):
        """The residual input not computed by this group (read in the epilogue)."""
        idx = self.g.nodes.index(node)
        ins = list(node.inputs)
        ins.remove(self.g.nodes[idx - 1] if idx > 0 else self.g.source)
        return ins[0]

    def arg(self, node) -> str:
        """The stem of an epilogue node's kernel arguments: its place in the group (`e2`),
        never its name, which could clash with x_ptr, CIN_T, ... or differ only in case."""
        return f"e{self.g.nodes.index(node)}"

    # the kernel's pointer arguments, in order: (argument name, state key or tensor expr)
    def pointer_args(self) -> list:
        args = [("x_ptr", None)]
        if self.anchor is not None:
            args += [("w_ptr", f"{self.name}.w"), ("b_ptr", f"{self.name}.b")]
        for n in self.pre + self.post:
            if n.spec.epilogue is Epilogue.AFFINE:
                args += [(f"{self.arg(n)}_scale", f"{self.name}.{n.name}.scale"),
                         (f"{self.arg(n)}_shift", f"{self.name}.{n.name}.shift")]
            elif n.spec.epilogue is Epilogue.ADD:
                args.append((f"{self.arg(n)}_ptr", None))
        args.append(("out_ptr", None))
        return args

    def constexprs(self) -> list:
        c = [("IH", self.IH), ("IW", self.IW), ("CIN", self.CIN), ("CIN_T", self.CIN_T), ("CIN_OFF", self.in_off)]
        if self.anchor is not None:
            c += [("KH", self.KH), ("KW", self.KW), ("SH", self.SH), ("SW", self.SW), ("PT", self.PT),
                  ("PL", self.PL), ("K", self.K)]
        c += [("OH", self.OH), ("OW", self.OW), ("C", self.C)]
        if self.pool is not None:
            c += [("PKH", self.PKH), ("PKW", self.PKW), ("PSH", self.PSH), ("PSW", self.PSW),
                  ("PPT", self.PPT), ("PPL", self.PPL)]
        c += [("PH", self.PH), ("PW", self.PW), ("CT", self.CT), ("COFF", self.out_off)]
        for n in self.residuals:
            other = self.other_input(n)
            c += [(f"{self.arg(n).upper()}_T", _channel_total(self.plan, other)),
                  (f"{self.arg(n).upper()}_OFF", self.plan.storage(other)[1])]
        c += [("BM", self.BM), ("BN", self.BN)]
        if self.anchor is not None:
            c.append(("BK", self.BK))
        return c

    # --- kernel source ----------------------------------------------------------
    def emit(self, e: Emitter) -> None:
        ptrs = [p for p, _ in self.pointer_args()]
        consts = [f"{k}: tl.constexpr" for k, _ in self.constexprs()]
        e.line("@triton.jit")
        e.line(f"def {self.name}(")
        with e.indented():
            e.line(f"{', '.join(ptrs)}, NB,")
            for i in range(0, len(consts), 6):
                e.line(", ".join(consts[i:i + 6]) + ",")
        with e.block("):"):
            for n in (self.g.nodes or []):
                e.comment(source_line(n))
            if self.g.copy_into is not None:
                e.comment(f"line {self.g.copy_into.line}: copy {self.src.name} into its slice of {self.g.copy_into.name}")
            e.line("pid_n = tl.program_id(1)")
            e.line("offs_n = pid_n * BN + tl.arange(0, BN)")
            e.line("mask_n = offs_n < C")
            if self.reduce:
                e.comment("globalpool: one program per image sums all its pixels")
                e.line("img0 = tl.program_id(0).to(tl.int64)")
                e.line("img = tl.full([BM], 0, dtype=tl.int64) + img0")
                e.line("total = tl.full([BN], 0.0, dtype=tl.float32)")
                with e.block("for p0 in range(0, PH * PW, BM):"):
                    e.line("offs_p = p0 + tl.arange(0, BM)")
                    e.line("mask_m = offs_p < PH * PW")
                    e.line("ph = offs_p // PW")
                    e.line("pw = offs_p % PW")
                    self.emit_body(e)
                    e.line("total += tl.reduce(tl.where(mask_m[:, None] & mask_n[None, :], acc, 0.0), 0, _sum)")
                e.line("tl.store(out_ptr + img0 * CT + COFF + offs_n, total / (PH * PW), mask=mask_n)")
            else:
                e.line("offs_m = tl.program_id(0) * BM + tl.arange(0, BM)")
                e.line("mask_m = offs_m < NB * (PH * PW)")
                e.line("img = (offs_m // (PH * PW)).to(tl.int64)")
                e.line("ph = (offs_m % (PH * PW)) // PW")
                e.line("pw = offs_m % PW")
                self.emit_body(e)
                e.line("rows = ((img * PH + ph) * PW + pw) * CT + COFF")
                e.line("tl.store(out_ptr + rows[:, None] + offs_n[None, :], acc, "
                       "mask=mask_m[:, None] & mask_n[None, :])")

    def emit_body(self, e: Emitter) -> None:
        """acc[BM, BN]: the group's value at output rows (img, ph, pw)."""
        if self.pool is None:
            e.line("oh = ph")
            e.line("ow = pw")
            e.line("valid = mask_m")
            self.emit_anchor(e)
            self.emit_ops(e, self.pre, "OH", "OW", "oh", "ow", "valid")
            return
        is_max = self.pool.spec.reduce == "max"
        pad = self.pool.attrs["padding"]
        e.comment(f"{self.pool.name}: evaluate at each of the PKHxPKW window positions, reduce in registers")
        if is_max:
            e.line('pooled = tl.full([BM, BN], float("-inf"), dtype=tl.float32)')
        else:
            e.line("pooled = tl.full([BM, BN], 0.0, dtype=tl.float32)")
            if pad == "same":
                e.line("count = tl.full([BM], 0.0, dtype=tl.float32)")
        with e.block("for i in range(PKH):"):
            with e.block("for j in range(PKW):"):
                e.line("oh = ph * PSH - PPT + i")
                e.line("ow = pw * PSW - PPL + j")
                e.line("valid = mask_m & (oh >= 0) & (oh < OH) & (ow >= 0) & (ow < OW)")
                self.emit_anchor(e)
                self.emit_ops(e, self.pre, "OH", "OW", "oh", "ow", "valid")
                if is_max:
                    e.comment("max pooling never picks a padded position")
                    e.line("pooled = tl.where(valid[:, None], tl.maximum(pooled, acc, propagate_nan=tl.PropagateNan.ALL), pooled)")
                else:
                    e.line("pooled += tl.where(valid[:, None], acc, 0.0)")
                    if pad == "same":
                        e.line("count += valid.to(tl.float32)")
        if is_max:
            e.comment("rows past the end hold -inf: zero them so later ops stay finite")
            e.line("acc = tl.where(mask_m[:, None], pooled, 0.0)")
        elif pad == "same":
            e.comment("padding=same: the average counts real pixels only (TensorFlow)")
            e.line("acc = pooled / tl.maximum(count, 1.0)[:, None]")
        else:
            e.comment("valid or integer padding: divide by the window size (padded zeros count)")
            e.line("acc = pooled / (PKH * PKW)")
        self.emit_ops(e, self.post, "PH", "PW", "ph", "pw", "mask_m")

    def emit_anchor(self, e: Emitter) -> None:
        if self.anchor is None:
            e.line("src = ((img * IH + oh) * IW + ow) * CIN_T + CIN_OFF")
            e.line("acc = tl.load(x_ptr + src[:, None] + offs_n[None, :], "
                   "mask=valid[:, None] & mask_n[None, :], other=0.0)")
            return
        a = self.anchor
        prec = self.precision
        e.line("acc = tl.full([BM, BN], 0.0, dtype=tl.float32)")
        if self.gather == "window":
            e.comment("implicit GEMM: K runs over (kh, kw, cin), the Keras kernel order; Cin is a multiple of BK,")
            e.comment("so each BK slice is one tap (kh, kw) and contiguous channels")
            with e.block("for k0 in range(0, K, BK):"):
                e.line("tap = k0 // CIN")
                e.line("ih = oh * SH - PT + tap // KW")
                e.line("iw = ow * SW - PL + tap % KW")
                e.line("inside = valid & (ih >= 0) & (ih < IH) & (iw >= 0) & (iw < IW)")
                e.line("offs_c = k0 % CIN + tl.arange(0, BK)")
                e.line("src = ((img * IH + ih) * IW + iw) * CIN_T + CIN_OFF")
                e.line("a = tl.load(x_ptr + src[:, None] + offs_c[None, :], mask=inside[:, None], other=0.0)")
                e.line("offs_k = k0 + tl.arange(0, BK)")
                e.line("b = tl.load(w_ptr + offs_k[:, None] * C + offs_n[None, :], mask=mask_n[None, :], other=0.0)")
                e.line(f'acc = tl.dot(a, b, acc, input_precision="{prec}")')
        else:
            if self.gather == "pointwise":
                e.line("src = ((img * IH + oh) * IW + ow) * CIN_T + CIN_OFF")
            with e.block("for k0 in range(0, K, BK):"):
                e.line("offs_k = k0 + tl.arange(0, BK)")
                if self.gather == "pointwise":
                    e.line("a = tl.load(x_ptr + src[:, None] + offs_k[None, :], "
                           "mask=valid[:, None] & (offs_k[None, :] < K), other=0.0)")
                else:
                    e.comment("implicit GEMM over a few channels: the whole (kh, kw, cin) axis in BK slices")
                    e.line("kh = offs_k // (KW * CIN)")
                    e.line("kw = (offs_k // CIN) % KW")
                    e.line("ci = offs_k % CIN")
                    e.line("ih = oh[:, None] * SH - PT + kh[None, :]")
                    e.line("iw = ow[:, None] * SW - PL + kw[None, :]")
                    e.line("a_mask = valid[:, None] & (offs_k[None, :] < K) & (ih >= 0) & (ih < IH) & (iw >= 0) & (iw < IW)")
                    e.line("a = tl.load(x_ptr + ((img[:, None] * IH + ih) * IW + iw) * CIN_T + CIN_OFF + ci[None, :], "
                           "mask=a_mask, other=0.0)")
                e.line("b = tl.load(w_ptr + offs_k[:, None] * C + offs_n[None, :], "
                       "mask=(offs_k[:, None] < K) & mask_n[None, :], other=0.0)")
                e.line(f'acc = tl.dot(a, b, acc, input_precision="{prec}")')
        e.line("acc += tl.load(b_ptr + offs_n, mask=mask_n, other=0.0)[None, :]")
        _emit_activation(e, a.activation, a.name)

    def emit_ops(self, e: Emitter, ops, H, W, h, w, valid) -> None:
        for n in ops:
            kind = n.spec.epilogue
            if kind is Epilogue.AFFINE:
                v = self.arg(n)
                e.comment(f"{n.name}: batchnorm as x * scale + shift")
                e.line(f"acc = acc * tl.load({v}_scale + offs_n, mask=mask_n, other=0.0)[None, :] "
                       f"+ tl.load({v}_shift + offs_n, mask=mask_n, other=0.0)[None, :]")
            elif kind is Epilogue.ACTIVATION:
                _emit_activation(e, n.activation, n.name)
            elif kind is Epilogue.ADD:
                v = self.arg(n)
                e.comment(f"{n.name}: add {self.other_input(n).name}, read at the same position")
                e.line(f"res = (((img * {H} + {h}) * {W} + {w}) * {v.upper()}_T + {v.upper()}_OFF)")
                e.line(f"acc += tl.load({v}_ptr + res[:, None] + offs_n[None, :], "
                       f"mask={valid}[:, None] & mask_n[None, :], other=0.0)")


def _emit_activation(e: Emitter, act: str, name: str) -> None:
    """The activation's lines from the one table of activations (layers/activations.py)."""
    for line in ACTIVATIONS[act].triton:
        if line.startswith("# "):
            e.comment(f"{name}: {line[2:]}")
        else:
            e.line(line)


# --- lowerings: how each kind enters the one kernel template ------------------------

class _Lowering:
    """A kind's place in the kernel template. Anchors set the GEMM geometry of the
    kernel (`geometry`); epilogues are emitted by their role (Epilogue flavour); views
    and concat joins cost no kernel (the planner makes them aliases and slices)."""

    def geometry(self, k, anchor) -> None:
        raise CnncError(f"{anchor.name}: {anchor.kind} is not an anchor of the triton backend", anchor.line, anchor.col)


class _WindowGEMM(_Lowering):
    """conv: an implicit GEMM over (kh, kw, cin) windows."""

    def geometry(self, k, anchor) -> None:
        a = anchor.attrs
        (k.KH, k.KW), (k.SH, k.SW) = a["kernel"], a["stride"]
        k.PT, _, k.PL, _ = anchor.spec.pads(k.src.out, a)


class _VectorGEMM(_Lowering):
    """dense: the 1x1 case on a 1x1 image; its input is read as one vector (a flatten is a view)."""

    def geometry(self, k, anchor) -> None:
        k.KH = k.KW = k.SH = k.SW = 1
        k.PT = k.PL = 0
        k.CIN, k.IH, k.IW = k.IH * k.IW * k.CIN, 1, 1


_IN_TEMPLATE = _Lowering()   # epilogues, views, joins: handled by role

LOWERINGS: dict = {
    "conv": _WindowGEMM(), "dense": _VectorGEMM(),
    **{kind: _IN_TEMPLATE for kind in ("batchnorm", "pool", "avgpool", "globalpool", "residual", "concat",
                                       "flatten", "dropout", "input", *ACTIVATIONS)},
    **{kind: Pending("triton backend") for kind in ("dwconv", "sepconv", "deconv", "upsample", "zeropad", "globalmaxpool", "rescale", "scale")},
}


# --- the module -------------------------------------------------------------------

def _plan_kernels(net, precision: str):
    from ..passes.fold import foldable_batchnorms
    from ..passes.fusion import plan as make_plan

    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    require_lowerings(net, LOWERINGS, "triton backend")
    plan = make_plan(net, TRITON)
    folded = set(foldable_batchnorms(net))
    return plan, [_Kernel(g, plan, folded, precision) for g in plan.groups], folded


def _emit_reducers(e: Emitter) -> None:
    e.comment("tl.sum/tl.max/tl.zeros are library @jit functions: when triton was imported before")
    e.comment("TRITON_INTERPRET was set they fail in the interpreter; builtins and these combiners do not")
    e.line("_sum = tl.standard._sum_combine")
    e.line("_max = tl.standard._elementwise_max")


def compile_for_gpu(net, precision: str = "tf32", arch: int = 90) -> list:
    """Compile every kernel of `net` for a CUDA GPU of compute capability `arch` (90: H100),
    with no GPU needed: Triton's compiler all the way down to ptxas.

    Returns [(kernel name, group description, num_warps, triton CompiledKernel)] -- its
    .asm holds "ptx" and "cubin", its .metadata the shared memory and warps. Used by the
    tests (the kernels compile, do not spill, reach the tensor cores) and by
    `benchmarks/triton_gpu.py --ptxas`.
    """
    import linecache
    import os

    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    _, kernels, _ = _plan_kernels(net, precision)
    e = Emitter()
    e.lines("import triton", "import triton.language as tl", "")
    _emit_reducers(e)
    e.line("")
    for k in kernels:
        k.emit(e)
        e.line("")
    src = e.source()
    fake = f"<cnnc triton kernels {len(src)}:{hash(src)}>"
    linecache.cache[fake] = (len(src), None, src.splitlines(True), fake)
    saved = os.environ.get("TRITON_INTERPRET")
    os.environ["TRITON_INTERPRET"] = "0"       # real JITFunctions, whatever this process runs on
    try:
        ns: dict = {"__name__": "cnnc_triton_kernels"}
        exec(compile(src, fake, "exec"), ns)
    finally:
        if saved is None:
            del os.environ["TRITON_INTERPRET"]
        else:
            os.environ["TRITON_INTERPRET"] = saved
    out = []
    for k in kernels:
        fn = ns[k.name]
        consts = dict(k.constexprs())
        sig = {a: "constexpr" if a in consts else "i32" if a == "NB" else "*fp32" for a in fn.arg_names}
        where = {(fn.arg_names.index(a),): v for a, v in consts.items()}
        ck = triton.compile(ASTSource(fn, sig, constexprs=where), target=GPUTarget("cuda", arch, 32),
                            options={"num_warps": k.num_warps, "num_stages": NUM_STAGES})
        out.append((k.name, k.g.describe(), k.num_warps, ck))
    return out


def resource_usage(compiled) -> "dict | None":
    """{"registers": per thread, "stack": bytes (register spills)} of a compiled kernel,
    read by the cuobjdump that ships with Triton; None when it is not installed."""
    import os
    import re
    import subprocess
    import tempfile

    import triton

    tool = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "cuobjdump")
    if not os.path.exists(tool):
        return None
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "kernel.cubin")
        with open(path, "wb") as f:
            f.write(compiled.asm["cubin"])
        out = subprocess.run([tool, "-res-usage", path], capture_output=True, text=True, check=True).stdout
    m = re.search(r"REG:(\d+) STACK:(\d+)", out)
    return {"registers": int(m.group(1)), "stack": int(m.group(2))} if m else None


def generate(net, precision: str = "ieee", **options) -> str:
    if options:
        raise CnncError(f"the triton backend takes no option '{next(iter(options))}' "
                        f"(it takes precision='ieee' or 'tf32'; the device is CUDA when there is one)",
                        1, 1, net.filename)
    plan, kernels, folded = _plan_kernels(net, precision)
    e = Emitter()
    e.line('"""Generated by cnnc (triton backend): do not edit.')
    e.line("")
    e.line(f"{len(kernels)} fused kernels; precision {precision}. On a machine without a CUDA GPU the")
    e.line("kernels run in Triton's interpreter on the CPU (slow; for testing).")
    e.line('"""')
    e.comment(f"source: {net.filename}")   # user text only ever in a comment (one line, printable)
    e.blank()
    e.lines("import os", "", "import numpy as np", "import torch", "")
    e.comment("no CUDA GPU: run the same kernels in Triton's interpreter (must be set before @triton.jit)")
    with e.block('if not torch.cuda.is_available():'):
        e.line('os.environ["TRITON_INTERPRET"] = "1"')
    e.lines("import triton  # noqa: E402", "import triton.language as tl  # noqa: E402", "")
    e.line('_INTERPRET = os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")')
    e.line('DEVICE = "cpu" if _INTERPRET else "cuda"')
    e.line(f"PRECISION = {precision!r}")
    e.line(f"WEIGHTS_EXT = {WEIGHTS_EXT!r}")
    e.line(f"INPUT_SHAPE = {tuple(net.input_shape)!r}")
    e.line(f"OUTPUT_SHAPE = {tuple(net.output_shape)!r}")
    with e.block("PARAMS = {"):
        for k, s in net.param_shapes().items():
            e.line(f"{k!r}: {tuple(s)!r},")
    e.line("}")
    _emit_reducers(e)
    e.line(f"NUM_WARPS = {NUM_WARPS}")
    e.line(f"NUM_WARPS_WIDE = {NUM_WARPS_WIDE}")
    e.line(f"NUM_STAGES = {NUM_STAGES}")
    e.blank()
    e.line("")
    for k in kernels:
        k.emit(e)
        e.line("")
        e.line("")
    _emit_prepare(e, net, kernels, folded)
    _emit_forward(e, net, plan, kernels)
    _emit_runtime(e)
    return e.source()


def _emit_prepare(e: Emitter, net, kernels, folded) -> None:
    with e.block("def _affine(params, name, eps):"):
        e.line('"""Inference batchnorm as x * scale + shift (float64)."""')
        e.line('scale = _f64(params[name + ".gamma"]) / torch.sqrt(_f64(params[name + ".var"]) + eps)')
        e.line('return scale, _f64(params[name + ".beta"]) - _f64(params[name + ".mean"]) * scale')
    e.line("")
    e.line("")
    with e.block("def _f64(a):"):
        e.comment("torch.tensor copies (model params are read-only numpy arrays)")
        e.line("if isinstance(a, torch.Tensor):")
        e.line("    return a.detach().to(device='cpu', dtype=torch.float64)")
        e.line("return torch.tensor(a, dtype=torch.float64)")
    e.line("")
    e.line("")
    with e.block("def prepare(params):"):
        e.line('"""Weights (Keras layouts, float32) -> what the kernels read, on the device."""')
        with e.block("for name, shape in PARAMS.items():"):
            with e.block("if name not in params:"):
                e.line('raise ValueError(f"missing parameter {name} of shape {shape}")')
            with e.block("if tuple(params[name].shape) != shape:"):
                e.line('raise ValueError(f"parameter {name} has shape {tuple(params[name].shape)}, expected {shape}")')
        e.line("state = {}")
        for k in kernels:
            bn_ops = [n for n in k.pre + k.post if n.spec.epilogue is Epilogue.AFFINE]
            if k.anchor is None and not bn_ops:
                continue
            e.comment(f"{k.name}")
            if k.anchor is not None:
                a = k.anchor.name
                e.line(f"w = _f64(params[{a + '.kernel'!r}]).reshape({k.K}, {k.C})")
                e.line(f"b = _f64(params[{a + '.bias'!r}])")
                for n in k.g.nodes[1:]:
                    if n.name not in folded:
                        break
                    e.comment(f"{n.name} folded into {a}")
                    e.line(f"s, t = _affine(params, {n.name!r}, {n.attrs['eps']!r})")
                    e.line("w, b = w * s, b * s + t")
                e.line(f"state[{k.name + '.w'!r}] = w.to(DEVICE, torch.float32).contiguous()")
                e.line(f"state[{k.name + '.b'!r}] = b.to(DEVICE, torch.float32).contiguous()")
            for n in bn_ops:
                e.line(f"s, t = _affine(params, {n.name!r}, {n.attrs['eps']!r})")
                e.line(f"state[{k.name + '.' + n.name + '.scale'!r}] = s.to(DEVICE, torch.float32).contiguous()")
                e.line(f"state[{k.name + '.' + n.name + '.shift'!r}] = t.to(DEVICE, torch.float32).contiguous()")
        e.line('state["graphs"] = {}')
        e.line("return state")
    e.line("")
    e.line("")


def _emit_forward(e: Emitter, net, plan, kernels) -> None:
    def buf(node):
        owner, _ = plan.storage(node)
        return "x" if owner.spec.role is Role.INPUT else f"t_{owner.name}"

    def shape_of(node):
        d = node.out.dims
        return "(n, " + ", ".join(str(v) for v in d) + ")"

    def view_expr(node):
        """The node's output as an (N, ...) tensor (a slice of a concat buffer, a reshaped view)."""
        owner, off = plan.storage(node)
        base = buf(node)
        c = node.out.dims[-1]
        if owner is not node and owner.spec.role is not Role.INPUT and node.spec.role is not Role.VIEW:
            return f"{base}[..., {off}:{off + c}]"
        if node.out.dims != owner.out.dims:
            return f"{base}.reshape({shape_of(node)})"
        return base

    # liveness: free a buffer after the last kernel that reads it
    reads: dict = {}
    for i, k in enumerate(kernels):
        for node in [k.src] + [k.other_input(r) for r in k.residuals]:
            reads[buf(node)] = i
    out_buf = buf(net.output)

    # a concat is complete after the last kernel that writes into its buffer (its own
    # branches, copies into it, and anything nested inside it): trace it there
    def written(k):
        return k.g.copy_into if k.g.copy_into is not None else k.g.last

    def lives_in(node, join) -> bool:
        while True:
            if node is join:
                return True
            if node.name not in plan.slices:
                return False
            node = plan.slices[node.name][0]

    join_done: dict = {}
    for i, k in enumerate(kernels):
        for j in plan.joins:
            if lives_in(written(k), j):
                join_done[j.name] = i

    with e.block("def _run(state, x, trace):"):
        e.line("n = x.shape[0]")
        e.line("dev = x.device")
        allocated = {"x"}
        for i, k in enumerate(kernels):
            target = buf(k.g.copy_into) if k.g.copy_into is not None else buf(k.g.last)
            if target not in allocated:
                owner = plan.storage(k.g.copy_into if k.g.copy_into is not None else k.g.last)[0]
                e.line(f"{target} = torch.empty({shape_of(owner)}, device=dev, dtype=torch.float32)")
                allocated.add(target)
            args = []
            for p, key in k.pointer_args():
                if p == "x_ptr":
                    args.append(buf(k.src))
                elif p == "out_ptr":
                    args.append(target)
                elif key is not None:
                    args.append(f"state[{key!r}]")
                else:
                    r = next(r for r in k.residuals if f"{k.arg(r)}_ptr" == p)
                    args.append(buf(k.other_input(r)))
            consts = [f"{name}={value}" for name, value in k.constexprs()]
            if k.reduce:
                grid = f"(n, {-(-k.C // k.BN)})"
            else:
                grid = f"(triton.cdiv(n * {k.PH * k.PW}, {k.BM}), {-(-k.C // k.BN)})"
            e.comment(f"{k.name}: {k.g.describe()} (line{'s' if len(k.lines) > 1 else ''} "
                      f"{', '.join(map(str, k.lines))})")
            e.line(f"{k.name}[{grid}](")
            with e.indented():
                e.line(f"{', '.join(args)}, n,")
                for j in range(0, len(consts), 8):
                    e.line(", ".join(consts[j:j + 8]) + ",")
                e.line(f"num_warps={'NUM_WARPS' if k.num_warps == NUM_WARPS else 'NUM_WARPS_WIDE'}, "
                       f"num_stages=NUM_STAGES)")
            traced = [] if k.g.copy_into is not None else [k.g.last]
            traced += [j for j in plan.joins if join_done.get(j.name) == i]
            if traced:
                with e.block("if trace is not None:"):
                    for node in traced:
                        e.line(f"trace[{node.name!r}] = {view_expr(node)}")
            dead = [b for b, last in reads.items() if last == i and b not in ("x", out_buf)]
            if dead:
                e.line(f"del {', '.join(dead)}")
        e.line(f"return {view_expr(net.output)}")
    e.line("")
    e.line("")


def _emit_runtime(e: Emitter) -> None:
    carried.emit(e, "weights_io")
    e.line("")
    e.line("")
    carried.emit(e, "triton_runtime")
    e.line("")
    e.line("")
    with e.block("def forward(state, x, trace=None, cuda_graphs=True):"):
        e.line('"""x: (N, H, W, C), a numpy array or a torch tensor; returns the same type."""')
        e.line("return run_forward(_run, state, x, INPUT_SHAPE, OUTPUT_SHAPE, DEVICE, trace, cuda_graphs)")
    e.line("")
    e.line("")
    with e.block("def load(path=None):"):
        e.line('"""The model with the weights beside this module (or from `path`)."""')
        with e.block("if path is None:"):
            e.line("path = os.path.splitext(os.path.abspath(__file__))[0] + WEIGHTS_EXT")
        e.line("return Loaded(read_weights(path), PARAMS, prepare, forward)")
