"""An indenting source emitter: generated code is built line by line, never by
string surgery, so it is deterministic and reads like hand-written code.

    e = Emitter()
    with e.block("def f(x):"):
        e.line("return x")
    e.source()
"""

from __future__ import annotations

import json
from contextlib import contextmanager

from ..layers import statement


class Emitter:
    def __init__(self, indent: str = "    ", comments: bool = True):
        self._lines: list[str] = []
        self._depth = 0
        self._indent = indent
        self._comments = comments   # False: comments are left out (code compared by its text)

    def line(self, text: str = "") -> None:
        self._lines.append(self._indent * self._depth + text if text else "")

    def lines(self, *texts: str) -> None:
        for t in texts:
            self.line(t)

    def comment(self, text: str) -> None:
        """A comment; user text is made safe (one line, no control characters)."""
        if self._comments:
            self.line("# " + safe_comment(text))

    @property
    def commenting(self) -> bool:
        """Whether comments are written (callers skip composing costly ones when not)."""
        return self._comments

    def blank(self) -> None:
        if self._lines and self._lines[-1] != "":
            self._lines.append("")

    @contextmanager
    def block(self, header: str):
        self.line(header)
        self._depth += 1
        try:
            yield self
        finally:
            self._depth -= 1

    @contextmanager
    def indented(self):
        self._depth += 1
        try:
            yield self
        finally:
            self._depth -= 1

    def table(self, head: str, rows, tail: str = "") -> None:
        """`head rows(r\"\"\"` ... `\"\"\")tail`: a table literal (carried/tables.py), its rows
        unindented, one per line."""
        self.line(head + 'rows(r"""')
        self._lines.extend(table_rows(rows))
        self._lines.append('""")' + tail)

    def source(self) -> str:
        text = "\n".join(self._lines).rstrip("\n")
        return text + "\n"


def safe_comment(text: str) -> str:
    """User text for a `#` comment: printable, one line."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else "?" for ch in str(text).replace("\n", " ").replace("\r", " "))


def source_line(node) -> str:
    """`line 3: conv_1 = conv 32 3x3 relu`: the comment above a layer's generated code."""
    return f"line {node.line}: {node.name} = {statement(node)}"


def table_rows(rows) -> list:
    """The lines of a table literal (carried/tables.py): one JSON value (an array, an object)
    per row, in order."""
    return [json.dumps(r, separators=(", ", ": ")) for r in rows]


def line_ranges(lines, most: int = 12) -> str:
    """Source line numbers as ranges, `2, 5-9, 12`; past `most` ranges, how many lines more."""
    spans: list = []
    for n in sorted(set(lines)):
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    shown = [f"{a}-{b}" if b > a else str(a) for a, b in spans[:most]]
    rest = sum(b - a + 1 for a, b in spans[most:])
    return ", ".join(shown) + (f" and {rest:,} more" if rest else "")


def shared_comment(what: str, names: list, lines) -> str:
    """The comment of code that serves several layers or groups: how many, the first few and
    the last by name, and every source line as ranges (one line of text however many)."""
    shown = names if len(names) <= 4 else names[:3] + ["…", names[-1]]
    return f"shared by {len(names):,} {what} ({', '.join(shown)}): source lines {line_ranges(lines)}"


def check_table_names(net, backend: str) -> None:
    """Layer names go in the generated tables as JSON strings (escaped whatever they hold) and
    in function and kernel names; the grammar makes them identifiers, and this says so where
    it is relied on."""
    from ..errors import CnncError

    for n in net.nodes:
        if not n.name.isidentifier():
            raise CnncError(f"the {backend} backend needs layer names that are identifiers, got {n.name!r}",
                            n.line, n.col, net.filename)
