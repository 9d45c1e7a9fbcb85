"""An .onnx file read safely: `read_model(path)` -> `OnnxModel`, or `Damaged` (exit 2).

Everything a hostile or broken file could do is refused here, before any array is decoded:

  - only a regular file of at most MAX_ONNX_BYTES (protobuf's own 2 GiB limit on one
    message: a larger file is not one ONNX model) is read, with `read_regular`;
  - the bytes must parse as an ONNX ModelProto with a graph;
  - every tensor's header is checked (tensors.py: dims, byte counts, external data inside
    the model's folder);
  - the graph is a DAG: every value is made once (by the graph's input, an initializer or
    one node), every value a node reads is made somewhere, and there is no cycle. The nodes
    come back in a topological order;
  - the input's dimensions are at most the language's MAX_SIZE.

What the language cannot say (several inputs, an op without a converter) is not decided
here: the converter reports it (exit 1).
"""

from __future__ import annotations

import os

from ....limits import MAX_SIZE
from .tensors import Damaged, TensorRef, tensor_ref

MAX_ONNX_BYTES = 2 ** 31 - 1
DEFAULT_DOMAINS = ("", "ai.onnx")

# AttributeProto.AttributeType values
_FLOAT, _INT, _STRING, _TENSOR, _GRAPH, _FLOATS, _INTS, _STRINGS = 1, 2, 3, 4, 5, 6, 7, 8


class Subgraph:
    """An attribute that holds a graph (If, Loop, Scan): never read, only named."""

    def __repr__(self) -> str:
        return "<subgraph>"


class Node:
    """One ONNX node: `op_type`, `domain`, `name` (or a generated one), `inputs` (names; ''
    for an input left out), `outputs`, `attrs` {name: int | float | str | list | TensorRef}."""

    __slots__ = ("name", "op_type", "domain", "inputs", "outputs", "attrs", "index")

    def __init__(self, name, op_type, domain, inputs, outputs, attrs, index):
        self.name, self.op_type, self.domain = name, op_type, domain
        self.inputs, self.outputs, self.attrs, self.index = inputs, outputs, attrs, index

    def describe(self) -> str:
        return f"'{self.name}' ({self.op_type})"

    def __repr__(self) -> str:
        return f"<{self.op_type} {self.name}: {self.inputs} -> {self.outputs}>"


class OnnxModel:
    """`nodes` (topologically sorted), `tensors` {name: TensorRef} (initializers), `inputs`
    [(name, dims)] (dims: int, or None where the file names a symbol), `outputs` [names],
    `opset` (of the default domain), `producer`, `path`."""

    def __init__(self, path, nodes, tensors, inputs, outputs, opset, producer, name):
        self.path, self.nodes, self.tensors = path, nodes, tensors
        self.inputs, self.outputs, self.opset, self.producer, self.name = inputs, outputs, opset, producer, name

    def consumers(self) -> dict:
        """value name -> [nodes reading it] (a node reading it twice listed twice)."""
        out: dict = {}
        for n in self.nodes:
            for i in n.inputs:
                if i:
                    out.setdefault(i, []).append(n)
        return out


def read_model(path) -> OnnxModel:
    """The model at `path`, checked (Damaged says what is wrong; OSError when it cannot be read)."""
    onnx = _onnx()
    from ....runtime.files import read_regular

    data = read_regular(path, MAX_ONNX_BYTES)
    proto = onnx.ModelProto()
    try:
        proto.ParseFromString(data)
    except Exception as e:   # protobuf's DecodeError, or its recursion limit on nested messages
        raise Damaged(f"it is not an ONNX model (the protobuf does not parse: {str(e)[:200] or type(e).__name__})") \
            from None
    del data
    if not proto.HasField("graph") or proto.ir_version <= 0:
        raise Damaged("it is not an ONNX model (it holds no graph)")
    folder = os.path.dirname(os.path.abspath(os.fspath(path)))
    g = proto.graph
    opset = None
    for o in proto.opset_import:
        if o.domain in DEFAULT_DOMAINS:
            opset = int(o.version)
    if opset is None:
        raise Damaged("it is not an ONNX model (it imports no opset of the default domain)")
    tensors = {}
    for t in g.initializer:
        if t.name in tensors:
            raise Damaged(f"the initializer '{t.name[:100]}' appears twice")
        tensors[t.name] = tensor_ref(t, folder)
    if len(g.sparse_initializer):
        raise Damaged("it holds sparse initializers, which a CNN export does not write")
    inputs = [(i.name, _input_dims(i)) for i in g.input if i.name not in tensors]
    nodes = [_node(n, i, folder) for i, n in enumerate(g.node)]
    nodes = _topological(nodes, set(tensors) | {name for name, _ in inputs})
    outputs = [o.name for o in g.output]
    return OnnxModel(os.fspath(path), nodes, tensors, inputs, outputs, opset, proto.producer_name, g.name)


