"""The typed layer graph: a DAG whose every edge carries Image(h, w, c) or Vector(n).

`build(program)` walks the AST once: it names every node (KIND_N, counted per kind,
`repeat` unrolled, each use of a definition expanded where it stands), turns blocks
into real structure (a `residual` add node, a `concat` node), joins named layers
(`from=NAME`, `add a b`), checks arguments against the layer registry and infers
every shape. Errors are collected, not thrown one at a time: a node whose input is
unknown (because of an earlier error) is skipped rather than blamed.
"""

from __future__ import annotations

from .errors import CnncError, Reporter, closest
from .limits import MAX_DEPTH, MAX_LAYERS, MAX_VALUES, count_of, input_problem, integer, shown
from .nogc import paused
from .layers import (ACTIVATION_NAMES, ALIASES, BLOCKS, KINDS, STATEMENTS, CollapseError, Image, LayerKind, Role,
                     ShapeError, parse_args, window)
from .syntax import Arg, Block, Definition, Layer, Program


class Node:
    """One layer (or block join) of the network."""

    __slots__ = ("name", "kind", "spec", "attrs", "inputs", "out", "line", "col", "params", "macs", "depth", "trace")

    def __init__(self, name, spec: LayerKind, attrs, inputs, line, col, depth: int = 0):
        self.name: str = name
        self.kind: str = spec.keyword
        self.spec = spec
        self.attrs: dict = attrs  # None when its arguments were wrong (already reported)
        self.inputs: list[Node] = inputs
        self.out = None                 # Image | Vector | None (unknown after an error)
        self.line, self.col = line, col
        self.params: dict = {}          # suffix -> shape, e.g. {"kernel": (3, 3, 1, 32)}
        self.macs: int = 0
        self.depth = depth              # how many residual/concat/scale blocks it is inside (for the table)
        self.trace: tuple = ()          # for a layer a use of a definition made: its diagnostics' notes

    @property
    def input(self) -> "Node":
        return self.inputs[0]

    @property
    def n_params(self) -> int:
        total = 0
        for shape in self.params.values():
            n = 1
            for d in shape:
                n *= d
            total += n
        return total

    @property
    def n_trainable(self) -> int:
        """Parameters training changes (all but the kind's `non_trainable` ones)."""
        if not self.spec.non_trainable:
            return self.n_params
        total = 0
        for suffix, shape in self.params.items():
            if suffix not in self.spec.non_trainable:
                n = 1
                for d in shape:
                    n *= d
                total += n
        return total

    @property
    def activation(self) -> str:
        return (self.attrs or {}).get("activation", "linear")

    def __repr__(self) -> str:
        return f"<{self.name}: {self.kind} -> {self.out}>"


class Network:
    """A parsed, shape-checked program."""

    def __init__(self, nodes, output, warnings, filename, program):
        self.nodes: list[Node] = nodes          # execution (topological) order, input first
        self.output: Node = output
        self.warnings = warnings                # list[Diagnostic]
        self.filename = filename
        self.program = program                  # the AST, kept for min-input search
        self._by_name = None
        self._consumers = None

    @property
    def input(self) -> Node:
        return self.nodes[0]

    @property
    def layers(self) -> list[Node]:
        return self.nodes[1:]

    @property
    def input_shape(self) -> tuple:
        return self.input.out.dims

    @property
    def output_shape(self) -> tuple:
        return self.output.out.dims

    def __getitem__(self, name: str) -> Node:
        if self._by_name is None:
            self._by_name = {n.name: n for n in self.nodes}
        return self._by_name[name]

    def consumer_map(self) -> dict:
        """node name -> the nodes that read it, in execution order (a node listed twice
        among another's inputs counts once)."""
        if self._consumers is None:
            out: dict = {n.name: [] for n in self.nodes}
            for n in self.nodes:
                for i in dict.fromkeys(n.inputs):
                    out[i.name].append(n)
            self._consumers = out
        return self._consumers

    def consumers(self, node: Node) -> list[Node]:
        return self.consumer_map()[node.name]

    def param_shapes(self) -> dict:
        """"LAYER.kernel" -> shape, in network order (the keys of model.params)."""
        return {f"{n.name}.{k}": s for n in self.nodes for k, s in n.params.items()}

    @property
    def total_params(self) -> int:
        return sum(n.n_params for n in self.nodes)

    @property
    def trainable_params(self) -> int:
        """Parameters that training changes (Keras's trainable weights: not batchnorm's mean and var)."""
        return sum(n.n_trainable for n in self.nodes)

    @property
    def total_macs(self) -> int:
        return sum(n.macs for n in self.nodes)

    def min_input(self) -> "tuple[int, int] | None":
        from .input_sizes import min_input
        return min_input(self)

    def input_rule(self) -> dict:
        """Which input sizes work, proved per axis: `--json`'s `input_rule` (cnnc/input_sizes.py)."""
        from .input_sizes import input_rule
        return input_rule(self)

    def summary(self, batch: "int | None" = None, device_memory: "int | str | None" = None,
                print_fn=None) -> None:
        """Print the table `cnnc shapes` prints, as Keras's `model.summary()` does: to standard
        output, or one line at a time to `print_fn`. `summary_text()` (or `str(net)`) returns it.

        `batch` adds each layer's output memory and the peak memory of a forward pass at that
        batch; `device_memory` (bytes, or a size such as "80GB") the largest batch that fits
        on a GPU of that size.
        """
        text = self.summary_text(batch, device_memory)
        if print_fn is None:
            print(text)
        else:
            for line in text.split("\n"):
                print_fn(line)

    def summary_text(self, batch: "int | None" = None, device_memory: "int | str | None" = None) -> str:
        """The table of `summary()`, as a string."""
        from .summary import format_table

        return format_table(self, batch=_batch(batch), device_memory=_device_memory(device_memory, batch))

    def __str__(self) -> str:
        return self.summary_text()

    def __repr__(self) -> str:
        return f"<Network {self.filename}: {self.input_shape} -> {self.output_shape}, {len(self.layers)} layers>"


def _batch(batch):
    if batch is None:
        return None
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ValueError(f"batch must be a positive integer, got {batch!r}")
    return batch


