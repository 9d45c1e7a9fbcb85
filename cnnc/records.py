"""Small value classes, without `dataclasses`.

`import dataclasses` pulls in `inspect` and costs about 10 ms, a fifth of what
`cnnc shapes` may spend in all (BENCHMARKS.md). A `Record` subclass lists its
fields in `__slots__` (defaults in `_defaults`) and gets a generated __init__
(positional or keyword), __eq__ and __repr__; a `FrozenRecord` is also immutable
and hashable.
"""

from __future__ import annotations


def _make_init(cls):
    """A plain `def __init__(self, a, b, c=<default>)` for the fields: as fast as hand-written."""
    fields = cls.__slots__
    defaults = cls._defaults
    params = ", ".join(f"{f}=_defaults[{f!r}]" if f in defaults else f for f in fields)
    set_ = "_set(self, {f!r}, {f})" if issubclass(cls, FrozenRecord) else "self.{f} = {f}"
    body = "\n".join("    " + set_.format(f=f) for f in fields) or "    pass"
    scope = {"_defaults": defaults, "_set": object.__setattr__}
    exec(f"def __init__(self, {params}):\n{body}\n" if fields else "def __init__(self):\n    pass\n", scope)
    return scope["__init__"]


class Record:
    __slots__ = ()
    _defaults: dict = {}   # field -> default value (immutable values only)

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if cls.__slots__:
            cls.__init__ = _make_init(cls)

    def _values(self) -> tuple:
        return tuple(getattr(self, f) for f in self.__slots__)

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(" + ", ".join(f"{f}={getattr(self, f)!r}" for f in self.__slots__) + ")"

    __hash__ = None


class FrozenRecord(Record):
    __slots__ = ()

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name):
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __hash__(self):
        return hash((type(self).__name__,) + self._values())
