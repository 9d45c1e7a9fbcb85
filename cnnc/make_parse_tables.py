"""Regenerate cnnc/parse_tables.py from grammars/cnn.lark:

    python -m cnnc.make_parse_tables

The grammar stays the one source of truth; lark builds its LALR(1) tables and this
writes them out as plain Python literals (no pickle), which cnnc/syntax.py drives
with a few dozen lines. That keeps lark (about 60 ms to import and 60 ms to compile
the grammar) off the path of every `cnnc shapes`. tests/test_syntax.py checks that
the file is current and that the small driver parses exactly as lark does.
"""

from __future__ import annotations

import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent / "parse_tables.py"


def generate() -> str:
    from lark import Lark
    from lark.parsers.lalr_analysis import Shift

    from .syntax import _grammar_path

    lk = Lark(_grammar_path().read_text(), parser="lalr", lexer="contextual", maybe_placeholders=False)
    terms = list(lk.terminals)
    by_name = {t.name: t for t in terms}
    ignore = set(lk.ignore_tokens)

    # Keywords are string terminals that NAME also matches: lark lexes them as NAME
    # and retypes them where the parser state accepts the keyword (contextual lexer).
    name_re = by_name["NAME"].pattern.to_regexp()
    import re

    keywords = {t.pattern.value: t.name for t in terms
                if type(t.pattern).__name__ == "PatternStr" and re.fullmatch(name_re, t.pattern.value)}
    lexed = [t for t in terms if t.name not in keywords.values()]
    # lark's own lexer order: priority, then the longest possible match, then the pattern's length
    lexed.sort(key=lambda t: (-t.priority, -t.pattern.max_width, -len(t.pattern.value), t.name))
    # Punctuation (a string no other terminal starts with, which sorts after every regex
    # terminal) is matched by one alternative and told apart by its text: each named group
    # of the lexer's regex costs start-up time to compile.
    literals = {}
    while lexed and type(lexed[-1].pattern).__name__ == "PatternStr" and \
            not any(re.match(t.pattern.to_regexp(), lexed[-1].pattern.value) for t in lexed[:-1]
                    if type(t.pattern).__name__ != "PatternStr"):
        t = lexed.pop()
        literals[t.pattern.value] = t.name
    tokens = [(t.name, t.pattern.to_regexp()) for t in lexed]
    if literals:   # longest first, as the lexer ordered them
        tokens.append(("_LITERAL", "|".join(re.escape(v) for v in sorted(literals, key=lambda v: (-len(v), v)))))

    rule_index = {}
    rules = []
    for i, r in enumerate(lk.rules):
        rule_index[r] = i
        mask = "".join(
            "d" if (s.is_term and s.filter_out) else ("s" if (not s.is_term and s.name.startswith("_")) else "k")
            for s in r.expansion)
        inline = r.origin.name.startswith("_")
        callback = None if inline else str(r.alias or r.origin.name)
        rules.append((str(r.origin.name), len(r.expansion), mask, callback, bool(r.options.expand1)))

    table = lk.parser.parser.parser.parse_table
    # lark numbers states in an order that depends on set iteration (hash seeds), so
    # renumber them canonically: breadth-first from the start state, symbols sorted.
    start, end = table.start_states["start"], table.end_states["start"]
    order, seen = [start], {start: 0}
    for s in order:
        for sym, (action, arg) in sorted(table.states[s].items()):
            if action is Shift and arg not in seen:
                seen[arg] = len(order)
                order.append(arg)
    if end not in seen:
        seen[end] = len(order)
        order.append(end)
    assert len(order) == len(table.states)
    states = []
    for s in order:
        acts = {}
        for sym, (action, arg) in sorted(table.states[s].items()):
            acts[str(sym)] = seen[arg] if action is Shift else -1 - rule_index[arg]
        states.append(acts)
    start, end = seen[start], seen[end]

    out = ['"""LALR(1) tables for grammars/cnn.lark, written by `python -m cnnc.make_parse_tables`.',
           "",
           "Generated from the grammar by lark; do not edit (tests/test_syntax.py checks it is current).",
           '"""',
           "",
           f"TOKENS = {tokens!r}  # (terminal, regex) in lexer priority order",
           f"LITERALS = {dict(sorted(literals.items()))!r}  # what _LITERAL matched -> its terminal",
           f"IGNORE = {sorted(ignore)!r}",
           f"KEYWORDS = {dict(sorted(keywords.items()))!r}",
           "# (origin, length, per-symbol d=drop/k=keep/s=splice, callback or None to splice, expand1)",
           "RULES = ["]
    out += [f"    {r!r}," for r in rules]
    out += ["]", "# per state: symbol -> shift to state (>= 0) or reduce rule -1-n (< 0)", "STATES = ["]
    out += [f"    {s!r}," for s in states]
    out += ["]",
            f"START = {start!r}",
            f"END = {end!r}",
            ""]
    return "\n".join(out)


def main() -> int:
    OUT.write_text(generate())
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
