"""The numpy backend's module generator: the text of the module, its distinct functions,
the tables PARAMS, PREPARES and STEPS, and `forward`'s steps."""

from __future__ import annotations

import hashlib

from ...errors import CnncError
from ...layers import Role
from .. import carried
from ..emitter import Emitter, check_table_names, shared_comment, source_line
from ..pending import require_lowerings
from . import carried as numpy_carried
from .group import Group
from .lowering import BN_ROLE
from .lowerings import LOWERINGS
from .policy import ONE_BLAS_THREAD_BELOW, plan_groups
from .scratch import activation_entry

WEIGHTS_EXT = ".npz"


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

    def lowering(self, node):
        """The entry of LOWERINGS that computes `node`'s kind."""
        return LOWERINGS[node.kind]

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
        carried.emit(e, "numpy_ops", numpy_carried)
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
        carried.emit_all(e, (("safe_files", None), ("weights_io", None), ("numpy_model", numpy_carried)))
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
        lines = activation_entry(act).numpy
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
