"""An imported network before it is written: a DAG of cnnc statements with their weights.

Importers (keras/to_ir.py; an ONNX importer likewise) build a `Network` of `INode`s; the
program writer (writer.py) turns it into text and weights.py reads the weights back onto the
written program's layer names. Nothing here knows where the network came from.

An INode is a statement (`kind` a registry keyword, `attrs` completed, `weights` by the
registry's suffixes) or a join: `add` (with a coefficient per input, InceptionResNetV2's scaled
residual), `concat` (ordered) or `multiply` (an image by an image, or by a vector of its
channels). `out` is its type (Image or Vector) and `origin` what it came from (for messages).
"""

from __future__ import annotations

from ... import layers as L
from .statement import infer

JOINS = ("add", "concat", "multiply")


class INode:
    __slots__ = ("id", "kind", "attrs", "weights", "inputs", "out", "origin", "coefficients")

    def __init__(self, id, kind, attrs, inputs, weights=None, origin=None, coefficients=None):
        self.id, self.kind, self.attrs, self.inputs = id, kind, attrs, list(inputs)
        self.weights = dict(weights or {})
        self.origin = origin
        self.coefficients = coefficients   # add: one per input (None: all 1)
        self.out = None

    @property
    def is_join(self) -> bool:
        return self.kind in JOINS

    @property
    def spec(self):
        return L.KINDS[self.kind]

    @property
    def input(self):
        return self.inputs[0]

    def __repr__(self) -> str:
        return f"<{self.id}: {self.kind} {self.attrs or ''} <- {[i.id for i in self.inputs]}>"


def _same_shapes(types):
    for t in types[1:]:
        if t != types[0]:
            raise L.ShapeError(f"shapes do not agree: {types[0].describe()} and {t.describe()}")
    return types[0]


def _multiply(types):
    """An image by a vector of its channels broadcasts; otherwise the shapes agree."""
    images = [t for t in types if isinstance(t, L.Image)]
    vectors = [t for t in types if isinstance(t, L.Vector)]
    if images and vectors and all(v.n == images[0].c for v in vectors):
        return _same_shapes(images)
    return _same_shapes(types)


# the type each join makes of its inputs' types (ShapeError when they cannot join)
JOIN_TYPES: dict = {"add": _same_shapes, "concat": lambda types: L.KINDS["concat"].join(types),
                    "multiply": _multiply}

# a free height or width is given this size while the network is built (the program leaves
# out its `input` line); it only decides which statements apply, never a written number
NOMINAL = 512


class Network:
    """`nodes` in topological order (the input first), `output`, `shape` (H, W, C) of the input
    (H or W None where the source leaves them free); `name` and `source` for the header."""

    def __init__(self, shape, name: str = "", source: str = ""):
        self.nodes: list = []
        self.shape, self.name, self.source = shape, name, source
        self.input = self._new("input", {}, [])
        self.input.out = L.Image(*(NOMINAL if d is None else d for d in shape))
        self.output = self.input

    def _new(self, kind, attrs, inputs, **kw) -> INode:
        n = INode(len(self.nodes), kind, attrs, inputs, **kw)
        self.nodes.append(n)
        return n

    def statement(self, op, x: INode) -> INode:
        """A node for the Op (statement.Op) reading x."""
        n = self._new(op.kind, op.attrs, [x], weights=op.weights, origin=op.origin)
        n.out = infer(op.kind, op.attrs, x.out)
        return n

    def join(self, kind, inputs, origin=None, coefficients=None) -> INode:
        n = self._new(kind, {}, inputs, origin=origin, coefficients=coefficients)
        n.out = JOIN_TYPES[kind]([i.out for i in inputs])
        return n

    def consumers(self) -> dict:
        """node id -> [nodes reading it] (a node reading it twice is listed twice)."""
        out: dict = {n.id: [] for n in self.nodes}
        for n in self.nodes:
            for i in n.inputs:
                out[i.id].append(n)
        return out

    def prune(self) -> None:
        """Drop nodes the output does not need, and renumber in topological order."""
        keep, stack = set(), [self.output]
        while stack:
            n = stack.pop()
            if n.id in keep:
                continue
            keep.add(n.id)
            stack.extend(n.inputs)
        keep.add(self.input.id)
        self.nodes = [n for n in self.nodes if n.id in keep]
        for i, n in enumerate(self.nodes):
            n.id = i