def _device_memory(size, batch):
    if size is None:
        return None
    if batch is None:
        raise ValueError("device_memory needs a batch (summary(batch=..., device_memory=...))")
    if isinstance(size, str):
        from .memory import parse_size

        value = parse_size(size)
        if value is None:
            raise ValueError(f"device_memory must be a size such as '80GB' or a number of bytes, got {size!r}")
        return value
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"device_memory must be a positive number of bytes or a size such as '80GB', got {size!r}")
    return size


def _written(spec, args) -> "tuple | None":
    """What a statement outside definitions reads: its kind and its arguments as written.
    Statements written alike (`batchnorm`, `conv 64 3x3 padding=same` a hundred times)
    read alike, so their arguments are parsed once (an error is still reported at each,
    as nothing that reads with an error is kept). None for a list value (kept apart)."""
    key = [spec.keyword]
    for a in args:
        v = a.value
        if v.kind == "list":
            return None
        key += (a.key, v.kind, v.text)
    return tuple(key)


class _Full(str):
    """A layer's whole name, given from outside its statement: the label of a use, which names
    the layer its body ends in (so no prefix or repeat copy is added to it)."""


class _Builder:
    def __init__(self, program: Program, report: Reporter, input_shape=None):
        self.program = program
        self.report = report
        self.nodes: list[Node] = []
        self.counters: dict[str, int] = {}
        self.taken = _explicit_names(program.statements)  # auto names skip these (repeat copies included)
        self.seen: dict[str, Node] = {}
        self.input_override = input_shape
        self.parsed: dict = {}     # statement key -> its attrs (None: wrong, reported)
        self.collapses: list = []  # (diagnostic index) of "image collapses" errors, for the min-input hint
        self.depth = 0             # blocks (residual, shortcut, concat branches) around the current statement
        self.unrolled: dict = {}   # id(repeat block) -> layers its body unrolls to (_Structure)
        self.defs: dict = {}       # definition name -> definitions.Def (_Structure)
        self.defined: set = set()  # the definitions met so far, at the top level
        self.frame = None          # the use of a definition being expanded (definitions.Frame), or None
        self.rename = None         # (statement, label): the statement whose layer a use's label names
        self.active: set = set()   # definitions being expanded (a recursive one is refused earlier)
        self.uses: dict = {}       # definition name -> its unlabelled uses so far (their DEF_N prefixes)
        self.expansions = 0
        self.evaluated: dict = {}  # statement key -> its arguments as read in that frame (None: wrong)
        self.read_well: dict = {}  # (statement, parameters' values) -> arguments or attrs read without error
        self.bound: dict = {}      # use key -> the parameters' values (None: wrong)
        self.scopes: list = [{}]   # names visible here (label or layer name -> Node), innermost last
        self.missing: set = set()  # (statement key, name) whose lookup failed (reported once)
        self.labels = _label_lines(program.statements)   # every label written -> its first line
        self.expand = None         # definitions.expand, once a use is met
        self.inferred: dict = {}   # (id of the attrs read, input dims) -> (out, params, macs): infer()

    # -- keys, names and scopes --------------------------------------------------
    def key(self, s):
        """What a statement's arguments and errors are cached by: the statement, and the use
        it is read in (its parameters' values), so each is reported once per use."""
        return id(s) if self.frame is None else (id(s), self.frame.key)

    def values_key(self, s, what: str):
        """What a statement of a use reads apart from where the use is: the parameters'
        values. What one use reads without error, every use with the same values reads
        alike, so it is worked out once (an error is reported per use, with its note)."""
        return None if self.frame is None else (what, id(s), self.frame.values)

    @staticmethod
    def full(label) -> bool:
        return isinstance(label, _Full)

    @staticmethod
    def full_name(name: str) -> str:
        return _Full(name)

    def label_of(self, s):
        """The statement's label; for the statement a use's label names, that name (_Full)."""
        r = self.rename
        return r[1] if r is not None and r[0] is s else s.name

    def name_for(self, kind: str, label, line, col, copy) -> str:
        if isinstance(label, _Full):
            name = str(label)
        elif label is not None:
            base = label if self.frame is None else f"{self.frame.prefix}_{label}"
            name = base if copy is None else f"{base}_{copy}"
        else:
            while True:
                self.counters[kind] = self.counters.get(kind, 0) + 1
                name = f"{kind}_{self.counters[kind]}"
                if name not in self.taken:
                    break
        if name in self.seen:
            first = self.seen[name]
            where = "it names the network's input" if first.kind == "input" else f"first used at line {first.line}"
            self.report.error(f"duplicate name '{name}' ({where}); names must be unique", line, col)
        return name

    def add(self, node: Node) -> Node:
        if len(self.nodes) > MAX_NODES:   # the input and MAX_NODES layers (uses counted as they unroll)
            self.report.error(f"the program unrolls to more than {MAX_NODES:,} layers", node.line, node.col)
            raise _TooBig
        self.seen.setdefault(node.name, node)
        self.nodes.append(node)
        self.scopes[-1][node.name] = node
        if self.frame is not None:
            node.trace = self.report.notes
        return node

    def bind(self, s, node: Node) -> None:
        """The statement's label, as written, names `node` in the current block."""
        if s.name is not None:
            self.scopes[-1][s.name] = node

    def lookup(self, s, v) -> "Node | None":
        """The earlier layer or join that the word `v` names, visible from here; None after
        an error (reported once per statement and name)."""
        name = v.text
        if v.kind == "word":
            for scope in reversed(self.scopes):
                node = scope.get(name)
                if node is not None:
                    return node
        key = (self.key(s), name)
        if key in self.missing:
            return None
        self.missing.add(key)
        line, col = v.line, v.col
        if v.kind != "word":
            self.report.error(f"expected the name of an earlier layer, got '{shown(name)}'", line, col)
            return None
        first = self.labels.get(name)
        made = self.seen.get(name)
        if made is not None and made.trace:
            use_line, _, note = made.trace[-1]   # the outermost use: "in use of 'DEF'"
            defname = note.split("'")[1]
            self.report.error(f"'{shown(name)}' is made inside the use of '{defname}' at line {use_line}; from "
                              f"outside, a use is reached through its own label (`NAME: {defname} ...`), which "
                              f"names its output", line, col)
        elif name in self.seen or (first is not None and first < line):
            where = f" (line {first})" if first is not None else ""
            self.report.error(f"'{shown(name)}' is not visible here: it is inside a block{where}; a name is seen "
                              f"in its own block and the blocks inside it", line, col)
        elif first is not None:
            self.report.error(f"'{shown(name)}' is read before it exists: it is defined at line {first}, "
                              f"after this statement", line, col)
        else:
            visible = [n for scope in self.scopes for n in scope]
            guess = closest(name, visible[-5000:])
            hint = f"; did you mean '{guess}'?" if guess else ""
            self.report.error(f"unknown name '{shown(name)}': no earlier layer or join is called that{hint}",
                              line, col)
        return None

    def take_from(self, s, args, x):
        """`from=NAME` among the arguments: (the other arguments, the node it names), or
        (args, x) without one; (args, None) after an error (reported)."""
        if not any(a.key == "from" for a in args):
            return args, x
        rest = []
        seen = False
        for a in args:
            if a.key != "from":
                rest.append(a)
            elif seen:
                self.statement_error(("from twice", self.key(s)), "option 'from' is given twice", a.line, a.col)
                x = None
            else:
                seen = True
                x = self.lookup(s, a.value)
        return rest, x

    def broken(self, s) -> bool:
        """A placeholder for a statement with a syntax error (already reported)."""
        return bool(self.program.broken) and isinstance(s, Layer) and (s.kind_line, s.kind_col) in self.program.broken

    def unknown(self, x: Node, line, col) -> Node:
        """What follows a statement that could not be read: a node of unknown shape, so that
        later layers are checked for their own mistakes but not blamed for its."""
        return Node("?", KINDS["input"], None, [x], line, col, self.depth)

    # -- statements -------------------------------------------------------------
    def build(self) -> Node:
        stmts = list(self.program.statements)
        x = self.input_node(stmts)
        return self.body(stmts, x, None)

    def input_node(self, stmts) -> Node:
        spec = KINDS["input"]
        at = next((i for i, s in enumerate(stmts) if not isinstance(s, Definition)), None)
        first = stmts[at] if at is not None else None
        shape = None
        line, col = (first.line, first.col) if first else (1, 1)
        given = isinstance(first, Layer) and (first.kind == "input" or self.broken(first))
        if isinstance(first, Layer) and first.kind == "input":
            stmts.pop(at)
            args = self.args_of(first)
            attrs = self.attrs(spec, first, None, args) if args is not None else None
            shape = attrs["shape"] if attrs else None
            if first.name:
                self.report.error("the input cannot be named", first.line, first.col)
        elif given:   # the first statement could not be read: maybe it was the input
            stmts.pop(at)
        if self.input_override is not None:
            shape = tuple(self.input_override)
        node = self.add(Node("input", spec, {"shape": shape}, [], line, col))
        if shape is None and not given:
            self.report.error("missing input shape: start the program with `input HxWxC` "
                              "(e.g. input 28x28x1) or pass the shape (--input HxWxC, or input=(H, W, C))",
                              line, col)
        if shape is not None:
            node.out = Image(*shape)
        return node

    def body(self, stmts, x: Node, copy) -> Node:
        i = 0
        while i < len(stmts):
            s = stmts[i]
            if isinstance(s, Layer):
                x = self.layer(s, x, copy)
            elif isinstance(s, Definition):
                if self.frame is None and self.depth == 0 and self.defs.get(s.name) is not None \
                        and self.defs[s.name].node is s:
                    self.defined.add(s.name)
            elif s.kind == "residual":
                shortcut = stmts[i + 1] if i + 1 < len(stmts) and isinstance(stmts[i + 1], Block) \
                    and stmts[i + 1].kind == "shortcut" else None
                x = self.residual(s, shortcut, x, copy)
                i += shortcut is not None
            elif s.kind in ("concat", "add"):
                x = self.branches(s, x, copy)
            elif s.kind == "repeat":
                x = self.repeat(s, x, copy)
            elif s.kind == "scale":
                x = self.scale(s, x, copy)
            elif s.kind == "shortcut":
                self.statement_error(s, "shortcut { ... } must follow a residual { ... } block", s.kind_line, s.kind_col)
            elif s.kind == "branch":
                self.statement_error(s, "branch { ... } belongs inside concat { ... } or add { ... }",
                                     s.kind_line, s.kind_col)
            i += 1
        return x

    def args_of(self, s):
        """The statement's arguments as read here: a definition's parameters replaced by their
        values and expressions computed (definitions.evaluate); None after an error."""
        if self.frame is None and not _has_expr(s.args):
            return s.args
        key = self.key(s)
        if key not in self.evaluated:
            self.evaluated[key] = self.read_once(self.values_key(s, "args"), self.computed_args, s)
        return self.evaluated[key]

    def computed_args(self, s):
        """args_of's work: each argument's value computed in the frame (None after an error)."""
        from .definitions import evaluate   # only programs with definitions or expressions need it

        env = self.frame.env if self.frame is not None else None
        out = []
        for a in s.args:
            v = evaluate(a.value, env, self.report.error)
            if v is None:
                return None
            out.append(a if v is a.value else Arg(a.key, v, a.line, a.col))
        return out

    def attrs(self, spec, s, label, args):
        """The statement's attrs (None if wrong), parsed and reported once per written
        statement (and use) however many times a repeat copies it."""
        key = self.key(s)
        if key not in self.parsed:
            common = self.values_key(s, "attrs") if self.frame is not None else _written(spec, args)
            self.parsed[key] = self.read_once(common, self.parsed_attrs, spec, s, args, label)
        attrs = self.parsed[key]
        return dict(attrs) if attrs is not None else None

    def parsed_attrs(self, spec, s, args, label):
        """attrs' work: parse_args, its errors at the argument (or else at the keyword)."""
        def err(msg, line, col):
            self.report.error(msg, line if line is not None else s.kind_line,
                              col if col is not None else s.kind_col)
        return parse_args(spec, args, err, label)

    def read_once(self, common, read, *args):
        """`read(*args)`, or what it gave for an earlier statement with the same `common` key
        (None: no key). Only what reads without a diagnostic is kept: a statement that reports
        is read again where it stands, so that each of its errors is reported there."""
        out = self.read_well.get(common) if common is not None else None
        if out is None:
            said = len(self.report.diagnostics)
            out = read(*args)
            if out is not None and common is not None and len(self.report.diagnostics) == said:
                self.read_well[common] = out
        return out

    def statement_error(self, s, message, line, col) -> None:
        key = s if isinstance(s, tuple) else id(s)
        if key not in self.parsed:
            self.parsed[key] = None
            self.report.error(message, line, col)

    def layer(self, s: Layer, x: Node, copy) -> Node:
        if self.broken(s):
            return self.unknown(x, s.line, s.col)
        if self.frame is not None and s.kind in self.frame.env:
            return self.parameter(s, x, copy)
        spec = KINDS.get(s.kind)
        if spec is None and s.kind in self.defs:
            return self.use(s, self.defs[s.kind], x, copy)
        if spec is not None and spec.named:
            return self.named_join(s, spec, x, copy)
        if spec is None or spec.joins:
            message, guess = unknown_statement(s.kind, self.defs)
            self.statement_error(s, message, s.kind_line, s.kind_col)
            if guess in KINDS and not KINDS[guess].joins:
                return self.guessed(s, KINDS[guess], x, copy)
            if "; the activations" in message:
                return x   # an activation keeps the shape: later layers are checked as they are
            return self.unknown(x, s.line, s.col)
        if s.kind == "input":
            self.statement_error(s, "input must be the first statement (and appear once)", s.kind_line, s.kind_col)
            return x
        args, start = self.args_of(s), x
        if args is not None:
            args, start = self.take_from(s, args, x)
        if args is None or start is None:
            return self.unknown(x, s.line, s.col)
        name = self.name_for(s.kind, self.label_of(s), s.line, s.col, copy)
        node = self.add(Node(name, spec, self.attrs(spec, s, name, args), [start], s.line, s.col, self.depth))
        self.bind(s, node)
        self.infer(node, self.parsed[self.key(s)])
        return node

    def guessed(self, s: Layer, spec, x: Node, copy) -> Node:
        """An unknown statement read as the statement it most likely is (`covn` as conv), so
        that the shapes after it are what the fixed program gives. Its arguments are not
        reported again: if they do not fit that statement, its shape is unknown."""
        name = self.name_for(spec.keyword, self.label_of(s), s.line, s.col, copy)
        args = self.args_of(s)
        if args is not None:
            args = [a for a in args if a.key != "from"]
        attrs = parse_args(spec, args, lambda *a: None, name) if args is not None else None
        node = self.add(Node(name, spec, attrs, [x], s.line, s.col, self.depth))
        self.bind(s, node)
        self.infer(node)
        return node

    def use(self, s: Layer, d, x: Node, copy) -> Node:
        """A use of a definition, expanded where it stands (definitions.expand, imported once:
        an import statement costs a look-up at every one of 100,000 uses)."""
        if self.expand is None:
            from .definitions import expand

            self.expand = expand
        return self.expand(self, s, d, x, copy)

    def parameter(self, s: Layer, x: Node, copy) -> Node:
        """A parameter standing alone as a statement (definitions.parameter_statement)."""
        from .definitions import parameter_statement

        return parameter_statement(self, s, x, copy)

    def named_join(self, s: Layer, spec, x: Node, copy) -> Node:
        """`add a b …`, `concat a b …`, `multiply a b`: a join of earlier outputs by name."""
        args = self.args_of(s)
        if args is None:
            return self.unknown(x, s.line, s.col)
        least, most = spec.arity
        inputs, names, ok = [], [], True
        for a in args:
            if a.key is not None:
                self.statement_error(("option", self.key(s), a.key),
                                     f"{s.kind} joins earlier layers by name and takes no options, got "
                                     f"'{shown(a.key)}=' (usage: {spec.usage})", a.line, a.col)
                ok = False
                continue
            node = self.lookup(s, a.value)
            if node is None:
                ok = False
            else:
                inputs.append(node)
                names.append(f"'{a.value.text}'")
        count = sum(a.key is None for a in args)
        if count < least or (most is not None and count > most):
            want = f"exactly {least}" if most == least else f"at least {least}"
            self.statement_error(s, f"{s.kind} joins {want} earlier layers by name, got {count} (usage: {spec.usage})",
                                 s.kind_line, s.kind_col)
            ok = False
        if not ok:
            return self.unknown(x, s.line, s.col)
        order = spec.arrange([n.out for n in inputs])
        inputs, names = [inputs[i] for i in order], [names[i] for i in order]
        name = self.name_for(s.kind, self.label_of(s), s.line, s.col, copy)
        node = self.add(Node(name, spec, {}, inputs, s.line, s.col, self.depth))
        self.bind(s, node)
        self.join(node, names, s.line, s.col)
        return node

    def join(self, node: Node, sides, line, col) -> None:
        """The output of a join node from its inputs (an error when they do not agree)."""
        types = [i.out for i in node.inputs]
        if any(t is None for t in types):
            return
        try:
            node.out = node.spec.join(types, sides)
        except ShapeError as e:
            self.report.error(f"{node.name}: {e}", line, col)
            return
        too_large = _too_large(node, None)
        if too_large:
            self.report.error(f"{node.name}: {too_large}", line, col)
            node.out = None

    def infer(self, node: Node, read=None) -> None:
        """The node's output, weights and multiply-adds from its input's type. `read`: the
        attrs object its statement's arguments read to (attrs() shares one among statements
        written alike); what such a statement gives on an input, without a diagnostic, every
        one gives on that input, so it is worked out once (a long program repeats its blocks)."""
        inp = node.inputs[0].out
        if inp is None or (node.attrs is None):
            return
        if read is not None:
            seen = (id(read), inp.dims)   # (`read` lives as long as the builder: attrs() keeps it)
            known = self.inferred.get(seen)
            if known is not None:
                node.out, params, node.macs = known
                node.params = dict(params)
                return
        said = len(self.report.diagnostics)
        try:
            node.out = node.spec.infer(inp, node.attrs)
        except ShapeError as e:
            if isinstance(e, CollapseError):
                self.collapses.append(len(self.report.diagnostics))
            self.report.error(f"{node.name}: {e}", node.line, node.col)
            return
        node.params = node.spec.params(inp, node.out, node.attrs)
        too_large = _too_large(node, inp)
        if too_large:
            self.report.error(f"{node.name}: {too_large}", node.line, node.col)
            node.out, node.params = None, {}
            return
        node.macs = node.spec.macs(inp, node.out, node.attrs)
        if isinstance(inp, Image):
            dh, dw = node.spec.dropped_edges(inp, node.attrs)
            if dh or dw:   # rows of zeros that a zeropad just added are not the image's own
                read = None   # (what it says depends on the layer before: not kept)
                source = node.inputs[0]
                _, bottom, _, right = source.spec.padding_added(source.attrs) if source.attrs else (0, 0, 0, 0)
                dh, dw = max(dh - bottom, 0), max(dw - right, 0)
            if dh or dw:
                self.report.warning(f"{node.name}: {node.kind} on {inp.h}x{inp.w} drops "
                                    f"{_drop_words(dh, dw)} (output {node.out.h}x{node.out.w}); "
                                    f"use padding=same to keep them", node.line, node.col)
        if read is not None and len(self.report.diagnostics) == said:
            self.inferred[seen] = (node.out, dict(node.params), node.macs)

    # -- blocks -------------------------------------------------------------------
    def block_options(self, s: Block, spec, x: Node, label=None):
        """A block's options: (the node it reads -- its input, or `from=NAME` --, its join's
        attrs). (None, None) after an error (reported)."""
        args = self.args_of(s)
        if args is not None:
            args, x = self.take_from(s, args, x)
        if args is None or x is None:
            return None, None
        if spec is None or not spec.options:
            for a in args:
                what = f"option '{shown(a.key)}'" if a.key is not None else f"argument '{shown(a.value.text)}'"
                self.statement_error(("block option", self.key(s), a.line, a.col),
                                     f"{s.kind} {{ }} takes no {what} (only from=NAME)", a.line, a.col)
            return x, {}
        attrs = self.attrs(spec, s, label or s.kind, args)
        return x, attrs if attrs is not None else {n: p.default for n, p in spec.options.items()}

    def nested(self, stmts, x: Node, copy) -> Node:
        """A block's body: built in a scope of its own (its names are not seen after it)."""
        self.scopes.append({})
        try:
            return self.body(stmts, x, copy)
        finally:
            self.scopes.pop()

    def residual(self, s: Block, shortcut: "Block | None", x: Node, copy) -> Node:
        spec = KINDS["residual"]
        label = self.label_of(s)
        start, attrs = self.block_options(s, spec, x, label)
        if start is None:
            return self.unknown(x, s.line, s.col)
        x = start
        name = self.name_for("residual", label, s.line, s.col, copy)
        self.depth += 1
        first = len(self.nodes)
        y = self.nested(s.body, x, copy)
        block = self.nodes[first:]
        sc = x
        if shortcut is not None:
            start, _ = self.block_options(shortcut, None, x)
            sc = self.nested(shortcut.body, start, copy) if start is not None else self.unknown(x, s.line, s.col)
        self.depth -= 1
        node = self.add(Node(name, spec, attrs, [y, sc], s.line, s.col, self.depth))
        self.bind(s, node)
        a, b = y.out, sc.out
        if a is None or b is None:
            return node
        sides = ("the block", "the shortcut") if shortcut is not None else ("the block", "its input")
        try:
            node.out = spec.join([a, b], sides)
        except ShapeError as e:
            hint = _same_padding_hint(block, x, y, b, shortcut is not None)
            if hint is None:
                hint = _shortcut_hint(a, b) if shortcut is None else \
                    "; make the block and the shortcut end in the same shape"
            self.report.error(f"{name}: {e}{hint}", s.line, s.col)
        return node

    def branches(self, s: Block, x: Node, copy) -> Node:
        """`concat { branch … }` and `add { branch … }`: the branches, each on the block's
        input (or its own `from=`), joined."""
        spec = KINDS[s.kind]
        label = self.label_of(s)
        start, _ = self.block_options(s, None, x)
        if start is None:
            return self.unknown(x, s.line, s.col)
        x = start
        name = self.name_for(s.kind, label, s.line, s.col, copy)
        outs = []
        self.depth += 1
        for b in s.body:
            if isinstance(b, Block) and b.kind == "branch":
                start, _ = self.block_options(b, None, x)
                outs.append(self.nested(b.body, start, copy) if start is not None else self.unknown(x, b.line, b.col))
            elif self.broken(b):
                outs.append(self.unknown(x, b.line, b.col))
            elif not isinstance(b, Definition):   # (a definition here is reported as such)
                self.statement_error(b, f"{s.kind} {{ ... }} holds only branch {{ ... }} blocks", b.kind_line,
                                     b.kind_col)
        self.depth -= 1
        if not outs:
            self.statement_error(s, f"{s.kind} needs at least one branch {{ ... }}", s.kind_line, s.kind_col)
            return x
        node = self.add(Node(name, spec, {}, outs, s.line, s.col, self.depth))
        self.bind(s, node)
        self.join(node, [f"branch {i}" for i in range(1, len(outs) + 1)] if s.kind != "concat" else None,
                  s.line, s.col)
        return node

    def scale(self, s: Block, x: Node, copy) -> Node:
        """out = x · gate, where the block maps x to the gate (a vector of x's channels)."""
        spec = KINDS["scale"]
        label = self.label_of(s)
        start, _ = self.block_options(s, None, x)
        if start is None:
            return self.unknown(x, s.line, s.col)
        x = start
        name = self.name_for("scale", label, s.line, s.col, copy)
        self.depth += 1
        gate = self.nested(s.body, x, copy)
        self.depth -= 1
        node = self.add(Node(name, spec, {}, [x, gate], s.line, s.col, self.depth))
        self.bind(s, node)
        if x.out is None or gate.out is None:
            return node
        try:
            node.out = spec.join([x.out, gate.out])
        except ShapeError as e:
            self.report.error(f"{name}: {e}", s.line, s.col)
        return node

    def repeat(self, s: Block, x: Node, copy) -> Node:
        start, _ = self.block_options(s, None, x)
        if start is None:
            return self.unknown(x, s.line, s.col)
        x = start
        n = self.repeat_count(s)
        if self.unrolled.get(id(s)) == 0:
            return x  # a body of no layers (empty, or repeats of nothing): nothing to unroll, however often
        r = self.rename
        named = r is not None and r[0] is s   # a use's label names the last layer of the last copy
        try:
            for i in range(n or 1):
                if named:
                    from .definitions import output_statement

                    self.rename = (output_statement(s.body), r[1]) if i + 1 == (n or 1) else None
                x = self.nested(s.body, x, (i + 1) if copy is None else f"{copy}_{i + 1}")
        finally:
            self.rename = r
        return x

    def repeat_count(self, s: Block) -> "int | None":
        """repeat's N: a literal one was checked by _Structure; one computed here (a parameter,
        an expression) is checked once per use."""
        c = s.count
        if c is None or (self.frame is None and c.kind in ("number", "size")):
            return _repeat_count(s)
        key = ("count", self.key(s))
        if key not in self.evaluated:
            from .definitions import evaluate

            v = evaluate(c, self.frame.env if self.frame is not None else None, self.report.error)
            n = integer(v.text) if v is not None and v.kind == "number" else None
            if v is not None and (n is None or not 0 < n <= MAX_NODES):
                if n is not None and n > MAX_NODES:
                    self.report.error(f"repeat count must be at most {MAX_NODES:,} (the most layers a program may "
                                      f"have), got {shown(v.text)}", c.line, c.col)
                else:
                    self.report.error(f"repeat count must be a positive integer, got '{shown(v.text)}'", c.line, c.col)
                n = None
            self.evaluated[key] = n
        return self.evaluated[key]


