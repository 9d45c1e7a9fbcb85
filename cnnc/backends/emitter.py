"""An indenting source emitter: generated code is built line by line, never by
string surgery, so it is deterministic and reads like hand-written code.

    e = Emitter()
    with e.block("def f(x):"):
        e.line("return x")
    e.source()
"""

from __future__ import annotations

from contextlib import contextmanager

from ..layers import statement


class Emitter:
    def __init__(self, indent: str = "    "):
        self._lines: list[str] = []
        self._depth = 0
        self._indent = indent

    def line(self, text: str = "") -> None:
        self._lines.append(self._indent * self._depth + text if text else "")

    def lines(self, *texts: str) -> None:
        for t in texts:
            self.line(t)

    def comment(self, text: str) -> None:
        """A comment; user text is made safe (one line, no control characters)."""
        self.line("# " + safe_comment(text))

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

    def source(self) -> str:
        text = "\n".join(self._lines).rstrip("\n")
        return text + "\n"


def safe_comment(text: str) -> str:
    """User text for a `#` comment: printable, one line."""
    return "".join(ch if ch.isprintable() else "?" for ch in str(text).replace("\n", " ").replace("\r", " "))


def source_line(node) -> str:
    """`line 3: conv_1 = conv 32 3x3 relu`: the comment above a layer's generated code."""
    return f"line {node.line}: {node.name} = {statement(node)}"
