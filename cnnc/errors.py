"""Diagnostics: every problem in a program is reported at its source position.

A `Diagnostic` is one message (error or warning) with a place, in two parts: what is
wrong (`message`) and, when there is one, how to fix it (`hint`). `CnncError` carries
one or more error diagnostics and formats as the compiler would print them:

    lenet.cnn:4:1: error: conv_2: ...; HINT

Messages are written `WHAT; HINT` throughout cnnc (the layer registry's shape errors,
argument errors, the checker's own): a Diagnostic made from such a text keeps the part
before the first "; " as its message and the rest as its hint, so `--json` can give
both while the printed line stays what was written.
"""

from __future__ import annotations


class Diagnostic:
    """`notes`: (line, col, text) of places that explain this one, printed after it as
    `FILE:LINE:COL: note: TEXT` -- for a diagnostic inside a definition, the uses it is in."""
    __slots__ = ("severity", "message", "line", "col", "filename", "hint", "notes")

    def __init__(self, severity: str, message: str, line: int, col: int, filename: str = "<string>",
                 hint: "str | None" = None, notes: tuple = ()):
        if hint is None:
            message, _, rest = message.partition("; ")
            hint = rest or None
        self.severity = severity  # "error" or "warning"
        self.message = message
        self.hint = hint
        self.line = line
        self.col = col
        self.filename = filename
        self.notes = tuple(notes)

    @property
    def text(self) -> str:
        """The message with its hint, as printed."""
        return f"{self.message}; {self.hint}" if self.hint else self.message

    def format(self) -> str:
        out = f"{self.filename}:{self.line}:{self.col}: {self.severity}: {self.text}"
        for line, col, text in self.notes:
            out += f"\n{self.filename}:{line}:{col}: note: {text}"
        return out

    __str__ = format

    def to_dict(self) -> dict:
        """The diagnostic for `--json`: file, line, col, severity, message, hint (or None), and
        `notes` (a list of {file, line, col, message}) when it has any."""
        out = {"file": self.filename, "line": self.line, "col": self.col, "severity": self.severity,
               "message": self.message, "hint": self.hint}
        if self.notes:
            out["notes"] = [{"file": self.filename, "line": line, "col": col, "message": text}
                            for line, col, text in self.notes]
        return out

    def __repr__(self) -> str:
        return f"Diagnostic({self.format()!r})"


class CnncError(Exception):
    """An error in a cnnc program (or in how cnnc was called).

    `.line` and `.col` are 1-based and belong to the first error; `.diagnostics`
    holds all of them, and `str(err)` is every error, one per line. `.warnings`
    holds the program's warnings (the CLI prints them too).
    """

    warnings: "list[Diagnostic]" = []

    def __init__(self, diagnostics: "list[Diagnostic] | str", line: int = 0, col: int = 0, filename: str = "<string>"):
        if isinstance(diagnostics, str):
            diagnostics = [Diagnostic("error", diagnostics, line, col, filename)]
        self.diagnostics = list(diagnostics)
        first = self.diagnostics[0]
        self.line, self.col, self.filename = first.line, first.col, first.filename
        self.message = first.text   # with its hint: the whole first error as printed
        super().__init__("\n".join(d.format() for d in self.diagnostics))


class Reporter:
    """Collects diagnostics for one program so that all its errors surface in one run.
    `notes`: what every diagnostic reported now carries (the graph builder sets the uses of
    definitions it is inside), unless one is given its own."""

    def __init__(self, filename: str = "<string>"):
        self.filename = filename
        self.diagnostics: list[Diagnostic] = []
        self.notes: tuple = ()

    def error(self, message: str, line: int, col: int, notes: "tuple | None" = None) -> None:
        self.diagnostics.append(Diagnostic("error", message, line, col, self.filename,
                                           notes=self.notes if notes is None else notes))

    def warning(self, message: str, line: int, col: int, notes: "tuple | None" = None) -> None:
        self.diagnostics.append(Diagnostic("warning", message, line, col, self.filename,
                                           notes=self.notes if notes is None else notes))

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "warning"]

    def raise_if_errors(self) -> None:
        errors = self.errors
        if errors:
            errors.sort(key=lambda d: (d.line, d.col))
            err = CnncError(errors)
            err.warnings = self.warnings
            raise err


def closest(word: str, candidates) -> "str | None":
    """The candidate nearest to `word` by edit distance, if it is plausibly a typo."""
    best, best_d = None, None
    most = max(2, len(word) // 2)
    for c in candidates:
        if abs(len(word) - len(c)) > most:
            continue  # the distance is at least the difference in length: no typo (and a long word costs nothing)
        d = _edit_distance(word.lower(), c)
        if best_d is None or d < best_d:
            best, best_d = c, d
    if best is not None and best_d <= most:
        return best
    return None


def _edit_distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


class WeightsError(CnncError, ValueError):
    """Weights that do not fit the network, or a weights file that cannot be read.

    Both a CnncError (the CLI reports it) and a ValueError (it is bad data passed to
    the API). `.unreadable` is True when the file itself could not be read.
    """

    def __init__(self, message: str, unreadable: bool = False):
        super().__init__(message, 0, 0, "<weights>")
        self.unreadable = unreadable
        self.args = (message,)

    def __str__(self) -> str:
        return self.message


class UsageError(Exception):
    """Bad usage (a wrong option value, an output that would overwrite an input) or a file
    that cannot be read: the CLI exits 2 with the message."""

