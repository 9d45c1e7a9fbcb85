"""The fusion planner: which layers share one kernel.

Pure Python over the typed graph; it reads only the fusion roles declared in
cnnc/layers/roles.py (anchor, epilogue + its flavour, view, join), never layer names.

Rules (docs/triton.md explains them for users):
  * A group starts at an anchor (conv, dense) or, when nothing can absorb it, at
    an epilogue node (a pool on the input, a lone activation, ...) or a prologue. A
    chain of prologues (zeropad, upsample, a scale join) read only by an anchor joins
    that anchor's group when the backend's `Policy.folds_prologue` says its kernel can
    do them while gathering its input.
  * It then absorbs the next node while the group's last node has that node as
    its only consumer and the node is an epilogue the backend's `Policy` lets the
    group take (backends/triton/policy.py and backends/numpy/policy.py declare theirs).
    A residual's add may join only if its other operand is not computed by the
    group itself (the kernel reads that operand).
  * Views (flatten, dropout) cost nothing: they alias their input's buffer.
  * A concat costs nothing under `Policy.concat_in_place` (the numpy backend
    concatenates instead): each branch's last group writes straight into its
    channel slice of one buffer. A branch whose output has other consumers (or
    is the input, a view, or appears twice) is copied into its slice instead.
  * A group runs at the position of its last node, which is a valid order: every
    outside input of its members comes earlier, and only the last node has
    consumers outside the group.
"""

from __future__ import annotations

from ..layers import Epilogue, Role

# Plain classes, not dataclasses: `cnnc shapes` imports this module for its kernel
# column, and `import dataclasses` alone costs it ~15 ms of start-up (BENCHMARKS.md).
class Group:
    """One kernel. `nodes` run in order; `nodes[0]` is the anchor if there is one.

    A copy group (nodes empty) writes `source` into channels `copy_offset`... of a
    concat buffer. The offset belongs to the group, not to (concat, source): the same
    source may fill several slices (`concat { branch { } branch { } }`).
    """

    def __init__(self, index: int, nodes: list, source, copy_into=None, copy_offset: int = 0):
        self.index = index
        self.nodes = nodes
        self.source = source                 # the node whose output the group reads
        self.copy_into = copy_into           # for a copy group: the concat node
        self.copy_offset = copy_offset       # ... and the first channel of its slice
        self._flavours: set = set()          # epilogue flavours of nodes[:_seen], for `has`
        self._seen, self._of = 0, nodes

    def __repr__(self) -> str:
        return f"Group({self.index}, {self.describe()!r})"

    @property
    def anchor(self):
        """The anchor, which may follow prologues the backend folds into its input gather."""
        for n in self.nodes:
            if n.spec.role is Role.ANCHOR:
                return n
            if n.spec.role is not Role.PROLOGUE:
                return None
        return None

    @property
    def prologue(self) -> list:
        """The prologues at the group's start (zeropad, upsample, a scale join), in order."""
        out = []
        for n in self.nodes:
            if n.spec.role is not Role.PROLOGUE:
                break
            out.append(n)
        return out

    @property
    def last(self):
        return self.nodes[-1] if self.nodes else self.source

    @property
    def name(self) -> str:
        if self.copy_into is not None:
            return f"k{self.index}_copy_{self.source.name}"
        return f"k{self.index}_{(self.anchor or self.nodes[0]).name}"

    def has(self, epilogue: Epilogue) -> bool:
        # asked once per absorbed node while a group grows: kept up to date incrementally,
        # or a long chain of epilogues (`repeat 99999 { relu }`) would plan in quadratic time
        if self._seen != len(self.nodes) or self._of is not self.nodes:
            if self._seen > len(self.nodes) or self._of is not self.nodes:
                self._flavours, self._seen, self._of = set(), 0, self.nodes
            self._flavours.update(n.spec.epilogue for n in self.nodes[self._seen:])
            self._seen = len(self.nodes)
        return epilogue in self._flavours

    @property
    def pool(self):
        return next((n for n in self.nodes if n.spec.epilogue is Epilogue.POOL), None)

    def describe(self) -> str:
        if self.copy_into is not None:
            c = _channels(self.source)
            return f"copy {self.source.name} into {self.copy_into.name}[{self.copy_offset}:{self.copy_offset + c}]"
        return " > ".join(_label(n) for n in self.nodes)


