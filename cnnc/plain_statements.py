"""Plain statements, read without the parser's steps.

Most statements of a program are plain: `[NAME:] KIND ARG*` on one line, whose arguments
are numbers, sizes, words, `KEY=VALUE` and lists of those (`conv 32 3x3 relu`,
`c1: pool 2 stride=2`, `add a b`, `rescale 1 offset=0.5,0.25`), ended by a line end, `;`
or a comment; and blocks whose bodies hold only such statements (`residual { conv 64 3x3;
relu }`). The LALR driver (`syntax._drive`) hands each statement's first word here, where
one can start; `read` gives the Layer or Block the grammar's rules would build from it,
or None for anything else, which the driver then reads step by step: a nested block, an
expression, a keyword where a word stands, a statement past a limit of cnnc/limits.py, or
an error (so every diagnostic still comes from the parser). Reading a plain statement
here skips a parser step and a Token per word, about half of reading a long program.

tests/test_syntax.py checks on random text that both ways give the same records, with
the same positions, and the same errors.
"""

from __future__ import annotations

from .lexer import BLANKS, run, scan, separator_run
from .limits import MAX_DEPTH, MAX_WORDS
from .parse_tables import KEYWORDS
from .syntax import Arg, Block, Layer, Value

_VALUE_KINDS = {"NUMBER": "number", "SIZE": "size", "NAME": "word"}
_ENDS = ("\n", ";", "#")   # a line end, a separator, a comment (which runs to a line end)
# the keywords a layer or a block can start with (a definition is not plain: `def`)
_LAYER_KEYWORDS = ("add", "concat")
_BLOCK_KEYWORDS = frozenset(("residual", "shortcut", "branch", "repeat", "scale", "add", "concat"))
# the terminals a plain statement's first word can be: what the driver hands to `read`
FIRST_TERMINALS = frozenset({"NAME"} | {KEYWORDS[word] for word in _BLOCK_KEYWORDS})


def read(text: str, pos: int, first, line_start: int, depth: int, room: int):
    """The plain statement that the Token `first` begins, as (Layer or Block, the position
    after it, its last line, where that line starts, the layers in it), or None. `pos`:
    just after `first`; `line_start`: where its line starts; `depth`: the blocks it is in;
    `room`: how many layers the program may still have. `text` ends with a line end."""
    line = first.line
    head = _head(text, pos, first.value, first.type, first.column, line, line_start)
    if head is None:
        return None
    label, kind, kind_col, args, pos = head
    c = text[pos]
    if c in _ENDS:   # a layer
        layers = kind != "input"   # (the input is not a layer)
        if layers > room:
            return None   # the driver reports it, at this layer
        return Layer(kind, label, args, line, first.column, line, kind_col), pos, line, line_start, layers
    if c == "}" or kind not in _BLOCK_KEYWORDS or (label is None and first.type == "NAME") or depth >= MAX_DEPTH:
        return None   # a misspelt block, or one nested past the limit: the driver says so
    body = []
    layers = 0
    n = len(text)
    pos, line, line_start = separator_run(text, pos + 1, line, line_start)
    while pos < n and text[pos] != "}":
        found = scan(text, pos)
        if found is None or found[0] != "NAME":
            return None
        end = found[1]
        word = text[pos:end]
        if word in KEYWORDS and word not in _LAYER_KEYWORDS:
            return None   # a nested block, or a keyword out of place
        inner = _head(text, end, word, KEYWORDS.get(word, "NAME"), pos - line_start + 1, line, line_start)
        if inner is None:
            return None
        name, kind_, col, args_, end = inner
        c = text[end]
        if c != "}" and c not in _ENDS:
            return None
        layers += kind_ != "input"
        body.append(Layer(kind_, name, args_, line, pos - line_start + 1, line, col))
        pos, line, line_start = separator_run(text, end, line, line_start)
    if pos == n or layers > room:
        return None   # the text ends inside the block, or the layers pass their limit: the driver says so
    count = args.pop(0).value if args and args[0].key is None else None
    block = Block(kind, label, count, body, first.line, first.column, first.line, kind_col, args)
    return block, pos + 1, line, line_start, layers


def _head(text: str, pos: int, value: str, typ: str, col: int, line: int, line_start: int):
    """`[NAME:] KIND ARG*` from its first word (`value`, of terminal `typ`, at `col`;
    `pos` just after it), as (label, kind, the kind's column, args, the position where
    it ends: at a separator, a comment, a `{` or a `}`); None where it is not plain."""
    if text[pos] in BLANKS:
        pos = run(text, pos + 1, BLANKS)
    c = text[pos]
    label, kind, kind_col = None, value, col
    words = 1
    if c == ":":   # a label: the kind follows
        if typ != "NAME":
            return None
        pos += 1
        if text[pos] in BLANKS:
            pos = run(text, pos + 1, BLANKS)
        found = scan(text, pos)
        if found is None or found[0] != "NAME":
            return None
        label, kind, kind_col = value, text[pos:found[1]], pos - line_start + 1
        if kind in KEYWORDS and kind not in _BLOCK_KEYWORDS:
            return None
        pos = found[1]
        if text[pos] in BLANKS:
            pos = run(text, pos + 1, BLANKS)
        c = text[pos]
        words = 3
    args = []
    while c not in _ENDS and c != "{" and c != "}":
        found = scan(text, pos)
        if found is None or found[0] != "NAME":
            key = None
            value, pos = _value(text, pos, line, line_start, found)
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
                value, pos = _value(text, pos + 1, line, line_start)
                if value is None:
                    return None
                words += 2
            else:
                key, value = None, Value(word, "word", line, col)
        words += 1
        if text[pos] == ",":   # a list: value ("," value)+
            items = [value]
            while text[pos] == ",":
                item, pos = _value(text, pos + 1, line, line_start)
                if item is None:
                    return None
                items.append(item)
                words += 2
            value = Value(",".join(v.text for v in items), "list", value.line, value.col, tuple(items))
        args.append(Arg(None, value, line, value.col) if key is None else Arg(key, value, line, key_col))
        c = text[pos]
    if words > MAX_WORDS:   # the driver reports it, at the word past the limit
        return None
    if kind in KEYWORDS and kind not in _LAYER_KEYWORDS and c != "{":
        return None   # `residual` without a body: the driver says what is missing
    return label, kind, kind_col, args, pos


def _value(text: str, pos: int, line: int, line_start: int, found=None):
    """(Value, the position after it and its blanks) for the number, size or word at `pos`
    (after the blanks there; `found`: what `scan` already found at `pos`); (None, pos) for
    anything else (a keyword included)."""
    if found is None:
        if text[pos] in BLANKS:
            pos = run(text, pos + 1, BLANKS)
        found = scan(text, pos)
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
