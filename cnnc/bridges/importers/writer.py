"""The program writer: an imported network (ir.py) as a program for people.

1. Structure. From the input, a chain of statements is written in order. Where the graph
   forks, the fork's immediate post-dominator (the first node every path from it reaches) is
   the join that closes it; when each of the join's inputs is reached from the fork by a
   branch of its own (no node shared, nothing read from outside), the branches nest as a block:
   `residual { … }` (a sum with the input itself), `residual { … } shortcut { … }`,
   `residual scale=S`, `add { branch … }`, `concat { branch … }`, `scale { … }` (an image by a
   vector of its channels computed from it). Otherwise that region is written with named
   inputs: `from=NAME`, `add A B`, `concat A B`, `multiply A B`, labelling only what is
   referred to.
2. Definitions (definitions.py): units equal up to their numbers become a `def` and uses;
   then units written with named inputs (cells.py: a NASNet cell) likewise.
3. `repeat N { … }` for identical consecutive units.
4. Text: a statement and the epilogues after it (batchnorm, an activation) share a line;
   short blocks stay on one line; every line stays under 120 characters where a statement
   allows it.
"""

from __future__ import annotations

from ... import layers as L

WIDTH = 100   # a line is broken before it grows past this many characters


class WriterError(Exception):
    """A network the program writer cannot say (e.g. a scaled input of a sum that is not a branch)."""


