"""Rewrites of an imported network (ir.py) into fewer, plainer statements, each exact:

  - CHAINS: a run of statements that spells a kind (`rescale 1 offset=3; relu6; rescale 1/6`
    is `hard_sigmoid`, as Keras's MobileNetV3 writes it);
  - GATES: x times f(x) is g(x) (x · hard_sigmoid(x) is `hard_swish`, x · sigmoid(x) `silu`);
  - PAIRS: two statements that compose into one (two normalizations, as a pretrained
    EfficientNet's per-channel Rescaling after its Normalization; two rescales);
  - zeros added before a statement that pads with zeros itself (PADS_ZEROS) become its
    integer padding, and before a max pool when the image is non-negative (after relu);
  - an activation alone after a statement that takes one (conv, dense, ...) is fused into it.

Every rewrite needs the rewritten nodes to have no other reader. Nothing here knows the source
framework: the ONNX importer uses the same rewrites.
"""

from __future__ import annotations

import numpy as np

from ... import layers as L
from ...layers.base import extent
from .meaning import _NON_NEGATIVE, same
from .weights import array_of
from .statement import complete

SIXTH = 1 / 6

# (kind, the arguments it must have) runs -> the kind they spell
CHAINS = [
    ((("rescale", {"scale": 1.0, "offset": 3.0}), ("relu6", {}), ("rescale", {"scale": SIXTH, "offset": 0.0})),
     "hard_sigmoid"),
]

# x * KIND(x) -> the kind it is, where `*` is the IR's join GATE_JOIN
GATES = {"hard_sigmoid": "hard_swish", "sigmoid": "silu"}
GATE_JOIN = "multiply"
RELU6, HARD_SWISH = "relu6", "hard_swish"

# statements whose integer padding is zeros added before them (max pooling's is not: see above)
PADS_ZEROS = ("conv", "dwconv", "sepconv", "avgpool")
AVERAGES = ("avgpool",)   # whose `same` padding is not zeros (it counts real pixels only)
MAX_POOLS = ("pool",)


def _replace(net, old, new, consumers) -> None:
    """Every reader of `old` reads `new` instead."""
    for c in consumers[old.id]:
        c.inputs = [new if i is old else i for i in c.inputs]
    consumers[new.id] = [c for c in consumers[new.id] if c is not old] + consumers[old.id]
    if net.output is old:
        net.output = new


def _only_reader(consumers, n):
    r = consumers[n.id]
    return r[0] if len(r) == 1 else None


def _fits(n, kind, attrs) -> bool:
    return n.kind == kind and all(same(n.attrs.get(k), v) for k, v in attrs.items())


def _chains(net, consumers) -> None:
    for pattern, kind in CHAINS:
        for n in list(net.nodes):
            run, x = [], n
            for want, attrs in pattern:
                if x is None or x.is_join or not _fits(x, want, attrs) or (run and _only_reader(consumers, run[-1])
                                                                             is not x):
                    break
                run.append(x)
                x = _only_reader(consumers, x) if len(run) < len(pattern) else None
            if len(run) != len(pattern):
                continue
            head, last = run[0], run[-1]
            head.kind, head.attrs, head.weights = kind, complete(kind, {}), {}
            _replace(net, last, head, consumers)
            consumers[head.id] = consumers[last.id]
    net.prune()


def _shifted_relu6(g, x, consumers) -> bool:
    """g = relu6(x + 3), read by nothing else."""
    if g.is_join or g.kind != RELU6 or len(consumers[g.id]) != 1:
        return False
    a = g.inputs[0]
    return not a.is_join and _fits(a, "rescale", {"scale": 1.0, "offset": 3.0}) and a.inputs[0] is x \
        and len(consumers[a.id]) == 1


def _gates(net, consumers) -> None:
    for m in list(net.nodes):
        if m.kind != GATE_JOIN or len(m.inputs) != 2:
            continue
        after = _only_reader(consumers, m)   # x * relu6(x + 3) * (1/6), multiplied left to right
        done = False
        for x, g in (m.inputs, m.inputs[::-1]):
            if after is not None and not after.is_join and _fits(after, "rescale", {"scale": SIXTH, "offset": 0.0}) \
                    and _shifted_relu6(g, x, consumers):
                after.kind, after.attrs, after.inputs = HARD_SWISH, complete(HARD_SWISH, {}), [x]
                consumers[x.id] = [c for c in consumers[x.id] if c is not m and c is not g.inputs[0]] + [after]
                done = True
                break
        if done:
            continue
        for x, g in (m.inputs, m.inputs[::-1]):
            if not g.is_join and g.kind in GATES and g.inputs[0] is x and _only_reader(consumers, g) is m \
                    and g.attrs == complete(g.kind, {}):
                g.kind = GATES[g.kind]
                g.attrs = complete(g.kind, {})
                _replace(net, m, g, consumers)
                break
    net.prune()


