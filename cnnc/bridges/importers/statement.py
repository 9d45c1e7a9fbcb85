"""One cnnc statement as an importer makes it, before it is written as text.

An importer's converters turn each foreign layer into zero or more `Op`s: a registry kind
(`conv`, `relu`, ...) with its arguments as the registry names them (`filters`, `kernel`,
`stride`, ...), the arrays it holds (by the registry's suffixes, in Keras layouts) and the
layer it came from. `complete` fills every argument left out with the registry's default, so
two Ops compare argument by argument.
"""

from __future__ import annotations

from ... import layers as L


class Unsayable(Exception):
    """A layer, option or value the language cannot say: `needed` says what would be needed."""

    def __init__(self, needed: str):
        super().__init__(needed)
        self.needed = needed


class Malformed(Exception):
    """A model description whose values have the wrong type or are out of range."""


class Op:
    """`kind` (a registry keyword), `attrs` (completed), `weights` (suffix -> array source:
    anything with `.shape` that numpy can read), `origin` (what it came from, for messages)."""

    __slots__ = ("kind", "attrs", "weights", "origin")

    def __init__(self, kind: str, attrs: "dict | None" = None, weights: "dict | None" = None, origin=None):
        self.kind = kind
        self.attrs = complete(kind, attrs or {})
        self.weights = dict(weights or {})
        self.origin = origin

    @property
    def spec(self) -> L.LayerKind:
        return L.KINDS[self.kind]

    def __repr__(self) -> str:
        return f"Op({self.kind}, {self.attrs})"


def complete(kind: str, given: dict) -> dict:
    """`given` with every argument the kind declares, defaults filled in; Unsayable when the
    kind, or one of the arguments, is not in this edition of the language."""
    spec = L.KINDS.get(kind)
    if spec is None:
        raise Unsayable(f"a `{kind}` statement")
    known = {p.name: p for p in spec.positional}
    known.update(spec.options)
    attrs = {}
    for name, value in given.items():
        if name == "activation" and spec.takes_activation:
            if value not in L.ACTIVATIONS:
                raise Unsayable(f"the activation {value}")
        elif name not in known:
            raise Unsayable(f"`{kind} {name}=`")
        attrs[name] = value
    spec.unset(attrs)
    try:
        spec.check(attrs)
    except L.ArgError as e:
        raise Unsayable(f"`{kind}` with {e}") from None
    spec.defaults(attrs)
    return attrs


def infer(kind: str, attrs: dict, t):
    """The type `kind` makes of `t`, where a vector of C values and a 1x1xC image are one thing
    (Keras keeps a pooled vector as a 1x1 image before a 1x1 conv; cnnc pools to a vector)."""
    spec = L.KINDS[kind]
    if spec.on == "image" and isinstance(t, L.Vector):
        t = L.Image(1, 1, t.n)
    elif spec.on == "vector" and isinstance(t, L.Image) and (t.h, t.w) == (1, 1):
        t = L.Vector(t.c)
    return spec.infer(t, attrs)