def unknown_statement(word: str, defs=()) -> tuple:
    """(the message for an unknown statement `word`, the statement it most likely means)."""
    guess = guess_statement(word, tuple(defs))
    hint = f"; did you mean '{guess}'?" if guess else f"; statements are {', '.join(STATEMENTS)}"
    if word.lower() in ("activation", "leakyrelu", "selu", "prelu"):
        hint = (f"; the activations are {', '.join(ACTIVATION_NAMES)}, "
                f"written alone or as ACT on conv/dense")
    return f"unknown statement '{shown(word)}'{hint}", guess


def _has_expr(args) -> bool:
    for a in args:
        k = a.value.kind
        if k == "expr" or (k == "list" and any(i.kind == "expr" for i in a.value.items)):
            return True
    return False


def guess_statement(word: str, extra: tuple = ()) -> "str | None":
    """The statement or block a misspelt or Keras-named `word` most likely means, or None.

    Keras and PyTorch names first (ALIASES), then the closest spelling -- but never one
    that pools the other way: `globalmaxpool` is not `globalpool`, which averages."""
    candidates = STATEMENTS + BLOCKS + extra
    alias = ALIASES.get(word.lower().replace("_", ""))
    if alias in candidates:
        return alias
    lower = word.lower()
    wants = "max" if "max" in lower else "avg" if ("avg" in lower or "average" in lower or "mean" in lower) else None
    if wants is not None:
        candidates = tuple(c for c in candidates if getattr(KINDS.get(c), "reduce", wants) in (wants, ""))
    return closest(word, candidates)