def _onnx():
    from ....optional import require

    return require("onnx", "onnx")


def _input_dims(info) -> "tuple | None":
    """The dims of a graph input (None for a symbolic one); None when it is not a tensor."""
    t = info.type
    if not t.HasField("tensor_type") or not t.tensor_type.HasField("shape"):
        return None
    dims = []
    for d in t.tensor_type.shape.dim:
        if d.HasField("dim_value"):
            v = int(d.dim_value)
            if v < 1 or v > MAX_SIZE:
                raise Damaged(f"the input '{info.name[:100]}' declares a dimension of {v:,} (at most {MAX_SIZE:,})")
            dims.append(v)
        else:
            dims.append(None)
    return tuple(dims)


def _attribute(a, folder):
    t = a.type
    if t == _FLOAT:
        return float(a.f)
    if t == _INT:
        return int(a.i)
    if t == _STRING:
        return a.s.decode("utf-8", "replace")
    if t == _FLOATS:
        return [float(v) for v in a.floats]
    if t == _INTS:
        return [int(v) for v in a.ints]
    if t == _STRINGS:
        return [s.decode("utf-8", "replace") for s in a.strings]
    if t == _TENSOR:
        return tensor_ref(a.t, folder)
    if t == _GRAPH or a.g.ByteSize() or len(a.graphs):
        return Subgraph()
    return None   # a kind of attribute no converter reads (sparse tensors, type protos)


def _node(n, index, folder) -> Node:
    attrs = {}
    for a in n.attribute:
        if a.name in attrs:
            raise Damaged(f"node '{n.name[:100]}' ({n.op_type[:50]}) has the attribute '{a.name[:50]}' twice")
        try:
            attrs[a.name] = _attribute(a, folder)
        except Damaged as e:
            raise Damaged(f"node '{n.name[:100]}' ({n.op_type[:50]}): {e}") from None
    name = n.name or f"{n.op_type}_{index}"
    domain = "" if n.domain in DEFAULT_DOMAINS else n.domain
    return Node(name, n.op_type, domain, list(n.input), list(n.output), attrs, index)


def _topological(nodes, given: set) -> list:
    """The nodes in an order where every value is made before it is read (Kahn's algorithm);
    Damaged for a value made twice, a value nothing makes, and a cycle."""
    maker: dict = {}
    for n in nodes:
        for o in n.outputs:
            if not o:
                continue
            if o in given or o in maker:
                raise Damaged(f"the value '{o[:100]}' is made twice (by node {n.describe()} and "
                              f"{'an input or initializer' if o in given else maker[o].describe()})")
            maker[o] = n
    waiting = {}
    readers: dict = {}
    for n in nodes:
        needs = set()
        for i in n.inputs:
            if not i or i in given:
                continue
            if i not in maker:
                raise Damaged(f"node {n.describe()} reads '{i[:100]}', which nothing in the model makes")
            needs.add(maker[i].index)
            readers.setdefault(maker[i].index, []).append(n)
        waiting[n.index] = len(needs)
    ready = [n for n in nodes if waiting[n.index] == 0]
    order = []
    seen_edges: set = set()
    while ready:
        n = ready.pop()
        order.append(n)
        for r in readers.get(n.index, ()):
            if (n.index, r.index) in seen_edges:
                continue
            seen_edges.add((n.index, r.index))
            waiting[r.index] -= 1
            if waiting[r.index] == 0:
                ready.append(r)
    if len(order) != len(nodes):
        stuck = min((n for n in nodes if waiting[n.index] > 0), key=lambda n: n.index)
        raise Damaged(f"the graph has a cycle: node {stuck.describe()} reads a value made from its own output")
    return nodes if _in_order(nodes) else order


def _in_order(nodes) -> bool:
    """Is the file's own order topological (as torch writes it)? Then it is kept."""
    makes = {o for n in nodes for o in n.outputs if o}
    made: set = set()
    for n in nodes:
        if any(i and i in makes and i not in made for i in n.inputs):
            return False
        made.update(n.outputs)
    return True


__all__ = ["Damaged", "Node", "OnnxModel", "Subgraph", "TensorRef", "read_model", "MAX_ONNX_BYTES"]
