"""Small value classes, without `dataclasses`.

`import dataclasses` pulls in `inspect` and costs about 10 ms, a fifth of what
`cnnc shapes` may spend in all (BENCHMARKS.md). A `Record` subclass lists its
fields in `__slots__` (defaults in `_defaults`) and gets a generated __init__
(positional or keyword), __eq__ and __repr__; a `FrozenRecord` is also immutable
and hashable.
"""

from __future__ import annotations


def _make_init(cls):
    """A plain `def __init__(self, a, b, c=<default>)` for the fields: as fast as hand-written.

    It is one of the templates below with its names replaced (CodeType.replace), not source
    compiled at start-up: compiling costs about 0.1 ms per class, a dozen of which load
    with every `cnnc shapes`. Past the templates' sizes, the source is compiled."""
    fields = tuple(cls.__slots__)
    defaults = cls._defaults
    frozen = issubclass(cls, FrozenRecord)
    template = (_FROZEN if frozen else _PLAIN).get(len(fields))
    if template is None:
        return _compiled_init(cls, fields, defaults, frozen)
    code = template.__code__
    letters = _LETTERS[:len(fields)]
    rename = dict(zip(letters, fields))
    code = code.replace(co_name="__init__", co_qualname=f"{cls.__name__}.__init__",
                        co_varnames=("self",) + fields, co_names=tuple(rename.get(n, n) for n in code.co_names),
                        co_consts=tuple(rename.get(c, c) if isinstance(c, str) else c for c in code.co_consts))
    init = type(template)(code, template.__globals__, "__init__")
    init.__defaults__ = tuple(defaults[f] for f in fields if f in defaults) or None
    return init


def _compiled_init(cls, fields, defaults, frozen):
    params = ", ".join(f"{f}=_defaults[{f!r}]" if f in defaults else f for f in fields)
    set_ = "_set(self, {f!r}, {f})" if frozen else "self.{f} = {f}"
    body = "\n".join("    " + set_.format(f=f) for f in fields) or "    pass"
    scope = {"_defaults": defaults, "_set": object.__setattr__}
    exec(f"def __init__(self, {params}):\n{body}\n" if fields else "def __init__(self):\n    pass\n", scope)
    return scope["__init__"]


_set = object.__setattr__
_LETTERS = tuple("abcdefghijkl")


# --- the templates: fields a, b, c, ... set in order (frozen: through object.__setattr__) ---

def _plain0(self):
    pass


def _plain1(self, a):
    self.a = a


def _plain2(self, a, b):
    self.a = a
    self.b = b


def _plain3(self, a, b, c):
    self.a = a
    self.b = b
    self.c = c


def _plain4(self, a, b, c, d):
    self.a = a
    self.b = b
    self.c = c
    self.d = d


def _plain5(self, a, b, c, d, e):
    self.a = a
    self.b = b
    self.c = c
    self.d = d
    self.e = e


def _plain6(self, a, b, c, d, e, f):
    self.a = a
    self.b = b
    self.c = c
    self.d = d
    self.e = e
    self.f = f


def _plain7(self, a, b, c, d, e, f, g):
    self.a = a
    self.b = b
    self.c = c
    self.d = d
    self.e = e
    self.f = f
    self.g = g


def _plain8(self, a, b, c, d, e, f, g, h):
    self.a = a
    self.b = b
    self.c = c
    self.d = d
    self.e = e
    self.f = f
    self.g = g
    self.h = h


def _plain9(self, a, b, c, d, e, f, g, h, i):
    self.a = a
    self.b = b
    self.c = c
    self.d = d
    self.e = e
    self.f = f
    self.g = g
    self.h = h
    self.i = i


def _plain10(self, a, b, c, d, e, f, g, h, i, j):
    self.a = a
    self.b = b
    self.c = c
    self.d = d
    self.e = e
    self.f = f
    self.g = g
    self.h = h
    self.i = i
    self.j = j


def _frozen1(self, a):
    _set(self, 'a', a)


def _frozen2(self, a, b):
    _set(self, 'a', a)
    _set(self, 'b', b)


def _frozen3(self, a, b, c):
    _set(self, 'a', a)
    _set(self, 'b', b)
    _set(self, 'c', c)


def _frozen4(self, a, b, c, d):
    _set(self, 'a', a)
    _set(self, 'b', b)
    _set(self, 'c', c)
    _set(self, 'd', d)


def _frozen5(self, a, b, c, d, e):
    _set(self, 'a', a)
    _set(self, 'b', b)
    _set(self, 'c', c)
    _set(self, 'd', d)
    _set(self, 'e', e)


def _frozen6(self, a, b, c, d, e, f):
    _set(self, 'a', a)
    _set(self, 'b', b)
    _set(self, 'c', c)
    _set(self, 'd', d)
    _set(self, 'e', e)
    _set(self, 'f', f)


def _frozen7(self, a, b, c, d, e, f, g):
    _set(self, 'a', a)
    _set(self, 'b', b)
    _set(self, 'c', c)
    _set(self, 'd', d)
    _set(self, 'e', e)
    _set(self, 'f', f)
    _set(self, 'g', g)


def _frozen8(self, a, b, c, d, e, f, g, h):
    _set(self, 'a', a)
    _set(self, 'b', b)
    _set(self, 'c', c)
    _set(self, 'd', d)
    _set(self, 'e', e)
    _set(self, 'f', f)
    _set(self, 'g', g)
    _set(self, 'h', h)


_PLAIN = {n: f for n, f in enumerate((_plain0, _plain1, _plain2, _plain3, _plain4, _plain5, _plain6, _plain7, _plain8, _plain9, _plain10))}
_FROZEN = {n: f for n, f in enumerate((_frozen1, _frozen2, _frozen3, _frozen4, _frozen5, _frozen6, _frozen7, _frozen8), 1)}


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