def _drop_words(dh: int, dw: int) -> str:
    def rows(n, what):
        return f"the last {what}" if n == 1 else f"the last {n} {what}s"
    if dh and dw:
        if dh == dw == 1:
            return "the last row and column"
        return f"{rows(dh, 'row')} and {rows(dw, 'column')}"
    return rows(dh, "row") if dh else rows(dw, "column")


MAX_NODES = MAX_LAYERS   # a program may unroll to at most this many layers (cnnc/limits.py)


def _too_large(node: Node, inp) -> "str | None":
    """Why `node` (its output, weights, padded input) is larger than cnnc/limits.py allows, or None."""
    n = count_of(node.out.dims)
    if n > MAX_VALUES:
        return (f"its output {node.out} would hold {n:,} numbers per image; a value between layers "
                f"may hold at most {MAX_VALUES:,}")
    for suffix, shape in node.params.items():
        n = count_of(shape)
        if n > MAX_VALUES:
            return (f"its {suffix} {'x'.join(map(str, shape))} would hold {n:,} weights; one weight tensor "
                    f"may hold at most {MAX_VALUES:,}")
    pads = getattr(node.spec, "pads", None)  # windows (conv, pools) read a padded image
    if pads is not None and isinstance(inp, Image):
        t, b, left, r = pads(inp, node.attrs)
        padded = (inp.h + t + b, inp.w + left + r, inp.c)
        n = count_of(padded)
        if n > MAX_VALUES:
            return (f"its padding makes the padded input {'x'.join(map(str, padded))}, {n:,} numbers per image; "
                    f"at most {MAX_VALUES:,} are allowed")
    return None


