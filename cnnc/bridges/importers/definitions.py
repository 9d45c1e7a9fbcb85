"""Definitions: units of a program that are equal up to their numbers, written once as a
`def` and then used by name, so a ResNet152 or an EfficientNetB7 reads as a definition and a
short list of uses.

A unit is the body of a block (a residual's block, a branch), or that body without a
trailing dropout; its occurrences are every run of items anywhere in the program with the
same shape: the same statements and blocks in the same order, the same words (`same`,
`bias=false`, activations), numbers free. Each number slot of the unit (a positional, or an
option any occurrence sets) becomes:
  - a literal, when every occurrence has the same value;
  - the same parameter as an earlier slot with the same values everywhere;
  - an expression of an earlier integer parameter (`filters*4`, `filters//24`), when that
    holds in every occurrence;
  - else a new parameter, named for the slot (`filters`, `kernel`, `stride`, ...); a slot
    that is an option gets its most common value as the parameter's default, so uses name
    it only where it differs.
A unit becomes a definition when it occurs at least twice and the definition and its uses
take fewer lines than the occurrences written out. Larger units go first.
"""

from __future__ import annotations

import re
from collections import Counter

from ... import layers as L
from .writer import Block, Expr, Stmt, Use

RESERVED = set(L.KINDS) | set(L.ACTIVATIONS) | set(L.BLOCKS) | {
    "same", "valid", "true", "false", "nearest", "bilinear", "def", "input", "from", "shortcut", "branch",
    "min", "max"}


def _number(v) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool)) or (
        isinstance(v, tuple) and len(v) == 2 and all(isinstance(x, int) and not isinstance(x, bool) for x in v))


def _signature(item, labels):
    if isinstance(item, Stmt):
        if item.refs or item.node is None or (item.node.id in labels) or not item.node.inputs:
            return None
        words = tuple((k, v.text if isinstance(v, Expr) else v) for k, v in item.args
                      if not _number(v) and not isinstance(v, tuple))
        lists = tuple((k, v) for k, v in item.args if isinstance(v, tuple) and not _number(v))
        return ("S", item.kind, words, lists)
    if isinstance(item, Block):
        if item.word == "repeat" or (item.node is not None and item.node.id in labels):
            return None
        bodies = []
        for b in item.bodies:
            sig = _sequence_signature(b, labels)
            if sig is None:
                return None
            bodies.append(sig)
        return ("B", item.word, tuple(k for k, _ in item.options), tuple(bodies))
    return None


def _sequence_signature(items, labels):
    sigs = tuple(_signature(i, labels) for i in items)
    return None if None in sigs else sigs


def _slots(items, path=()):
    """(path, item, slot) for every number slot of a run, in order: a statement's positionals
    and its number options; a block's number options."""
    for idx, item in enumerate(items):
        here = path + (idx,)
        if isinstance(item, Stmt):
            spec = item.node.spec
            for p in spec.positional:
                if _number(item.node.attrs.get(p.name)):
                    yield here, item, ("pos", p.name)
            for name in spec.options:
                if any(k == name for k, _ in item.args) and _number(item.node.attrs.get(name)):
                    yield here, item, ("opt", name)
        elif isinstance(item, Block):
            for k, v in item.options:
                if _number(v):
                    yield here, item, ("block", k)
            for bi, b in enumerate(item.bodies):
                yield from _slots(b, here + (bi,))


def _value(item, slot):
    where, name = slot
    if where == "block":
        return dict(item.options)[name]
    return item.node.attrs[name]


def _find(items, signature, length, labels, found, where):
    """Occurrences (list, start) of runs with `signature` in `items` and every body below."""
    i = 0
    while i + length <= len(items):
        window = items[i:i + length]
        if _sequence_signature(window, labels) == signature:
            found.append((items, i))
            i += length
            continue
        i += 1
    for item in items:
        if isinstance(item, Block):
            for b in item.bodies:
                _find(b, signature, length, labels, found, where)


