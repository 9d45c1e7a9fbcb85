"""`to_onnx(model, path)`: the network as an ONNX file, built with `onnx.helper`.

The graph takes and returns NHWC like cnnc (input `input`, shape (N, H, W, C),
N symbolic); inside, one Transpose makes it NCHW for ONNX's Conv and pools, and
`flatten` transposes back first so dense kernels keep cnnc's H, W, C row order.
Every kind maps to standard operators (default opset 17), through LOWERINGS below:

  conv       Conv with explicit `pads` (TensorFlow `same` is asymmetric: the
             smaller half on top/left), dilations, group, no bias under bias=false;
             then the activation
  dwconv     Conv with group=C;  sepconv  a group=Cin Conv, then a 1x1 Conv
  deconv     ConvTranspose: pads crop Keras's `same`, output_padding adds the rows a
             kernel smaller than its stride leaves
  upsample   Resize (nearest: asymmetric/floor; bilinear: linear/half_pixel)
  zeropad    Pad;  rescale  Mul + Add;  globalmaxpool  GlobalMaxPool (NaN and -inf as pool's) + Flatten
  scale      Unsqueeze the gate to (N, C, 1, 1), Mul
  layernorm  LayerNormalization(axis=-1) between Transposes to NHWC and back (on an image)
  layerscale Mul by gamma (C, 1, 1);  normalize  Sub mean, Div max(sqrt(var), 1e-7)
  crop       Slice on H and W
  pool       MaxPool with the same explicit pads (ONNX never picks a padded pixel); windows
             holding a NaN are NaN and windows of -inf only are -inf, as in numpy
  avgpool    AveragePool: `same` -> count_include_pad=0 (real pixels only);
             integer p -> count_include_pad=1 (the zeros count, as in PyTorch)
  globalpool GlobalAveragePool + Flatten
  dense      Gemm (B is the Keras (in, out) kernel as is)
  batchnorm  BatchNormalization (inference form, epsilon from the program; ones/zeros
             for a missing gamma/beta)
  dropout    Identity;  residual Add;  concat Concat on channels
  ACT        from the one table of activations (layers/activations.py): Relu, Clip (relu6),
             LeakyRelu, Elu, Erf-based gelu, x * Sigmoid (silu), HardSigmoid, HardSwish,
             Sigmoid, Tanh, Softmax(axis=1: channels), Identity

Node and tensor names are the layer names (an activation fused into a conv or
dense is a second node `NAME/relu`), initializers are `NAME.kernel` etc., so
Netron shows the program's own names.
"""

from __future__ import annotations

import os

import numpy as np

from .. import layers as L
from ..backends.pending import require_lowerings
from ..optional import require

# An ONNX file is one protobuf message, and protobuf cannot serialize one of 2 GiB or more.
PROTOBUF_LIMIT = 2 ** 31 - 1


class ModelTooLarge(ValueError):
    """The network is too large for one ONNX file (protobuf's 2 GiB limit)."""


def _check_size(nbytes: int) -> None:
    if nbytes > PROTOBUF_LIMIT:
        raise ModelTooLarge(f"the network needs {nbytes / 2 ** 30:.2f} GiB as ONNX, more than the "
                            f"{PROTOBUF_LIMIT / 2 ** 30:.2f} GiB one ONNX file can hold (protobuf's limit); "
                            f"compile it as a module instead")


def to_onnx(model, path, opset: int = 17) -> str:
    """Write `model` as ONNX to `path`; returns the path. `onnx.checker` is run on the result.

    ModelTooLarge (a ValueError) when it would pass protobuf's 2 GiB: found from the weights
    before the model is built, and from the built model's exact size before it is written.
    """
    onnx = require("onnx", "onnx")
    _check_size(sum(int(np.asarray(a).size) * 4 for a in model.params.values()))
    proto = build_model(model.network, model.params, opset)
    _check_size(proto.ByteSize())
    onnx.checker.check_model(proto)
    path = os.fspath(path)
    onnx.save(proto, path)
    return path


class _Graph:
    def __init__(self, onnx):
        self.h = onnx.helper
        self.onnx = onnx
        self.nodes = []
        self.inits = []

    def node(self, op, inputs, output, name, **attrs):
        self.nodes.append(self.h.make_node(op, inputs, [output], name=name, **attrs))
        return output

    def init(self, name, array):
        from onnx import numpy_helper

        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name


