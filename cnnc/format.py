"""`cnnc fmt`: one canonical layout for a program, computed from its tokens.

The layout (docs/language.md, "Layout: cnnc fmt"):

- Every line stays a line: statements keep their line numbers, so a diagnostic or a
  `cnnc shapes` row read before formatting still points at the same statement, and
  statements joined by `;` stay on one line. Only blank lines at the end go.
- A line is indented two spaces per block it is inside; a line that starts by closing
  a block (`}`, `} shortcut {`) is indented as the block's first line.
- Tokens are separated by one space, except: none around `=` (`stride=2`), none before
  `:`, `;`, `,` and `)`, none after `(`, none around an operator of an expression
  (`filters*4`), and none between a function's name and its `(` (`max(1, c//4)`). A
  comma is followed by a space inside parentheses and by none in a list of values
  (`mean=0.485,0.456,0.406`).
- A `;` stands only between two statements on a line: one before `{`, after `}`, at
  the start or the end of a line, or repeated, is dropped.
- A comment keeps its text (trailing blanks dropped). A comment on a line of its own
  is indented as a statement there; comments that end consecutive lines of code are
  aligned, two spaces after the longest code of the run.
- Lines end in `\\n`; the file ends with one.

The rules read token types and texts, never the grammar, so a new statement or option
needs no change here. After formatting, the result is lexed and parsed again and must
give the same tokens and the same program (positions aside); if it did not, that is a
bug in the formatter, and nothing is written.
"""

from __future__ import annotations

from .errors import CnncError, Reporter
from .syntax import tokenize

INDENT = "  "
COMMENT_GAP = 2   # spaces between the longest code of a run and its aligned comments

# Token texts that bind to their neighbours (the rules above).
_NO_SPACE_AROUND = frozenset({"=", "*", "/", "//", "+", "-", "%"})
_NO_SPACE_BEFORE = frozenset({":", ";", ",", ")"})
_NO_SPACE_AFTER = frozenset({"("})
_CALLS = frozenset({"min", "max"})


def format_text(text: str, filename: str = "<string>") -> str:
    """`text` in the canonical layout. A program with a syntax error (or one that breaks a
    limit while being read) raises CnncError with every such error; shape errors do not
    matter here (the graph is not built)."""
    check_syntax(text, filename)
    lines = _lines(list(tokenize(text)))
    out = _render(lines)
    _verify(text, out, filename)
    return out


def check_syntax(text: str, filename: str = "<string>"):
    """The Program of `text`; CnncError with every error met while reading it."""
    from .syntax import parse_program

    report = Reporter(filename)
    program = parse_program(text, filename, report)
    if report.errors or program is None:
        report.raise_if_errors()
    return program


def _lines(tokens) -> list:
    """The source's lines as lists of tokens (line ends dropped), in order; an empty list
    for a blank line."""
    lines: list = [[]]
    for tok in tokens:
        if tok.type == "_SEP" and tok.value != ";":
            lines.append([])
        else:
            lines[-1].append(tok)
    return lines


def _render(lines) -> str:
    rows = []   # (code, comment or None)
    depth = 0
    for toks in lines:
        comment = toks[-1].value.rstrip() if toks and toks[-1].type == "COMMENT" else None
        code_toks = _kept(toks[:-1] if comment is not None else toks)
        closing = 0
        for t in code_toks:
            if t.value != "}":
                break
            closing += 1
        indent = INDENT * max(depth - closing, 0)
        for t in code_toks:
            if t.value == "{":
                depth += 1
            elif t.value == "}":
                depth = max(depth - 1, 0)
        code = _join(code_toks)
        rows.append((indent + code if code else "", comment if code else
                     (indent + comment if comment is not None else None)))
    out = []
    i = 0
    while i < len(rows):
        code, comment = rows[i]
        if not code or comment is None:   # a blank line, code alone, or a comment alone
            out.append(code or comment or "")
            i += 1
            continue
        j = i
        while j < len(rows) and rows[j][0] and rows[j][1] is not None:
            j += 1
        column = max(len(c) for c, _ in rows[i:j]) + COMMENT_GAP
        out.extend(c.ljust(column) + m for c, m in rows[i:j])
        i = j
    while out and not out[-1]:
        out.pop()   # lines that held only `;`
    return "".join(line + "\n" for line in out)


def _kept(toks) -> list:
    """The line's tokens without the `;` that separate nothing."""
    kept = []
    for t in toks:
        if t.value == ";" and t.type == "_SEP":
            if not kept or kept[-1].value in (";", "{"):
                continue
        elif t.value == "}" and kept and kept[-1].value == ";" and kept[-1].type == "_SEP":
            kept.pop()
        kept.append(t)
    if kept and kept[-1].value == ";" and kept[-1].type == "_SEP":
        kept.pop()
    return kept


def _join(toks) -> str:
    parts = []
    parens = 0
    prev = None
    for t in toks:
        v = t.value
        if prev is not None:
            gap = _gap(prev, t, parens)
            if not gap and not _glues("".join(parts[-5:-1]), prev, t):
                gap = " "   # joined, the two would lex as other tokens (`c -1` is not `c-1`)
            parts.append(gap)
        parts.append(v)
        if v == "(":
            parens += 1
        elif v == ")":
            parens = max(parens - 1, 0)
        prev = t
    return "".join(parts)


def _gap(a, b, parens: int) -> str:
    x, y = a.value, b.value
    if x in _NO_SPACE_AROUND and a.type != "NUMBER" or y in _NO_SPACE_AROUND and b.type != "NUMBER":
        return ""
    if y in _NO_SPACE_BEFORE or x in _NO_SPACE_AFTER:
        return ""
    if x == ",":
        return " " if parens else ""
    if y == "(" and x in _CALLS:
        return ""   # a call: max(…)
    return " "


def _glues(before: str, a, b) -> bool:
    """Do a and b, written without a space after the text `before` (what precedes a on its
    line: a sign is part of a number only after a blank or an opening), lex as a and b?"""
    try:
        got = list(tokenize(before + a.value + b.value))
    except CnncError:
        return False
    return [(t.type, t.value) for t in got[-2:]] == [(a.type, a.value), (b.type, b.value)]


def _verify(before: str, after: str, filename: str) -> None:
    """The formatted text has the same tokens (line ends and redundant `;` aside) and
    parses to the same program, positions aside."""
    def words(text):
        return [(t.type, t.value.rstrip() if t.type == "COMMENT" else t.value)
                for t in tokenize(text) if t.type != "_SEP"]

    if words(before) != words(after):
        raise AssertionError(f"cnnc fmt changed the tokens of {filename}")
    if _shape(check_syntax(before, filename)) != _shape(check_syntax(after, filename)):
        raise AssertionError(f"cnnc fmt changed the program {filename}")


def _shape(x):
    """A syntax tree without its source positions, for comparison."""
    from .records import Record

    if isinstance(x, Record):
        return (type(x).__name__,) + tuple(_shape(getattr(x, f)) for f in type(x).__slots__
                                           if not f.endswith(("line", "col", "broken", "filename")))
    if isinstance(x, (list, tuple)):
        return tuple(_shape(v) for v in x)
    return x
