"""Definitions -- `def NAME PARAM... [PARAM=DEFAULT...] { BODY }` -- and integer expressions.

A definition is a block with parameters. The graph builder (graph.py) expands each use in
place: the body is built as if it were written at the use, in a `Frame` that holds the
parameters' values (`env`), the chain of uses it is inside (`trace`, for the notes of every
diagnostic from it) and the prefix that keeps the body's labels local to the use. This
module holds what that needs and nothing about shapes:

  read_definition   a Definition's name and parameters, checked (`Def`)
  bind              a use's arguments bound to the parameters (defaults filled in)
  evaluate          an argument as the builder reads it: a parameter's name replaced by its
                    value, an integer expression (`filters*4`, `max(1, c//4)`) computed
  usage             the use's synopsis, for error hints
  expand            a use, built by the graph builder in a Frame of its own
  parameter_statement  a parameter standing alone as a statement: the activation it is bound to
  check_definition, not_a_use   what graph._Structure checks of definitions before building

graph.py imports this module only for a program that has a definition or an expression.
"""

from __future__ import annotations

from .limits import MAX_LAYERS, integer, shown
from .records import Record
from .syntax import Value

# Words a value may be (padding=same, bias=true, mode=nearest): never a parameter's name
VALUE_WORDS = ("same", "valid", "true", "false", "nearest", "bilinear")
# Words of the language besides the statements and blocks
KEYWORDS = ("def", "min", "max", "input", "from")

# Every computed integer stays within this: beyond every limit of the language, so the
# statement that reads it says "too large", and a long product costs nothing.
_BIG = 10**18


class Param(Record):
    """A parameter: its `name`, its `default` (a Value, None when it has none), and where
    it is written."""
    __slots__ = ("name", "default", "line", "col")


class Def(Record):
    """A definition as the builder uses it: `node` (the syntax.Definition), `params` (Params
    in order), `broken` (its header had an error, already reported: its uses are skipped),
    `size` (layers one use makes, at least: a repeat whose count is a parameter counts once)
    and `depth` (blocks and uses nested inside its body)."""
    __slots__ = ("node", "params", "broken", "size", "depth")
    _defaults = {"broken": False, "size": 0, "depth": 0}

    @property
    def name(self) -> str:
        return self.node.name


class Frame:
    """One use being expanded. `key` identifies what its statements read (the definition,
    the parameters' values and the trace), so a statement is parsed -- and its errors
    reported -- once per use however many repeat copies make it; `values` the same without
    the trace, so that what reads without error is read once for all uses alike."""

    __slots__ = ("definition", "env", "trace", "prefix", "key", "values")

    def __init__(self, definition: Def, env: dict, trace: tuple, prefix: str):
        self.definition, self.env, self.trace, self.prefix = definition, env, trace, prefix
        self.values = (id(definition), tuple((k, v.text, v.kind) for k, v in env.items()))
        self.key = self.values + (trace,)


_RESERVED = None


def reserved() -> dict:
    """Words a parameter may not be named -> what they are (statements, blocks, activations,
    value words, keywords). Option names are allowed even where they are also block words
    (`scale`): a parameter only ever stands for a value."""
    global _RESERVED
    if _RESERVED is None:
        from .layers import ACTIVATIONS, BLOCKS, KINDS

        options = {o for spec in KINDS.values() for o in spec.options} | {"activation", "from"}
        words: dict = {}
        for w in KEYWORDS:
            words[w] = "a keyword"
        for w in VALUE_WORDS:
            words[w] = "a value word"
        for w in ACTIVATIONS:
            words[w] = "an activation"
        for w in BLOCKS:
            words.setdefault(w, "a block")
        for w in KINDS:
            words.setdefault(w, "a statement")
        _RESERVED = {w: what for w, what in words.items() if w not in options}
    return _RESERVED


