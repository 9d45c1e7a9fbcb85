"""A Keras layer's configuration, read with its types checked.

`config.json` is data from a file: every value a converter reads goes through `Settings`,
which says what was expected when it finds something else (Malformed: the file is wrong)
and what the language would need when a value is well-formed but has no cnnc spelling
(Unsayable). `check_structure` bounds how deep the description nests before anything
walks it.
"""

from __future__ import annotations

import math

from ....limits import MAX_SIZE
from ..statement import Malformed, Unsayable

MAX_DEPTH = 128         # JSON nesting of a model description (Keras's own files: about 12 per nested model)

_MISSING = object()


def check_structure(value, depth: int = 0) -> None:
    """Malformed when `value` nests deeper than MAX_DEPTH (iteratively: no recursion limit)."""
    stack = [(value, 0)]
    while stack:
        v, d = stack.pop()
        if d > MAX_DEPTH:
            raise Malformed(f"it nests more than {MAX_DEPTH} levels deep")
        if isinstance(v, dict):
            stack.extend((x, d + 1) for x in v.values())
        elif isinstance(v, list):
            stack.extend((x, d + 1) for x in v)


def _shown(v) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


class Settings:
    """The `config` of one Keras layer `k` (a KLayer: `.name`, `.cls`, `.config`)."""

    def __init__(self, k):
        self.k = k
        self.cfg = k.config if isinstance(k.config, dict) else {}

    def raw(self, key, default=None):
        return self.cfg.get(key, default)

    def _get(self, key, default):
        v = self.cfg.get(key, _MISSING)
        if v is _MISSING:
            if default is _MISSING:
                raise Malformed(f"has no '{key}'")
            return default
        return v

    def bad(self, key, v, what) -> Malformed:
        return Malformed(f"its '{key}' is {_shown(v)}, not {what}")

    def integer(self, key, default=_MISSING, least: int = 1) -> int:
        v = self._get(key, default)
        if isinstance(v, bool) or not isinstance(v, int) or not least <= v <= MAX_SIZE:
            raise self.bad(key, v, f"an integer from {least} to {MAX_SIZE:,}")
        return v

    def pair(self, key, default=_MISSING, least: int = 1) -> tuple:
        """An integer or a list of two (height, width)."""
        v = self._get(key, default)
        items = [v, v] if isinstance(v, int) and not isinstance(v, bool) else v
        if not isinstance(items, (list, tuple)) or len(items) != 2 or any(
                isinstance(x, bool) or not isinstance(x, int) or not least <= x <= MAX_SIZE for x in items):
            raise self.bad(key, v, f"an integer or two, each from {least} to {MAX_SIZE:,}")
        return tuple(items)

    def sides(self, key) -> tuple:
        """ZeroPadding2D's and Cropping2D's ((top, bottom), (left, right)), or an int, or two:
        (top, bottom, left, right)."""
        v = self._get(key, _MISSING)
        ok = lambda x: isinstance(x, int) and not isinstance(x, bool) and 0 <= x <= MAX_SIZE   # noqa: E731
        if ok(v):
            return (v,) * 4
        if isinstance(v, (list, tuple)) and len(v) == 2:
            if all(ok(x) for x in v):
                return (v[0], v[0], v[1], v[1])
            if all(isinstance(x, (list, tuple)) and len(x) == 2 and all(ok(y) for y in x) for x in v):
                return (v[0][0], v[0][1], v[1][0], v[1][1])
        raise self.bad(key, v, "pixels as ((top, bottom), (left, right))")

    def real(self, key, default=_MISSING, positive: bool = False) -> float:
        v = self._get(key, default)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or (positive and v <= 0):
            raise self.bad(key, v, "a positive number" if positive else "a finite number")
        return float(v)

    def reals(self, key, default=_MISSING) -> "float | list":
        """A number, or a list of numbers (one per channel)."""
        v = self._get(key, default)
        if isinstance(v, (list, tuple)):
            if not v or len(v) > MAX_SIZE or any(isinstance(x, bool) or not isinstance(x, (int, float))
                                                  or not math.isfinite(x) for x in v):
                raise self.bad(key, v, "a list of finite numbers")
            return [float(x) for x in v]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise self.bad(key, v, "a finite number or a list of them")
        return float(v)

    def flag(self, key, default=_MISSING) -> bool:
        v = self._get(key, default)
        if not isinstance(v, bool):
            raise self.bad(key, v, "true or false")
        return v

    def word(self, key, choices: tuple, default=_MISSING, needed: str = "") -> str:
        """One of `choices`; another string is well-formed but Unsayable."""
        v = self._get(key, default)
        if not isinstance(v, str):
            raise self.bad(key, v, "a string")
        if v not in choices:
            raise Unsayable(needed or f"{key}={v!r} (cnnc has {', '.join(map(repr, choices))})")
        return v

    def channels_last(self) -> None:
        self.word("data_format", ("channels_last",), "channels_last",
                  needed="data_format='channels_last' (cnnc's images are height x width x channels)")

    def last_axis(self, key="axis", rank: int = 4) -> None:
        """The channel axis: -1, rank - 1, or a list of exactly that."""
        v = self._get(key, -1)
        items = v if isinstance(v, list) else [v]
        if len(items) != 1 or isinstance(items[0], bool) or not isinstance(items[0], int):
            if isinstance(v, list) and all(isinstance(x, int) and not isinstance(x, bool) for x in v):
                raise Unsayable(f"{key}={v} (cnnc normalises over the channels only, axis=-1)")
            raise self.bad(key, v, "an axis")
        if items[0] not in (-1, rank - 1):
            raise Unsayable(f"{key}={items[0]} (cnnc works on the channels, axis=-1)")
