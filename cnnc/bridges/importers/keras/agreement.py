"""`load_keras`'s check that weights fit the program in meaning, not only in shape.

After the two graphs are matched (keras_import.match: the layers with weights and the joins,
the skeletons), every matched edge is compared step by step: what the program computes from
one skeleton node to the next (the first one's fused activation, the layers without weights
between, the second one's padding and own work) against what the Keras model computes on the
same edge, every Keras layer turned into cnnc statements by its converter (converters.py)
and both runs put in one form (meaning.py). So a stride, a padding, a dilation, an epsilon,
a pool size, an activation (fused or a layer), a rescaling or a missing or extra layer
without weights is an error naming both sides, while the equivalences of meaning.py hold.
Keras preprocessing that the program starts after (keras_import._preprocessing) is left out.
"""

from __future__ import annotations

from .... import layers as L
from ....errors import WeightsError
from .. import meaning as M
from ..statement import Malformed, Unsayable, infer
from .converters import convert, converter_of


def check_agreement(net, graph, crep, krep, edges, skipped, p) -> None:
    K = graph.layers
    skipped_ids = {k.id for k in skipped}
    todo = [(c, i, K[k.id], j) for c, i, k, j in edges]
    todo.append((None, 0, None, 0))   # the edge into the output
    for c, i, k, j in todo:
        start, chain = _cnnc_chain(crep, net.output if c is None else c.inputs[i])
        kstart, kchain = _keras_chain(K, krep, graph.output if k is None else k.inputs[j])
        mine = _post(start) + [item for n in chain for item in _node_items(n)]
        t = start.out
        theirs = _keras_post(kstart, start, p) if kstart.id not in skipped_ids else []
        for kl in kchain:
            if kl.id not in skipped_ids:   # preprocessing keeps the shape
                items, t = _keras_items(kl, t, p, whole=True)
                theirs += items
        if c is not None and not c.spec.joins:
            pre, core, _ = M.steps(c.kind, c.attrs, c.input.out)
            mine += [(s, c) for s in pre + core]
            items, _ = _keras_items(k, t, p, whole=False)
            theirs += items
        mine, theirs = M.canonical(mine), M.canonical(theirs)
        at = M.first_difference(mine, theirs)
        if at is not None:
            end = c if c is not None else net.output
            raise WeightsError(f"{p}: the Keras model does not match the program: "
                               f"{_message(end, k if c is not None else None, mine, theirs, at)}")


def _cnnc_chain(crep, n):
    """(the skeleton node an edge starts at, the nodes without weights after it up to n)."""
    chain = []
    while crep[n.name] is not n:
        chain.append(n)
        n = n.input
    return n, chain[::-1]


def _keras_chain(K, krep, kid):
    chain = []
    k = K[kid]
    while krep[k.id] != k.id:
        chain.append(k)
        k = K[k.inputs[0]]
    return k, chain[::-1]


def _node_items(n) -> list:
    pre, core, post = M.steps(n.kind, n.attrs, n.input.out)
    return [(s, n) for s in pre + core + post]


def _post(n) -> list:
    if not n.inputs:
        return []
    return [(s, n) for s in M.steps(n.kind, n.attrs, n.input.out)[2]]


def _ops(k, t, p):
    try:
        return convert(k, t)
    except Unsayable as e:
        raise WeightsError(f"{p}: the Keras layer {k.describe()} cannot be compared with the program: cnnc "
                           f"would need {e.needed}") from None
    except Malformed as e:
        raise WeightsError(f"{p}: config.json: Keras layer {k.describe()} {e}", unreadable=True) from None


def _keras_post(k, mine, p) -> list:
    """The steps after the work of the Keras layer an edge starts at (its fused activation).
    A join has none: not an Add layer, nor a `+` of two tensors (an operation node, whose
    converter reads one tensor and constants: ConvNeXt's `inputs + layer(x)`)."""
    if k.cls == "InputLayer" or len(k.inputs) > 1 or converter_of(k) is None:
        return []
    t = mine.input.out if mine.inputs else None
    ops = _ops(k, t, p)
    if not ops:
        return []
    last = ops[-1]
    return [(s, k) for s in M.steps(last.kind, last.attrs, t)[2]]


