"""The activations: one table that serves every backend and bridge.

Each entry says how one activation is computed
  numpy   statements that apply it in place to a fresh float32 array `y`
          (helpers such as `_relu`, `_sigmoid`, `_gelu` are in backends/numpy/carried/numpy_ops.py)
  triton  statements that apply it to the fp32 tile `acc` inside a kernel (`mask_n` masks
          the channels past C; `_max`/`_sum` are the module's reducers)
  torch   nn -> the torch.nn module (so `print(model.to_torch())` shows ReLU, GELU, ...)
  onnx    (g, x, out, name) -> out: the ONNX nodes, through the exporter's graph builder
and the facts the passes need: `monotone` (non-decreasing, so max pooling commutes with it)
and `keras` (the Keras 3 names it stands for); `numpy_scratch` = (bytes per element, bytes
per row, buffered) is what the numpy lines hold beyond y while they run (float64 copies,
masks, a keepdims reduction per row; `buffered`: numpy's ufunc buffer for an in-place
operation with a broadcast operand), for the memory estimate of `cnnc shapes --batch`
(tests/test_memory.py measures every entry). Semantics are Keras 3's: leaky_relu's slope
is 0.2, gelu is exact (erf), hard_sigmoid is relu6(x + 3) / 6, softmax runs over the last
axis (channels on an image, per pixel). NaN stays NaN in every backend.
"""

from __future__ import annotations

from ..records import FrozenRecord

_NAN = "propagate_nan=tl.PropagateNan.ALL"


class Activation(FrozenRecord):
    """`param` = (option, default) for an activation with a parameter that a statement alone
    may set (`leaky_relu slope=0.01`, `elu alpha=0.5`), and `variant(value)` makes the entry
    for another value; as the ACT of another statement it has its default."""
    __slots__ = ("name", "numpy", "triton", "torch", "onnx", "monotone", "keras", "numpy_scratch", "param",
                 "variant")
    _defaults = {"numpy_scratch": (0, 0, False), "param": None, "variant": None}


def _onnx_op(op, **attrs):
    return lambda g, x, out, name: g.node(op, [x], out, name, **attrs)


def _onnx_clip(lo, hi):
    def emit(g, x, out, name):
        import numpy as np

        return g.node("Clip", [x, g.init(f"{name}/min", np.array(lo, np.float32)),
                               g.init(f"{name}/max", np.array(hi, np.float32))], out, name)
    return emit


def _onnx_gelu(g, x, out, name):
    """0.5 * x * (1 + erf(x / sqrt 2)), in opset-17 operators (Gelu itself is opset 20)."""
    import numpy as np

    def c(tag, v):
        return g.init(f"{name}/{tag}", np.array(v, np.float32))
    s = g.node("Mul", [x, c("rsqrt2", 0.7071067811865476)], f"{name}/scaled", f"{name}/scaled")
    e = g.node("Erf", [s], f"{name}/erf", f"{name}/erf")
    a = g.node("Add", [e, c("one", 1.0)], f"{name}/1+erf", f"{name}/1+erf")
    h = g.node("Mul", [x, c("half", 0.5)], f"{name}/x_half", f"{name}/x_half")
    return g.node("Mul", [h, a], out, name)


def _torch_gelu(nn):
    """nn.GELU computed as x/2 * erfc(-x / sqrt 2), the numpy backend's form: PyTorch's own
    vectorised kernel gives NaN for +inf (its one-element path gives inf, as numpy does)."""
    import torch

    class GELU(nn.GELU):
        def forward(self, x):
            return 0.5 * x * torch.erfc(x * -0.7071067811865476)
    return GELU()


def _leaky_relu(slope: float) -> Activation:
    """max(x, 0) + slope * min(x, 0): Keras's LeakyReLU(negative_slope), PyTorch's LeakyReLU."""
    s = float(slope)
    return Activation("leaky_relu", numpy=(f"np.multiply(y, np.float32({s!r}), out=y, where=y < 0)",),
                      triton=(f"acc = tl.where(acc < 0, acc * {s!r}, acc)",),
                      torch=lambda nn: nn.LeakyReLU(s), onnx=_onnx_op("LeakyRelu", alpha=s), monotone=s >= 0,
                      keras=("leaky_relu",), numpy_scratch=(1, 0, False), param=("slope", 0.2), variant=_leaky_relu)


def _elu(alpha: float) -> Activation:
    """x for x > 0, alpha * (exp(x) - 1) below: Keras's ELU(alpha), PyTorch's ELU(alpha)."""
    a = float(alpha)
    scaled = a != 1.0
    numpy = ("np.expm1(y, out=y, where=y < 0)",) + \
        ((f"np.multiply(y, np.float32({a!r}), out=y, where=y < 0)",) if scaled else ())
    triton = (f"acc = tl.where(acc > 0, acc, {a!r} * (tl.exp(acc) - 1.0))" if scaled
              else "acc = tl.where(acc > 0, acc, tl.exp(acc) - 1.0)",)
    return Activation("elu", numpy=numpy, triton=triton, torch=lambda nn: nn.ELU(a), onnx=_onnx_op("Elu", alpha=a),
                      monotone=a >= 0, keras=("elu",), numpy_scratch=(1, 0, False), param=("alpha", 1.0),
                      variant=_elu)


def _onnx_silu(g, x, out, name):
    s = g.node("Sigmoid", [x], f"{name}/sigmoid", f"{name}/sigmoid")
    return g.node("Mul", [x, s], out, name)


