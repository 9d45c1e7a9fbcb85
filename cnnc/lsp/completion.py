"""What may be typed at a position, read from the layer registry.

- At the start of a statement (a line's start, after `;`, `{`, `}` or a label):
  the statements and blocks (and the definitions of the program).
- After `KEY=`: that option's words (`padding=` same, valid; `activation=` the
  activations; `from=` the layers written before).
- After a statement's arguments: the options it does not have yet (`stride=`, `from=`; a
  definition's parameters with defaults), and the activations when it takes one and has
  none; after `add`, `concat` or `multiply`, the layers written before.
"""

from __future__ import annotations

from .document import Analysis

# Completion kinds, as words; the server maps them to the protocol's numbers.
STATEMENT, BLOCK, OPTION, VALUE, ACTIVATION, LAYER, DEFINITION = (
    "statement", "block", "option", "value", "activation", "layer", "definition")


class Item:
    __slots__ = ("label", "kind", "detail", "insert")

    def __init__(self, label, kind, detail="", insert=None):
        self.label, self.kind, self.detail = label, kind, detail
        self.insert = label if insert is None else insert

    def __repr__(self) -> str:
        return f"<Item {self.label} {self.kind}>"


def complete(analysis: Analysis, line: int, col: int) -> list:
    """The Items for the cursor at (line, col) (1-based; col is where the next character goes)."""
    toks = [t for t in analysis.line_tokens(line) if t.column < col]
    partial = ""
    if toks and toks[-1].type in ("NAME", "NUMBER", "SIZE") and toks[-1].column + len(toks[-1].value) == col:
        partial = toks.pop().value   # the word being typed: the client filters by it
    if toks and toks[-1].type == "COMMENT":
        return []
    stmt = []
    for t in reversed(toks):
        if t.value in (";", "{", "}"):
            break
        stmt.insert(0, t)
    if len(stmt) >= 2 and stmt[1].value == ":":
        stmt = stmt[2:]
    if not stmt:
        return _statements(analysis, line)
    if stmt[-1].value == "=" and len(stmt) >= 2:
        return _values(analysis, stmt[0].value, stmt[-2].value, line)
    if not partial and toks and toks[-1].column + len(toks[-1].value) == col:
        return []   # right after a word: a space comes first
    return _options(analysis, stmt, line)


def _statements(analysis: Analysis, line: int) -> list:
    from ..layers import BLOCKS, KINDS, STATEMENTS

    items = [Item(k, STATEMENT, KINDS[k].usage or k) for k in STATEMENTS]
    items += [Item(b, BLOCK, _BLOCK_USAGE.get(b, f"{b} {{ ... }}")) for b in BLOCKS]
    items += [Item(name, DEFINITION, detail) for name, detail in definitions(analysis, line)]
    return items


_BLOCK_USAGE = {
    "residual": "residual { BLOCK }: the block's output plus its input",
    "shortcut": "shortcut { BLOCK }: after a residual, what its input goes through",
    "concat": "concat { branch { ... } ... }: branches joined on channels",
    "branch": "branch { BLOCK }: one branch of a concat",
    "repeat": "repeat N { BLOCK }: the body N times in a row",
    "scale": "scale { BLOCK }: x times the gate the block computes (squeeze-and-excitation)",
}


def definitions(analysis: Analysis, line: int) -> list:
    """[(name, synopsis)] of the program's definitions written before `line`."""
    out = []
    for st in analysis.definitions():
        if st.start[0] < line:
            params = " ".join(f"{a.key}={a.value.text}" if a.key is not None else a.value.text.upper()
                              for a in st.ast.params)
            out.append((st.defines, f"{st.defines} {params}".rstrip() + " (a definition)"))
    return out


def _values(analysis: Analysis, keyword: str, key: str, line: int) -> list:
    from ..layers import ACTIVATION_NAMES, KINDS
    from ..words import option_values

    if key == "from":
        return [Item(n, LAYER, "a layer written before") for n in analysis.names_before(line)]
    if key == "activation":
        return [Item(a, ACTIVATION, "activation") for a in ACTIVATION_NAMES]
    spec = KINDS.get(keyword)
    param = spec.options.get(key) if spec is not None else None
    if param is None:
        return []
    return [Item(c, VALUE, f"{key}={c}") for c in option_values(param)]


def _options(analysis: Analysis, stmt, line: int) -> list:
    from ..layers import ACTIVATION_NAMES, KINDS

    keyword = stmt[0].value
    given = {a.value for a, b in zip(stmt, stmt[1:]) if b.value == "="}
    spec = KINDS.get(keyword)
    if spec is None:   # a use of a definition: its parameters with defaults, and from=
        d = analysis.definition_named(keyword)
        if d is None:
            return []
        keys = [a.key for a in d.ast.params if a.key is not None] + ["from"]
        return [Item(f"{k}=", OPTION, f"{keyword} {k}=") for k in keys if k not in given]
    if spec.joins:   # add a b, concat a b, multiply a b: the layers written before
        return [Item(n, LAYER, "a layer written before") for n in analysis.names_before(line)]
    words = {t.value for t in stmt[1:]}
    keys = list(spec.options) + ["from"]
    items = [Item(f"{k}=", OPTION, f"{keyword} {k}=") for k in keys if k not in given]
    if spec.takes_activation and not (words & set(ACTIVATION_NAMES)) and "activation" not in given:
        items += [Item(a, ACTIVATION, "activation") for a in ACTIVATION_NAMES]
    return items