def read_definition(d, error, known: dict) -> Def:
    """Check a Definition's name and parameters; `known`: the definitions before it.
    Reports through error(message, line, col); the Def is `broken` when its uses cannot be
    expanded."""
    from .layers import ACTIVATIONS, BLOCKS, KINDS

    out = Def(d, [])
    name = d.name
    if name in KINDS or name in BLOCKS or name in ACTIVATIONS or name in KEYWORDS:
        what = reserved().get(name) or ("a block" if name in BLOCKS else "a statement")
        error(f"cannot define '{shown(name)}': it is {what} of the language; give the definition another name",
              d.name_line, d.name_col)
        out.broken = True
    elif name in known:
        error(f"duplicate definition '{shown(name)}' (first defined at line {known[name].node.line})",
              d.name_line, d.name_col)
        out.broken = True
    seen: set = set()
    defaulted = None
    for a in d.params:
        v = a.value
        key = a.key if a.key is not None else (v.text if v.kind == "word" else None)
        if key is None:
            error(f"{name}: a parameter is a name (`def {name} filters stride=1 {{ ... }}`), got '{shown(v.text)}'",
                  v.line, v.col)
            out.broken = True
            continue
        if key in reserved():
            error(f"{name}: a parameter cannot be named '{key}': it is {reserved()[key]} of the language",
                  a.line, a.col)
            out.broken = True
            continue
        if key in seen:
            error(f"{name}: parameter '{shown(key)}' is given twice", a.line, a.col)
            out.broken = True
            continue
        seen.add(key)
        if a.key is None:
            if defaulted is not None:
                error(f"{name}: parameter '{shown(key)}' has no default but comes after '{defaulted}', which has "
                      f"one; parameters without a default come first", a.line, a.col)
                out.broken = True
            out.params.append(Param(key, None, a.line, a.col))
        else:
            defaulted = key
            value = evaluate(v, None, error)
            if value is None:
                out.broken = True
            out.params.append(Param(key, value, a.line, a.col))
    return out


def usage(d: Def) -> str:
    parts = [d.name] + [p.name.upper() for p in d.params if p.default is None]
    parts += [f"[{p.name}={p.default.text if p.default is not None else '?'}]" for p in d.params
              if p.default is not None]
    return " ".join(parts)


def bind(d: Def, args, error, line: int, col: int) -> "dict | None":
    """The parameters' values for one use: positional arguments fill the parameters in order,
    `name=value` any of them, the rest take their defaults. `args` are evaluated (Values).
    None after an error (reported)."""
    from .errors import closest

    names = [p.name for p in d.params]
    env: dict = {}
    ok = True
    at = 0
    for a in args:
        v = a.value
        if a.key is None:
            while at < len(names) and names[at] in env:
                at += 1
            if at == len(names):
                takes = f"{len(names)} argument{'s' if len(names) != 1 else ''}" if names else "no arguments"
                error(f"{d.name} takes {takes}, got one more: '{shown(v.text)}' (usage: {usage(d)})", v.line, v.col)
                ok = False
                continue
            env[names[at]] = v
            at += 1
        elif a.key not in names:
            guess = closest(a.key, names)
            hint = f"did you mean {guess}=?" if guess else (
                f"its parameters are {', '.join(names)}" if names else f"{d.name} takes no arguments")
            error(f"{d.name} has no parameter '{shown(a.key)}'; {hint} (usage: {usage(d)})", a.line, a.col)
            ok = False
        elif a.key in env:
            error(f"{d.name}: '{a.key}' is given twice", a.line, a.col)
            ok = False
        else:
            env[a.key] = v
    missing = [p.name for p in d.params if p.name not in env and p.default is None]
    if missing:
        error(f"{d.name} is missing its {' and '.join(missing)} (usage: {usage(d)})", line, col)
        return None
    for p in d.params:
        if p.name not in env:
            env[p.name] = p.default
    return env if ok else None


def evaluate(v, env: "dict | None", error) -> "Value | None":
    """`v` (a Value or an Expr) as a statement reads it: a word that names a parameter of
    `env` is its value (placed where the word is written, so that a complaint about it points
    into the definition), an expression is computed, a list's items each. None after an
    error (reported through error(message, line, col))."""
    kind = v.kind
    if kind == "word":
        bound = env.get(v.text) if env else None
        return v if bound is None else Value(bound.text, bound.kind, v.line, v.col, bound.items)
    if kind == "expr":
        n = _integer(v, env, error)
        return None if n is None else Value(str(n), "number", v.line, v.col)
    if kind == "list":
        items = []
        for x in v.items:
            item = evaluate(x, env, error)
            if item is None:
                return None
            if item.kind == "list":
                error(f"a list cannot hold a list ('{shown(item.text)}')", x.line, x.col)
                return None
            items.append(item)
        if all(a is b for a, b in zip(items, v.items)):
            return v
        return Value(",".join(i.text for i in items), "list", v.line, v.col, tuple(items))
    return v