_TABLE = (
    Activation("linear", numpy=(), triton=(), torch=lambda nn: nn.Identity(),
               onnx=_onnx_op("Identity"), monotone=True, keras=("linear",)),
    Activation("relu", numpy=("_relu(y)",), triton=(f"acc = tl.maximum(acc, 0.0, {_NAN})",),
               torch=lambda nn: nn.ReLU(), onnx=_onnx_op("Relu"), monotone=True, keras=("relu",),
               numpy_scratch=(0, 0, True)),
    Activation("relu6", numpy=("np.clip(y, 0, 6, out=y)",),
               triton=(f"acc = tl.minimum(tl.maximum(acc, 0.0, {_NAN}), 6.0, {_NAN})",),
               torch=lambda nn: nn.ReLU6(), onnx=_onnx_clip(0.0, 6.0), monotone=True, keras=("relu6",)),
    _leaky_relu(0.2),
    _elu(1.0),
    Activation("gelu", numpy=("_gelu(y)",),
               triton=("acc = 0.5 * acc * (1.0 + tl.erf(acc * 0.7071067811865476))",),
               torch=_torch_gelu, onnx=_onnx_gelu, monotone=False, keras=("gelu",),
               numpy_scratch=(73, 0, False)),
    Activation("silu", numpy=("y *= _sigmoid(y)",), triton=("acc = acc / (1.0 + tl.exp(-acc))",),
               torch=lambda nn: nn.SiLU(), onnx=_onnx_silu, monotone=False, keras=("silu", "swish"),
               numpy_scratch=(8, 0, False)),
    Activation("hard_sigmoid", numpy=("y += np.float32(3.0)", "np.clip(y, 0, 6, out=y)", "y /= np.float32(6.0)"),
               triton=(f"acc = tl.minimum(tl.maximum(acc + 3.0, 0.0, {_NAN}), 6.0, {_NAN}) / 6.0",),
               torch=lambda nn: nn.Hardsigmoid(), onnx=_onnx_op("HardSigmoid", alpha=1.0 / 6, beta=0.5),
               monotone=True, keras=("hard_sigmoid",)),
    Activation("hard_swish", numpy=("y *= np.clip(y + np.float32(3.0), 0, 6) / np.float32(6.0)",),
               triton=(f"acc = acc * (tl.minimum(tl.maximum(acc + 3.0, 0.0, {_NAN}), 6.0, {_NAN}) / 6.0)",),
               torch=lambda nn: nn.Hardswish(), onnx=_onnx_op("HardSwish"), monotone=False,
               keras=("hard_swish", "hard_silu"), numpy_scratch=(8, 0, False)),
    Activation("sigmoid",
               numpy=("# sigmoid(y) = (1 + tanh(y / 2)) / 2: no overflow for any y",
                      "y *= np.float32(0.5)", "np.tanh(y, out=y)", "y += np.float32(1.0)", "y *= np.float32(0.5)"),
               triton=("acc = 1.0 / (1.0 + tl.exp(-acc))",),
               torch=lambda nn: nn.Sigmoid(), onnx=_onnx_op("Sigmoid"), monotone=True, keras=("sigmoid",)),
    Activation("tanh", numpy=("np.tanh(y, out=y)",),
               triton=("# tanh: a series near 0 keeps the relative error small, (1-e)/(1+e) elsewhere",
                       "ax = tl.abs(acc)", "ex = tl.exp(-2.0 * ax)", "big = (1.0 - ex) / (1.0 + ex)",
                       "x2 = acc * acc", "small = ax * (1.0 - x2 / 3.0 + x2 * x2 * (2.0 / 15.0))",
                       "acc = tl.where(acc < 0, -1.0, 1.0) * tl.where(ax < 0.0625, small, big)"),
               torch=lambda nn: nn.Tanh(), onnx=_onnx_op("Tanh"), monotone=True, keras=("tanh",)),
    Activation("softmax",
               numpy=("# softmax over the last axis (channels), shifted by the max so exp never overflows",
                      "y -= y.max(axis=-1, keepdims=True)", "np.exp(y, out=y)", "y /= y.sum(axis=-1, keepdims=True)"),
               triton=("# softmax over the whole channel row (BN covers C)",
                       'z = tl.where(mask_n[None, :], acc, float("-inf"))',
                       "z = tl.exp(z - tl.reduce(z, 1, _max)[:, None])",
                       "acc = z / tl.reduce(z, 1, _sum)[:, None]"),
               torch=lambda nn: nn.Softmax(dim=1), onnx=_onnx_op("Softmax", axis=1), monotone=False,
               keras=("softmax",), numpy_scratch=(0, 4, True)),
)

# name -> Activation; the written aliases `swish` and `hard_silu` name the same functions
ACTIVATIONS: dict = {a.name: a for a in _TABLE}
ACTIVATIONS["swish"] = ACTIVATIONS["silu"]
ACTIVATIONS["hard_silu"] = ACTIVATIONS["hard_swish"]

# what a program may write as ACT, in the order the docs list them
NAMES = tuple(ACTIVATIONS)


def activation_of(node) -> Activation:
    """The activation `node` applies: its table entry, or the entry for the parameter that an
    activation statement alone sets (`leaky_relu slope=0.01`)."""
    a = ACTIVATIONS[node.activation]
    if a.param is None:
        return a
    option, default = a.param
    value = (node.attrs or {}).get(option, default)
    return a if value == default else a.variant(value)
