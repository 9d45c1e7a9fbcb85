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
"""

from __future__ import annotations

from .limits import integer, shown
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
    reported -- once per use however many repeat copies make it."""

    __slots__ = ("definition", "env", "trace", "prefix", "key")

    def __init__(self, definition: Def, env: dict, trace: tuple, prefix: str):
        self.definition, self.env, self.trace, self.prefix = definition, env, trace, prefix
        self.key = (id(definition), tuple((k, v.text, v.kind) for k, v in env.items()), trace)


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
        for w in KINDS:
            words.setdefault(w, "a statement")
        for w in BLOCKS:
            words.setdefault(w, "a block")
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
        what = reserved().get(name) or ("a statement" if name in KINDS else "a block")
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
