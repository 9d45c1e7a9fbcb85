"""Converters of the ONNX ops that hold weights or move windows: Conv, ConvTranspose, Gemm,
MatMul, BatchNormalization, LayerNormalization, MaxPool, AveragePool, the global pools and
ReduceMean/ReduceMax over H and W, Resize and Pad.

Weights become the Keras layouts of the registry (a conv kernel (KH, KW, Cin/G, F), a dense
kernel (in, out), a deconv kernel (KH, KW, F, Cin)). Paddings are said the plainest exact
way (`padding_of`): `same` where it is TensorFlow's rule for this image, an integer where
every side gets the same, else `zeropad` (or `crop`) and a `valid` window.
"""

from __future__ import annotations

import numpy as np

from .... import layers as L
from ....layers.base import transposed
from ..statement import Malformed, Unsayable
from .registry import converter
from .values import (Const, Tensor, attr_float, attr_int, attr_ints, attr_str, f32, need_const, need_image,
                     need_tensor, weight)


# --- windows and their padding -------------------------------------------------------------

def _positive_pair(node, name, default, what) -> tuple:
    v = attr_ints(node, name, default)
    if len(v) != 2:
        raise Unsayable(f"a 2-D {what} (this one has {len(v)} axes)")
    from ....limits import MAX_SIZE

    if min(v) < 1 or max(v) > MAX_SIZE:
        raise Malformed(f"its {name} {v} is out of range (each 1 to {MAX_SIZE:,})")
    return (v[0], v[1])