class Expr:
    """A value written as text (a definition's parameter or an expression of them)."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text

    def __eq__(self, other):
        return isinstance(other, Expr) and other.text == self.text

    def __hash__(self):
        return hash(self.text)


class Stmt:
    """One statement: `kind`, `args` [(option name or None for a positional, value)], `node`,
    `refs` (names it reads: a node, or ("from", node); in a definition's body an Expr) and
    `label` (a definition body's own label; elsewhere labels come from the node)."""

    __slots__ = ("kind", "args", "node", "refs", "label")

    def __init__(self, kind, args, node=None, refs=(), label=None):
        self.kind, self.args, self.node, self.refs, self.label = kind, list(args), node, list(refs), label


class Block:
    """`word` (residual, concat, add, scale, repeat), `options` [(name, value)], `bodies`
    (residual: [block] or [block, shortcut]; concat/add: branches; scale and repeat: [body])."""

    __slots__ = ("word", "options", "bodies", "node")

    def __init__(self, word, options, bodies, node=None):
        self.word, self.options, self.bodies, self.node = word, list(options), bodies, node


class Use:
    """A use of a definition: `kind` (its name), `args`, `refs` and `label` as a Stmt's; `node`
    the last node of the unit it stands for (its output), or None."""

    __slots__ = ("kind", "args", "node", "refs", "label")

    def __init__(self, kind, args, node=None, refs=(), label=None):
        self.kind, self.args, self.node, self.refs, self.label = kind, list(args), node, list(refs), label


# --- 1. structure ----------------------------------------------------------------------------

def statement_args(n) -> list:
    """A statement's arguments as the program writes them: positionals, options that differ
    from their defaults, the activation."""
    spec, a = n.spec, n.attrs
    args = [(None, a[p.name]) for p in spec.positional if a.get(p.name) is not None]
    base = dict(a)
    base.update({name: p.default for name, p in spec.options.items()})
    spec.defaults(base)   # defaults that depend on other arguments (a pool's stride)
    for name in spec.options:
        if a.get(name) is not None and a[name] != base.get(name):
            args.append((name, a[name]))
    if spec.takes_activation and a.get("activation", "linear") != "linear":
        args.append((None, Expr(a["activation"])))
    return args


class _Structure:
    def __init__(self, net):
        self.net = net
        self.consumers = net.consumers()
        self.index = {n.id: i for i, n in enumerate(net.nodes)}
        self.ipdom = self._post_dominators()
        self.referenced: set = set()   # ids of nodes referred to by name

    def _post_dominators(self) -> dict:
        """node id -> its immediate post-dominator's id (END for the output): in reverse
        topological order, the nearest common post-dominator of the node's readers."""
        self.end = len(self.net.nodes)
        self.ip: dict = {}
        for n in reversed(self.net.nodes):
            readers = [c.id for c in self.consumers[n.id]]
            self.ip[n.id] = self.end if n is self.net.output or not readers else self.meet(readers)
        return self.ip

    def meet(self, ids):
        """The nearest node that every path from each of `ids` reaches (END if none)."""
        def pos(a):
            return self.index[a] if a != self.end else self.end

        cur = ids[0]
        for other in ids[1:]:
            a, b = cur, other
            while a != b:
                if pos(a) < pos(b):
                    a = self.ip[a]
                else:
                    b = self.ip[b]
            cur = a
        return cur

    def body(self, entry, exit_, region=None) -> list:
        """The items that compute `exit_` from `entry` (entry's value is the current one),
        following only readers inside `region` (node ids; None: the whole network)."""
        items, cur = [], entry
        nodes = self.net.nodes
        while cur is not exit_:
            cons = [c for c in self.consumers[cur.id] if region is None or c.id in region]
            if len(cons) == 1 and not cons[0].is_join:
                c = cons[0]
                items.append(Stmt(c.kind, statement_args(c), c))
                cur = c
                continue
            if not cons:
                raise WriterError("a branch that does not reach its join")
            j = self.meet([c.id for c in cons])
            if j >= len(nodes) or (region is not None and j not in region):
                raise WriterError("the network forks and never joins")
            j = nodes[self.index[j]]
            block = self.block(cur, j, region)
            items.extend(block if block is not None else self.named(cur, j))
            cur = j
        return items

    def branch(self, x, end) -> "set | None":
        """The nodes strictly after x up to `end` when every one is reached from x only and read
        inside the branch only (`end` by the join); None otherwise."""
        if end is x:
            return set()
        seen, stack = set(), [end]
        while stack:
            n = stack.pop()
            if n.id in seen or n is x:
                continue
            if not n.inputs:
                return None
            seen.add(n.id)
            stack.extend(n.inputs)
        return seen

    def block(self, x, j, region=None) -> "list | None":
        if not j.is_join:
            return None
        branches = [self.branch(x, i) for i in j.inputs]
        if any(b is None for b in branches):
            return None
        union: set = set()
        for b in branches:
            if union & b:
                return None
            union |= b
        for i, b in zip(j.inputs, branches):
            for nid in b:
                outside = [c for c in self.consumers[nid] if c.id not in b and not (c is j and nid == i.id)]
                if outside:
                    return None
        if any(c.id not in union and c is not j for c in self.consumers[x.id] if region is None or c.id in region):
            return None
        try:
            bodies = [self.body(x, i, b) if b else [] for i, b in zip(j.inputs, branches)]
        except WriterError:
            return None
        return BLOCKS[j.kind](self, x, j, bodies)

    def named(self, x, j) -> list:
        """The region after x up to j with named inputs."""
        reach = self.branch(x, j) or set()
        items, current = [], x
        for n in self._chained_order(x, reach):
            if n.is_join:
                if n.coefficients and any(c != 1.0 for c in n.coefficients):
                    raise WriterError("a scaled sum whose inputs do not nest as a residual block")
                for i in n.inputs:
                    self.referenced.add(i.id)
                items.append(Stmt(n.kind, [], n, refs=n.inputs))
            else:
                args = statement_args(n)
                src = n.inputs[0]
                if src is not current:
                    self.referenced.add(src.id)
                    items.append(Stmt(n.kind, args, n, refs=[("from", src)]))
                else:
                    items.append(Stmt(n.kind, args, n))
            current = n
        return items


    def _chained_order(self, x, reach) -> list:
        """The region's nodes in an order where each chain is written out before the next one
        starts (so a statement mostly reads the one before it) and each unit of the network
        after everything it reads: depth first from the region's end, a node after its inputs,
        the input that depends on the most nodes first and then the others in the source's
        order. So a NASNet cell, which reads the two cells before it, is written whole after
        both of them, the same way each time (definitions can then find it)."""
        nodes = [n for n in self.net.nodes if n.id in reach]
        if not nodes:
            return []
        ancestors: dict = {}   # node id -> bit set (an int) of the region's nodes it depends on
        bit = {n.id: 1 << k for k, n in enumerate(nodes)}
        for n in nodes:
            a = 0
            for i in n.inputs:
                if i.id in reach:
                    a |= ancestors[i.id] | bit[i.id]
            ancestors[n.id] = a

        def inputs_in_order(n):
            inside = [i for i in n.inputs if i.id in reach]
            if len(inside) < 2:
                return inside
            first = max(inside, key=lambda i: (bin(ancestors[i.id]).count("1"), -self.index[i.id]))
            return [first] + [i for i in inside if i is not first]

        order, done = [], set()
        last = max(nodes, key=lambda n: self.index[n.id])
        stack = [(last, False)]
        while stack:
            n, expanded = stack.pop()
            if n.id in done:
                continue
            if expanded:
                done.add(n.id)
                order.append(n)
                continue
            stack.append((n, True))
            stack.extend((i, False) for i in reversed(inputs_in_order(n)) if i.id not in done)
        return order

def _sum(s, x, j, bodies):
    coef = j.coefficients or (1.0,) * len(j.inputs)
    if len(bodies) == 2:
        empty = [i for i, b in enumerate(bodies) if not b]
        scaled = [i for i, c in enumerate(coef) if c != 1.0]
        if len(scaled) > 1 or (scaled and empty and scaled[0] in empty) or len(empty) == 2:
            return None
        block = scaled[0] if scaled else (1 - empty[0] if empty else max((0, 1), key=lambda i: _size(bodies[i])))
        options = [("scale", coef[block])] if scaled else []
        return [Block("residual", options, [bodies[block]] + ([] if empty else [bodies[1 - block]]), j)]
    if any(c != 1.0 for c in coef):
        return None
    return [Block("add", [], bodies, j)]


def _size(items) -> int:
    return sum(1 if not isinstance(i, Block) else sum(_size(b) for b in i.bodies) for i in items)


def _concat(s, x, j, bodies):
    return [Block("concat", [], bodies, j)]


def _multiply(s, x, j, bodies):
    if len(bodies) == 2:
        for gate in (0, 1):
            if not bodies[1 - gate] and bodies[gate] and isinstance(j.inputs[gate].out, L.Vector):
                return [Block("scale", [], [bodies[gate]], j)]
    return None


BLOCKS = {"add": _sum, "concat": _concat, "multiply": _multiply}


def structure(net) -> "tuple[list, set]":
    """(the program's items, ids of nodes referred to by name)."""
    s = _Structure(net)
    items = s.body(net.input, net.output)
    return items, s.referenced


# --- 3. repeat ---------------------------------------------------------------------------------

def _labelled(item, labels) -> bool:
    if isinstance(item, Block):
        return (item.node is not None and item.node.id in labels) or any(
            _labelled(i, labels) for b in item.bodies for i in b)
    return item.node is not None and item.node.id in labels


def repeats(items, labels, text) -> list:
    """Identical consecutive units (one to six items, a block or a use among them, or several
    statements) as `repeat N { … }`, inside blocks first."""
    for item in items:
        if isinstance(item, Block):
            item.bodies = [repeats(b, labels, text) for b in item.bodies]
    keys = [None if _labelled(i, labels) else text(i) for i in items]
    out, i = [], 0
    while i < len(items):
        best = (0, 1, 1)   # (items saved, unit length, count)
        for k in range(1, 7):
            unit = keys[i:i + k]
            if len(unit) < k or None in unit or (k == 1 and isinstance(items[i], Stmt)):
                continue
            n = 1
            while keys[i + n * k:i + (n + 1) * k] == unit:
                n += 1
            if n >= 2 and (n - 1) * k > best[0]:
                best = ((n - 1) * k, k, n)
        saved, k, n = best
        if saved:
            out.append(Block("repeat", [("count", n)], [items[i:i + k]]))
            i += k * n
        else:
            out.append(items[i])
            i += 1
    return out


# --- 4. text -----------------------------------------------------------------------------------

_WORD = set(L.KINDS) | set(L.ACTIVATIONS) | set(L.BLOCKS) | {"same", "valid", "true", "false", "nearest", "bilinear",
                                                             "def", "input", "from", "shortcut", "branch"}


def labels_for(net, referenced) -> dict:
    """node id -> the name a program uses for it: the input's own, else a label made from the
    source layer's name (letters, digits, _), unique, never a keyword or a generated name."""
    import re

    out, taken = {}, set()
    for n in net.nodes:
        if n.id not in referenced:
            continue
        if not n.inputs:
            out[n.id] = "input"
            continue
        base = re.sub(r"\W", "_", str(getattr(n.origin, "name", "") or f"n{n.id}"))
        if not re.match(r"[A-Za-z_]", base):
            base = "n_" + base
        generated = re.fullmatch(r"([a-z_0-9]+)_\d+", base)   # conv_3: a name cnnc gives unnamed layers
        if base in _WORD or (generated and generated.group(1) in L.KINDS):
            base = "k_" + base
        while base in taken:
            base += "_"
        taken.add(base)
        out[n.id] = base
    return out


def value_text(kind, name, v) -> str:
    if isinstance(v, Expr):
        return v.text
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, tuple) and v and all(isinstance(x, float) for x in v):
        return ",".join(repr(x) for x in v)
    if isinstance(v, tuple) and len(v) == 2:
        spec = L.KINDS.get(kind)
        square = not (name == "kernel" and spec is not None and spec.takes_activation)
        return str(v[0]) if square and v[0] == v[1] else f"{v[0]}x{v[1]}"
    if isinstance(v, float):
        return repr(v)
    return str(v)


class Text:
    """Renders items; `labels` maps node ids to names."""

    def __init__(self, labels):
        self.labels = labels

    def prefix(self, item) -> str:
        if getattr(item, "label", None):
            return f"{item.label}: "
        n = item.node
        return f"{self.labels[n.id]}: " if n is not None and n.id in self.labels and n.inputs else ""

    def stmt(self, item) -> str:
        spec = L.KINDS.get(item.kind)
        pos = [p.name for p in spec.positional] if spec is not None else []
        words, k = [item.kind], 0
        names = [self.name(r) for r in item.refs if not isinstance(r, tuple)]
        for name, v in item.args:
            if name is None:
                words.append(value_text(item.kind, pos[k] if k < len(pos) else None, v))
                k += 1
            else:
                if isinstance(item, Use):   # a use's names fill parameters that come before its options
                    words, names = words + names, []
                words.append(f"{name}={value_text(item.kind, name, v)}")
        words += names
        words += [f"from={self.name(r[1])}" for r in item.refs if isinstance(r, tuple)]
        return self.prefix(item) + " ".join(words)

    def name(self, ref) -> str:
        """A name read: a node's label, or (in a definition's body) a local label or parameter."""
        return ref.text if isinstance(ref, Expr) else self.labels[ref.id]

    def inline(self, item) -> str:
        if isinstance(item, Block):
            return self.block_inline(item)
        return self.stmt(item)

    def body_inline(self, items) -> str:
        return "; ".join(self.inline(i) for i in items)

    def head(self, b) -> str:
        if b.word == "repeat":
            return f"repeat {b.options[0][1]}"
        opts = "".join(f" {k}={value_text(b.word, k, v)}" for k, v in b.options)
        return f"{self.prefix(b)}{b.word}{opts}"

    def block_inline(self, b) -> str:
        def braces(items):
            inner = self.body_inline(items)
            return "{ " + inner + " }" if inner else "{ }"

        if b.word in ("concat", "add"):
            return self.head(b) + " { " + " ".join("branch " + braces(x) for x in b.bodies) + " }"
        text = self.head(b) + " " + braces(b.bodies[0])
        if len(b.bodies) > 1:
            text += " shortcut " + braces(b.bodies[1])
        return text

    def lines(self, items, indent="") -> list:
        out, line = [], None
        for item in items:
            if isinstance(item, Block):
                if line is not None:
                    out.append(line)
                    line = None
                one = indent + self.block_inline(item)
                out.extend([one] if len(one) <= WIDTH else self.block_lines(item, indent))
                continue
            text = self.inline(item)
            spec = L.KINDS.get(item.kind)
            starts = (line is None or isinstance(item, Use) or self.prefix(item) or item.refs
                      or (spec is not None and spec.role is L.Role.ANCHOR) or len(line) + 2 + len(text) > WIDTH)
            if starts:
                if line is not None:
                    out.append(line)
                line = indent + text
            else:
                line += "; " + text
        if line is not None:
            out.append(line)
        return out

    def block_lines(self, b, indent) -> list:
        inner = indent + "  "
        if b.word in ("concat", "add"):
            out = [indent + self.head(b) + " {"]
            for x in b.bodies:
                one = inner + "branch { " + self.body_inline(x) + " }" if x else inner + "branch { }"
                out.extend([one] if len(one) <= WIDTH else [inner + "branch {", *self.lines(x, inner + "  "),
                                                            inner + "}"])
            return out + [indent + "}"]
        out = [indent + self.head(b) + " {", *self.lines(b.bodies[0], inner)]
        if len(b.bodies) > 1:
            out += [indent + "} shortcut {", *self.lines(b.bodies[1], inner)]
        return out + [indent + "}"]


def write(net, header: "list[str] | None" = None, definitions: bool = True) -> str:
    """The program text of an imported network."""
    items, referenced = structure(net)
    labels = labels_for(net, referenced)
    text = Text(labels)
    defs: list = []
    if definitions:
        from .definitions import extract

        from .cells import extract_cells

        items, defs = extract(items, labels, text)
        extract_cells(items, labels, defs, text)
    items = repeats(items, labels, text.inline)
    out = [f"# {h}" for h in header or []]
    if net.shape is not None and None not in net.shape:
        out.append("input " + "x".join(str(d) for d in net.shape))
    for d in defs:
        out.extend(d.lines(text))
    out.extend(text.lines(items))
    return "\n".join(out) + "\n"