def build_model(net, params, opset: int = 17):
    """The ONNX ModelProto of `net` with `params` (float32, Keras layouts)."""
    onnx = require("onnx", "onnx")
    require_lowerings(net, LOWERINGS, "ONNX export")
    g = _Graph(onnx)
    helper = onnx.helper
    P = {k: np.asarray(v, dtype=np.float32) for k, v in params.items()}

    tensors = {net.input.name: g.node("Transpose", [net.input.name], "input/nchw", "input/nchw", perm=[0, 3, 1, 2])}
    for node in net.layers:
        ins = [tensors[i.name] for i in node.inputs]
        tensors[node.name] = LOWERINGS[node.kind](g, node, ins, P)

    out_name = "output"
    while out_name in tensors:  # a layer may be called `output`
        out_name += "_"
    last = tensors[net.output.name]
    if isinstance(net.output.out, L.Image):
        g.node("Transpose", [last], out_name, f"{out_name}/nhwc", perm=[0, 2, 3, 1])
    else:
        g.node("Identity", [last], out_name, out_name)

    f32 = onnx.TensorProto.FLOAT
    graph = helper.make_graph(
        g.nodes, _safe_graph_name(net),
        [helper.make_tensor_value_info(net.input.name, f32, ["N", *net.input_shape])],
        [helper.make_tensor_value_info(out_name, f32, ["N", *net.output_shape])],
        initializer=g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="cnnc", producer_version=__import__("cnnc").__version__)
    model.ir_version = min(model.ir_version, 8)  # readable by onnxruntime and Netron releases of the last years
    return model


def _safe_graph_name(net) -> str:
    base = os.path.splitext(os.path.basename(str(net.filename or "cnnc")))[0]
    return "".join(ch if ch.isalnum() or ch in "_-." else "_" for ch in base) or "cnnc"


def _pads(node):
    """ONNX pads [top, left, bottom, right] of a conv/pool node."""
    t, b, le, r = node.spec.pads(node.input.out, node.attrs)
    return [t, le, b, r]


def _act(g, x, act, output, node_name):
    """The activation `act` on x, as ONNX nodes (from the one table of activations)."""
    if act in (None, "linear"):
        return x
    return L.ACTIVATIONS[act].onnx(g, x, output, node_name)


def _anchor_out(node) -> str:
    """An anchor's own output tensor: its name, or NAME/op when an activation follows."""
    return node.name if node.activation in ("linear", None) else f"{node.name}/{node.kind}"


def _bias_input(g, node, P, suffix="bias"):
    """[the bias initializer] when the layer has one (`bias=false`: none, ONNX's default of zeros)."""
    key = f"{node.name}.{suffix}"
    return [g.init(key, P[key])] if key in P else []


def _conv(g, node, ins, P):
    name, a = node.name, node.attrs
    w = P[f"{name}.kernel"].transpose(3, 2, 0, 1)  # (KH, KW, Cin/G, F) -> (F, Cin/G, KH, KW)
    out = g.node("Conv", [ins[0], g.init(f"{name}.kernel", w), *_bias_input(g, node, P)], _anchor_out(node), name,
                 kernel_shape=list(a["kernel"]), strides=list(a["stride"]), pads=_pads(node),
                 dilations=list(a.get("dilation", (1, 1))), group=int(a.get("groups", 1)))
    return _act(g, out, node.activation, name, f"{name}/{node.activation}")


def _depthwise_weight(k):
    """Keras's depthwise kernel (KH, KW, C, M) as a group=C Conv weight (C*M, 1, KH, KW)."""
    kh, kw, c, m = k.shape
    return np.ascontiguousarray(k.transpose(2, 3, 0, 1).reshape(c * m, 1, kh, kw))


def _dwconv(g, node, ins, P):
    name, a = node.name, node.attrs
    k = P[f"{name}.kernel"]
    out = g.node("Conv", [ins[0], g.init(f"{name}.kernel", _depthwise_weight(k)), *_bias_input(g, node, P)],
                 _anchor_out(node), name, kernel_shape=list(a["kernel"]), strides=list(a["stride"]),
                 pads=_pads(node), dilations=list(a["dilation"]), group=int(k.shape[2]))
    return _act(g, out, node.activation, name, f"{name}/{node.activation}")


