"""One fusion group as the Triton generator sees it: shapes, strides, the gather of its
anchor (through the prologues folded into it), its epilogue in order, where it reads and
writes, and the geometry dict that the tile rules (carried/triton_tiles.py) judge configs
by."""

from __future__ import annotations

import hashlib

from ...layers import Epilogue, Image, Prologue, Role
from .carried.triton_tiles import C_ALIGN, K_ALIGN, next_pow2
from .policy import row_op


def dims(t) -> tuple:
    """(H, W, C) of an edge type; a vector is a 1x1xN image."""
    return (t.h, t.w, t.c) if isinstance(t, Image) else (1, 1, t.n)


def channel_total(plan, node) -> int:
    """The channel stride of a node's output: its buffer's channels (a concat slice
    lives in a wider buffer); a view is read contiguously in its own shape."""
    if node.spec.role is Role.VIEW:
        return dims(node.out)[2]
    return dims(plan.storage(node)[0].out)[2]


def round_up(n: int, m: int) -> int:
    return -(-n // m) * m


class Map:
    """One prologue as the gather sees it, from the image after it back to the one before:
    `pad` shifts by (top, left) and masks outside the H x W before it; `crop` shifts the
    other way (every pixel after it is one before it: no mask); `nearest` divides
    by the factors; `bilinear` (a kernel of its own) mixes four pixels; `gate` keeps the
    position and multiplies by the gate vector."""

    def __init__(self, index: int, node):
        self.i, self.node = index, node
        self.H, self.W = dims(node.inputs[0].out)[:2]
        prologue = node.spec.prologue
        if prologue is Prologue.PAD:
            self.op = "pad"
            self.T, _, self.L, _ = node.spec.padding_added(node.attrs)
        elif prologue is Prologue.CROP:
            self.op = "crop"
            self.T, _, self.L, _ = node.spec.cropped(node.attrs)
        elif prologue is Prologue.RESAMPLE:
            self.op = "nearest" if node.spec.gather_only(node.attrs) else "bilinear"
            self.FH, self.FW = node.attrs["size"]
        else:
            self.op = "gate"

    def constexprs(self) -> list:
        p = f"M{self.i}"
        if self.op == "pad":
            return [(f"{p}T", self.T), (f"{p}L", self.L), (f"{p}H", self.H), (f"{p}W", self.W)]
        if self.op == "crop":
            return [(f"{p}T", self.T), (f"{p}L", self.L)]
        if self.op in ("nearest", "bilinear"):
            return [(f"{p}FH", self.FH), (f"{p}FW", self.FW), (f"{p}H", self.H), (f"{p}W", self.W)]
        return []


class Kernel:
    """Geometry and epilogue of one fusion group.

    `row` is None here (a RowKernel's row op); `deferred` says the anchor's own activation (a
    softmax over a row wider than a tile) is left to the RowKernel after it, which reads the
    anchor's result from the scratch buffer `scratch_out` instead of the group's buffer."""
    row = None
    deferred = False
    scratch_out = scratch_in = None
    traces = True

    def __init__(self, group, plan, folded: set, precision: str, lowerings: dict):
        self.g = group
        self.name = group.name
        src = group.source
        self.src = src
        self.in_owner, self.in_off = plan.storage(src)
        self.IH, self.IW, self.CIN = dims(src.out)
        self.CIN_T = channel_total(plan, src)
        self.prologue = group.prologue
        # index maps from the anchor's input image back to the source buffer
        self.maps = [Map(i, p) for i, p in reversed(list(enumerate(self.prologue, 1)))]
        self.gate = next((m.node for m in self.maps if m.op == "gate"), None)
        # a gate that is an image (`multiply a b` of one shape) is read pixel by pixel; the
        # policy leaves such a gate to a kernel of its own, where the position is the output's
        self.gate_image = self.gate is not None and isinstance(self.gate.inputs[1].out, Image)
        self.AH, self.AW = (dims(self.prologue[-1].out)[:2] if self.prologue else (self.IH, self.IW))
        anchor = group.anchor
        self.anchor = anchor
        self.lowerings = lowerings
        self.folded = folded
        self.lowering = lowerings[anchor.kind] if anchor is not None else None
        nodes = list(group.nodes[len(self.prologue):])
        # what the anchor's lowering sets (lowerings.py): the gather and its window
        self.KH = self.KW = self.SH = self.SW = self.DH = self.DW = 1
        self.PT = self.PL = 0
        self.transposed = False
        self.gather = None
        self.CING, self.FG, self.M = self.CIN, 0, 1
        self.grouped = False   # a GEMM per group of a grouped conv (lowerings.WindowGEMM)
        if anchor is not None:
            nodes = nodes[1:]
            self.C = dims(anchor.out)[2]
            self.OH, self.OW = dims(anchor.out)[:2]
            self.lowering.geometry(self, anchor)
            self.K = self.lowering.reduction(self)
        else:
            self.C = self.CIN
            self.OH, self.OW = self.AH, self.AW
            self.K = 0
        self.pool = group.pool
        self.reduce = group.has(Epilogue.REDUCE)
        self.reduce_max = self.reduce and next(n for n in group.nodes if n.spec.epilogue is Epilogue.REDUCE
                                               ).spec.reduce == "max"
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
            self.PH, self.PW = dims(self.pool.out)[:2]
        else:
            self.PH, self.PW = self.OH, self.OW
        last = group.last if group.copy_into is None else group.source
        if group.copy_into is not None:
            owner, base = plan.storage(group.copy_into)
            self.out_owner, self.out_off = owner, base + group.copy_offset
        else:
            self.out_owner, self.out_off = plan.storage(last)
        self.CT = dims(self.out_owner.out)[2]
        # a whole-row op (softmax, layernorm) is fused: the tile holds the whole channel row
        self.softmax = any(row_op(n) for n in group.nodes)
        # the packed weights (CP x KP, K contiguous): every BN and BK a tile may take divides
        # them, and a fused softmax's whole row fits
        self.KP = round_up(self.K, K_ALIGN) if anchor is not None else 0
        self.CP = round_up(self.C, max(C_ALIGN, next_pow2(self.C))) if anchor is not None else 0
        self.precision = precision
        self.residuals = [n for n in self.pre + self.post if n.spec.epilogue is Epilogue.ADD]
        self.plan = plan
        self.lines = sorted({n.line for n in group.nodes} or {group.copy_into.line})

    @property
    def gemm(self) -> bool:
        """Does the kernel multiply with tl.dot (and so take a BK)?"""
        return self.gather in ("pointwise", "window", "flat", "separable")

    def geometry(self) -> dict:
        """What the tile rules need to know (carried/triton_tiles.py): plain values only."""
        return {
            "gemm": self.gemm, "gather": self.gather, "CIN": self.CING, "K": self.K, "KP": self.KP,
            "C": self.C, "CP": self.CP, "FG": self.FG if self.grouped else 0, "softmax": self.softmax,
            "pool": self.pool is not None, "adds": len(self.added()), "reduce": self.reduce,
            "gate": self.gate is not None, "pixels": self.PH * self.PW, "precision": self.precision,
        }

    def own_input(self, node) -> int:
        """Which input of an add (residual, add) the group computed: the value it adds to."""
        idx = self.g.nodes.index(node)
        return node.inputs.index(self.g.nodes[idx - 1] if idx > 0 else self.g.source)

    def added(self) -> list:
        """What the adds of the group read, in order: (add node, input position, the node read,
        argument stem). The first input an add reads keeps the stem `eN` (`eN_ptr`, `EN_T`);
        an n-ary add's others are `eN_1`, `eN_2`, ..."""
        out = []
        for n in self.residuals:
            own = self.own_input(n)
            others = [j for j in range(len(n.inputs)) if j != own]
            for i, j in enumerate(others):
                stem = self.arg(n) if i == 0 else f"{self.arg(n)}_{i}"
                out.append((n, j, n.inputs[j], stem))
        return out

    def arg(self, node) -> str:
        """The stem of a node's kernel arguments: its place in the group (`e2`), never its
        name, which could clash with x_ptr, CIN_T, ... or differ only in case."""
        return f"e{self.g.nodes.index(node)}"

    def pointer_args(self) -> list:
        """The kernel's pointer arguments, in order: (argument name, key of the launch's
        prepared array, or None for a buffer)."""
        args = [("x_ptr", None)]
        if self.gate is not None:
            args.append(("g_ptr", None))
        if self.anchor is not None:
            args += list(self.lowering.weights)
        for n in self.ops():
            if n.spec.epilogue is Epilogue.ADD:
                args += [(f"{stem}_ptr", None) for m, _, _, stem in self.added() if m is n]
            else:
                args += [(f"{self.arg(n)}_{a}", f"{self.arg(n)}.{a}") for a in self.weighted(n)]
        args.append(("out_ptr", None))
        return args

    def affine(self, node):
        """The lowering of an epilogue with per-channel arrays (batchnorm, layerscale, layernorm;
        rescale has none): its arrays and its lines."""
        return self.lowerings[node.kind]

    def ops(self) -> list:
        """The epilogue nodes the kernel computes, in order (a RowKernel's row op first)."""
        return ([self.row] if self.row is not None and self.row.spec.epilogue is not None else []) + self.pre + self.post

    def weighted(self, node) -> tuple:
        """The per-channel arrays that `prepare` makes for an epilogue node (none for most)."""
        if node.spec.epilogue in (Epilogue.AFFINE, Epilogue.ROW):
            return self.affine(node).arrays
        return ()

    @property
    def launch_cols(self) -> int:
        """The columns the launch grid tiles by BN."""
        return self.C

    def defer_row(self, scratch: str) -> None:
        """Leave the anchor's own activation (a softmax too wide for one tile) to a RowKernel,
        writing the anchor's result to the scratch buffer `scratch` for it."""
        self.deferred, self.softmax, self.traces = True, False, False
        self.scratch_out = scratch
        self.out_owner, self.out_off, self.CT = None, 0, self.C

    def constexprs(self) -> list:
        """The layer geometry as (name, value): compile-time constants of the kernel."""
        c = [("IH", self.IH), ("IW", self.IW), ("CIN", self.CIN), ("CIN_T", self.CIN_T), ("CIN_OFF", self.in_off)]
        if self.prologue:
            c += [("AH", self.AH), ("AW", self.AW)]
            for m in self.maps:
                c += m.constexprs()
        if self.gate is not None:
            c += [("GATE_T", channel_total(self.plan, self.gate.inputs[1])),
                  ("GATE_OFF", self.plan.storage(self.gate.inputs[1])[1])]
        if self.anchor is not None:
            c += [("KH", self.KH), ("KW", self.KW), ("SH", self.SH), ("SW", self.SW), ("PT", self.PT),
                  ("PL", self.PL)]
            if (self.DH, self.DW) != (1, 1):
                c += [("DH", self.DH), ("DW", self.DW)]
            c += [("K", self.K), ("KP", self.KP)]
            if self.gather in ("direct", "separable") or self.grouped:
                c += [("CING", self.CING), ("FG", self.FG or 1), ("M", self.M)]
        c += [("OH", self.OH), ("OW", self.OW), ("C", self.C)]
        if self.pool is not None:
            c += [("PKH", self.PKH), ("PKW", self.PKW), ("PSH", self.PSH), ("PSW", self.PSW),
                  ("PPT", self.PPT), ("PPL", self.PPL)]
        c += [("PH", self.PH), ("PW", self.PW), ("CT", self.CT), ("COFF", self.out_off)]
        for _, _, other, stem in self.added():
            c += [(f"{stem.upper()}_T", channel_total(self.plan, other)),
                  (f"{stem.upper()}_OFF", self.plan.storage(other)[1])]
        return c

    def tile_params(self) -> list:
        """The constexprs a config sets (carried/triton_tiles.py), in the kernel's order."""
        names = ["BM", "BN"] + (["BK"] if self.gemm else [])
        return names + ([] if self.reduce else ["GROUP_M"])

    def reads(self) -> list:
        """Nodes whose buffers the kernel reads: its source, a gate, the adds' other inputs."""
        out = [self.src]
        if self.gate is not None:
            out.append(self.gate.inputs[1])
        return out + [other for _, _, other, _ in self.added()]

    def read_args(self) -> dict:
        """Pointer argument -> the node whose buffer it is, for the adds' other inputs."""
        return {f"{stem}_ptr": other for _, _, other, stem in self.added()}


class RowKernel(Kernel):
    """A softmax or layernorm over channel rows wider than one tile (more than ROW_MAX
    channels: policy.py), with the elementwise epilogues after it: one program per BM
    rows loops over each row in BN-channel chunks, a pass for each statistic and a last one
    that writes (template.emit_row_kernel). Either the group itself starts with the row op
    (its source is the input), or it follows an anchor whose own activation is the row op
    (`after`): then it reads the anchor's result from that kernel's scratch buffer."""

    def __init__(self, group, plan, folded, precision, lowerings, after=None):
        super().__init__(group, plan, folded, precision, lowerings)
        if after is None:
            self.row, self.pre = self.pre[0], self.pre[1:]
        else:
            self.row, self.pre, self.post = after.anchor, [], []
            self.name = f"{after.name}_row"
            self.anchor = self.lowering = self.gate = None
            self.prologue, self.maps = [], []
            self.scratch_in = after.scratch_out
            self.IH, self.IW, self.CIN = self.PH, self.PW, self.C
            self.CIN_T, self.in_off = self.C, 0
        self.gather, self.softmax, self.K, self.KP, self.CP = "row", False, 0, 0, 0

    @property
    def launch_cols(self) -> int:
        return 1   # one program per BM rows: it loops over the whole row itself

    def reads(self) -> list:
        return ([] if self.scratch_in else [self.src]) + [other for _, _, other, _ in self.added()]


def kernel_key(source: str, name: str, constexprs) -> str:
    """What a tuning record is keyed by: the kernel's code (its name and comments left out)
    and its geometry, so two groups of the same shape share their measurements and a
    changed kernel never reads a stale one."""
    lines = [ln.strip() for ln in source.splitlines()]
    body = "\n".join(ln.replace(name, "KERNEL") for ln in lines if ln and not ln.startswith("#"))
    text = body + "\n" + repr(sorted(constexprs))
    return hashlib.sha256(text.encode()).hexdigest()[:20]
