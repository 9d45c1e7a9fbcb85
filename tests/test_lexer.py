"""cnnc/lexer.py against the grammar's terminals: the regular expressions lark wrote into
parse_tables.TOKENS, tried in their order, are the oracle of every `scan`."""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import given, settings, strategies as st

from cnnc.lexer import run, scan
from cnnc.parse_tables import LITERALS, TOKENS
from cnnc.syntax import tokenize

# The terminals cnnc/lexer.py is written for. When grammars/cnn.lark changes one, this
# fails: change the scanner to match, then this list.
WRITTEN_FOR = [
    ("SIZE", "((?<![A-Za-z0-9_.)])[-+])?[0-9]+(x[-+]?[0-9]+)+"),
    ("NUMBER", "((?<![A-Za-z0-9_.)])[-+])?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([eE][-+]?[0-9]+)?"),
    ("NAME", "[A-Za-z_][A-Za-z0-9_]*"),
    ("__IGNORE_1", "[ \t\x0c\r]+"),
    ("COMMENT", "#[^\n]*"),
    ("_SEP", "(\r?\n|;)"),
    ("_LITERAL", "//|\\(|\\)|\\*|\\+|,|\\-|:|=|\\{|\\}"),
]

_ORACLE = re.compile("|".join(f"(?P<{name}>{rx})" for name, rx in TOKENS))

# characters that start, end or break every terminal, and some no terminal takes
ALPHABET = "ax0159.-+eExX_Z \t\r\n;#/(){}*,:=\f\u00e9\u0663\u00b2[]\"'"


def expected(text: str, pos: int):
    m = _ORACLE.match(text, pos)
    if m is None:
        return None
    return (LITERALS[m.group()] if m.lastgroup == "_LITERAL" else m.lastgroup), m.end()


def test_the_grammar_has_the_terminals_the_scanner_is_written_for():
    assert TOKENS == WRITTEN_FOR


@settings(max_examples=3000, deadline=None, derandomize=True)
@given(st.text(alphabet=ALPHABET, min_size=1, max_size=16))
def test_scan_finds_what_the_expressions_find(text):
    for pos in range(len(text)):
        assert scan(text, pos) == expected(text, pos), (text, pos)


@pytest.mark.parametrize("text, pos, want", [
    ("3x3", 0, ("SIZE", 3)), ("28x28x1", 0, ("SIZE", 7)), ("3x3x", 0, ("SIZE", 3)), ("3x-2", 0, ("SIZE", 4)),
    ("3x", 0, ("NUMBER", 1)), ("1.e5", 0, ("NUMBER", 4)), ("1e", 0, ("NUMBER", 1)), (".5", 0, ("NUMBER", 2)),
    ("c-1", 1, ("MINUS", 2)), ("c -1", 2, ("NUMBER", 4)), (")-1", 1, ("MINUS", 2)), ("-x", 0, ("MINUS", 1)),
    ("//", 0, ("FLOORDIV", 2)), ("/", 0, None), (".", 0, None), ("\u0663", 0, None), ("\r\n", 0, ("__IGNORE_1", 1)),
    ("# a (b)\nx", 0, ("COMMENT", 7)), ("relu6", 0, ("NAME", 5)),
])
def test_terminals_at_their_edges(text, pos, want):
    assert scan(text, pos) == want == expected(text, pos)


def test_random_programs_lex_as_the_expressions_lex_them():
    """Whole programs, token by token, with long runs (the scanner reads runs in windows
    that grow: a run across several windows must end where the expression ends)."""
    rng = random.Random(7)
    words = ["conv", "32", "3x3", "relu", "padding=same", ";", "\n", "  ", "# note (x)\n", "{", "}", "c-1", "c -1",
             "max(1,", "c//4)", "1.5e-3", "a" * 70, "9" * 40, "\t" * 30, ";" * 300, "8x" * 25 + "8"]
    for _ in range(300):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(1, 40)))
        pos = 0
        while pos < len(text):
            got = scan(text, pos)
            assert got == expected(text, pos), (text, pos)
            if got is None:
                break
            pos = got[1]


def test_long_runs():
    assert run(";" * 1_000_000 + "x", 0, ";") == 1_000_000
    assert scan("a" * 100_000, 0) == ("NAME", 100_000)
    assert run("", 0, ";") == 0 and run("ab", 2, "a") == 2


def test_tokenize_keeps_comments_and_separators_and_drops_blanks():
    toks = [(t.type, t.value, t.line, t.column) for t in tokenize("c: conv 8 3x3  # hi\n{ a-1 }")]
    assert toks == [("NAME", "c", 1, 1), ("COLON", ":", 1, 2), ("NAME", "conv", 1, 4), ("NUMBER", "8", 1, 9),
                    ("SIZE", "3x3", 1, 11), ("COMMENT", "# hi", 1, 16), ("_SEP", "\n", 1, 20),
                    ("LBRACE", "{", 2, 1), ("NAME", "a", 2, 3), ("MINUS", "-", 2, 4), ("NUMBER", "1", 2, 5),
                    ("RBRACE", "}", 2, 7)]