def _keras_items(k, t, p, whole: bool):
    """The steps of Keras layer k on an input of type t (`whole`: with its last Op's fused
    activation, which otherwise belongs to the edges out of k), and the type it makes."""
    items = []
    ops = _ops(k, t, p)
    for n, op in enumerate(ops):
        pre, core, post = M.steps(op.kind, op.attrs, t)
        items += [(s, k) for s in pre + core + (post if whole or n < len(ops) - 1 else [])]
        try:
            t = infer(op.kind, op.attrs, t)
        except L.ShapeError as e:
            raise WeightsError(f"{p}: the Keras model does not match the program: the Keras layer {k.describe()} "
                               f"cannot read the program's {t.describe()} there ({e})") from None
    return items, t


# --- naming a difference -------------------------------------------------------------------------

def _message(end, kend, mine, theirs, at) -> str:
    """What differs at step `at` of an edge that ends at cnnc node `end` (Keras layer `kend`)."""
    a = mine[at] if at < len(mine) else None
    b = theirs[at] if at < len(theirs) else None
    c, k = (a[1] if a else end), (b[1] if b else kend)
    if k is not None and c.inputs:   # first, the options of one layer (a padding is its conv's)
        detail = _option_difference(c, k)
        if detail is not None:
            return f"{c.name}: the program has {detail[0]}, the Keras layer '{k.name}' has {detail[1]}"
    a, b = M.extra_step(mine, theirs, at, a, b)   # one side has a step more, then they agree again
    if a is None:
        k = b[1]
        return (f"{end.name}: the Keras layer {k.describe()} ({M.describe(b[0])}) has no counterpart in the "
                f"program before {end.name}")
    c = a[1]
    if b is None:
        return f"{c.name}: the program has {M.describe(a[0])} ({_statement(c)}), the Keras model has nothing there"
    k = b[1]
    return (f"{c.name}: the program has {M.describe(a[0])} ({_statement(c)}), the Keras layer {k.describe()} "
            f"has {M.describe(b[0])}")


def _option_difference(c, k) -> "tuple | None":
    """('stride 1 and relu', 'strides (2, 2) and tanh') when k converts to a statement of c's kind
    whose arguments differ from c's; None otherwise."""
    try:
        ops = convert(k, c.input.out)
    except (Unsayable, Malformed):
        return None
    op = next((o for o in ops if o.kind == c.kind), None)
    if op is None:
        return None
    names = converter_of(k).names
    spec = c.spec
    declared = [p.name for p in spec.positional] + list(spec.options) + ["activation"]
    differ = [name for name in declared if name in c.attrs and name in op.attrs
              and not M.same(_plain(name, c.attrs[name]), _plain(name, op.attrs[name]))]
    if not differ:
        return None
    positional = {p.name for p in spec.positional}
    mine = " and ".join(_cnnc_words(c.kind if name in positional else name, c.attrs[name]) for name in differ)
    theirs = " and ".join(_keras_words(name, k, names, op.attrs[name]) for name in differ)
    return mine, theirs


def _plain(name, value):
    return L.ACTIVATIONS[value].name if name == "activation" else value   # `swish` is `silu`


def _cnnc_words(name, value) -> str:
    if name == "activation":
        return "no activation" if value == "linear" else L.ACTIVATIONS[value].name
    if isinstance(value, tuple) and len(value) == 2 and value[0] == value[1]:
        value = value[0]
    elif isinstance(value, tuple):
        value = "x".join(str(v) for v in value)
    elif isinstance(value, bool):
        value = "true" if value else "false"
    return f"{name} {value}"


def _keras_words(name, k, names, converted) -> str:
    key = names.get(name)
    raw = k.config.get(key) if key else None
    if name == "activation":
        if isinstance(raw, dict):
            raw = raw.get("config")
        return "no activation" if raw in (None, "linear") else str(raw)
    if key is None or raw is None:
        return _cnnc_words(name, converted) + " (as cnnc reads it)"
    shown = tuple(raw) if isinstance(raw, list) and len(raw) <= 8 else raw
    return f"{key} {shown!r}" if isinstance(shown, str) else f"{key} {shown}"


def _statement(node) -> str:
    return L.statement(node)
