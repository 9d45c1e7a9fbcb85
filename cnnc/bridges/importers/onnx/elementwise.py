"""Converters of the ONNX ops that work value by value: the activations, the arithmetic ops
(Add, Sub, Mul, Div: joins of two computed values, a rescale by a scalar constant, a bias or
a layer scale by a per-channel one), Concat, and the identities (Identity, Dropout, Cast).

Two patterns are said as one statement: x · sigmoid(x) is `silu` (a multiply join that
importers/simplify.py rewrites) and x · ½ · (1 + erf(x / √2)) is `gelu` (patterns.py turns
it into a Gelu node before conversion).
"""

from __future__ import annotations

import operator

import numpy as np

from .... import layers as L
from ..statement import Malformed, Unsayable
from .registry import converter
from .tensors import DTYPES
from .values import Const, Tensor, attr_float, attr_int, attr_str, described, f32, need_const, need_tensor, weight


# --- activations ---------------------------------------------------------------------------

def activation(ctx, node, x, kind, attrs=None, nonneg=False):
    x = need_tensor(x, "the values it activates")
    return x.like(ctx.statement(ctx.op(kind, attrs, origin=node), x), nonneg=nonneg)


def _plain(kind, nonneg=False):
    def convert(ctx, node, ins):
        return activation(ctx, node, ins[0], kind, nonneg=nonneg)
    return convert


for _op_type, _kind, _nonneg in (("Relu", "relu", True), ("Sigmoid", "sigmoid", True), ("Tanh", "tanh", False),
                                 ("HardSwish", "hard_swish", False)):
    converter(_op_type, since=1)(_plain(_kind, _nonneg))


@converter("LeakyRelu", since=1)
def leaky_relu(ctx, node, ins):
    slope = f32(attr_float(node, "alpha", 0.01))
    default = L.KINDS["leaky_relu"].options.get("slope")
    if default is not None and slope == default.default:
        return activation(ctx, node, ins[0], "leaky_relu")
    return activation(ctx, node, ins[0], "leaky_relu", {"slope": slope})


@converter("Elu", since=1)
def elu(ctx, node, ins):
    alpha = f32(attr_float(node, "alpha", 1.0))
    return activation(ctx, node, ins[0], "elu", None if alpha == 1.0 else {"alpha": alpha})


@converter("HardSigmoid", since=1)
def hard_sigmoid(ctx, node, ins):
    """cnnc's hard_sigmoid is relu6(x + 3) / 6 = max(0, min(1, x/6 + 1/2)): PyTorch's."""
    alpha, beta = attr_float(node, "alpha", 0.2), attr_float(node, "beta", 0.5)
    if not (np.isclose(alpha, 1 / 6, rtol=1e-6) and np.isclose(beta, 0.5, rtol=1e-6)):
        raise Unsayable(f"a HardSigmoid max(0, min(1, {alpha:g}·x + {beta:g})) (cnnc's hard_sigmoid is "
                        f"max(0, min(1, x/6 + 1/2)), PyTorch's Hardsigmoid)")
    return activation(ctx, node, ins[0], "hard_sigmoid", nonneg=True)


@converter("Gelu", since=1)   # an ONNX op since opset 20; patterns.py makes it in older models
def gelu(ctx, node, ins):
    if attr_str(node, "approximate", "none") != "none":
        raise Unsayable("the tanh approximation of GELU (cnnc's gelu is the exact one, with erf)")
    return activation(ctx, node, ins[0], "gelu")


@converter("Erf", since=1)
def erf(ctx, node, ins):
    if isinstance(ins[0], Const):
        from math import erf as _erf

        return Const(np.vectorize(_erf)(ins[0].array.astype(np.float64)).astype(ins[0].array.dtype))
    raise Unsayable("Erf outside the exact GELU x·½·(1 + erf(x/√2)) (cnnc says that one as gelu)")


def _bound(x, what) -> "float | None":
    if x is None:
        return None
    a = need_const(x, what)
    if a.size != 1:
        raise Malformed(f"its {what} has {a.size} values")
    return float(a.reshape(()))


@converter("Clip", since=11)
def clip(ctx, node, ins):
    lo = _bound(ins[1] if len(ins) > 1 else None, "minimum")
    hi = _bound(ins[2] if len(ins) > 2 else None, "maximum")
    if lo == 0 and hi in (None, float("inf")):
        return activation(ctx, node, ins[0], "relu", nonneg=True)
    if lo == 0 and hi == 6:
        return activation(ctx, node, ins[0], "relu6", nonneg=True)
    raise Unsayable(f"a Clip to [{lo}, {hi}] (cnnc clips to [0, 6] as relu6, or from 0 as relu)")