def _repeat_count(s: Block) -> "int | None":
    """The count of `repeat N`, or None when it is missing or not an integer in 1..MAX_NODES."""
    c = s.count
    n = integer(c.text) if c is not None and c.kind == "number" else None
    if n is None or not 0 < n <= MAX_NODES:
        return None  # _Structure (or, for a computed count, the builder) reports it
    return n


class _Structure:
    """Checks that need no shapes, once per written statement (not per repeat copy or use).

    `check(stmts)` returns (how many nodes `stmts` unrolls to, how deep blocks and uses of
    definitions nest in it), raising _TooBig past MAX_NODES or MAX_DEPTH: a use counts the
    layers its definition makes, so definitions that use each other many times over are
    refused here, before anything is built. It reports nesting too deep, counts on blocks
    other than repeat, names on blocks that cannot carry one, and for definitions
    (definitions.read_definition) their names and parameters, a definition inside a block, a
    use before the definition, a definition that uses itself or a later one, and unknown
    statements in bodies (which are built only when used). `unrolled` gets id(repeat block)
    -> the layers its body unrolls to; `defs` the definitions (name -> Def); `reported` the
    ids of statements whose error is reported here, which the builder does not repeat.
    """

    def __init__(self, program: Program, report: Reporter, unrolled: dict):
        self.report, self.unrolled = report, unrolled
        self.defs: dict = {}
        self.all: dict = {}
        for s in program.statements:
            if isinstance(s, Definition):
                self.all.setdefault(s.name, s)
        self.current = None      # the Def whose body is being checked
        self.reported: set = set()

    def too_many(self, s) -> None:
        where = f"one use of '{self.current.name}' makes" if self.current is not None else "the program unrolls to"
        self.report.error(f"{where} more than {MAX_NODES:,} layers", s.kind_line, s.kind_col)
        raise _TooBig

    def too_deep(self, s, use: bool) -> None:
        what = "blocks and uses of definitions are" if use else "blocks are"
        self.report.error(f"{what} nested more than {MAX_DEPTH} deep", s.kind_line, s.kind_col)
        raise _TooBig

    def check(self, stmts, depth: int = 0) -> tuple:
        report = self.report
        total, deepest = 0, depth
        for s in stmts:
            if isinstance(s, Definition):
                self.definition(s, depth)
                continue
            if isinstance(s, Layer):
                # a parameter of the definition standing alone (`act`) is the activation it is bound to
                param = self.current is not None and any(p.name == s.kind for p in self.current.params)
                d = self.defs.get(s.kind) if s.kind not in KINDS and not param else None
                if d is not None and d is self.current:
                    d = None   # a definition that uses itself
                if d is None and s.kind not in KINDS and not param:
                    self.not_a_use(s)
                if d is not None and not d.broken:
                    if depth + d.depth > MAX_DEPTH:
                        self.too_deep(s, True)
                    total += d.size
                    deepest = max(deepest, depth + d.depth)
                else:
                    total += s.kind != "input"  # the input is not one of the layers
                if total > MAX_NODES:
                    self.too_many(s)
                continue
            if depth >= MAX_DEPTH:
                self.too_deep(s, False)
            if s.count is not None and s.kind != "repeat":
                report.error(f"{s.kind} takes no count (only repeat N does)", s.count.line, s.count.col)
            literal = s.count is None or s.count.kind in ("number", "size")
            if s.kind == "repeat" and literal and _repeat_count(s) is None:
                n = integer(s.count.text) if s.count is not None and s.count.kind == "number" else None
                if s.count is None:
                    report.error("repeat needs a count: repeat N { ... }", s.kind_line, s.kind_col)
                elif n is not None and n > MAX_NODES:
                    report.error(f"repeat count must be at most {MAX_NODES:,} (the most layers a program may have), "
                                 f"got {shown(s.count.text)}", s.count.line, s.count.col)
                else:
                    report.error(f"repeat count must be a positive integer, got '{shown(s.count.text)}'",
                                 s.count.line, s.count.col)
            if s.name and s.kind in ("shortcut", "branch", "repeat"):
                what = {"shortcut": "name the residual instead (NAME: residual { ... } shortcut { ... })",
                        "branch": "name the concat instead (NAME: concat { branch ... })",
                        "repeat": "name the layers inside it; each copy gets NAME_1, NAME_2, ..."}[s.kind]
                report.error(f"a {s.kind} block cannot be named: {what}", s.line, s.col)
            inner, deep = self.check(s.body, depth + 1)
            deepest = max(deepest, deep)
            if s.kind == "repeat":
                self.unrolled[id(s)] = inner
                # a count computed from a parameter is not known yet: once here, checked as it unrolls
                total += inner * ((_repeat_count(s) or 1) if literal else 1)
            else:  # a block with a join (residual, concat, add, scale) adds that node; shortcut and branch none
                total += inner + (s.kind in KINDS and KINDS[s.kind].joins)
            if total > MAX_NODES:
                self.too_many(s)
        return total, deepest

    def not_a_use(self, s: Layer) -> None:
        from .definitions import not_a_use

        not_a_use(self, s)

    def error(self, s, message: str) -> None:
        if id(s) not in self.reported:
            self.reported.add(id(s))
            self.report.error(message, s.kind_line, s.kind_col)

    def definition(self, s: Definition, depth: int) -> None:
        from .definitions import check_definition

        check_definition(self, s, depth)