def _integer(v, env, error) -> "int | None":
    """The integer an expression operand stands for, or None (reported)."""
    if v.kind == "expr":
        values = [_integer(a, env, error) for a in v.args]
        if any(x is None for x in values):
            return None
        op = v.op
        if op == "min":
            n = min(values)
        elif op == "max":
            n = max(values)
        else:
            a, b = values
            if op == "+":
                n = a + b
            elif op == "-":
                n = a - b
            elif op == "*":
                n = a * b
            elif b == 0:
                error(f"division by zero in {shown(v.text, 40)}", v.line, v.col)
                return None
            else:
                n = a // b
        return max(-_BIG, min(_BIG, n))
    bound = v
    if v.kind == "word":
        bound = env.get(v.text) if env else None
        if bound is None:
            where = "a parameter of the definition" if env is not None else "a number"
            error(f"'{shown(v.text)}' in an expression is not {where}; expressions compute with whole "
                  f"numbers and the definition's parameters", v.line, v.col)
            return None
    n = integer(bound.text) if bound.kind == "number" else None
    if n is None:
        what = {"size": "a size", "word": "a word", "list": "a list"}.get(bound.kind, "not a whole number")
        named = f"'{v.text}' is {shown(bound.text)}, " if bound is not v else f"{shown(bound.text)} is "
        error(f"{named}{what if bound.kind != 'number' else 'not a whole number'}; expressions compute with "
              f"whole numbers", v.line, v.col)
        return None
    return n


def expand(b, s, d: Def, x, copy):
    """A use of a definition, built by the graph builder `b` where it stands: its body as if
    it were written at the use, with the parameters' values (a Frame). Its label names the
    layer the body ends in (output_statement: through repeats and uses too); labels
    inside are local to the use, and their layers are named USE_LABEL (USE: the use's
    label, or DEF_N counting the definition's unlabelled uses)."""
    if b.frame is None and s.kind not in b.defined:
        return b.unknown(x, s.line, s.col)   # used before its definition (_Structure said so)
    if d.broken or s.kind in b.active:
        return b.unknown(x, s.line, s.col)
    args, start = b.args_of(s), x
    if args is not None:
        args, start = b.take_from(s, args, x)
    if args is None or start is None:
        return b.unknown(x, s.line, s.col)
    x = start
    key = b.key(s)
    if key not in b.bound:
        # a wrong argument is the use's error; the note shows the definition it is measured by
        defined = ((d.node.line, d.node.col, f"'{d.name}' is defined here"),) + b.report.notes

        def error(message, line, col):
            b.report.error(message, line, col, notes=defined)
        b.bound[key] = bind(d, args, error, s.kind_line, s.kind_col)
    env = b.bound[key]
    if env is None:
        return b.unknown(x, s.line, s.col)
    b.expansions += 1
    if b.expansions > MAX_LAYERS:
        from .graph import _TooBig

        b.report.error(f"the program uses definitions more than {MAX_LAYERS:,} times", s.line, s.col)
        raise _TooBig
    label = b.label_of(s)
    if label is None:
        b.uses[d.name] = b.uses.get(d.name, 0) + 1
        prefix = f"{d.name}_{b.uses[d.name]}"
    elif b.full(label):
        prefix = str(label)
    else:
        prefix = label if b.frame is None else f"{b.frame.prefix}_{label}"
        prefix = prefix if copy is None else f"{prefix}_{copy}"
        label = b.full_name(prefix)
    notes = ((s.line, s.col, f"in use of '{d.name}'"),) + b.report.notes
    frame = Frame(d, env, notes, prefix)
    target = output_statement(d.node.body) if label is not None else None
    saved = b.frame, b.rename, b.report.notes
    b.frame, b.report.notes = frame, notes
    b.rename = (target, label) if target is not None else None
    b.scopes.append({})
    b.active.add(d.name)
    try:
        y = b.body(d.node.body, x, None)
    finally:
        b.active.discard(d.name)
        b.scopes.pop()
        b.frame, b.rename, b.report.notes = saved
    b.bind(s, y)
    return y


