"""Code actions: the checker's hints, applied.

The checker's messages name their fix in a few fixed forms (cnnc/layers/__init__.py,
cnnc/graph.py, cnnc/syntax.py); each form here is read back into an edit:

- `did you mean 'conv'?`, `did you mean padding=same?` -- the word (or `key=value`) at
  the diagnostic replaced, Keras's and PyTorch's names (`Conv2D`) included;
- `write stride=2 (Keras's strides= is stride= here)` -- the option renamed;
- `write same without quotes`, `write 3x3 instead of (3, 3)`, `write 3x3 without
  spaces, not '3 x 3'` -- the Python habit rewritten;
- `use padding=same to keep them`, `give conv_1 and conv_2 padding=same` -- the option
  added to (or changed on) those layers' statements;
- ``add `shortcut { conv 32 1x1 stride=2 }` after the block`` -- the shortcut inserted.

An edit is ((line, col), (line, col), text), 1-based, end exclusive.
"""

from __future__ import annotations

import re

from .document import Analysis

_MEAN_WORD = re.compile(r"did you mean '([^']+)'\?")
_MEAN_OPTION = re.compile(r"did you mean ([A-Za-z_]\w*=[^\s?]+)\?")
_KERAS = re.compile(r"write ([A-Za-z_]\w*=\S+) \(Keras's")
_QUOTES = re.compile(r"write (?:[A-Za-z_]\w*=)?(.*) without quotes")
_PARENS = re.compile(r"write (\S+) instead of (.+)$")
_SPACES = re.compile(r"write (\S+) without spaces, not '(.+)'")
_SAME = re.compile(r"use (padding=same) to keep them")
_GIVE = re.compile(r"give (.+?) padding=same")
_SHORTCUT = re.compile(r"add `(shortcut \{[^`]*\})` after the block")


def fixes(analysis: Analysis, d) -> list:
    """[(title, [edit, ...])] for diagnostic `d` (a Diagnostic), best first."""
    text = d.text
    at = (d.line, d.col)
    out = []
    m = _KERAS.search(text)
    if m:
        out.append((f"Write {m.group(1)}", [(at, _word_end(analysis, at, option=True), m.group(1))]))
    m = _MEAN_OPTION.search(text)
    if m and not out:
        out.append((f"Change to {m.group(1)}", [(at, _word_end(analysis, at, option=True), m.group(1))]))
    m = _MEAN_WORD.search(text)
    if m:
        start, end = _value_span(analysis, at)
        out.append((f"Change to '{m.group(1)}'", [(start, end, m.group(1))]))
    m = _QUOTES.search(d.message)
    if m:
        end = _quoted_end(analysis, at)
        if end is not None:
            out.append((f"Write {m.group(1)} without quotes", [(at, end, m.group(1))]))
    m = _SPACES.search(d.message)
    if m:
        out.append((f"Write {m.group(1)}", [(at, (d.line, d.col + len(m.group(2))), m.group(1))]))
    elif not m and not out:
        m = _PARENS.search(d.message)
        if m and _written(analysis, at, m.group(2)):
            out.append((f"Write {m.group(1)}", [(at, (d.line, d.col + len(m.group(2))), m.group(1))]))
    if _SAME.search(text):
        st = analysis.statement_at(*at)
        if st is not None and not st.block:
            out.append(("Add padding=same", [_set_option(analysis, st, "padding", "same")]))
    m = _GIVE.search(text)
    if m:
        edits = []
        for name in re.split(r", | and ", m.group(1)):
            node = analysis.node_named(name)
            st = analysis.statement_of(node) if node is not None else None
            if st is not None:
                edits.append(_set_option(analysis, st, "padding", "same"))
        if edits:
            out.append((f"Give {m.group(1)} padding=same", list(dict.fromkeys(edits))))
    m = _SHORTCUT.search(text)
    if m:
        st = analysis.statement_at(*at)
        if st is not None and st.kind == "residual":
            out.append((f"Add {m.group(1)}", [(st.end, st.end, " " + m.group(1))]))
    return out


def _word_end(analysis: Analysis, at: tuple, option: bool = False) -> tuple:
    """The end of the word at `at`; with `option`, of `key=value` when the word is a key."""
    toks = analysis.line_tokens(at[0])
    for i, t in enumerate(toks):
        if t.column == at[1]:
            if option and i + 2 < len(toks) and toks[i + 1].value == "=":
                v = toks[i + 2]
                return at[0], v.column + len(v.value)
            return at[0], t.column + len(t.value)
    return at[0], at[1] + 1


def _value_span(analysis: Analysis, at: tuple) -> tuple:
    """The word at `at`, or the value of `key=value` when the word there is a key."""
    toks = analysis.line_tokens(at[0])
    for i, t in enumerate(toks):
        if t.column == at[1]:
            if i + 2 < len(toks) and toks[i + 1].value == "=":
                t = toks[i + 2]
            return (t.line, t.column), (t.line, t.column + len(t.value))
    return at, (at[0], at[1] + 1)


def _quoted_end(analysis: Analysis, at: tuple) -> "tuple | None":
    line = analysis.lines[at[0] - 1] if at[0] <= len(analysis.lines) else ""
    i = at[1] - 1
    if i >= len(line) or line[i] not in "\"'":
        return None
    close = line.find(line[i], i + 1)
    return None if close < 0 else (at[0], close + 2)


def _written(analysis: Analysis, at: tuple, text: str) -> bool:
    line = analysis.lines[at[0] - 1] if at[0] <= len(analysis.lines) else ""
    return line[at[1] - 1:at[1] - 1 + len(text)] == text


def _set_option(analysis: Analysis, st, key: str, value: str) -> tuple:
    """An edit that gives the layer statement `st` the option key=value: the value replaced
    when the option is written, else ` key=value` added after its last argument."""
    toks = [t for t in analysis.line_tokens(st.keyword[0]) if st.keyword <= (t.line, t.column) < st.end]
    for i, t in enumerate(toks):
        if t.value == key and i + 2 < len(toks) and toks[i + 1].value == "=":
            v = toks[i + 2]
            return (v.line, v.column), (v.line, v.column + len(v.value)), value
    return st.end, st.end, f" {key}={value}"