class Plan:
    def __init__(self, net, groups, views, joins, slices=None, group_of=None):
        self.net = net
        self.groups: list = groups            # execution order
        self.views: list = views              # free nodes (flatten, dropout)
        self.joins: list = joins              # concat nodes (no kernel)
        self.slices: dict = {} if slices is None else slices              # node name -> (concat node, channel offset)
        self.group_of: dict = {} if group_of is None else group_of        # node name -> Group

    def storage(self, node):
        """(owner node, channel offset): the buffer a node's output lives in.

        Views alias their input; nodes placed in a concat live in its buffer.
        """
        if node.spec.role is Role.VIEW:
            return self.storage(node.inputs[0])
        if node.name in self.slices:
            j, off = self.slices[node.name]
            owner, base = self.storage(j)
            return owner, base + off
        return node, 0

    @property
    def kernels(self) -> int:
        return len(self.groups)


def _label(n) -> str:
    act = n.attrs.get("activation") if n.spec.takes_activation else None
    return f"{n.name}({act})" if act not in (None, "linear") else n.name


def _channels(node) -> int:
    return node.out.dims[-1]


class Policy:
    """What one backend's kernels can absorb. The planner owns the structure (single
    consumers, execution order, concat slices); a backend only answers, for a group
    and the epilogue node after it, "can my kernel for this group take that too?".

    The base policy absorbs nothing and concatenates joins itself; each backend
    declares its own (backends/numpy/policy.py NumpyPolicy, backends/triton/policy.py TritonPolicy).
    """
    concat_in_place = False

    def absorbs(self, group: Group, node) -> bool:
        return False

    def folds_prologue(self, chain: list, anchor) -> bool:
        """Can `anchor` do the prologues `chain` (zeropad, upsample, a scale join; each read
        only by the next, the last only by the anchor) while it gathers its input?"""
        return False


def _prologue_chain(first, consumers, taken, policy: Policy):
    """[prologues..., anchor] when `first` starts a chain of prologues, each the main input
    of the next and read by nothing else, ending in an anchor that folds them; else None."""
    chain = [first]
    while True:
        last = chain[-1]
        nxt = consumers[last.name]
        if len(nxt) != 1 or nxt[0].name in taken or nxt[0].inputs[0] is not last or nxt[0].inputs.count(last) != 1:
            return None
        node = nxt[0]
        if node.spec.role is Role.ANCHOR:
            return chain + [node] if policy.folds_prologue(chain, node) else None
        if node.spec.role is not Role.PROLOGUE:
            return None
        chain.append(node)


def _can_absorb(group: Group, node, consumers, position, policy: Policy) -> bool:
    """The structural rule every backend shares, then the backend's own say."""
    last = group.nodes[-1]
    if node.spec.role is not Role.EPILOGUE or consumers[last.name] != [node] or node.inputs.count(last) != 1:
        return False
    # a join's other operand is read by the kernel, so it must not come from the group itself
    if any(i is not last and _depends_on(i, group.nodes, position) for i in node.inputs):
        return False
    return policy.absorbs(group, node)


def _depends_on(node, nodes, position) -> bool:
    """Whether `node` is one of `nodes` or computed from one of them.

    Nodes are in execution order, so nothing that runs before the first of `nodes` can
    depend on them: the walk stops there, and a residual's shortcut (almost always the
    block's input) is answered at once. That keeps planning linear in the layers.
    """
    first = min(position[n.name] for n in nodes)
    targets = {id(n) for n in nodes}
    stack, seen = [node], set()
    while stack:
        n = stack.pop()
        if id(n) in targets:
            return True
        if id(n) not in seen and position[n.name] > first:
            seen.add(id(n))
            stack.extend(n.inputs)
    return False