def _sepconv(g, node, ins, P):
    """A group=Cin Conv (the depthwise part: stride, padding, dilation), then a 1x1 Conv with the bias."""
    name, a = node.name, node.attrs
    d = P[f"{name}.depthwise"]
    mid = g.node("Conv", [ins[0], g.init(f"{name}.depthwise", _depthwise_weight(d))], f"{name}/depthwise",
                 f"{name}/depthwise", kernel_shape=list(a["kernel"]), strides=list(a["stride"]), pads=_pads(node),
                 dilations=list(a["dilation"]), group=int(d.shape[2]))
    w = P[f"{name}.pointwise"].transpose(3, 2, 0, 1)
    out = g.node("Conv", [mid, g.init(f"{name}.pointwise", w), *_bias_input(g, node, P)], _anchor_out(node), name,
                 kernel_shape=[1, 1])
    return _act(g, out, node.activation, name, f"{name}/{node.activation}")


def _deconv(g, node, ins, P):
    """ConvTranspose, weight (Cin, F, KH, KW): of the full result, `pads` drop what Keras's `same`
    drops (top/left first), `output_padding` adds the rows a kernel smaller than its stride leaves
    (they hold the bias alone, as in Keras)."""
    name, a = node.name, node.attrs
    w = P[f"{name}.kernel"].transpose(3, 2, 0, 1)   # (KH, KW, F, Cin) -> (Cin, F, KH, KW)
    t, b, left, r = node.spec.crops(node.input.out, a)
    out = g.node("ConvTranspose", [ins[0], g.init(f"{name}.kernel", w), *_bias_input(g, node, P)],
                 _anchor_out(node), name, kernel_shape=list(a["kernel"]), strides=list(a["stride"]),
                 pads=[max(t, 0), max(left, 0), max(b, 0), max(r, 0)], output_padding=[max(-b, 0), max(-r, 0)])
    return _act(g, out, node.activation, name, f"{name}/{node.activation}")


def _dense(g, node, ins, P):
    name = node.name
    out = g.node("Gemm", [ins[0], g.init(f"{name}.kernel", P[f"{name}.kernel"]),
                          g.init(f"{name}.bias", P[f"{name}.bias"])], _anchor_out(node), name)
    return _act(g, out, node.activation, name, f"{name}/{node.activation}")


def _pool(g, node, ins, P):
    name, a = node.name, node.attrs
    x = ins[0]
    is_max = node.spec.reduce == "max"
    pads = _pads(node)
    kh, kw = a["kernel"]
    if max(pads[0], pads[2]) >= kh or max(pads[1], pads[3]) >= kw:
        # onnxruntime wants pads < kernel; wider integer padding becomes an explicit Pad
        # (-inf for max pooling, zeros that count for average pooling)
        t, le, b, r = pads
        fill = np.array(-np.inf if is_max else 0.0, dtype=np.float32)
        x = g.node("Pad", [x, g.init(f"{name}/pads", np.array([0, 0, t, le, 0, 0, b, r], dtype=np.int64)),
                           g.init(f"{name}/fill", fill)], f"{name}/pad", f"{name}/pad", mode="constant")
        pads = [0, 0, 0, 0]
    if is_max:
        def max_pool(t, out):
            return g.node("MaxPool", [t], out, out, kernel_shape=list(a["kernel"]), strides=list(a["stride"]),
                          pads=pads)
        return _max_as_numpy(g, name, x, max_pool, name)
    return g.node("AveragePool", [x], name, name, kernel_shape=list(a["kernel"]), strides=list(a["stride"]),
                  pads=pads, count_include_pad=0 if a["padding"] == "same" else 1)


def _max_as_numpy(g, name, x, pool, out):
    """`pool(x)` (onnxruntime's MaxPool or GlobalMaxPool, as `pool(tensor, output name)`)
    as numpy and PyTorch take a max: onnxruntime starts each window from the lowest float
    and skips NaN, where cnnc's max of a window is NaN when it holds a NaN and -inf when it
    holds nothing above -inf (real pixels of -inf, or padding only). Both are found by
    pooling a 0/1 flag of x with the same windows, and put back with Where."""
    def windows_holding(flag_op, tag, **attrs):
        hit = g.node(flag_op, [x], f"{name}/{tag}", f"{name}/{tag}", **attrs)
        if flag_op == "IsInf":  # -inf: the windows holding anything else
            hit = g.node("Not", [hit], f"{name}/not_{tag}", f"{name}/not_{tag}")
        flags = g.node("Cast", [hit], f"{name}/{tag}01", f"{name}/{tag}01", to=g.onnx.TensorProto.FLOAT)
        pooled = pool(flags, f"{name}/{tag}_window")
        return g.node("Cast", [pooled], f"{name}/{tag}_any", f"{name}/{tag}_any", to=g.onnx.TensorProto.BOOL)

    def const(tag, v):
        return g.init(f"{name}/{tag}", np.array(v, dtype=np.float32))

    y = pool(x, f"{name}/max")
    above = windows_holding("IsInf", "isneginf", detect_positive=0)
    y = g.node("Where", [above, y, const("-inf", -np.inf)], f"{name}/nonan", f"{name}/nonan")
    return g.node("Where", [windows_holding("IsNaN", "isnan"), const("NaN", np.nan), y], out, out)


