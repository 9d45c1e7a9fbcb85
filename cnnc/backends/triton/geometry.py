"""One fusion group as the Triton generator sees it: shapes, strides, the gather of its
GEMM, its epilogue in order, where it reads and writes, and the geometry dict that the
tile rules (carried/triton_tiles.py) judge configs by."""

from __future__ import annotations

import hashlib

from ...layers import Epilogue, Image, Role
from ..carried.triton_tiles import C_ALIGN, K_ALIGN, next_pow2


def dims(t) -> tuple:
    """(H, W, C) of an edge type; a vector is a 1x1xN image."""
    return (t.h, t.w, t.c) if isinstance(t, Image) else (1, 1, t.n)


def channel_total(plan, node) -> int:
    """The channel stride of a node's output: its buffer's channels (a concat slice
    lives in a wider buffer); a view is read contiguously in its own shape."""
    if node.spec.role is Role.VIEW:
        return dims(node.out)[2]
    return dims(plan.storage(node)[0].out)[2]


def _round_up(n: int, m: int) -> int:
    return -(-n // m) * m


class Kernel:
    """Geometry and epilogue of one fusion group."""

    def __init__(self, group, plan, folded: set, precision: str, lowerings: dict):
        self.g = group
        self.name = group.name
        src = group.source
        self.src = src
        self.in_owner, self.in_off = plan.storage(src)
        self.IH, self.IW, self.CIN = dims(src.out)
        self.CIN_T = channel_total(plan, src)
        anchor = group.anchor
        self.anchor = anchor
        nodes = list(group.nodes)
        if anchor is not None:
            nodes = nodes[1:]
            self.C = dims(anchor.out)[2]
            self.OH, self.OW = dims(anchor.out)[:2]
            lowerings[anchor.kind].geometry(self, anchor)
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
        # the packed weights (CP x KP, K contiguous): every BN and BK a tile may take divides
        # them, and a fused softmax's whole row fits
        self.KP = _round_up(self.K, K_ALIGN) if anchor is not None else 0
        self.CP = _round_up(self.C, max(C_ALIGN, next_pow2(self.C))) if anchor is not None else 0
        self.precision = precision
        self.residuals = [n for n in self.pre + self.post if n.spec.epilogue is Epilogue.ADD]
        self.plan = plan
        self.lines = sorted({n.line for n in group.nodes} or {group.copy_into.line})

    @property
    def gemm(self) -> bool:
        return self.anchor is not None

    def geometry(self) -> dict:
        """What the tile rules need to know (carried/triton_tiles.py): plain values only."""
        return {
            "gemm": self.gemm, "gather": self.gather, "CIN": self.CIN, "K": self.K, "KP": self.KP,
            "C": self.C, "CP": self.CP, "softmax": self.softmax,
            "pool": self.pool is not None, "adds": len(self.residuals), "reduce": self.reduce,
            "pixels": self.PH * self.PW, "precision": self.precision,
        }

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

    def pointer_args(self) -> list:
        """The kernel's pointer arguments, in order: (argument name, state key or None)."""
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
        """The layer geometry as (name, value): compile-time constants of the kernel."""
        c = [("IH", self.IH), ("IW", self.IW), ("CIN", self.CIN), ("CIN_T", self.CIN_T), ("CIN_OFF", self.in_off)]
        if self.anchor is not None:
            c += [("KH", self.KH), ("KW", self.KW), ("SH", self.SH), ("SW", self.SW), ("PT", self.PT),
                  ("PL", self.PL), ("K", self.K), ("KP", self.KP)]
        c += [("OH", self.OH), ("OW", self.OW), ("C", self.C)]
        if self.pool is not None:
            c += [("PKH", self.PKH), ("PKW", self.PKW), ("PSH", self.PSH), ("PSW", self.PSW),
                  ("PPT", self.PPT), ("PPL", self.PPL)]
        c += [("PH", self.PH), ("PW", self.PW), ("CT", self.CT), ("COFF", self.out_off)]
        for n in self.residuals:
            other = self.other_input(n)
            c += [(f"{self.arg(n).upper()}_T", channel_total(self.plan, other)),
                  (f"{self.arg(n).upper()}_OFF", self.plan.storage(other)[1])]
        return c

    def tile_params(self) -> list:
        """The constexprs a config sets (carried/triton_tiles.py), in the kernel's order."""
        names = ["BM", "BN"] + (["BK"] if self.gemm else [])
        return names + ([] if self.reduce else ["GROUP_M"])


def kernel_key(source: str, name: str, constexprs) -> str:
    """What a tuning record is keyed by: the kernel's code (its name and comments left out)
    and its geometry, so two groups of the same shape share their measurements and a
    changed kernel never reads a stale one."""
    lines = [ln.strip() for ln in source.splitlines()]
    body = "\n".join(ln.replace(name, "KERNEL") for ln in lines if ln and not ln.startswith("#"))
    text = body + "\n" + repr(sorted(constexprs))
    return hashlib.sha256(text.encode()).hexdigest()[:20]