# statements a unit may end without (EfficientNet's residual blocks end in a dropout its other blocks lack)
TRAILING = ("dropout",)


def _candidates(items, labels, out):
    for item in items:
        if isinstance(item, Block):
            for b in item.bodies:
                _candidates(b, labels, out)
                run = list(b)   # a copy: the bodies change as units are replaced
                if len(run) >= 3:
                    out.append(run)
                while len(run) > 3 and isinstance(run[-1], Stmt) and run[-1].kind in TRAILING:
                    run = run[:-1]
                    out.append(run)
    return out


class Definition:
    def __init__(self, name, params, body):
        self.name, self.params, self.body = name, params, body   # params: [(name, default or None)]

    def lines(self, text) -> list:
        head = " ".join([f"def {self.name}"] + [p if d is None else f"{p}={_word(d)}" for p, d in self.params])
        return [head + " {", *text.lines(self.body, "  "), "}"]


def _word(v) -> str:
    if isinstance(v, tuple):
        return str(v[0]) if v[0] == v[1] else f"{v[0]}x{v[1]}"
    return repr(v) if isinstance(v, float) else str(v)


def _name_for(items, taken) -> str:
    first = next((i for i in items if isinstance(i, Stmt) and i.node is not None), None)
    origin = getattr(getattr(first, "node", None), "origin", None)
    word = re.match(r"[A-Za-z]+", str(getattr(origin, "name", "") or "")) if origin is not None else None
    base = word.group(0).lower() if word else "unit"
    if base in RESERVED or len(base) < 3:
        base = "unit"
    name, n = base, 2
    while name in taken or name in RESERVED:
        name, n = f"{base}{n}", n + 1
    taken.add(name)
    return name


def _param_name(slot, taken) -> str:
    base = {"scale": "s", "count": "n"}.get(slot[1], slot[1])
    name, n = base, 2
    while name in taken or name in RESERVED:
        name, n = f"{base}{n}", n + 1
    taken.add(name)
    return name


def parameters(keys, columns, taken: set, name_slot=lambda slot: slot, defaulted=lambda slot: slot[0] == "opt"):
    """A definition's parameters for the values its uses give each slot: `columns[i]` holds
    the value of slot `keys[i]` (a (where, slot) pair) at every use. A slot whose value never
    changes is a literal; one whose values another parameter already has, or an integer
    expression of one (`_relation`), reads it; any other becomes a parameter, named for
    `name_slot(slot)` apart from the names in `taken` (which grows), with the value most uses
    give as its default when `defaulted(slot)` and at least half give it.

    Returns (params: [(name, values, default or None)], exprs: {key: ("literal", value) or
    ("param", name or expression)})."""
    params, exprs = [], {}
    ints = []   # (param name, values) of integer parameters, for expressions
    for key, col in zip(keys, columns):
        if all(v == col[0] for v in col):
            exprs[key] = ("literal", col[0])
            continue
        same_as = next((n for n, vals in ints if vals == col), None) or next(
            (p for p, vals, _ in params if vals == col), None)
        rel = same_as or _relation(col, ints)
        if rel is not None:
            exprs[key] = ("param", rel)
            continue
        slot = key[1]
        name = _param_name(name_slot(slot), taken)
        default = None
        if defaulted(slot):
            value, count = Counter(col).most_common(1)[0]
            default = value if count * 2 >= len(col) else None
        params.append((name, col, default))
        if all(isinstance(v, int) and not isinstance(v, bool) for v in col):
            ints.append((name, col))
        exprs[key] = ("param", name)
    return params, exprs