def _globalpool(g, node, ins, P):
    y = g.node("GlobalAveragePool", [ins[0]], f"{node.name}/pool", f"{node.name}/pool")
    return g.node("Flatten", [y], node.name, node.name, axis=1)


def _flatten(g, node, ins, P):
    name, x = node.name, ins[0]
    if isinstance(node.input.out, L.Image):
        x = g.node("Transpose", [x], f"{name}/nhwc", f"{name}/nhwc", perm=[0, 2, 3, 1])
        return g.node("Flatten", [x], name, name, axis=1)
    return g.node("Identity", [x], name, name)


def _batchnorm(g, node, ins, P):
    """BatchNormalization; a missing gamma (scale=false) is ones, a missing beta (center=false) zeros."""
    c = node.out.dims[-1]
    ts = []
    for k, fill in (("gamma", 1.0), ("beta", 0.0), ("mean", None), ("var", None)):
        key = f"{node.name}.{k}"
        ts.append(g.init(key, P[key]) if key in P else g.init(f"{node.name}/{k}", np.full(c, fill, np.float32)))
    return g.node("BatchNormalization", [ins[0], *ts], node.name, node.name, epsilon=float(node.attrs["eps"]))


def _upsample(g, node, ins, P):
    """Resize: nearest repeats each pixel (asymmetric + floor); bilinear has half-pixel centres."""
    name, (kh, kw) = node.name, node.attrs["size"]
    scales = g.init(f"{name}/scales", np.array([1, 1, kh, kw], np.float32))
    if node.attrs["mode"] == "nearest":
        return g.node("Resize", [ins[0], "", scales], name, name, mode="nearest",
                      coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    return g.node("Resize", [ins[0], "", scales], name, name, mode="linear", coordinate_transformation_mode="half_pixel")


def _zeropad(g, node, ins, P):
    t, b, left, r = node.attrs["sides"]
    pads = g.init(f"{node.name}/pads", np.array([0, 0, t, left, 0, 0, b, r], np.int64))
    return g.node("Pad", [ins[0], pads], node.name, node.name, mode="constant")


def _globalmaxpool(g, node, ins, P):
    def global_max(t, out):
        return g.node("GlobalMaxPool", [t], out, out)
    y = _max_as_numpy(g, node.name, ins[0], global_max, f"{node.name}/pool")
    return g.node("Flatten", [y], node.name, node.name, axis=1)


def _rescale(g, node, ins, P):
    name, a = node.name, node.attrs
    y = g.node("Mul", [ins[0], g.init(f"{name}/scale", np.array(a["scale"], np.float32))], f"{name}/mul",
               f"{name}/mul")
    return g.node("Add", [y, g.init(f"{name}/offset", np.array(a["offset"], np.float32))], name, name)


def _scale(g, node, ins, P):
    """The image (N, C, H, W) times its gate (N, C), unsqueezed to (N, C, 1, 1)."""
    x, gate = ins
    axes = g.init(f"{node.name}/axes", np.array([2, 3], np.int64))
    gate = g.node("Unsqueeze", [gate, axes], f"{node.name}/gate", f"{node.name}/gate")
    return g.node("Mul", [x, gate], node.name, node.name)


def _channel_shape(node, values):
    """A per-channel (C,) array shaped to broadcast over NCHW (C, 1, 1), or a vector's (C,)."""
    a = np.asarray(values, np.float32)
    return a.reshape(-1, 1, 1) if isinstance(node.out, L.Image) else a


def _layernorm(g, node, ins, P):
    """LayerNormalization over the last axis: an image is made NHWC for it, and NCHW again."""
    name, x = node.name, ins[0]
    image = isinstance(node.out, L.Image)
    if image:
        x = g.node("Transpose", [x], f"{name}/nhwc", f"{name}/nhwc", perm=[0, 2, 3, 1])
    gamma, beta = g.init(f"{name}.gamma", P[f"{name}.gamma"]), g.init(f"{name}.beta", P[f"{name}.beta"])
    y = g.node("LayerNormalization", [x, gamma, beta], f"{name}/norm" if image else name, f"{name}/norm",
               axis=-1, epsilon=float(node.attrs["eps"]))
    return g.node("Transpose", [y], name, name, perm=[0, 3, 1, 2]) if image else y


def _layerscale(g, node, ins, P):
    gamma = g.init(f"{node.name}.gamma", _channel_shape(node, P[f"{node.name}.gamma"]))
    return g.node("Mul", [ins[0], gamma], node.name, node.name)


def _normalize(g, node, ins, P):
    """(x - mean) / max(sqrt(var), 1e-7): the divisor computed from the weights, or a constant."""
    name = node.name
    consts = node.spec.constants(node.attrs, node.out.dims[-1])
    if consts is None:
        mean, var = P[f"{name}.mean"], P[f"{name}.var"]
    else:
        mean, var = (np.array(v, np.float32) for v in consts)
    den = np.maximum(np.sqrt(np.asarray(var, np.float32)), np.float32(1e-7))
    y = g.node("Sub", [ins[0], g.init(f"{name}/mean", _channel_shape(node, mean))], f"{name}/centred",
               f"{name}/centred")
    return g.node("Div", [y, g.init(f"{name}/den", _channel_shape(node, den))], name, name)


def _crop(g, node, ins, P):
    t, b, left, r = node.attrs["sides"]
    inp = node.input.out
    name = node.name
    starts = g.init(f"{name}/starts", np.array([t, left], np.int64))
    ends = g.init(f"{name}/ends", np.array([inp.h - b, inp.w - r], np.int64))
    axes = g.init(f"{name}/axes", np.array([2, 3], np.int64))
    return g.node("Slice", [ins[0], starts, ends, axes], name, name)
def _sum(g, node, ins, P):
    """residual and add: Add nodes left to right (Keras's order), a scaled input through a Mul."""
    coefficients = node.spec.coefficients(node)
    terms = []
    for i, (t, c) in enumerate(zip(ins, coefficients)):
        if c != 1.0:
            t = g.node("Mul", [t, g.init(f"{node.name}/scale{i}", np.array(c, np.float32))], f"{node.name}/mul{i}",
                       f"{node.name}/mul{i}")
        terms.append(t)
    out = terms[0]
    for i, t in enumerate(terms[1:], 1):
        last = i == len(terms) - 1
        name = node.name if last else f"{node.name}/add{i}"
        out = g.node("Add", [out, t], name, name)
    return out


def _multiply(g, node, ins, P):
    """Two values of one shape elementwise, or an image times its gate (as the scale join)."""
    if node.inputs[0].out == node.inputs[1].out:
        return g.node("Mul", ins, node.name, node.name)
    return _scale(g, node, ins, P)


def _identity(g, node, ins, P):
    return g.node("Identity", [ins[0]], node.name, node.name)


def _activation(g, node, ins, P):
    return L.activation_of(node).onnx(g, ins[0], node.name, node.name)   # linear: an Identity node


# how each kind becomes ONNX nodes: (graph, node, input tensors, params) -> output tensor
LOWERINGS: dict = {
    "conv": _conv, "dense": _dense, "pool": _pool, "avgpool": _pool, "globalpool": _globalpool,
    "flatten": _flatten, "batchnorm": _batchnorm, "dropout": _identity,
    "residual": _sum, "add": _sum, "multiply": _multiply,
    "concat": lambda g, node, ins, P: g.node("Concat", ins, node.name, node.name, axis=1),
    "input": None,   # the graph's input itself (transposed to NCHW in build_model)
    **{name: _activation for name in L.ACTIVATIONS},
    "dwconv": _dwconv, "sepconv": _sepconv, "deconv": _deconv, "upsample": _upsample, "zeropad": _zeropad,
    "globalmaxpool": _globalmaxpool, "rescale": _rescale, "scale": _scale,
    "layernorm": _layernorm, "layerscale": _layerscale, "normalize": _normalize, "crop": _crop,
}