class _TooBig(Exception):
    pass


def _label_lines(stmts, out: "dict | None" = None) -> dict:
    """Every label written (in blocks and definitions too) -> the line it is first written on."""
    out = {} if out is None else out
    for s in stmts:
        if s.name is not None and not isinstance(s, Definition):
            out.setdefault(s.name, s.line)
        body = getattr(s, "body", None)
        if body:
            _label_lines(body, out)
    return out


def _explicit_names(stmts, copies=(None,)) -> set:
    """Every name the user chose, as the layers will carry it (NAME_i inside repeat).

    Copies are spelt out only where a name sits (a named statement unrolls to at most
    MAX_NODES layers), never for the repeats of a body without names. (Labels inside a
    definition's body are local to each use, named USE_LABEL: never a KIND_N.)"""
    names = set()
    for s in stmts:
        if isinstance(s, Definition):
            continue
        if s.name and not (isinstance(s, Block) and s.kind == "repeat"):  # a named repeat is an error
            names.update(s.name if c is None else f"{s.name}_{c}" for c in copies)
        if isinstance(s, Block) and _names_inside(s.body):
            inner = copies
            if s.kind == "repeat":
                n = _repeat_count(s) or 1
                inner = tuple((i + 1) if c is None else f"{c}_{i + 1}" for c in copies for i in range(n))
            names |= _explicit_names(s.body, inner)
    return names