@converter("Softmax", since=13)
def softmax(ctx, node, ins):
    x = need_tensor(ins[0], "the values it normalises")
    axis = attr_int(node, "axis", -1)
    if not -x.rank <= axis < x.rank or axis % x.rank != x.channel_axis:
        raise Unsayable(f"a Softmax over axis {axis} of a tensor laid out {x.layout} (cnnc's softmax is over "
                        f"the channels)")
    return activation(ctx, node, x, "softmax", nonneg=True)


# --- arithmetic -----------------------------------------------------------------------------

NUMPY = {"Add": operator.add, "Sub": operator.sub, "Mul": operator.mul, "Div": operator.truediv}


def _constants(node, a: Const, b: Const) -> Const:
    x, y = a.array, b.array
    if node.op_type == "Div" and x.dtype.kind in "iu" and y.dtype.kind in "iu":
        if np.any(y == 0):
            raise Malformed("it divides by zero")
        out = np.trunc(x / y).astype(np.result_type(x, y))
    else:
        with np.errstate(all="ignore"):
            out = NUMPY[node.op_type](x, y)
    if a.has_batch() or b.has_batch():
        raise Unsayable(f"arithmetic ({node.op_type}) on the batch size")
    return Const(out)


def _channel_values(x: Tensor, c: np.ndarray) -> "np.ndarray | None":
    """c as one value per channel of x when it broadcasts along x's channel axis only."""
    if c.ndim > x.rank:
        return None
    shape = (1,) * (x.rank - c.ndim) + tuple(c.shape)
    want = [1] * x.rank
    want[x.channel_axis] = x.channels
    if list(shape) != want:
        return None
    v = c.reshape(-1)
    return v[x.perm] if x.perm is not None else v


def _fold_bias(ctx, name, x: Tensor, values) -> bool:
    """Add per-channel constants to the bias of the layer that just made x (the ONNX value
    `name`, when nothing else reads it): a PyTorch Linear exported as MatMul + Add, or a bias
    added after a conv."""
    if not x.fresh or ctx.readers.get(name, 0) != 1 or x.perm is not None:
        return False
    n = x.node
    try:
        with_bias = n.spec.params(n.inputs[0].out, n.out, {**n.attrs, "bias": True})
    except (KeyError, TypeError):
        return False
    if "bias" not in with_bias or with_bias["bias"] != (x.channels,):
        return False
    old = n.weights.get("bias")
    base = np.zeros(x.channels, np.float64) if old is None else np.asarray(old, np.float64)
    n.weights["bias"] = weight(base + np.asarray(values, np.float64))
    if "bias" in n.attrs:
        n.attrs = {**n.attrs, "bias": True}
    return True


def _with_constant(ctx, node, x: Tensor, c: Const, tensor_first: bool):
    op = node.op_type
    name = node.inputs[0 if tensor_first else 1]
    if op in ("Add", "Mul"):   # they commute
        tensor_first = True
    a = need_const(c, "a constant operand")
    if a.dtype.kind not in "fiub":
        raise Malformed(f"its constant operand is of type {a.dtype}")
    if a.size == 1 and a.ndim <= x.rank:
        v = float(a.reshape(()))
        if op == "Div" and not tensor_first:
            raise Unsayable("dividing a constant by the image")
        if op == "Div" and v == 0:
            raise Unsayable("a division by zero")
        scale, offset = {"Add": (1.0, v), "Sub": (1.0, -v) if tensor_first else (-1.0, v),
                         "Mul": (v, 0.0), "Div": (1.0 / v, 0.0)}[op]
        if (scale, offset) == (1.0, 0.0):
            return x.alias()
        y = ctx.statement(ctx.op("rescale", {"scale": scale, "offset": offset}, origin=node), x)
        return x.like(y, nonneg=x.nonneg and scale >= 0 and offset >= 0)
    values = _channel_values(x, a)
    if values is None:
        raise Unsayable(f"{op} of a tensor laid out {x.layout} of shape (N, "
                        f"{', '.join(str(d) for d in x.dims)}) and a constant of shape {tuple(a.shape)} "
                        f"(cnnc has statements for a constant per channel or one for all)")
    if op in ("Add", "Sub") and tensor_first:
        values = values if op == "Add" else -values.astype(np.float64)
        if _fold_bias(ctx, name, x, values):
            return Tensor(x.node, x.layout, x.perm, True, False)
        raise Unsayable(f"{op} of a constant per channel that does not follow a conv or dense layer alone "
                        f"(cnnc adds a bias only as part of a layer)")
    if op in ("Mul", "Div") and tensor_first:
        gamma = values if op == "Mul" else 1.0 / values.astype(np.float64)
        y = ctx.statement(ctx.op("layerscale", None, {"gamma": weight(gamma)}, node), x)
        return x.like(y, nonneg=x.nonneg and bool(np.all(gamma >= 0)))
    raise Unsayable(f"{op} of a constant per channel and the image, in that order")


