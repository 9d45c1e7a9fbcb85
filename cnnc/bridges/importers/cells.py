"""Definitions for units written with named inputs: a NASNet cell reads the cell before it and
the one before that, so its statements carry `from=` and joins of names, which the block
definitions of definitions.py leave alone. Here a unit is a run of consecutive statements
and uses in one list of the program that is closed: nothing after it reads any of its
layers but the last. Written as a definition:

  - the run's first statement reads the use's input: its `from=NAME`, if any, goes on the use;
  - names of layers inside the run become labels local to the body (named as the layers'
    labels without what differs from one occurrence to the next: `normal_bn_1_0`,
    `normal_bn_1_1`, ... read `normal_bn_1`; else by kind: `add1`);
  - every other name the run reads becomes a parameter (`prev`), given at each use;
  - the run's last layer is the use's output, so a name that reads it labels the use;
  - numbers become parameters, literals and expressions as in definitions.py.

Occurrences have the same statements, words and wiring, numbers free. Units are found in two
rounds, in each the one that saves the most lines first, while one saves any: chains (up to
SHORT statements, each reading the one before it, from a name or fork to a layer read by name:
a separable-conv block), then any run (up to LONG items: a cell, made of the chains' uses).
"""

from __future__ import annotations

import re

from .definitions import RESERVED, Definition, _name_for, _number, _param_name, parameters
from .writer import Block, Expr, Stmt, Use

SHORT, LONG = 8, 160
LONGEST = 200   # characters in a use's line (a statement is never broken across lines)
INF = float("inf")


def _lists(items, out):
    """Every list of items in the program (the top level and each block's bodies)."""
    out.append(items)
    for item in items:
        if isinstance(item, Block):
            for b in item.bodies:
                _lists(b, out)
    return out


def _targets(item):
    """(is a from=, node) for every name the item reads."""
    for r in item.refs:
        yield (True, r[1]) if isinstance(r, tuple) else (False, r)


def _reads_previous(item) -> bool:
    """Whether the item reads the one before it: a block does, a statement unless it reads names
    (`from=`, a join's), a use unless it has `from=` (its names fill parameters)."""
    if isinstance(item, Block):
        return True
    if isinstance(item, Use):
        return not any(isinstance(r, tuple) for r in item.refs)
    return not item.refs


def _unit_item(item) -> bool:
    return isinstance(item, (Stmt, Use)) and item.node is not None and bool(item.node.inputs)


