"""Every token's role, for semantic tokens (editors without a TextMate grammar: Helix,
and any editor that colours by the server).

Roles are the protocol's standard token types, so every theme colours them:
keyword (a statement or block keyword where a statement starts), number (numbers and
sizes), property (an option's name), enumMember (a value word: same, valid, true, ...),
function (an activation as an argument, a definition's name -- declared at its `def` --
and its uses, `min`/`max`), parameter (a definition's parameters), variable (a label,
with the `declaration` modifier, or a layer named as an input), comment, operator (`=`,
`:` and the operators of expressions). A word the language does not know is left to the editor.
"""

from __future__ import annotations

from .document import Analysis

TOKEN_TYPES = ("keyword", "number", "property", "enumMember", "function", "variable", "comment", "operator",
               "parameter")
TOKEN_MODIFIERS = ("declaration",)
_TYPE = {t: i for i, t in enumerate(TOKEN_TYPES)}


def _vocabulary():
    from .. import words

    keywords = frozenset(words.statements() + words.blocks() + words.activations())
    return keywords, frozenset(words.activations()), frozenset(words.values())


_WORDS = None


def vocabulary() -> tuple:
    """(statement and block keywords, activations, value words), from the registry."""
    global _WORDS
    if _WORDS is None:
        _WORDS = _vocabulary()
    return _WORDS


def classify(analysis: Analysis) -> list:
    """[(line, col, length, type, declaration)] for every token with a role, in order."""
    keywords, activations, values = vocabulary()
    layer_names = {n.name for n in analysis.net.nodes} if analysis.net is not None else set()
    layer_names.update(st.label for st in analysis.all_statements if st.label)
    definitions = {st.defines: st for st in analysis.definitions()}
    params_of = {name: {(a.value.text if a.key is None else a.key) for a in st.ast.params}
                 for name, st in definitions.items()}
    out = []
    for line in range(1, len(analysis.lines) + 1):
        toks = analysis.line_tokens(line)
        start = True   # at a statement's start (a label keeps it there)
        header = None  # on a `def NAME PARAM...` line: "name", then "params" up to its `{`
        params = _params_at(analysis, definitions, params_of, line)
        for i, t in enumerate(toks):
            nxt = toks[i + 1].value if i + 1 < len(toks) else None
            role, decl, label = None, False, False
            if t.type == "COMMENT":
                role = "comment"
            elif t.type in ("NUMBER", "SIZE"):
                role = "number"
            elif t.type == "NAME":
                if header == "name":
                    role, decl, header = "function", True, "params"
                elif header == "params" and (nxt == "=" or toks[i - 1].value != "="):
                    role, decl = "parameter", True
                elif start and t.value == "def":
                    role, header = "keyword", "name"
                elif start and nxt == ":":
                    role, decl, label = "variable", True, True
                elif start and t.value in definitions:
                    role = "function"
                elif start:
                    role = "keyword" if t.value in keywords else None
                elif nxt == "=":
                    role = "property"
                elif t.value in params:
                    role = "parameter"
                elif t.value in ("min", "max") and nxt == "(":
                    role = "function"
                elif t.value in values:
                    role = "enumMember"
                elif t.value in activations:
                    role = "function"
                elif t.value in layer_names:
                    role = "variable"
            elif t.value not in ("{", "}", ";"):
                role = "operator"
                label = start and t.value == ":"
            if t.value == "{":
                header = None
            if role is not None:
                out.append((line, t.column, len(t.value), role, decl))
            start = t.value in (";", "{", "}") or label
    return out


def _params_at(analysis: Analysis, definitions: dict, params_of: dict, line: int) -> set:
    """The parameters of the definition whose body holds `line` (empty outside bodies)."""
    for name, st in definitions.items():
        if st.start[0] < line <= st.end[0]:
            return params_of[name]
    return set()


def encode(tokens) -> list:
    """The protocol's relative encoding: five integers per token."""
    data = []
    last_line, last_col = 1, 1
    for line, col, length, role, decl in tokens:
        delta_line = line - last_line
        delta_col = col - last_col if delta_line == 0 else col - 1
        data += [delta_line, delta_col, length, _TYPE[role], 1 if decl else 0]
        last_line, last_col = line, col
    return data
