"""A Keras model (keras_import.KerasGraph) as an imported network (importers/ir.py).

Each Keras layer or operation node goes through its converter (converters.py) on the cnnc
type of what it reads; joins become `add`, `concat` and `multiply` nodes. Every layer the
language cannot say is collected (its Keras name, class and what would be needed), so one run
names them all; a damaged configuration is a WeightsError at once.
"""

from __future__ import annotations

from .... import layers as L
from ....errors import WeightsError
from ..ir import Network
from ..statement import Malformed, Unsayable
from .converters import convert

# Keras layer classes that join tensors -> the IR's join (Add's operation node is one too)
LAYER_JOINS = {"Add": "add", "Concatenate": "concat", "Multiply": "multiply"}
OPERATION_JOINS = {"Add": "add", "Multiply": "multiply"}
SCALED_RESIDUAL = "CustomScaleLayer"   # InceptionResNetV2: inputs[0] + inputs[1] * scale


class Problem:
    """A Keras layer the language cannot say: `layer` (a KLayer) and what would be needed."""

    def __init__(self, layer, needed: str, shape_only: bool = False):
        self.layer, self.needed, self.shape_only = layer, needed, shape_only

    def __str__(self) -> str:
        return f"'{self.layer.name}' ({self.layer.cls}): cnnc would need {self.needed}"


def input_shape(k, p) -> tuple:
    """(H, W, C) of an InputLayer, H or W None when free."""
    cfg = k.config
    shape = cfg.get("batch_shape") or cfg.get("batch_input_shape")
    if shape is None and isinstance(cfg.get("shape"), list):
        shape = [None, *cfg["shape"]]
    if not isinstance(shape, list) or not all(d is None or (isinstance(d, int) and not isinstance(d, bool) and d > 0)
                                              for d in shape):
        raise WeightsError(f"{p}: config.json: the input {k.describe()} has no shape", unreadable=True)
    return tuple(shape[1:])


def build(graph, p, name: str = "", source: str = "") -> "tuple[Network, list]":
    """(the network, [Problem]) of a KerasGraph."""
    K = graph.layers
    problems: list = []
    first = K[graph.input]
    shape = input_shape(first, p)
    if len(shape) != 3 or shape[2] is None:
        problems.append(Problem(first, f"an image input HxWxC with its channels known (this input is "
                                       f"{tuple(shape)})"))
        shape = (None, None, 1)
    net = Network(shape, name=name, source=source)
    value = {graph.input: net.input}
    tainted: set = set()   # Keras layers after one cnnc could not say: their shapes are guesses
    for k in K.values():   # in the order config.json defines them: every input before its reader
        if k.id == graph.input:
            continue
        srcs = [value[i] for i in k.inputs]
        before = len(problems)
        value[k.id] = _node(net, k, srcs, problems, p) if srcs else net.input
        new = problems[before:]
        if new or any(i in tainted for i in k.inputs):
            tainted.add(k.id)
        if any(i in tainted for i in k.inputs) and new and all(x.shape_only for x in new):
            del problems[before:]   # shapes that no longer fit after a layer cnnc skipped: not this layer's
    net.output = value[graph.output]
    net.prune()
    return net, problems


def _node(net, k, srcs, problems, p):
    joins = OPERATION_JOINS if k.op else LAYER_JOINS
    if k.cls == SCALED_RESIDUAL or (k.cls in joins and (len(srcs) >= 2 or not k.op)):
        return _join(net, k, srcs, problems, p)
    if len(srcs) != 1:
        problems.append(Problem(k, f"a statement for {k.cls} on {len(srcs)} tensors"))
        return srcs[0]
    x = srcs[0]
    try:
        ops = convert(k, x.out)
    except Unsayable as e:
        problems.append(Problem(k, e.needed))
        return x
    except Malformed as e:
        raise WeightsError(f"{p}: config.json: Keras layer {k.describe()} {e}", unreadable=True) from None
    for op in ops:
        try:
            x = net.statement(op, x)
        except L.ShapeError as e:
            problems.append(Problem(k, f"an input it can read ({e})", shape_only=True))
            return srcs[0]
    return x


def _join(net, k, srcs, problems, p):
    coefficients = None
    if k.cls == SCALED_RESIDUAL:
        scale = k.config.get("scale")
        if len(srcs) != 2 or isinstance(scale, bool) or not isinstance(scale, (int, float)):
            raise WeightsError(f"{p}: config.json: Keras layer {k.describe()} is not a scaled sum of two tensors",
                               unreadable=True)
        join, coefficients = "add", (1.0, float(scale))
    else:
        join = (OPERATION_JOINS if k.op else LAYER_JOINS)[k.cls]
        axis = k.config.get("axis", -1)
        if k.cls == "Concatenate" and axis not in (-1, 3):
            problems.append(Problem(k, f"a concatenation on axis {axis} (cnnc concatenates channels, axis -1)"))
            return srcs[0]
    try:
        return net.join(join, srcs, origin=k, coefficients=coefficients)
    except L.ShapeError as e:
        problems.append(Problem(k, f"inputs that join ({e})", shape_only=True))
        return srcs[0]