def plan(net, policy: Policy) -> Plan:
    """Partition the network into groups (one kernel or generated function each)."""
    consumers = net.consumer_map()
    position = {n.name: i for i, n in enumerate(net.nodes)}

    groups: list = []
    views, joins = [], []
    taken: set = set()
    for n in net.nodes:
        role = n.spec.role
        if n.name in taken or role is Role.INPUT:
            continue
        if role is Role.VIEW:
            views.append(n)
            continue
        if role is Role.JOIN:
            joins.append(n)
            continue
        chain = _prologue_chain(n, consumers, taken, policy) if role is Role.PROLOGUE else None
        g = Group(0, chain or [n], n.inputs[0])
        taken.update(m.name for m in g.nodes)
        while True:
            nxt = consumers[g.nodes[-1].name]
            if len(nxt) == 1 and nxt[0].name not in taken and _can_absorb(g, nxt[0], consumers, position, policy):
                g.nodes.append(nxt[0])
                taken.add(nxt[0].name)
            else:
                break
        groups.append(g)

    # concat: branches write into their slice of one buffer, or are copied there
    slices: dict = {}
    copies: list = []
    for j in (joins if policy.concat_in_place else ()):
        off = 0
        seen: set = set()
        counts: dict = {}
        for b in j.inputs:
            counts[b.name] = counts.get(b.name, 0) + 1
        for b in j.inputs:
            in_place = (b.spec.role not in (Role.VIEW, Role.INPUT) and consumers[b.name] == [j]
                        and b.name not in seen and counts[b.name] == 1)
            if in_place:
                slices[b.name] = (j, off)
            else:
                copies.append((j, b, off))
            seen.add(b.name)
            off += _channels(b)

    order = [(position[g.last.name], 0, g) for g in groups]
    order += [(position[j.name], k + 1, Group(0, [], b, copy_into=j, copy_offset=off))
              for k, (j, b, off) in enumerate(copies)]
    order.sort(key=lambda t: (t[0], t[1]))
    ordered = []
    for i, (_, _, g) in enumerate(order, 1):
        g.index = i
        ordered.append(g)
    p = Plan(net, ordered, views, joins, slices)
    for g in ordered:
        for n in g.nodes:
            p.group_of[n.name] = g
    return p


def kernel_column(net, policy: Policy) -> dict:
    """{layer name: kernel} for the `kernel` column of `cnnc shapes`."""
    p = plan(net, policy)
    col = {n: f"k{g.index}" for n, g in p.group_of.items()}
    for v in p.views:
        col[v.name] = "view"
    for j in p.joins:
        col[j.name] = "join"
    return col


def format_plan(net, policy: Policy) -> str:
    """The plan as a table: each kernel and the layers it holds."""
    p = plan(net, policy)
    rows = [("kernel", "layers", "lines", "output")]
    position = {n.name: i for i, n in enumerate(net.nodes)}
    items = [(position[(g.copy_into or g.last).name], "k", g) for g in p.groups]
    items += [(position[v.name], "v", v) for v in p.views]
    items += [(position[j.name], "j", j) for j in p.joins]
    items.sort(key=lambda t: (t[0], t[1] != "k", t[2].index if t[1] == "k" else 0))
    for _, what, x in items:
        if what == "k":
            lines = sorted({n.line for n in x.nodes} or {x.copy_into.line})
            where = ", ".join(str(ln) for ln in lines)
            out = x.last.out if x.copy_into is None else x.source.out
            target = ""
            if x.copy_into is None and x.last.name in p.slices:
                j, off = p.slices[x.last.name]
                target = f" -> {j.name}[{off}:{off + _channels(x.last)}]"
            rows.append((f"k{x.index}", x.describe() + target, where, str(out)))
        elif what == "v":
            rows.append(("-", f"{x.name}: {x.kind}, a view (free)", str(x.line), str(x.out)))
        else:
            rows.append(("-", f"{x.name}: concat, branches write in place", str(x.line), str(x.out)))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    text = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    text.insert(1, "-" * len(text[0]))
    n_layers = len(net.layers)
    text.append(f"{p.kernels} kernel{'s' if p.kernels != 1 else ''} for {n_layers} layer{'s' if n_layers != 1 else ''}")
    return "\n".join(text)