def _onnx_pads(node, x: Tensor, kernel, stride, dilation=(1, 1)) -> tuple:
    """(top, bottom, left, right) a window op pads with: `pads` ([top, left, bottom, right]
    in ONNX's order) or `auto_pad`."""
    auto = attr_str(node, "auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        t = x.type
        pads = []
        for n, k, s, d in ((t.h, kernel[0], stride[0], dilation[0]), (t.w, kernel[1], stride[1], dilation[1])):
            _, small, large = L.window(n, (k - 1) * d + 1, s, "same")
            pads.append((small, large) if auto == "SAME_UPPER" else (large, small))
        return pads[0] + pads[1]
    if auto == "VALID":
        return (0, 0, 0, 0)
    if auto != "NOTSET":
        raise Malformed(f"its auto_pad is '{auto[:30]}'")
    p = attr_ints(node, "pads", [0, 0, 0, 0])
    if len(p) != 4:
        raise Unsayable(f"2-D pads (these are {p})")
    from ....limits import MAX_SIZE

    if min(p) < 0 or max(p) > MAX_SIZE:
        raise Malformed(f"its pads {p} are out of range")
    return (p[0], p[2], p[1], p[3])


def same_pads(ctx, t, extent, stride) -> "tuple | None":
    """TensorFlow's `same` padding of this image, when it can be relied on: always for stride
    1 (k - 1 in all, the smaller half on top/left), else only when the input's size is known."""
    if stride != (1, 1) and not ctx.static:
        return None
    _, top, bottom = L.window(t.h, extent[0], stride[0], "same")
    _, left, right = L.window(t.w, extent[1], stride[1], "same")
    return (top, bottom, left, right)


def padding_of(ctx, t, pads, extent, stride, prefer_same=True) -> tuple:
    """(padding option, zeros to add before or None): `valid`, `same` where the pads are
    TensorFlow's rule here (for stride 1 always; the familiar word), an integer when every
    side has the same, else the zeros as a `zeropad` before a `valid` window."""
    if not any(pads):
        return "valid", None
    same = same_pads(ctx, t, extent, stride)
    symmetric = len(set(pads)) == 1
    if pads == same and prefer_same and (stride == (1, 1) or not symmetric):
        return "same", None
    if symmetric:
        return pads[0], None
    return "valid", pads


def sides_op(ctx, kind, pads, node):
    """A `zeropad` or `crop` of (top, bottom, left, right): `zeropad 1` or `crop 1x2` where
    the sides pair up, else the sides that are not 0 (`crop top=1 left=1`)."""
    top, bottom, left, right = pads
    spec = L.KINDS.get(kind)
    if spec is not None and spec.positional and top == bottom and left == right:
        return ctx.op(kind, {spec.positional[0].name: (top, left)}, origin=node)
    return ctx.op(kind, {k: v for k, v in zip(("top", "bottom", "left", "right"), pads) if v}, origin=node)


def zeropad_op(ctx, node, pads):
    return sides_op(ctx, "zeropad", pads, node)


def _bias(ins, i, n) -> "np.ndarray | None":
    if len(ins) <= i or ins[i] is None:
        return None
    b = need_const(ins[i], "a bias")
    if b.size != n:
        raise Malformed(f"its bias holds {b.size} values for {n} outputs")
    return weight(b, (n,))


# --- convolutions ------------------------------------------------------------------------------

@converter("Conv", since=1)
def conv(ctx, node, ins):
    x = need_tensor(ins[0], "the image it convolves")
    w = need_const(ins[1], "a kernel")
    if w.ndim != 4:
        raise Unsayable(f"a 2-D convolution (this kernel has shape {w.shape})")
    f, cin_g, kh, kw = (int(d) for d in w.shape)
    kernel = (kh, kw)
    if attr_ints(node, "kernel_shape", list(kernel)) != list(kernel):
        raise Malformed(f"its kernel_shape {node.attrs['kernel_shape']} is not its kernel's {list(kernel)}")
    stride = _positive_pair(node, "strides", [1, 1], "stride")
    dilation = _positive_pair(node, "dilations", [1, 1], "dilation")
    groups = attr_int(node, "group", 1)
    bias = _bias(ins, 2, f)
    if not x.is_image and x.layout == "nchw":
        return _pointwise_on_vector(ctx, node, x, w, bias, stride, groups)
    need_image(x, "a Conv")
    c = x.channels
    if groups < 1 or cin_g * groups != c:
        raise Malformed(f"its kernel of shape {tuple(w.shape)} in {groups} group(s) does not read {c} channels")
    pads = _onnx_pads(node, x, kernel, stride, dilation)
    if x.fresh and x.node.spec.prologue is L.Prologue.PAD and ctx.readers.get(node.inputs[0]) == 1:
        # zeros a Pad added for this conv alone are the conv's own padding (F.pad then Conv2d)
        pads = tuple(a + b for a, b in zip(pads, x.node.attrs["sides"]))
        x = Tensor(x.node.inputs[0], x.layout, nonneg=x.nonneg)
    extent = ((kh - 1) * dilation[0] + 1, (kw - 1) * dilation[1] + 1)
    padding, zeros = padding_of(ctx, x.type, pads, extent, stride)
    if zeros is not None:
        x = x.like(ctx.statement(zeropad_op(ctx, node, zeros), x), nonneg=x.nonneg)
    window = {"kernel": kernel, "stride": stride, "padding": padding, "dilation": dilation}
    if groups == c and groups > 1:   # one input channel per group: a depthwise conv
        m = f // c
        weights = {"kernel": weight(w.reshape(c, m, kh, kw).transpose(2, 3, 0, 1))}
        if bias is not None:
            weights["bias"] = bias
        op = ctx.op("dwconv", {**window, "multiplier": m, "bias": bias is not None}, weights, node)
    else:
        weights = {"kernel": weight(w.transpose(2, 3, 1, 0))}
        if bias is not None:
            weights["bias"] = bias
        op = ctx.op("conv", {**window, "filters": f, "groups": groups, "bias": bias is not None}, weights, node)
    return x.like(ctx.statement(op, x), fresh=True, nonneg=False)


def _pointwise_on_vector(ctx, node, x, w, bias, stride, groups):
    """A 1x1 Conv of a pooled (N, C, 1, 1) image is a dense layer of the pooled vector."""
    f, cin, kh, kw = w.shape
    if (kh, kw) != (1, 1) or groups != 1 or any(attr_ints(node, "pads", [0, 0, 0, 0])):
        raise Unsayable(f"a {kh}x{kw} Conv of a pooled 1x1 image (as a dense layer only a 1x1 Conv without groups "
                        f"or padding can be said)")
    if cin != x.channels:
        raise Malformed(f"its kernel of shape {tuple(w.shape)} does not read {x.channels} channels")
    weights = {"kernel": weight(w[:, :, 0, 0].T), "bias": bias if bias is not None else np.zeros(f, np.float32)}
    return x.like(ctx.statement(ctx.op("dense", {"units": int(f)}, weights, node), x), fresh=True, nonneg=False)


@converter("ConvTranspose", since=1)
def conv_transpose(ctx, node, ins):
    """PyTorch's ConvTranspose2d(padding=p, output_padding=q) keeps rows p .. p + out of the
    full transposed convolution ((n - 1)·s + k rows): `deconv … padding=same` where that is
    what Keras's same keeps, else `deconv … padding=valid` and a `crop`."""
    x = need_image(need_tensor(ins[0], "the image it reads"), "a ConvTranspose")
    w = need_const(ins[1], "a kernel")
    if w.ndim != 4:
        raise Unsayable(f"a 2-D transposed convolution (this kernel has shape {w.shape})")
    cin, f, kh, kw = (int(d) for d in w.shape)
    if attr_int(node, "group", 1) != 1:
        raise Unsayable("a grouped ConvTranspose (cnnc's deconv has no groups)")
    if attr_ints(node, "dilations", [1, 1]) != [1, 1]:
        raise Unsayable("a dilated ConvTranspose (cnnc's deconv has no dilation)")
    if cin != x.channels:
        raise Malformed(f"its kernel of shape {tuple(w.shape)} does not read {x.channels} channels")
    if "output_shape" in node.attrs:
        raise Unsayable("a ConvTranspose given its output_shape (cnnc's deconv is given its padding)")
    if attr_str(node, "auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        raise Unsayable(f"a ConvTranspose with auto_pad={node.attrs['auto_pad']} (export it with explicit pads)")
    stride = _positive_pair(node, "strides", [1, 1], "stride")
    pads = attr_ints(node, "pads", [0, 0, 0, 0], length=4)
    extra = attr_ints(node, "output_padding", [0, 0], length=2)
    if min(pads) < 0 or min(extra) < 0:
        raise Malformed(f"its pads {pads} or output_padding {extra} are negative")
    t = x.type
    keep = []   # per axis: (first row kept, rows kept)
    for n, k, s, begin, end, more in ((t.h, kh, stride[0], pads[0], pads[2], extra[0]),
                                      (t.w, kw, stride[1], pads[1], pads[3], extra[1])):
        keep.append((begin, (n - 1) * s + k - begin - end + more))
    weights = {"kernel": weight(w.transpose(2, 3, 1, 0))}
    bias = _bias(ins, 2, f)
    if bias is not None:
        weights["bias"] = bias
    attrs = {"filters": f, "kernel": (kh, kw), "stride": stride, "bias": bias is not None}
    crops = []
    for (n, k, s), (first, rows) in zip(((t.h, kh, stride[0]), (t.w, kw, stride[1])), keep):
        out, _, _ = transposed(n, k, s, "valid")
        crops += [first, out - first - rows]
    same = [transposed(n, k, s, "same") for n, k, s in ((t.h, kh, stride[0]), (t.w, kw, stride[1]))]
    if any(crops) and ctx.static and all((top, out) == kept for (out, top, _), kept in zip(same, keep)):
        op = ctx.op("deconv", {**attrs, "padding": "same"}, weights, node)
        return x.like(ctx.statement(op, x), fresh=True, nonneg=False)
    if min(crops) < 0:
        raise Unsayable(f"a ConvTranspose whose output_padding reaches past what cnnc's deconv computes "
                        f"(pads {pads}, output_padding {extra})")
    y = x.like(ctx.statement(ctx.op("deconv", {**attrs, "padding": "valid"}, weights, node), x), fresh=True,
               nonneg=False)
    if any(crops):
        y = y.like(ctx.statement(sides_op(ctx, "crop", crops, node), y))
    return y


# --- dense layers -------------------------------------------------------------------------------

def _dense_kernel(x: Tensor, k: np.ndarray) -> np.ndarray:
    """A (in, out) kernel in PyTorch's order of x's elements, in cnnc's."""
    if k.shape[0] != x.channels:
        raise Malformed(f"its weights of shape {tuple(k.shape)} do not read {x.channels} values")
    return k[x.perm] if x.perm is not None else k


@converter("Gemm", since=1)
def gemm(ctx, node, ins):
    x = need_tensor(ins[0], "the vector it reads")
    if x.layout != "vec":
        raise Unsayable(f"a Gemm of {x.rank}-d values (a dense layer reads a flattened (N, C) vector)")
    if attr_int(node, "transA", 0):
        raise Unsayable("a Gemm of the transposed input")
    b = need_const(ins[1], "weights")
    if b.ndim != 2:
        raise Malformed(f"its weights have shape {b.shape}")
    k = (b.T if attr_int(node, "transB", 0) else b) * attr_float(node, "alpha", 1.0)
    units = int(k.shape[1])
    bias = np.zeros(units, np.float32)
    if len(ins) > 2 and ins[2] is not None:
        c = need_const(ins[2], "a bias")
        if c.size not in (1, units) or c.ndim > 2:
            raise Unsayable(f"a Gemm whose C of shape {c.shape} is not a bias of {units} values")
        bias = np.broadcast_to(c.reshape(-1).astype(np.float64) * attr_float(node, "beta", 1.0), (units,))
    weights = {"kernel": weight(_dense_kernel(x, np.asarray(k, np.float64))), "bias": weight(bias)}
    return Tensor(ctx.statement(ctx.op("dense", {"units": units}, weights, node), x), "vec", fresh=True)


@converter("MatMul", since=1)
def matmul(ctx, node, ins):
    a, b = ins[0], ins[1]
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        return Const(np.matmul(need_const(a, "a matrix"), need_const(b, "a matrix")))
    x = need_tensor(a, "the values it multiplies (a constant times the image cannot be said)")
    k = need_const(b, "weights")
    if k.ndim != 2:
        raise Unsayable(f"a MatMul by a {k.ndim}-d constant (a dense layer multiplies by a matrix)")
    units = int(k.shape[1])
    weights = {"kernel": weight(_dense_kernel(x, k)), "bias": np.zeros(units, np.float32)}
    if x.layout == "vec" or not x.is_image:
        if x.layout == "nchw":
            raise Unsayable("a MatMul of a pooled (N, C, 1, 1) image (it multiplies the last axis, of size 1)")
        return x.like(ctx.statement(ctx.op("dense", {"units": units}, weights, node), x), fresh=True, nonneg=False)
    need_image(x, "a MatMul", "nhwc")   # a Linear on channels-last pixels: a 1x1 conv
    weights["kernel"] = weights["kernel"].reshape(1, 1, *k.shape)
    op = ctx.op("conv", {"filters": units, "kernel": (1, 1)}, weights, node)
    return x.like(ctx.statement(op, x), fresh=True, nonneg=False)


# --- normalizations ---------------------------------------------------------------------------

def _per_channel(x: Tensor, a: np.ndarray, what: str) -> np.ndarray:
    if a.size != x.channels:
        raise Malformed(f"its {what} holds {a.size} values for {x.channels} channels")
    a = a.reshape(-1)
    return a[x.perm] if x.perm is not None else a


@converter("BatchNormalization", since=1)
def batch_normalization(ctx, node, ins):
    x = need_tensor(ins[0], "the values it normalises")
    if x.layout == "nhwc":
        raise Unsayable("a BatchNormalization of a channels-last image (it would normalise the rows)")
    if attr_int(node, "training_mode", 0) or len([o for o in node.outputs if o]) > 1:
        raise Unsayable("a BatchNormalization in training mode (export the model in eval mode)")
    names = ("gamma", "beta", "mean", "var")
    arrays = [need_const(ins[i] if len(ins) > i else None, what) for i, what in
              zip(range(1, 5), ("scale", "bias", "mean", "variance"))]
    weights = {n: weight(_per_channel(x, a, n)) for n, a in zip(names, arrays)}
    eps = attr_float(node, "epsilon", 1e-5)
    if eps <= 0:
        raise Unsayable(f"a BatchNormalization with epsilon {eps} (cnnc's eps is positive)")
    op = ctx.op("batchnorm", {"eps": f32(eps)}, weights, node)
    return x.like(ctx.statement(op, x), nonneg=False)


@converter("LayerNormalization", since=17)
def layer_normalization(ctx, node, ins):
    """Over the last axis only: the channels of a channels-last image, or a vector."""
    x = need_tensor(ins[0], "the values it normalises")
    axis = attr_int(node, "axis", -1)
    if axis not in (-1, x.rank - 1) or x.layout == "nchw":
        raise Unsayable(f"a LayerNormalization from axis {axis} of a {x.rank}-d tensor laid out {x.layout} "
                        f"(cnnc's layernorm normalises each pixel over its channels, or a vector)")
    if len([o for o in node.outputs if o]) > 1:
        raise Unsayable("a LayerNormalization whose mean and deviation are read")
    gamma = _per_channel(x, need_const(ins[1], "a scale"), "scale")
    beta = _per_channel(x, need_const(ins[2], "a bias"), "bias") if len(ins) > 2 and ins[2] is not None \
        else np.zeros(x.channels, np.float32)
    op = ctx.op("layernorm", {"eps": f32(attr_float(node, "epsilon", 1e-5))},
                {"gamma": weight(gamma), "beta": weight(beta)}, node)
    return x.like(ctx.statement(op, x), nonneg=False)


# --- pooling ---------------------------------------------------------------------------------

def _pool_window(ctx, node, x):
    """(kernel, stride, pads) of a MaxPool or AveragePool, ceil_mode's extra windows added to
    the bottom/right pads (as PyTorch counts them: the last window starts inside the image or
    its top/left padding)."""
    kernel = _positive_pair(node, "kernel_shape", None, "pool size")
    stride = _positive_pair(node, "strides", [1, 1], "stride")
    if attr_ints(node, "dilations", [1, 1]) != [1, 1]:
        raise Unsayable("a dilated pool (cnnc's pools have no dilation)")
    pads = list(_onnx_pads(node, x, kernel, stride))
    if attr_int(node, "ceil_mode", 0):
        t = x.type
        if not ctx.static:
            raise Unsayable("ceil_mode=1 on an image of free size (cnnc's pools round down; give the input a "
                            "fixed size when exporting)")
        for axis, (n, k, s) in enumerate(((t.h, kernel[0], stride[0]), (t.w, kernel[1], stride[1]))):
            begin, end = pads[2 * axis], pads[2 * axis + 1]
            span = n + begin + end - k
            out = -(-span // s) + 1
            if (out - 1) * s >= n + begin:
                out -= 1
            pads[2 * axis + 1] += max((out - 1) * s + k - (n + begin + end), 0)
    return kernel, stride, tuple(pads)


def _whole_image(ctx, x, kernel, pads) -> bool:
    """A window as large as the image, without padding: PyTorch's adaptive pools to 1x1 as
    the legacy exporter writes them (MaxPool with the image's size as its kernel)."""
    return ctx.static and not any(pads) and kernel == (x.type.h, x.type.w)


@converter("MaxPool", since=1)
def max_pool(ctx, node, ins):
    x = need_image(need_tensor(ins[0], "the image it pools"), "a MaxPool")
    if len([o for o in node.outputs if o]) > 1:
        raise Unsayable("a MaxPool whose indices are read")
    kernel, stride, pads = _pool_window(ctx, node, x)
    if _whole_image(ctx, x, kernel, pads):
        return _global("globalmaxpool", x, ctx, node)
    if any(p >= k for p, k in zip(pads, (kernel[0], kernel[0], kernel[1], kernel[1]))):
        raise Unsayable(f"a MaxPool whose pads {list(pads)} reach a whole window past the image")
    padding, zeros = padding_of(ctx, x.type, pads, kernel, stride)
    if zeros is not None:
        if not x.nonneg:   # a max never picks padding; added zeros are only never picked when x >= 0
            raise Unsayable(f"a MaxPool padded unevenly ({_sides(zeros)}) on values that may be negative "
                            f"(cnnc's pool pads every side alike, or as padding=same)")
        x = x.like(ctx.statement(zeropad_op(ctx, node, zeros), x))
    op = ctx.op("pool", {"kernel": kernel, "stride": stride, "padding": padding}, origin=node)
    return x.like(ctx.statement(op, x))


@converter("AveragePool", since=1)
def average_pool(ctx, node, ins):
    """count_include_pad=1 (PyTorch's default): the zeros count, as cnnc's integer padding
    and a zeropad count them; count_include_pad=0 (ONNX's default): only real pixels, as
    cnnc's padding=same."""
    x = need_image(need_tensor(ins[0], "the image it pools"), "an AveragePool")
    kernel, stride, pads = _pool_window(ctx, node, x)
    if _whole_image(ctx, x, kernel, pads):
        return _global("globalpool", x, ctx, node)
    declared = _onnx_pads(node, x, kernel, stride)
    if pads != declared and attr_int(node, "count_include_pad", 0):
        raise Unsayable("an AveragePool with ceil_mode=1 whose last windows count padding (cnnc rounds down)")
    if not any(pads):
        op = ctx.op("avgpool", {"kernel": kernel, "stride": stride}, origin=node)
        return x.like(ctx.statement(op, x))
    if attr_int(node, "count_include_pad", 0):
        padding, zeros = padding_of(ctx, x.type, pads, kernel, stride, prefer_same=False)
        if zeros is not None:
            x = x.like(ctx.statement(zeropad_op(ctx, node, zeros), x))
    elif pads == same_pads(ctx, x.type, kernel, stride):
        padding = "same"
    else:
        raise Unsayable(f"an AveragePool padded {_sides(pads)} that counts only real pixels (cnnc's integer "
                        f"padding counts the zeros, as PyTorch's count_include_pad=True; its padding=same "
                        f"counts real pixels but pads as TensorFlow does)")
    op = ctx.op("avgpool", {"kernel": kernel, "stride": stride, "padding": padding}, origin=node)
    return x.like(ctx.statement(op, x))


def _sides(pads) -> str:
    return "top {} bottom {} left {} right {}".format(*pads)


def _global(kind, x, ctx, node, keepdims=True):
    y = ctx.statement(ctx.op(kind, origin=node), x)
    return Tensor(y, x.layout if keepdims else "vec", nonneg=x.nonneg)


@converter("GlobalAveragePool", since=1)
def global_average_pool(ctx, node, ins):
    return _global("globalpool", need_image(need_tensor(ins[0]), "a GlobalAveragePool"), ctx, node)


@converter("GlobalMaxPool", since=1)
def global_max_pool(ctx, node, ins):
    return _global("globalmaxpool", need_image(need_tensor(ins[0]), "a GlobalMaxPool"), ctx, node)


def _reduce(kind, ctx, node, x, axes):
    x = need_tensor(x, "the image it reduces")
    rank = x.rank
    if axes is None or any(not -rank <= a < rank for a in axes):
        raise Unsayable(f"a {node.op_type} over every axis, or axes {axes} (cnnc reduces H and W)")
    spatial = {2, 3} if x.layout == "nchw" else {1, 2}
    if not x.is_image or {a % rank for a in axes} != spatial:
        raise Unsayable(f"a {node.op_type} over axes {sorted(a % rank for a in axes)} of a tensor laid out "
                        f"{x.layout} (cnnc pools over H and W: axes {sorted(spatial)})")
    return _global(kind, x, ctx, node, keepdims=bool(attr_int(node, "keepdims", 1)))


@converter("ReduceMean", since=13)
def reduce_mean_13(ctx, node, ins):
    return _reduce("globalpool", ctx, node, ins[0], attr_ints(node, "axes"))


@converter("ReduceMean", since=18)
def reduce_mean_18(ctx, node, ins):
    axes = None if len(ins) < 2 or ins[1] is None else [int(a) for a in need_const(ins[1], "axes").reshape(-1)]
    return _reduce("globalpool", ctx, node, ins[0], axes)


@converter("ReduceMax", since=13)
def reduce_max_13(ctx, node, ins):
    return _reduce("globalmaxpool", ctx, node, ins[0], attr_ints(node, "axes"))


@converter("ReduceMax", since=18)
def reduce_max_18(ctx, node, ins):
    axes = None if len(ins) < 2 or ins[1] is None else [int(a) for a in need_const(ins[1], "axes").reshape(-1)]
    return _reduce("globalmaxpool", ctx, node, ins[0], axes)


# --- resizing and padding ------------------------------------------------------------------

def _source_index(o, s, n, transform, rounding) -> int:
    """The input pixel ONNX's nearest-neighbour Resize reads for output pixel o (scale s)."""
    import math

    if transform == "asymmetric":
        v = o / s
    elif transform in ("half_pixel", "pytorch_half_pixel"):
        v = (o + 0.5) / s - 0.5
    elif transform == "tf_half_pixel_for_nn":
        v = (o + 0.5) / s
    elif transform == "align_corners":
        v = o * (n - 1) / (n * s - 1) if n * s > 1 else 0.0
    else:
        raise Unsayable(f"a Resize with coordinate_transformation_mode={transform}")
    r = {"floor": math.floor(v), "ceil": math.ceil(v),
         "round_prefer_floor": math.ceil(v - 0.5), "round_prefer_ceil": math.floor(v + 0.5)}.get(rounding)
    if r is None:
        raise Malformed(f"its nearest_mode is '{rounding[:30]}'")
    return min(max(r, 0), n - 1)


@converter("Resize", since=13)
def resize(ctx, node, ins):
    x = need_image(need_tensor(ins[0], "the image it resizes"), "a Resize")
    t = x.type
    axes = attr_ints(node, "axes", [0, 1, 2, 3])
    scales = None if len(ins) < 3 or ins[2] is None else need_const(ins[2], "scales").reshape(-1)
    sizes = None if len(ins) < 4 or ins[3] is None else need_const(ins[3], "sizes").reshape(-1)
    full = {0: 1.0, 1: 1.0, 2: 1.0, 3: 1.0}
    if scales is not None and scales.size:
        if scales.size != len(axes):
            raise Malformed(f"it has {scales.size} scales for axes {axes}")
        full.update({a % 4: float(s) for a, s in zip(axes, scales)})
    elif sizes is not None and sizes.size == len(axes):
        have = {0: None, 1: t.c, 2: t.h, 3: t.w}
        for a, s in zip(axes, sizes):
            full[a % 4] = float(s) / have[a % 4] if have[a % 4] else 1.0
    else:
        raise Malformed("it has neither scales nor sizes")
    if full[0] != 1.0 or full[1] != 1.0:
        raise Unsayable("a Resize of the batch or channel axis")
    size = []
    for s in (full[2], full[3]):
        if not (s >= 1 and float(s).is_integer()):
            raise Unsayable(f"a Resize by {s:g} (cnnc's upsample grows H and W by whole numbers)")
        size.append(int(s))
    mode = attr_str(node, "mode", "nearest")
    transform = attr_str(node, "coordinate_transformation_mode", "half_pixel")
    if mode == "nearest":
        rounding = attr_str(node, "nearest_mode", "round_prefer_floor")
        for n, s in ((t.h, size[0]), (t.w, size[1])):
            if any(_source_index(o, s, n, transform, rounding) != o // s for o in range(n * s)):
                raise Unsayable(f"a nearest Resize with coordinate_transformation_mode={transform} and "
                                f"nearest_mode={rounding} (cnnc's upsample repeats each pixel)")
        attrs = {"size": tuple(size)}
    elif mode == "linear":
        if transform not in ("half_pixel", "pytorch_half_pixel"):
            raise Unsayable(f"a linear Resize with coordinate_transformation_mode={transform} (cnnc's bilinear "
                            f"upsample uses half-pixel centres, PyTorch's align_corners=False)")
        attrs = {"size": tuple(size), "mode": "bilinear"}
    else:
        raise Unsayable(f"a Resize of mode {mode} (cnnc upsamples nearest or bilinear)")
    if tuple(size) == (1, 1):
        return x.alias()
    return x.like(ctx.statement(ctx.op("upsample", attrs, origin=node), x))


def _pad(ctx, node, x, pads, value, mode, axes):
    x = need_image(need_tensor(x, "the image it pads"), "a Pad")
    if mode != "constant":
        raise Unsayable(f"Pad mode={mode} (cnnc pads with zeros)")
    if value is not None and np.any(value != 0):
        raise Unsayable("padding with a value other than zero")
    if axes is None:
        axes = [0, 1, 2, 3]
    axes = [a % 4 for a in axes]
    if pads.size != 2 * len(axes):
        raise Malformed(f"it has {pads.size} pads for {len(axes)} axes")
    begin = dict(zip(axes, (int(p) for p in pads[:len(axes)])))
    end = dict(zip(axes, (int(p) for p in pads[len(axes):])))
    if begin.get(0, 0) or begin.get(1, 0) or end.get(0, 0) or end.get(1, 0):
        raise Unsayable("padding the batch or channel axis")
    hw = (begin.get(2, 0), end.get(2, 0), begin.get(3, 0), end.get(3, 0))   # top, bottom, left, right
    from ....limits import MAX_SIZE

    if max(abs(p) for p in hw) > MAX_SIZE:
        raise Malformed(f"its pads {list(hw)} are out of range")
    y = x
    grow = tuple(max(p, 0) for p in hw)
    shrink = tuple(max(-p, 0) for p in hw)
    if any(grow):
        # fresh: a conv reading these zeros alone may take them as its own padding
        y = y.like(ctx.statement(zeropad_op(ctx, node, grow), y), fresh=not any(shrink))
    if any(shrink):
        y = y.like(ctx.statement(sides_op(ctx, "crop", shrink, node), y))
    return y


@converter("Pad", since=13)
def pad_13(ctx, node, ins):
    value = None if len(ins) < 3 or ins[2] is None else need_const(ins[2], "a padding value")
    return _pad(ctx, node, ins[0], need_const(ins[1], "pads").reshape(-1), value,
                attr_str(node, "mode", "constant"), None)


@converter("Pad", since=18)
def pad_18(ctx, node, ins):
    value = None if len(ins) < 3 or ins[2] is None else need_const(ins[2], "a padding value")
    axes = None if len(ins) < 4 or ins[3] is None else [int(a) for a in need_const(ins[3], "axes").reshape(-1)]
    return _pad(ctx, node, ins[0], need_const(ins[1], "pads").reshape(-1), value,
                attr_str(node, "mode", "constant"), axes)
