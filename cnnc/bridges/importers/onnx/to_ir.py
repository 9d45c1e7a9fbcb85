"""An ONNX model (reader.OnnxModel) as an imported network (importers/ir.py).

The nodes the output needs are converted in topological order, each through the converter
its op type and the model's opset select (registry.py). Every node the language cannot say
is collected with what would be needed, so one run names them all; the nodes that read what
such a node made are skipped (what they read is unknown) unless their own op has no
converter, which is named too. A damaged node (an attribute of the wrong type, weights that
do not fit) is `Damaged` at once.
"""

from __future__ import annotations

from ..ir import Network
from ..statement import Malformed, Unsayable
from .patterns import fuse_gelu
from .reader import Damaged
from .registry import MIN_OPSET, converter_for
from .values import Const, Context, Tensor

_UNKNOWN = object()   # the value of a node that could not be converted

# ops whose output has their first input's shape and layout: when one cannot be said, its
# input stands in for its output, so that the nodes after it are still checked (and named)
SHAPE_KEEPING = frozenset((
    "Abs", "BatchNormalization", "Cast", "Ceil", "Celu", "Clip", "Cos", "Dropout", "Elu", "Erf", "Exp", "Floor",
    "Gelu", "HardSigmoid", "HardSwish", "Hardmax", "Identity", "InstanceNormalization", "GroupNormalization",
    "LayerNormalization", "LeakyRelu", "Log", "LogSoftmax", "LpNormalization", "LRN", "MeanVarianceNormalization",
    "Mish", "Neg", "PRelu", "Reciprocal", "Relu", "Round", "Selu", "Shrink", "Sigmoid", "Sign", "Sin", "Softmax",
    "Softplus", "Softsign", "Sqrt", "Tanh", "ThresholdedRelu"))


class Problem:
    """An ONNX node cnnc cannot say: `node` (reader.Node, or None for the model as a whole)
    and what would be needed."""

    def __init__(self, node, needed: str):
        self.node, self.needed = node, needed

    def __str__(self) -> str:
        if self.node is None:
            return f"the model as a whole: cnnc would need {self.needed}"
        domain = f" of domain {self.node.domain}" if self.node.domain else ""
        return f"node {self.node.describe()}{domain}: cnnc would need {self.needed}"


def _needed(model, out_name) -> set:
    """Indices of the nodes the output is computed from."""
    makers = {o: n for n in model.nodes for o in n.outputs if o}
    keep, stack = set(), [out_name]
    while stack:
        n = makers.get(stack.pop())
        if n is None or n.index in keep:
            continue
        keep.add(n.index)
        stack.extend(i for i in n.inputs if i)
    return keep


def _whole_model(model, problems) -> "tuple | None":
    """(input name, (N, C, H, W)) when the model has one image input and one output."""
    if model.opset < MIN_OPSET:
        problems.append(Problem(None, f"opset {MIN_OPSET} or later (this model is opset {model.opset}; export it "
                                      f"with opset_version={MIN_OPSET} or later)"))
    if len(model.inputs) != 1:
        names = ", ".join(f"'{n}'" for n, _ in model.inputs[:5])
        problems.append(Problem(None, f"one input (this model has {len(model.inputs)}: {names})"))
    if len(model.outputs) != 1:
        problems.append(Problem(None, f"one output (this model has {len(model.outputs)})"))
    if problems:
        return None
    name, dims = model.inputs[0]
    if dims is None or len(dims) != 4 or dims[1] is None:
        shown = "unknown" if dims is None else "(" + ", ".join("?" if d is None else str(d) for d in dims) + ")"
        problems.append(Problem(None, f"an image input (N, C, H, W) with its channels known (this input "
                                      f"'{name}' is {shown})"))
        return None
    return name, dims


def build(model, name: str = "", source: str = "") -> "tuple[Network | None, list]":
    """(the network, [Problem]) of an OnnxModel."""
    problems: list = []
    whole = _whole_model(model, problems)
    if whole is None:
        return None, problems
    input_name, (batch, c, h, w) = whole
    fuse_gelu(model)
    net = Network((h, w, c), name=name, source=source)
    readers: dict = {}
    for n in model.nodes:
        for i in n.inputs:
            if i:
                readers[i] = readers.get(i, 0) + 1
    ctx = Context(net, batch, readers, static=h is not None and w is not None)
    values = {input_name: Tensor(net.input, "nchw")}
    needed = _needed(model, model.outputs[0])
    for node in model.nodes:
        if node.index not in needed:
            continue
        convert = converter_for(node.op_type, model.opset) if not node.domain else None
        ins = [_value(model, values, i) for i in node.inputs]
        if convert is None or any(v is _UNKNOWN for v in ins):
            if convert is None:
                problems.append(Problem(node, f"a statement for {_op_name(node)}"))
            _set(values, node, _stand_in(node, ins))
            continue
        try:
            outs = convert(ctx, node, ins)
        except Unsayable as e:
            problems.append(Problem(node, e.needed))
            _set(values, node, _stand_in(node, ins, getattr(e, "keeps_shape", False)))
            continue
        except (Malformed, ValueError, IndexError, TypeError, OverflowError) as e:
            raise Damaged(f"node {node.describe()}: {e}") from None
        _set(values, node, outs if isinstance(outs, list) else [outs])
    out = values.get(model.outputs[0], _UNKNOWN)
    if out is _UNKNOWN:
        return net, problems
    if not isinstance(out, Tensor):
        problems.append(Problem(None, "an output computed from the input (this model's output is a constant)"))
    elif out.perm is not None:
        problems.append(Problem(None, "a flattened image (C, H, W order) as the output: cnnc flattens in H, W, C "
                                      "order (a dense layer after the flatten would fix it)"))
    else:
        net.output = out.node
        net.prune()
    return net, problems


def _stand_in(node, ins, keeps_shape=False) -> list:
    """What the nodes after an unconvertible node read instead of its outputs."""
    x = ins[0] if ins else None
    if isinstance(x, Tensor) and (keeps_shape or (node.op_type in SHAPE_KEEPING and not node.domain)):
        return [x.alias()] + [_UNKNOWN] * (len(node.outputs) - 1)
    return [_UNKNOWN] * len(node.outputs)


def _op_name(node) -> str:
    return f"the ONNX op {node.op_type}" + (f" of domain {node.domain}" if node.domain else "")


def _value(model, values, name):
    if not name:
        return None
    v = values.get(name)
    if v is None:
        ref = model.tensors.get(name)
        if ref is None:   # the reader made sure every value is made; a skipped node made this one
            return _UNKNOWN
        try:
            v = Const(ref.array())
        except Unsayable:
            v = _UNKNOWN
        values[name] = v
    return v


def _set(values, node, outs) -> None:
    if len(outs) > len(node.outputs):
        raise Damaged(f"node {node.describe()} has {len(node.outputs)} outputs where {len(outs)} are made")
    for name, v in zip(node.outputs, outs):
        if name:
            values[name] = v