def _relation(values, params):
    """An expression of an earlier integer parameter that gives `values` everywhere, or None."""
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return None
    for name, vals in params:
        if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in vals):
            continue
        for m in range(2, 65):
            if all(v == p * m for v, p in zip(values, vals)):
                return f"{name}*{m}"
            if all(v == p // m and v > 0 for v, p in zip(values, vals)):
                return f"{name}//{m}"
    return None


def _make(occurrences, length, taken_names):
    """(Definition, [Use per occurrence]) or None when it would not shorten the program."""
    runs = [lst[i:i + length] for lst, i in occurrences]
    slot_lists = [list(_slots(r)) for r in runs]
    keys = [(path, slot) for path, _, slot in slot_lists[0]]
    if any([(p, s) for p, _, s in sl] != keys for sl in slot_lists):   # options set differently: union them
        union = []
        for sl in slot_lists:
            for p, _, s in sl:
                if (p, s) not in union:
                    union.append((p, s))
        keys = sorted(union, key=lambda k: (k[0], k[1][0] != "pos"))
    items_at = [{p: it for p, it, _ in _slots_all(r)} for r in runs]
    columns = []
    for path, slot in keys:
        col = []
        for at in items_at:
            item = at.get(path)
            col.append(_value(item, slot) if item is not None else None)
        columns.append(col)
    if any(None in c for c in columns):
        return None
    params, exprs = parameters(keys, columns, set())
    ordered = [p for p in params if p[2] is None] + [p for p in params if p[2] is not None]
    body = _template(runs[0], exprs, ())
    name = _name_for(runs[0], taken_names)
    uses = []
    for k in range(len(runs)):
        args = []
        for pname, col, default in ordered:
            if default is None:
                args.append((None, col[k]))
            elif col[k] != default:
                args.append((pname, col[k]))
        uses.append(Use(name, args))
    saved = len(runs) * length - (len(runs) + length + 2)
    if saved <= 0:
        return None
    return Definition(name, [(p, d) for p, _, d in ordered], body), uses


def _slots_all(items, path=()):
    for idx, item in enumerate(items):
        here = path + (idx,)
        yield here, item, None
        if isinstance(item, Block):
            for bi, b in enumerate(item.bodies):
                yield from _slots_all(b, here + (bi,))


def _template(items, exprs, path):
    out = []
    for idx, item in enumerate(items):
        here = path + (idx,)
        if isinstance(item, Stmt):
            spec = item.node.spec
            args = []
            for p in spec.positional:
                v = item.node.attrs.get(p.name)
                if v is None:
                    continue
                e = exprs.get((here, ("pos", p.name)))
                args.append((None, Expr(e[1]) if e and e[0] == "param" else v))
            given = dict(item.args)
            for name in spec.options:
                e = exprs.get((here, ("opt", name)))
                if e is not None:
                    args.append((name, Expr(e[1]) if e[0] == "param" else e[1]))
                elif name in given and not _number(given[name]):
                    args.append((name, given[name]))
            args += [(k, v) for k, v in item.args if k is None and isinstance(v, Expr)]   # the activation
            t = Stmt(item.kind, args, None)
            out.append(t)
        elif isinstance(item, Block):
            opts = []
            for k, v in item.options:
                e = exprs.get((here, ("block", k)))
                opts.append((k, Expr(e[1]) if e and e[0] == "param" else v))
            out.append(Block(item.word, opts, [_template(b, exprs, here + (bi,)) for bi, b in
                                               enumerate(item.bodies)]))
        else:
            out.append(item)
    return out


def extract(items, labels, text) -> "tuple[list, list]":
    """(the items with units replaced by uses, the definitions)."""
    defs, taken = [], set()
    cands = sorted(_candidates(items, labels, []), key=len, reverse=True)
    done = set()
    for cand in cands:
        sig = _sequence_signature(cand, labels)
        if sig is None or sig in done:
            continue
        done.add(sig)
        found: list = []
        length = len(cand)
        _find(items, sig, length, labels, found, None)
        if len(found) < 2:
            continue
        made = _make(found, length, taken)
        if made is None:
            continue
        definition, uses = made
        defs.append(definition)
        for (lst, i), use in sorted(zip(found, uses), key=lambda f: -f[0][1]):
            lst[i:i + length] = [use]
    return items, defs