def _names_inside(stmts) -> bool:
    return any((s.name and not isinstance(s, Definition) and not (isinstance(s, Block) and s.kind == "repeat"))
               or (isinstance(s, Block) and _names_inside(s.body)) for s in stmts)


def _softmax_warnings(nodes, output, report: Reporter) -> None:
    consumers: dict = {}
    for m in nodes:
        for i in m.inputs:
            consumers.setdefault(id(i), []).append(m)
    for n in nodes:
        if n.activation == "softmax" and n is not output:
            # a trailing dropout or flatten after the softmax changes nothing
            tail = n
            while True:
                nxt = consumers.get(id(tail), [])
                if len(nxt) == 1 and nxt[0].spec.role is Role.VIEW:
                    tail = nxt[0]
                    continue
                break
            if tail is not output:
                report.warning(f"{n.name}: softmax is not the last layer; it squashes what later layers see "
                               f"(use it only on the output, or use relu here)", n.line, n.col, n.trace)


def build(program: Program, input_shape=None, report: "Reporter | None" = None) -> Network:
    """The typed graph of `program`; raises CnncError with every error found."""
    with paused():
        return _build(program, input_shape, report)


def _build(program: Program, input_shape, report: "Reporter | None") -> Network:
    report = report or Reporter(program.filename)
    if input_shape is not None:
        input_shape = _check_input_shape(input_shape, program.filename)
    net = _analyse(program, input_shape, report)
    report.raise_if_errors()
    return net


def analyse(program: Program, report: Reporter) -> "Network | None":
    """The graph of `program` as far as it can be built, for tools that show what they can
    of a program being written (the language server): every error goes to `report` and
    nothing is raised; a node whose shape an error left unknown has `out` None. None when
    the program is too large to build (reported)."""
    with paused():
        return _analyse(program, None, report)


