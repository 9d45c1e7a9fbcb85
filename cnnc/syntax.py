"""Syntax: grammars/cnn.lark -> an AST of dataclasses that remember where they came from.

Lark (LALR, positions propagated) parses the text; a Transformer turns its tree into
`Layer` and `Block` statements whose `line`/`col` point at the source. Nothing here
knows what a conv is: statements are checked against the layer registry later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .errors import CnncError, Diagnostic


@dataclass
class Value:
    """One literal as written: `32`, `3x3`, `0.5`, `same`."""
    text: str
    kind: str  # "number" | "size" | "word"
    line: int
    col: int


@dataclass
class Arg:
    """A positional argument (`key` is None) or an option `key=value`."""
    key: "str | None"
    value: Value
    line: int
    col: int


@dataclass
class Layer:
    """`[name:] kind arg*` -- `conv 32 3x3 relu`, `c1: pool 2`, `relu`."""
    kind: str
    name: "str | None"
    args: list[Arg]
    line: int  # of the statement (its label, if named)
    col: int
    kind_line: int  # of the keyword itself
    kind_col: int


@dataclass
class Block:
    """`residual {…}`, `shortcut {…}`, `concat {…}`, `branch {…}`, `repeat N {…}`."""
    kind: str
    name: "str | None"
    count: "Value | None"
    body: list
    line: int
    col: int
    kind_line: int
    kind_col: int


@dataclass
class Program:
    statements: list = field(default_factory=list)
    filename: str = "<string>"


_PARSER = None


def _grammar_path() -> Path:
    here = Path(__file__).resolve().parent
    for candidate in (here / "grammars" / "cnn.lark", here.parent / "grammars" / "cnn.lark"):
        if candidate.exists():
            return candidate
    raise FileNotFoundError("grammars/cnn.lark is missing from the cnnc installation")


def _parser():
    global _PARSER
    if _PARSER is None:
        from lark import Lark

        _PARSER = Lark(_grammar_path().read_text(), parser="lalr", propagate_positions=True,
                       transformer=_ToAst(), maybe_placeholders=False)
    return _PARSER


def _make_transformer():
    from lark import Transformer

    class ToAst(Transformer):
        def start(self, stmts):
            return Program(list(stmts))

        def layer(self, items):
            if len(items) >= 2 and _is_token(items[0]) and _is_token(items[1]):
                label, kind, args = items[0], items[1], items[2:]
            else:
                label, kind, args = None, items[0], items[1:]
            head = label or kind
            return Layer(str(kind), str(label) if label else None, list(args),
                         head.line, head.column, kind.line, kind.column)

        def option(self, items):
            key, value = items
            return Arg(str(key), _value(value), key.line, key.column)

        def positional(self, items):
            v = _value(items[0])
            return Arg(None, v, v.line, v.col)

        def count(self, items):
            return _value(items[0])

        def body(self, stmts):
            return list(stmts)

        def block(self, items):
            label = None
            if _is_token(items[0]) and items[0].type == "NAME":
                label, items = items[0], items[1:]
            kw, rest = items[0], items[1:]
            count = rest[0] if len(rest) == 2 else None
            body = rest[-1]
            head = label or kw
            return Block(str(kw), str(label) if label else None, count, body,
                         head.line, head.column, kw.line, kw.column)

    return ToAst


def _is_token(x) -> bool:
    return hasattr(x, "type") and hasattr(x, "value")


_VALUE_KIND = {"NUMBER": "number", "SIZE": "size", "NAME": "word"}


def _value(tok) -> Value:
    return Value(str(tok), _VALUE_KIND[tok.type], tok.line, tok.column)


def _ToAst():
    return _make_transformer()()  # built lazily: it needs lark imported


# How lark's terminal names read to a user.
_TERMINAL_WORDS = {
    "NAME": "a name", "NUMBER": "a number", "SIZE": "a size such as 3x3", "_SEP": "end of statement",
    "LBRACE": "'{'", "RBRACE": "'}'", "COLON": "':'", "EQUAL": "'='", "$END": "end of input",
    "RESIDUAL": "'residual'", "SHORTCUT": "'shortcut'", "CONCAT": "'concat'", "BRANCH": "'branch'",
    "REPEAT": "'repeat'",
}


def _describe_token(tok) -> str:
    if tok is None or tok.type == "$END":
        return "end of input"
    if tok.type == "_SEP":
        return "end of line" if tok.value.strip() == "" else "';'"
    return repr(str(tok))


def _expected(names) -> str:
    words = sorted({_TERMINAL_WORDS.get(n, n) for n in names if not n.startswith("__")})
    if not words:
        return ""
    return "; expected " + (", ".join(words[:-1]) + " or " + words[-1] if len(words) > 1 else words[0])


def parse_program(text: str, filename: str = "<string>") -> Program:
    """Parse `text` into a Program, or raise CnncError at the offending token."""
    from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError

    if not isinstance(text, str):
        raise CnncError(f"a cnnc program must be text, got {type(text).__name__}", 1, 1, filename)
    try:
        program = _parser().parse(text + "\n")
    except UnexpectedToken as e:
        tok = e.token
        line, col = (e.line, e.column) if e.line and e.line > 0 else _end_position(text)
        if tok.type == "$END":
            line, col = _end_position(text)
        msg = f"syntax error: unexpected {_describe_token(tok)}{_expected(e.expected)}"
        if tok.type == "LBRACE":
            msg += " (blocks are residual, shortcut, concat, branch and repeat N)"
        raise CnncError([Diagnostic("error", msg, line, col, filename)]) from None
    except UnexpectedCharacters as e:
        ch = text[e.pos_in_stream] if 0 <= e.pos_in_stream < len(text) else "?"
        raise CnncError([Diagnostic("error", f"syntax error: unexpected character {ch!r}",
                                    e.line, e.column, filename)]) from None
    except UnexpectedInput as e:  # UnexpectedEOF and friends
        line, col = _end_position(text)
        raise CnncError([Diagnostic("error", "syntax error: the program ends too early (a '}' missing?)",
                                    line, col, filename)]) from None
    except VisitError as e:  # a bug in the transformer, never the user's fault: surface it
        raise e.orig_exc
    program.filename = filename
    return program


def _end_position(text: str) -> tuple[int, int]:
    lines = text.split("\n")
    return len(lines), len(lines[-1]) + 1
