"""Small value classes, without `dataclasses`.

`import dataclasses` pulls in `inspect` and costs about 10 ms, a fifth of what
`cnnc shapes` may spend in all (BENCHMARKS.md). A `Record` subclass lists its
fields in `__slots__` and gets an __init__ (positional or keyword, defaults from
`_defaults`), __eq__, __repr__; a `FrozenRecord` is also immutable and hashable.
"""

from __future__ import annotations


class Record:
    __slots__ = ()
    _defaults: dict = {}

    def __init__(self, *args, **kwargs):
        fields = self.__slots__
        if len(args) > len(fields):
            raise TypeError(f"{type(self).__name__} takes {len(fields)} fields, got {len(args)}")
        values = dict(zip(fields, args))
        for k, v in kwargs.items():
            if k not in fields or k in values:
                raise TypeError(f"{type(self).__name__}: bad or repeated field {k!r}")
            values[k] = v
        for f in fields:
            if f in values:
                v = values[f]
            elif f in self._defaults:
                v = self._defaults[f]()
            else:
                raise TypeError(f"{type(self).__name__} is missing field {f!r}")
            object.__setattr__(self, f, v)

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