def _analyse(program: Program, input_shape, report: Reporter) -> "Network | None":
    unrolled: dict = {}
    structure = _Structure(program, report, unrolled)
    try:
        structure.check(program.statements)
    except _TooBig:
        return None
    b = _Builder(program, report, input_shape)
    b.unrolled, b.defs = unrolled, structure.defs
    b.parsed.update(dict.fromkeys(structure.reported))
    try:
        output = b.build()
    except _TooBig:   # reported: the program is too large to build
        report.notes = ()
        return None
    report.notes = ()
    if not report.errors:
        _softmax_warnings(b.nodes, output, report)
    else:
        _add_min_input_hint(b, report)
    warnings = sorted(report.warnings, key=lambda d: (d.line, d.col))
    return Network(b.nodes, output, warnings, program.filename, program)


def _add_min_input_hint(b: _Builder, report: Reporter) -> None:
    """When the input's size is all that is wrong -- every error is a collapse, or a join
    whose sides differ -- the errors also say which sizes work: the smallest for a
    collapse, the nearest for a join, and the rule (`H and W must be multiples of 8`)."""
    from .input_sizes import min_input_of, rule_of, rule_words, size_hint

    if b.nodes[0].out is None:
        return
    joins = _failed_joins(b.nodes, report)
    if not (b.collapses or joins) or len(b.collapses) + len(joins) != len(report.errors):
        return
    shape = b.nodes[0].out.dims
    hint = size_hint(b.nodes, shape) if joins else None
    for i in joins:
        if hint is not None:
            _append_note(report.diagnostics[i], f" ({hint})")
    if not b.collapses:
        return
    best = min_input_of(b.nodes, shape, valid=False)
    if best is None:
        return
    words = rule_words(rule_of(b.nodes, shape, valid=False), examples=False)
    more = "" if words in ("", "any larger size works") else f"; {words}"
    for i in b.collapses:
        _append_note(report.diagnostics[i], f" (the smallest input this network accepts is {best[0]}x{best[1]}{more})")


def _failed_joins(nodes, report: Reporter) -> list:
    """Indices of the errors of joins whose inputs are known but do not agree."""
    failed: dict = {}   # (line, col) -> names of the joins there (a repeat unrolls one statement into many)
    for n in nodes:
        if n.spec.joins and n.out is None and all(i.out is not None for i in n.inputs) and _disagree(n):
            failed.setdefault((n.line, n.col), set()).add(n.name)
    return [i for i, d in enumerate(report.diagnostics) if d.severity == "error"
            and d.message.partition(":")[0] in failed.get((d.line, d.col), ())]


def _disagree(join: Node) -> bool:
    """Do the join's inputs fail its shape rule (rather than make something too large)?"""
    try:
        join.spec.join([i.out for i in join.inputs])
    except ShapeError:
        return True
    return False


def _append_note(d, note: str) -> None:
    if d.hint:
        d.hint += note
    else:
        d.message += note


def _same_padding_hint(block, source, last, want, has_shortcut: bool) -> "str | None":
    """When the block's layers with valid padding are what shrinks it -- `residual { conv 16
    3x3 }`, the most common slip -- the hint names them and padding=same."""
    valid = {id(n) for n in block if n.attrs and n.attrs.get("padding") == "valid" and "padding" in n.spec.options}
    if not valid:
        return None
    out = {id(source): source.out}
    shrinking = []
    for n in block:
        ins = [out.get(id(i), i.out) for i in n.inputs]
        if any(t is None for t in ins) or (n.attrs is None and not n.spec.joins):
            return None
        try:
            if n.spec.joins:
                t = n.spec.join(ins)
            elif id(n) in valid:
                t = n.spec.infer(ins[0], {**n.attrs, "padding": "same"})
                if t != n.spec.infer(ins[0], n.attrs):
                    shrinking.append(n)
            else:
                t = n.spec.infer(ins[0], n.attrs)
        except ShapeError:
            return None
        out[id(n)] = t
    got = out.get(id(last))
    if not shrinking or not isinstance(got, Image) or not isinstance(want, Image) or \
            (got.h, got.w) != (want.h, want.w) or (got.c != want.c and has_shortcut):
        return None
    names = [n.name for n in shrinking]
    names = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    n = shrinking[0]
    shrunk = f"{n.inputs[0].out.h}x{n.inputs[0].out.w} into {n.out.h}x{n.out.w}" if n.out is not None else "it"
    also = f" and add `shortcut {{ conv {got.c} 1x1 }}` after the block" if got.c != want.c else ""
    return (f"; give {names} padding=same{also} (with valid padding {n.name} turns {shrunk}; "
            f"the block must end in {want.h}x{want.w}, as {'the shortcut' if has_shortcut else 'its input'} does)")


def _shortcut_hint(a, b) -> str:
    """For a residual without shortcut: a 1x1 conv shortcut that makes the input match the block."""
    if not (isinstance(a, Image) and isinstance(b, Image)):
        return "; the block must end in the shape it starts with"

    def stride(n_in, n_out):
        for s in range(1, n_in + 1):
            for pad in ("valid", "same"):
                if window(n_in, 1, s, pad)[0] == n_out:
                    return s, pad
        return None

    sh, sw = stride(b.h, a.h), stride(b.w, a.w)
    if sh is None or sw is None or sh[1] != sw[1]:
        return "; add a shortcut { ... } after the block that gives the block's shape"
    st = "" if sh[0] == sw[0] == 1 else (f" stride={sh[0]}" if sh[0] == sw[0] else f" stride={sh[0]}x{sw[0]}")
    pad = " padding=same" if sh[1] == "same" and st else ""
    return f"; add `shortcut {{ conv {a.c} 1x1{st}{pad} }}` after the block to match them"


def _check_input_shape(shape, filename):
    """`input=(H, W, C)`: three positive whole numbers within the limits every input shape has."""
    try:
        dims = tuple(_whole(d) for d in shape)
        if len(dims) != 3 or min(dims) <= 0:
            raise ValueError
    except (TypeError, ValueError, OverflowError):
        raise CnncError(f"the input shape must be three positive integers (H, W, C), got {_safe_repr(shape)}",
                        1, 1, filename) from None
    problem = input_problem(dims)
    if problem:
        raise CnncError(problem, 1, 1, filename)
    return dims


def _whole(d) -> int:
    """An int, or a number with no fraction (28.0, numpy's, "28"); ValueError otherwise."""
    try:
        return int(d.__index__())
    except AttributeError:
        pass
    f = float(d)
    if not f.is_integer():
        raise ValueError
    return int(f)


def _safe_repr(x) -> str:
    try:
        return shown(repr(x), 60)
    except ValueError:  # an int too long to print
        return "a shape with a number too large to print"