def _compose_normalize(a, b) -> bool:
    """(x - m1) / s1 then (y - m2) / s2 is (x - (m1 + m2 s1)) / (s1 s2), s = sqrt(var): one normalize."""
    if b.weights or b.attrs.get("mean") is None:
        return False
    m2, v2 = np.asarray(b.attrs["mean"], np.float64), np.asarray(b.attrs["var"], np.float64)
    if a.weights:   # adapted statistics: arrays (C values each), composed now
        m1, v1 = (array_of(a.weights[s]).astype(np.float64) for s in ("mean", "var"))
    else:
        m1, v1 = np.asarray(a.attrs["mean"], np.float64), np.asarray(a.attrs["var"], np.float64)
    s1 = np.sqrt(v1)
    mean, std = m1 + m2 * s1, s1 * np.sqrt(v2)
    var = std * std
    if a.weights:
        a.weights["mean"], a.weights["var"] = mean.astype(np.float32), var.astype(np.float32)
    else:
        a.attrs = complete("normalize", {"mean": tuple(float(v) for v in mean.ravel()),
                                         "var": tuple(float(v) for v in var.ravel())})
    return True


def _compose_rescale(a, b) -> bool:
    s1, o1, s2, o2 = a.attrs["scale"], a.attrs["offset"], b.attrs["scale"], b.attrs["offset"]
    a.attrs = complete("rescale", {"scale": s1 * s2, "offset": o1 * s2 + o2})
    return True


PAIRS = {("normalize", "normalize"): _compose_normalize, ("rescale", "rescale"): _compose_rescale}


def _pairs(net, consumers) -> None:
    for a in list(net.nodes):
        b = _only_reader(consumers, a)
        while b is not None and not a.is_join and not b.is_join and (a.kind, b.kind) in PAIRS \
                and PAIRS[(a.kind, b.kind)](a, b):
            _replace(net, b, a, consumers)
            consumers[a.id] = consumers[b.id]
            b = _only_reader(consumers, a)
    net.prune()


def _non_negative(n) -> bool:
    return not n.is_join and n.attrs.get("activation") in _NON_NEGATIVE


def _same_sides(w, t) -> "tuple | None":
    """The zeros `padding=same` adds for statement w on an input of type t."""
    if not isinstance(t, L.Image) or "stride" not in w.attrs:
        return None
    k = extent(w.attrs) if "dilation" in w.attrs else w.attrs["kernel"]
    (sh, sw) = w.attrs["stride"]
    _, top, bottom = L.window(t.h, k[0], sh, "same")
    _, left, right = L.window(t.w, k[1], sw, "same")
    return (top, bottom, left, right)


def _pads(net, consumers) -> None:
    known = None not in net.shape
    for z in list(net.nodes):
        if z.is_join or z.spec.prologue is not L.Prologue.PAD:
            continue
        w = _only_reader(consumers, z)
        t, b, left, r = z.attrs["sides"]
        if w is None or w.is_join or w.attrs.get("padding") != "valid":
            continue
        if known and w.kind in PADS_ZEROS and w.kind not in AVERAGES and _same_sides(w, z.input.out) == (t, b, left, r):
            w.attrs = complete(w.kind, {**w.attrs, "padding": "same"})   # Keras's correct_pad: `same` at this size
            w.inputs = [z.input]
            consumers[z.input.id] = [w if c is z else c for c in consumers[z.input.id]]
            continue
        if not t == b == left == r:
            continue
        if w.kind in MAX_POOLS and not (_non_negative(z.input) and t < min(w.attrs["kernel"])):
            continue
        if w.kind not in PADS_ZEROS + MAX_POOLS:
            continue
        w.attrs = complete(w.kind, {**w.attrs, "padding": t})
        w.inputs = [z.input]
        consumers[z.input.id] = [w if c is z else c for c in consumers[z.input.id]]
    net.prune()


def _fuse_activations(net, consumers) -> None:
    for n in list(net.nodes):
        if n.is_join or not n.spec.takes_activation or n.attrs.get("activation") != "linear":
            continue
        a = _only_reader(consumers, n)
        if a is None or a.is_join or a.spec.epilogue is not L.Epilogue.ACTIVATION or a.attrs != complete(a.kind, {}):
            continue
        n.attrs = {**n.attrs, "activation": a.kind}
        _replace(net, a, n, consumers)
        consumers[n.id] = consumers[a.id]
    net.prune()


def _plain_padding(net, consumers) -> None:
    """`padding=same` of a 1x1 window adds nothing: it is `valid`."""
    for n in net.nodes:
        if not n.is_join and n.attrs.get("padding") == "same" and isinstance(n.spec, L.Window) \
                and (extent(n.attrs) if "dilation" in n.attrs else n.attrs["kernel"]) == (1, 1):
            n.attrs = complete(n.kind, {**n.attrs, "padding": "valid"})


def simplify(net) -> None:
    for step in (_chains, _gates, _pairs, _pads, _plain_padding, _fuse_activations):
        step(net, net.consumers())
