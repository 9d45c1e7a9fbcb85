"""Argument parsers for layer statements: each turns one written Value (`32`, `3x3`,
`same`, `0.5`) into a Python value or raises ArgError with a message in the program's
terms. Kinds declare their arguments as `Param`s built from these."""

from __future__ import annotations

from ..limits import MAX_SIZE, input_problem, integer, shown
from ..records import FrozenRecord


class ArgError(Exception):
    """A wrong argument. `choices`: the words it may be, when it is one of a few (parse_args
    then suggests the closest and reads the argument as that, to check the rest). `option`
    names the option to point at when the problem is between arguments (`dilation=2` with
    `stride=2`; LayerKind.check), None for the statement itself."""

    def __init__(self, message: str, choices: tuple = (), option: "str | None" = None):
        super().__init__(message)
        self.choices = tuple(choices)
        self.option = option


class Param(FrozenRecord):
    """A declared argument: `name` (also the attrs key), `parse` (Value -> python value,
    raises ArgError), whether it is `required`, its `default`."""
    __slots__ = ("name", "parse", "required", "default")
    _defaults = {"required": True, "default": None}


def _is_int(text: str) -> bool:
    return integer(text) is not None


def _bounded(n: int, what: str, text: str) -> int:
    """Every written size and count is at most MAX_SIZE (cnnc/limits.py)."""
    if n > MAX_SIZE:
        raise ArgError(f"{what} must be at most {MAX_SIZE:,}, got {shown(text)}")
    return n


def _int(v, what: str) -> int:
    n = integer(v.text) if v.kind == "number" else None
    if n is None:
        raise ArgError(f"{what} must be a positive integer, got '{shown(v.text)}'")
    if n <= 0:
        raise ArgError(f"{what} must be a positive integer, got {shown(v.text)}")
    return _bounded(n, what, v.text)


def count(what: str):
    return lambda v: _int(v, what)


def _sizes(v) -> list:
    """The parts of a size token (`3x5`, `28x28x1`); the lexer made each an integer."""
    return [integer(p) for p in v.text.split("x")]


def pair(what: str):
    """`3` or `3x5` (height x width), both positive."""
    def parse(v):
        if v.kind == "number" and _is_int(v.text):
            n = integer(v.text)
            if n <= 0:
                raise ArgError(f"{what} must be positive, got {shown(v.text)}")
            return (_bounded(n, what, v.text),) * 2
        if v.kind == "size":
            parts = _sizes(v)
            if len(parts) != 2:
                raise ArgError(f"{what} is height x width (like 3x3) or one number, got '{shown(v.text)}'")
            if min(parts) <= 0:
                raise ArgError(f"{what} must be positive, got {shown(v.text)}")
            return tuple(_bounded(n, what, v.text) for n in parts)
        raise ArgError(f"{what} must be a size like 3x3 or 3, got '{shown(v.text)}'")
    return parse


def pixels(what: str):
    """`2` or `1x2` (height x width): pixel counts, zero allowed."""
    def parse(v):
        parts = v.text.split("x") if v.kind == "size" else [v.text]
        if v.kind not in ("number", "size") or not all(_is_int(p) for p in parts) or len(parts) > 2:
            raise ArgError(f"{what} must be a number of pixels like 1 or 1x2 (height x width), got '{shown(v.text)}'")
        n = [integer(p) for p in parts]
        if min(n) < 0:
            raise ArgError(f"{what} must be 0 or more, got {shown(v.text)}")
        return (_bounded(n[0], what, v.text), _bounded(n[-1], what, v.text))
    return parse


def at_least_zero(what: str):
    """A whole number of pixels, 0 allowed."""
    def parse(v):
        n = integer(v.text) if v.kind == "number" else None
        if n is None or n < 0:
            raise ArgError(f"{what} must be a whole number of pixels, 0 or more, got '{shown(v.text)}'")
        return _bounded(n, what, v.text)
    return parse


def boolean(what: str):
    """`true` or `false`."""
    def parse(v):
        if v.kind == "word" and v.text in ("true", "false"):
            return v.text == "true"
        raise ArgError(f"{what} must be true or false, got '{shown(v.text)}'",
                       ("true", "false") if v.kind == "word" else ())
    return parse


def padding(v):
    if v.kind == "word" and v.text in ("valid", "same"):
        return v.text
    n = integer(v.text) if v.kind == "number" else None
    if n is not None and n >= 0:
        return _bounded(n, "padding", v.text)
    raise ArgError(f"padding must be valid, same or a number of pixels >= 0, got '{shown(v.text)}'",
                   ("valid", "same") if v.kind == "word" else ())


def choice(what: str, words: tuple):
    """One of a few words."""
    def parse(v):
        if v.kind == "word" and v.text in words:
            return v.text
        raise ArgError(f"{what} must be one of {', '.join(words)}, got '{shown(v.text)}'",
                       words if v.kind == "word" else ())
    return parse


def real(what: str):
    """Any finite decimal number, of either sign (`0.00392156862745098`, `-1`, `1e-3`)."""
    return decimal(what, float("-inf"), float("inf"), False, False)


def decimal(what: str, lo: float, hi: float, lo_closed: bool, hi_closed: bool):
    def parse(v):
        try:
            x = float(v.text)
        except ValueError:
            x = None
        if v.kind != "number" or x is None or x != x:
            raise ArgError(f"{what} must be a decimal number, got '{shown(v.text)}'")
        ok_lo = x >= lo if lo_closed else x > lo
        ok_hi = x <= hi if hi_closed else x < hi
        if not (ok_lo and ok_hi):
            interval = ("[" if lo_closed else "(") + f"{lo:g}, " + (f"{hi:g}" if hi != float("inf") else "inf") + ("]" if hi_closed else ")")
            raise ArgError(f"{what} must be in {interval}, got {shown(v.text)}")
        return x
    return parse


def reals(what: str, lo: float = float("-inf")):
    """One decimal (`0.5`) or a comma list of them (`0.485,0.456,0.406`): a tuple of floats,
    each finite and at least `lo`."""
    one = decimal(what, lo, float("inf"), True, False)

    def parse(v):
        if v.kind == "list":
            parts = getattr(v, "items", None)
            texts = [p.text for p in parts] if parts else v.text.split(",")
            return tuple(one(type(v)(t.strip(), "number", v.line, v.col)) for t in texts)
        if v.kind != "number":
            raise ArgError(f"{what} must be a decimal number or a comma list of them like 0.5,0.25, "
                           f"got '{shown(v.text)}'")
        return (one(v),)
    return parse


def input_shape(v):
    if v.kind == "size":
        parts = _sizes(v)
        if len(parts) == 3:
            if min(parts) <= 0:
                raise ArgError(f"input sizes must be positive, got {shown(v.text)}")
            if max(parts) > MAX_SIZE:  # (said with the text: a 5000-digit part was clamped)
                raise ArgError(f"input sizes must be at most {MAX_SIZE:,} each, got "
                               + "x".join(shown(p) for p in v.text.split("x")))
            problem = input_problem(parts)
            if problem:
                raise ArgError(problem)
            return tuple(parts)
        if len(parts) == 2 and min(parts) > 0:
            raise ArgError(f"input is height x width x channels, got {shown(v.text)}; "
                           f"write {shown(v.text)}x1 for grayscale or {shown(v.text)}x3 for RGB")
    raise ArgError(f"input is height x width x channels like 28x28x1, got '{shown(v.text)}'")