class _Program:
    def __init__(self, items, labels, defs, text):
        self.items, self.labels, self.defs, self.text = items, labels, defs, text
        self.taken = {d.name for d in defs}   # definitions' names
        self.local = set()   # labels inside the bodies written here (no definition is named so)

    def readers(self):
        """For each list: the last position in it that reads each item (INF when something
        outside the list, or the list's end, reads it)."""
        lists = _lists(self.items, [])
        where = {}   # node id -> [(list index, position)] of explicit readers
        for li, lst in enumerate(lists):
            for k, item in enumerate(lst):
                for _, n in _targets(item) if isinstance(item, (Stmt, Use)) else ():
                    where.setdefault(n.id, []).append((li, k))
        last = []
        for li, lst in enumerate(lists):
            row = []
            for k, item in enumerate(lst):
                if k + 1 >= len(lst) or item.node is None:
                    row.append(INF)
                    continue
                m = k + 1 if _reads_previous(lst[k + 1]) else k
                for lj, pos in where.get(item.node.id, ()):
                    m = max(m, pos if lj == li else INF)
                row.append(m)
            last.append(row)
        return lists, last

    def chain_ends(self, lst, e) -> bool:
        """A chain ends at a layer read by name, or where the next statement reads something else
        (not inside a chain that goes on: half a separable-conv block is no unit)."""
        return lst[e].node.id in self.labels or e + 1 == len(lst) or not _reads_previous(lst[e + 1])

    @staticmethod
    def head(item):
        """The item's kind and words, numbers left out."""
        if isinstance(item, Stmt):
            words = tuple((k, v.text if isinstance(v, Expr) else v) for k, v in item.args
                          if not _number(v) and not isinstance(v, tuple))
            lists = tuple((k, v) for k, v in item.args if isinstance(v, tuple) and not _number(v))
            return ("S", item.kind, words, lists)
        return ("U", item.kind, tuple((k if k is not None else j, None if _number(v) else v.text
                                       if isinstance(v, Expr) else v) for j, (k, v) in enumerate(item.args)))

    @staticmethod
    def wiring(item, start, pos, ext, first):
        """The names the item reads, in a run starting at `start`: inside the run by their
        offset, others by order of first appearance; None for a join that would start a run
        (its names are its input, not a use's)."""
        wires = []
        for is_from, n in _targets(item):
            if first and is_from:
                continue   # the use's input, written or not
            elif n.id in pos:
                wires.append((is_from, "in", pos[n.id] - start))
            else:
                wires.append((is_from, "out", ext.setdefault(n.id, len(ext))))
        if first and item.refs and not any(is_from for is_from, _ in _targets(item)):
            return None
        return tuple(wires)

    def candidates(self, limit, chains):
        """{signature: [(list, start, end)]} of closed runs of 2..limit items (with `chains`,
        only runs whose every item but the first reads the one before it)."""
        lists, last = self.readers()
        found: dict = {}
        heads: dict = {}
        for li, lst in enumerate(lists):
            row = last[li]
            for i in range(len(lst)):
                if not _unit_item(lst[i]):
                    continue
                pos, ext, sig, reach, named = {}, {}, [], -1, False
                for e in range(i, min(len(lst), i + limit)):
                    item = lst[e]
                    if not _unit_item(item) or (chains and e > i and item.refs):
                        break
                    wires = self.wiring(item, i, pos, ext, e == i)
                    if wires is None:
                        break
                    if id(item) not in heads:
                        heads[id(item)] = self.head(item)
                    sig.append((heads[id(item)], wires))
                    pos[item.node.id] = e
                    named = named or bool(item.refs) or item.node.id in self.labels
                    if e > i and reach <= e and named and (not chains or self.chain_ends(lst, e)):
                        found.setdefault(tuple(sig), []).append((lst, i, e + 1))
                    reach = max(reach, row[e])
        return found

    def ranked(self, limit) -> list:
        """The units that save lines, the one that saves the most first: [(saved, occurrences)].
        A name given at each use counts as a line (a whole cell with one name parameter reads
        better than the tail of it that more cells share but that needs three)."""
        out = []
        for sig, occ in self.candidates(limit, limit == SHORT).items():
            chosen, ends = [], {}
            for lst, i, e in occ:
                if ends.get(id(lst), -1) <= i:
                    chosen.append((lst, i, e))
                    ends[id(lst)] = e
            if len(chosen) < 2:
                continue
            lines = len(self.text.lines(chosen[0][0][chosen[0][1]:chosen[0][2]]))
            saved = (len(chosen) - 1) * lines - len(chosen) - 2
            saved -= len(chosen) * len({w[2] for _, wires in sig for w in wires if w[1] == "out"})
            if saved > 0:
                out.append((saved, len(sig), chosen))
        out.sort(key=lambda t: (-t[0], -t[1]))
        return [(saved, chosen) for saved, _, chosen in out]

    def extract(self):
        for limit in (SHORT, LONG):
            while True:
                made = next((m for m in (self.make(c) for _, c in self.ranked(limit)) if m is not None), None)
                if made is None:
                    break
                definition, uses, chosen = made
                if definition not in self.defs:
                    self.defs.append(definition)
                for (lst, i, e), use in sorted(zip(chosen, uses), key=lambda t: -t[0][1]):
                    lst[i:e] = [use]

    # --- a definition of the chosen runs -------------------------------------------------

    def slots(self, run):
        """(position, slot) of every number in a run: a statement's positionals and its options
        that differ from their defaults; a use's number arguments."""
        for k, item in enumerate(run):
            if isinstance(item, Stmt):
                spec = item.node.spec
                for p in spec.positional:
                    if _number(item.node.attrs.get(p.name)):
                        yield k, ("pos", p.name)
                for name in spec.options:
                    if any(a == name for a, _ in item.args) and _number(item.node.attrs.get(name)):
                        yield k, ("opt", name)
            else:
                params = self.params_of(item.kind)
                for j, (a, v) in enumerate(item.args):
                    if _number(v):
                        yield k, ("use", a if a is not None else params[j][0], a is not None)

    def params_of(self, name):
        return next(d.params for d in self.defs if d.name == name)

    def value(self, item, slot):
        if slot[0] != "use":
            return item.node.attrs[slot[1]]
        params = self.params_of(item.kind)
        for j, (a, v) in enumerate(item.args):
            if (a == slot[1]) if slot[2] else (a is None and params[j][0] == slot[1]):
                return v
        return None

    def make(self, chosen):
        runs = [lst[i:e] for lst, i, e in chosen]
        keys = []
        for run in runs:
            for key in self.slots(run):
                if key not in keys:
                    keys.append(key)
        keys.sort(key=lambda k: (k[0], k[1][0] != "pos"))
        columns = [[self.value(run[k], slot) for run in runs] for k, slot in keys]
        if any(None in c for c in columns):
            return None
        taken = set()
        params, exprs = parameters(keys, columns, taken, name_slot=lambda slot: ("", slot[1]),
                                   defaulted=lambda slot: slot[0] == "opt" or (slot[0] == "use" and slot[2]))
        # names read from outside the run (but the first statement's from=): parameters
        outside = []   # per run: [node per name parameter]
        for run in runs:
            ids = {item.node.id for item in run}
            seen = []
            for k, item in enumerate(run):
                for is_from, n in _targets(item):
                    if not (k == 0 and is_from) and n.id not in ids and n not in seen:
                        seen.append(n)
            outside.append(seen)
        names = []
        taken |= set(self.labels.values())   # a name parameter is never also a label of the program
        for _ in outside[0]:
            taken.add(name := _param_name(("", "prev"), taken))
            names.append(name)
        local = self.local_labels(runs, taken | set(names))
        body = self.template(runs[0], exprs, local, dict(zip([n.id for n in outside[0]], names)))
        ordered = [p for p in params if p[2] is None]
        defaulted = [p for p in params if p[2] is not None]
        dparams = [(p, None) for p, _, _ in ordered] + [(n, None) for n in names] + [(p, d) for p, _, d in defaulted]
        same = next((d for d in self.defs if d.params == dparams and
                     d.lines(self.text)[1:] == Definition("", dparams, body).lines(self.text)[1:]), None)
        if same is not None:
            dname = same.name
        else:   # named for its output; never a label's stem (a use `concatenate` would name its layers
            # `concatenate_1_…`, as a use labelled `concatenate_1` does)
            avoid = self.taken | self.local | {re.sub(r"_\d+$", "", x) for x in self.labels.values()}
            dname = _name_for([Stmt(runs[0][-1].kind, [], runs[0][-1].node)], avoid)
            self.taken.add(dname)
        definition = same or Definition(dname, dparams, body)
        uses = []
        for r, run in enumerate(runs):
            args = [(None, col[r]) for _, col, _ in ordered]
            args += [(p, col[r]) for p, col, d in defaulted if col[r] != d]
            refs = list(outside[r]) + [r0 for r0 in run[0].refs if isinstance(r0, tuple)]
            uses.append(Use(dname, args, run[-1].node, refs=refs))
        if any(len(self.text.stmt(u)) > LONGEST for u in uses):
            return None   # a use naming many long labels: the run stays written out
        return definition, uses, chosen

    def local_labels(self, runs, taken) -> dict:
        """offset in the run -> the label its layer gets in the body, for the layers the run
        itself reads by name."""
        first = runs[0]
        offsets = {item.node.id: k for k, item in enumerate(first)}
        wanted = sorted({offsets[n.id] for item in first for _, n in _targets(item) if n.id in offsets})
        out, used = {}, set(taken) | set(self.labels.values()) | self.taken
        for k in wanted:
            names = [self.labels.get(run[k].node.id, "") for run in runs]
            common = names[0]
            for n in names[1:]:
                while not n.startswith(common):
                    common = common[:-1]
            base = common.rstrip("_")
            if not re.fullmatch(r"[A-Za-z_]\w*", base) or base in RESERVED or base in used:
                word, n = first[k].kind, 1   # no name of its own (Keras's default names): its kind
                word += "_" if word[-1].isdigit() else ""
                while f"{word}{n}" in used or f"{word}{n}" in RESERVED:
                    n += 1
                base = f"{word}{n}"
            used.add(base)
            self.local.add(base)
            out[k] = base
        return out

    def template(self, run, exprs, local, outside_names) -> list:
        offsets = {item.node.id: k for k, item in enumerate(run)}

        def ref(k, r):
            is_from, n = (True, r[1]) if isinstance(r, tuple) else (False, r)
            if k == 0 and is_from:
                return None
            name = Expr(local[offsets[n.id]] if n.id in offsets else outside_names[n.id])
            return ("from", name) if is_from else name

        def number(k, slot, v):
            e = exprs.get((k, slot))
            if e is None:
                return v
            return Expr(e[1]) if e[0] == "param" else e[1]

        out = []
        for k, item in enumerate(run):
            refs = [x for x in (ref(k, r) for r in item.refs) if x is not None]
            label = local.get(k)
            if isinstance(item, Stmt):
                spec = item.node.spec
                args = [(None, number(k, ("pos", p.name), item.node.attrs[p.name])) for p in spec.positional
                        if item.node.attrs.get(p.name) is not None]
                given = dict(item.args)
                for name in spec.options:
                    if (k, ("opt", name)) in exprs:
                        args.append((name, number(k, ("opt", name), None)))
                    elif name in given and not _number(given[name]):
                        args.append((name, given[name]))
                args += [(a, v) for a, v in item.args if a is None and isinstance(v, Expr)]   # the activation
                out.append(Stmt(item.kind, args, None, refs=refs, label=label))
            else:
                params = self.params_of(item.kind)
                args = [(a, number(k, ("use", a if a is not None else params[j][0], a is not None), v)
                         if _number(v) else v) for j, (a, v) in enumerate(item.args)]
                out.append(Use(item.kind, args, None, refs=refs, label=label))
        return out


def extract_cells(items, labels, defs, text) -> None:
    """Replaces closed runs with uses of new definitions (appended to `defs`), in place."""
    _Program(items, labels, defs, text).extract()
