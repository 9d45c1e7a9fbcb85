"""The lexer: the grammar's terminals (grammars/cnn.lark), scanned without `re`.

`scan(text, pos)` finds what one match of the terminals' regular expressions
(parse_tables.TOKENS, tried in their order) finds at `pos`: the same terminal and the
same end. It is written by hand because importing `re` (and the `enum` it imports)
costs about half of `python -c pass`, which every `cnnc shapes` would pay against its
start-up budget of 3x `python -c pass` (BENCHMARKS.md). tests/test_lexer.py fails
when the grammar's terminals change, and checks `scan` against those expressions on
random text.

The terminals, in the order the expressions try them:
    SIZE     [sign] digits (x [sign] digits)+       3x3, 28x28x1, -2x3
    NUMBER   [sign] (digits [. digits*] | . digits) [(e|E) [sign] digits]
             A sign belongs to a number only where the character before it is not a
             letter, digit, `_`, `.` or `)`: `c-1` is c minus 1, `c -1` is c and -1.
    NAME     (letter | _) (letter | digit | _)*     (ASCII only, as the expressions)
    blanks   space, tab, form feed, carriage return (ignored)
    COMMENT  # up to the line end
    _SEP     a line end or `;`
    literals // ( ) * + , - : = { }
"""

from __future__ import annotations

from .parse_tables import LITERALS   # the punctuation's terminal names, from the grammar

_DIGITS = "0123456789"
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
_WORD = _LETTERS + _DIGITS
BLANKS = " \t\f\r"
SEPARATORS = ";\n" + BLANKS
_NAME_START = frozenset(_LETTERS)
_NUMBER_START = frozenset(_DIGITS + ".")
_SIGNS = ("-", "+")
_NO_SIGN_AFTER = frozenset(_WORD + ".)")   # a sign after these is an operator
BLANK, COMMENT = "__IGNORE_1", "COMMENT"   # the ignored terminals' names in parse_tables


def run(text: str, pos: int, chars: str) -> int:
    """The end of the run of `chars` that starts at `pos`. str.lstrip does the scanning, on
    a window that grows fourfold, so a long run (a file of `;`) costs few calls."""
    size = 16
    while True:
        chunk = text[pos:pos + size]
        rest = len(chunk.lstrip(chars))
        if rest or len(chunk) < size:
            return pos + len(chunk) - rest
        pos += size
        size *= 4


def scan(text: str, pos: int) -> "tuple[str, int] | None":
    """(terminal, end) of the token at text[pos] (pos < len(text)); a literal is given
    by its own name (LBRACE, FLOORDIV). None: no terminal starts with this character."""
    c = text[pos]
    if c in _NAME_START:
        return "NAME", run(text, pos + 1, _WORD)
    if c in BLANKS:
        return BLANK, run(text, pos + 1, BLANKS)
    if c in _NUMBER_START:
        return _number(text, pos)
    if c == "\n" or c == ";":
        return "_SEP", pos + 1
    if c == "-" or c == "+":
        if pos == 0 or text[pos - 1] not in _NO_SIGN_AFTER:
            found = _number(text, pos + 1)
            if found is not None:
                return found
        return LITERALS[c], pos + 1
    if c == "#":
        end = text.find("\n", pos)
        return COMMENT, len(text) if end < 0 else end
    if c == "/":
        return (LITERALS["//"], pos + 2) if text.startswith("/", pos + 1) else None
    literal = LITERALS.get(c)
    return None if literal is None else (literal, pos + 1)


def _number(text: str, pos: int) -> "tuple[str, int] | None":
    """A SIZE or NUMBER starting at `pos` (after its sign, if any), or None."""
    end = run(text, pos, _DIGITS)
    if end > pos:
        size = end
        while text.startswith("x", size):   # SIZE: as many complete `x [sign] digits` as follow
            first = size + 1 + text.startswith(_SIGNS, size + 1)
            last = run(text, first, _DIGITS)
            if last == first:
                break
            size = last
        if size > end:
            return "SIZE", size
        if text.startswith(".", end):
            end = run(text, end + 1, _DIGITS)
    elif text.startswith(".", pos):
        end = run(text, pos + 1, _DIGITS)
        if end == pos + 1:
            return None
    else:
        return None
    if text.startswith(("e", "E"), end):
        first = end + 1 + text.startswith(_SIGNS, end + 1)
        last = run(text, first, _DIGITS)
        if last > first:
            end = last
    return "NUMBER", end


def separator_run(text: str, pos: int, line: int, line_start: int) -> tuple:
    """Past the separators, blanks and comments from `pos` on: (position, line, where that
    line starts). The parser reads such a run as one separator (the grammar takes `_SEP+`
    wherever it takes one)."""
    while True:
        end = run(text, pos, SEPARATORS)
        lines = text.count("\n", pos, end)
        if lines:
            line += lines
            line_start = text.rindex("\n", pos, end) + 1
        pos = end
        if not text.startswith("#", pos):   # (the text may end here)
            return pos, line, line_start
        end = text.find("\n", pos)
        pos = len(text) if end < 0 else end