def parameter_statement(b, s, x, copy):
    """A parameter standing alone as a statement (`act` in `conv c 3x3; act`), built by the
    graph builder `b`: the activation statement its value names, with the statement's own
    label and arguments (`act slope=0.01` bound to leaky_relu is `leaky_relu slope=0.01`).
    Only an activation is a statement by itself, so any other value is an error at the
    statement (the use's note names where it was bound); the shape passes on unchanged, as
    an activation's would, so later layers are checked for their own mistakes."""
    from .layers import ACTIVATION_NAMES, ACTIVATIONS
    from .syntax import Layer

    key = ("parameter", b.key(s))
    if key not in b.evaluated:
        v = b.frame.env[s.kind]
        if v.kind == "word" and v.text in ACTIVATIONS:
            # kept in b.evaluated: the builder caches by the statement's id, which must stay its own
            b.evaluated[key] = Layer(v.text, s.name, s.args, s.line, s.col, s.kind_line, s.kind_col, s.trace)
        else:
            b.evaluated[key] = None
            what = {"number": "a number", "size": "a size", "list": "a list"}.get(v.kind, "not an activation")
            b.report.error(f"'{s.kind}' stands alone as a statement, so it must be an activation, but this use "
                           f"gives it {shown(v.text)} ({what}); the activations are {', '.join(ACTIVATION_NAMES)}",
                           s.kind_line, s.kind_col)
    sub = b.evaluated[key]
    if sub is None:
        return x
    r = b.rename
    if r is not None and r[0] is s:   # the use's label names this statement's layer
        b.rename = (sub, r[1])
    try:
        return b.layer(sub, x, copy)
    finally:
        b.rename = r


def not_a_use(st, s) -> None:
    """A statement that is neither a kind nor a definition met so far: a definition used
    too early, a recursive one, or (in a body, which is built only when used) an unknown
    statement."""
    later = st.all.get(s.kind)
    current = st.current
    if later is None:
        if current is not None:
            from .graph import unknown_statement

            message, _ = unknown_statement(s.kind, st.defs)
            st.error(s, message)
        return
    if current is not None and s.kind == current.name:
        st.error(s, f"'{s.kind}' uses itself: a definition cannot be recursive; write the repeated part "
                    f"with repeat N {{ ... }} instead")
    elif current is not None:
        st.error(s, f"'{s.kind}' is defined later, at line {later.line}; a definition can use only the "
                    f"definitions before it")
    elif later.line > s.line or (later.line == s.line and later.col > s.col):
        st.error(s, f"'{s.kind}' is used before its definition at line {later.line}; define it before "
                    f"its first use")


def check_definition(st, s, depth: int) -> None:
    """A definition met at `depth` by graph._Structure `st`: read (read_definition), its body
    checked once and sized (layers per use, nesting)."""
    from .layers import BLOCKS, KINDS

    if depth > 0 or st.current is not None:
        st.reported.add(id(s))
        st.report.error("a definition belongs at the top level of the program, not inside a block or "
                        "another definition", s.line, s.col)
        return
    d = read_definition(s, st.report.error, st.defs)
    reserved = d.broken and (s.name in KINDS or s.name in BLOCKS)
    if not reserved and s.name not in st.defs:
        st.defs[s.name] = d
    st.current = d
    try:
        d.size, d.depth = st.check(s.body, 0)
    finally:
        st.current = None


def output_statement(body):
    """The statement of a body whose layer is the use's output, for its label: the last one
    (a residual, when a shortcut ends the body; a repeat hands the label on to the last
    statement of its last copy, a use to the statement its own body ends in); None when the
    body makes no layer of its own at its end (nothing, or a stray branch or shortcut)."""
    from .syntax import Block, Definition

    stmts = [s for s in body if not isinstance(s, Definition)]
    if not stmts:
        return None
    last = stmts[-1]
    if isinstance(last, Block) and last.kind == "shortcut":
        last = stmts[-2] if len(stmts) > 1 and isinstance(stmts[-2], Block) and stmts[-2].kind == "residual" else None
    if last is None or (isinstance(last, Block) and last.kind in ("branch", "shortcut")):
        return None
    return last
