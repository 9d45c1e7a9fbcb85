"""Plain statements, read without the parser's steps.

Most statements of a program are plain: `[NAME:] KIND ARG*` on one line, whose arguments
are numbers, sizes, words, `KEY=VALUE` and lists of those (`conv 32 3x3 relu`,
`c1: pool 2 stride=2`, `add a b`, `rescale 1 offset=0.5,0.25`), ended by a line end, `;`
or a comment. The LALR driver (`syntax._drive`) hands each statement's first word here,
where one can start; `read` gives the Layer the grammar's rules would build from it, or
None for anything else, which the driver then reads step by step: a block, an expression,
a keyword where a word stands, a `}` after the statement, a statement past MAX_WORDS, or
an error (so every diagnostic still comes from the parser). Reading a plain statement
here skips a parser step and a Token per word, about a third of reading a long program.

tests/test_syntax.py checks on random text that both ways give the same Layers, with the
same positions, and the same errors.
"""

from __future__ import annotations

from .lexer import BLANKS, run, scan
from .limits import MAX_WORDS
from .parse_tables import KEYWORDS
from .syntax import Arg, Layer, Value

_VALUE_KINDS = {"NUMBER": "number", "SIZE": "size", "NAME": "word"}
_ENDS = ("\n", ";", "#")   # a line end, a separator, a comment (which runs to a line end)


def read(text: str, pos: int, first, line_start: int):
    """The plain statement that the Token `first` begins, as (Layer, the position of the
    separator or comment that ends it), or None. `pos`: just after `first` (blanks after
    it may be skipped); `line_start`: where its line starts. `text` ends with a line end."""
    line = first.line
    if text[pos] in BLANKS:
        pos = run(text, pos + 1, BLANKS)
    c = text[pos]
    label, kind, kind_col = None, first.value, first.column
    words = 1
    if c == ":":   # a label: the kind follows
        if first.type != "NAME":
            return None
        pos += 1
        if text[pos] in BLANKS:
            pos = run(text, pos + 1, BLANKS)
        found = scan(text, pos)
        if found is None or found[0] != "NAME":
            return None
        label, kind, kind_col = first.value, text[pos:found[1]], pos - line_start + 1
        if kind in KEYWORDS and kind != "add" and kind != "concat":   # a block's keyword
            return None
        pos = found[1]
        if text[pos] in BLANKS:
            pos = run(text, pos + 1, BLANKS)
        c = text[pos]
        words = 3
    args = []
    while c not in _ENDS:
        found = scan(text, pos)
        if found is None or found[0] != "NAME":
            key = None
            value, pos = _value(text, pos, found, line, line_start)
            if value is None:
                return None
        else:   # a word, or an option's key
            word = text[pos:found[1]]
            if word in KEYWORDS:
                return None
            col = pos - line_start + 1
            pos = found[1]
            if text[pos] in BLANKS:
                pos = run(text, pos + 1, BLANKS)
            if text[pos] == "=":
                key, key_col = word, col
                pos += 1
                if text[pos] in BLANKS:
                    pos = run(text, pos + 1, BLANKS)
                value, pos = _value(text, pos, scan(text, pos), line, line_start)
                if value is None:
                    return None
                words += 2
            else:
                key, value = None, Value(word, "word", line, col)
        words += 1
        if text[pos] == ",":   # a list: value ("," value)+
            items = [value]
            while text[pos] == ",":
                pos += 1
                if text[pos] in BLANKS:
                    pos = run(text, pos + 1, BLANKS)
                item, pos = _value(text, pos, scan(text, pos), line, line_start)
                if item is None:
                    return None
                items.append(item)
                words += 2
            value = Value(",".join(v.text for v in items), "list", value.line, value.col, tuple(items))
        args.append(Arg(None, value, line, value.col) if key is None else Arg(key, value, line, key_col))
        c = text[pos]
    if words > MAX_WORDS:   # the driver reports it, at the word past the limit
        return None
    return Layer(kind, label, args, line, first.column, line, kind_col), pos


def _value(text: str, pos: int, found, line: int, line_start: int):
    """(Value, the position after it and its blanks) for the number, size or word that
    `scan` found at `pos`; (None, pos) for anything else (a keyword included)."""
    if found is None:
        return None, pos
    kind = _VALUE_KINDS.get(found[0])
    end = found[1]
    word = text[pos:end]
    if kind is None or (kind == "word" and word in KEYWORDS):
        return None, pos
    value = Value(word, kind, line, pos - line_start + 1)
    if text[end] in BLANKS:
        end = run(text, end + 1, BLANKS)
    return value, end