def _join(ctx, node, a: Tensor, b: Tensor):
    op = node.op_type
    if op not in ("Add", "Mul"):
        raise Unsayable(f"{op} of two computed values (cnnc joins values by add, concat and multiply)")
    if op == "Add":
        if a.layout != b.layout or (a.perm is None) != (b.perm is None) or (
                a.perm is not None and not np.array_equal(a.perm, b.perm)):
            raise Unsayable(f"an Add of {described(a)} and {described(b)}")
        return a.like(ctx.join("add", [a, b], node), nonneg=a.nonneg and b.nonneg)
    image = a if a.is_image else b
    if a.layout != b.layout or a.perm is not None or b.perm is not None:
        raise Unsayable(f"a Mul of {described(a)} and {described(b)}")
    return image.like(ctx.join("multiply", [a, b], node), nonneg=a.nonneg and b.nonneg)


def _arithmetic(ctx, node, ins):
    if len(ins) != 2 or ins[0] is None or ins[1] is None:
        raise Malformed(f"it has {len(ins)} inputs")
    a, b = ins
    if isinstance(a, Const) and isinstance(b, Const):
        return _constants(node, a, b)
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        return _join(ctx, node, a, b)
    if isinstance(a, Tensor):
        return _with_constant(ctx, node, a, b, True)
    return _with_constant(ctx, node, b, a, False)


for _op_type in NUMPY:
    converter(_op_type, since=7)(_arithmetic)


@converter("Concat", since=4)
def concat(ctx, node, ins):
    axis = attr_int(node, "axis")
    if all(isinstance(x, Const) for x in ins):
        arrays = [x.array for x in ins]
        marks = [x.batch if x.batch is not None else np.zeros(x.array.shape, bool) for x in ins]
        try:
            out = np.concatenate(arrays, axis=axis)
        except (ValueError, np.exceptions.AxisError) as e:
            raise Malformed(f"its constants do not concatenate ({e})") from None
        return Const(out, np.concatenate(marks, axis=axis))
    xs = [need_tensor(x, "every input computed from the image") for x in ins]
    first = xs[0]
    if not all(x.is_image and x.layout == first.layout for x in xs) or axis % first.rank != first.channel_axis:
        raise Unsayable(f"a Concat on axis {axis} of {', '.join(described(x) for x in xs)} (cnnc concatenates "
                        f"images on their channels)")
    if len(xs) == 1:
        return first.alias()
    return first.like(ctx.join("concat", xs, node), nonneg=all(x.nonneg for x in xs))


# --- identities ----------------------------------------------------------------------------

def _same(x):
    return x.alias() if isinstance(x, Tensor) else x


@converter("Identity", since=1)
def identity(ctx, node, ins):
    return _same(ins[0])


@converter("Dropout", since=12)
def dropout(ctx, node, ins):
    """An identity at inference; its training mode and its mask cannot be said."""
    if len(ins) > 2 and ins[2] is not None:
        training = need_const(ins[2], "a training mode")
        if training.size and bool(training.reshape(-1)[0]):
            raise Unsayable("a Dropout in training mode (export the model in eval mode)")
    mask = [o for o in node.outputs[1:] if o]
    if mask and any(ctx.readers.get(o, 0) for o in mask):
        raise Unsayable("a Dropout whose mask is read")
    return [_same(ins[0])] + [None] * (len(node.outputs) - 1)


FLOATS = (1, 10, 11, 16)


@converter("Cast", since=6)
def cast(ctx, node, ins):
    to = attr_int(node, "to")
    if isinstance(ins[0], Tensor):
        if to not in FLOATS:
            raise Unsayable(f"a Cast of the image to an integer type ({to})")
        return ins[0].alias()
    if to not in DTYPES:
        raise Unsayable(f"a Cast to type {to}")
    dtype = DTYPES[to][0]
    c = need_const(ins[0], "a value") if not ins[0].has_batch() else ins[0].array
    return Const(c.astype(np.float32 if isinstance(dtype, str) else dtype), ins[0].batch)
