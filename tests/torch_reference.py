"""An independent reference for the numpy backend: the network run with torch's
functional ops, NCHW, in float64.

It reads only the graph (kinds, attrs, edges) and the Keras-layout parameters; it
does its own padding arithmetic (TF `same` as explicit F.pad, since torch has no
asymmetric mode) and never calls cnnc's window() or generated code. A transposed
convolution is computed as what it is, the adjoint (vector-Jacobian product) of the
forward convolution with TensorFlow's padding on an input of the output's size, so that
its size and crop come from that definition rather than from a formula of cnnc's.
"""

from __future__ import annotations

import math

import numpy as np

from cnnc.runtime.weights import random_params  # noqa: F401  (re-exported for the tests)


def _same(n, k, s):
    out = math.ceil(n / s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def _pads(x, attrs):
    """(left, right, top, bottom) for F.pad, from the layer's padding option (a dilated
    kernel covers (k - 1)*d + 1 pixels)."""
    (kh, kw), (sh, sw), p = attrs["kernel"], attrs["stride"], attrs["padding"]
    dh, dw = attrs.get("dilation") or (1, 1)
    kh, kw = (kh - 1) * dh + 1, (kw - 1) * dw + 1
    if p == "valid":
        return (0, 0, 0, 0)
    if p == "same":
        t, b = _same(x.shape[2], kh, sh)
        l, r = _same(x.shape[3], kw, sw)
        return (l, r, t, b)
    return (p, p, p, p)


def _act(x, act, image):
    import torch
    import torch.nn.functional as F

    if act == "relu":
        return F.relu(x)
    if act == "relu6":
        return torch.clamp(x, 0.0, 6.0)
    if act == "leaky_relu":
        return torch.where(x < 0, 0.2 * x, x)
    if act == "elu":
        return torch.where(x > 0, x, torch.expm1(x))
    if act == "gelu":
        return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))
    if act in ("silu", "swish"):
        return x * torch.sigmoid(x)
    if act == "hard_sigmoid":
        return torch.clamp(x + 3.0, 0.0, 6.0) / 6.0
    if act in ("hard_swish", "hard_silu"):
        return x * torch.clamp(x + 3.0, 0.0, 6.0) / 6.0
    if act == "sigmoid":
        return torch.sigmoid(x)
    if act == "tanh":
        return torch.tanh(x)
    if act == "softmax":
        return F.softmax(x, dim=1)  # channels in NCHW, units for a vector
    assert act == "linear", act
    return x


def _conv(x, kernel, bias, attrs, groups=1):
    """A Keras-layout kernel (KH, KW, Cin/groups, F) on NCHW x, with TF padding and dilation."""
    import torch.nn.functional as F

    x = F.pad(x, _pads(x, attrs))
    return F.conv2d(x, kernel.permute(3, 2, 0, 1), bias, stride=attrs["stride"],
                    dilation=attrs.get("dilation") or (1, 1), groups=groups)


def _depthwise(x, kernel, bias, attrs):
    """Keras's depthwise kernel (KH, KW, C, M): output channel c*M + m is channel c
    convolved with kernel[:, :, c, m]. Each channel's windows (F.unfold) times its own
    M filters: float64 grouped convolutions are very slow in torch on a CPU."""
    import torch
    import torch.nn.functional as F

    kh, kw, c, m = kernel.shape
    x = F.pad(x, _pads(x, attrs))
    n, _, h, w = x.shape
    (sh, sw), (dh, dw) = attrs["stride"], attrs.get("dilation") or (1, 1)
    oh, ow = (h - (kh - 1) * dh - 1) // sh + 1, (w - (kw - 1) * dw - 1) // sw + 1
    cols = F.unfold(x, (kh, kw), dilation=(dh, dw), stride=(sh, sw)).reshape(n, c, kh * kw, oh * ow)
    y = torch.einsum("nctl,tcm->ncml", cols, kernel.reshape(kh * kw, c, m)).reshape(n, c * m, oh, ow)
    return y if bias is None else y + bias[None, :, None, None]


def _transposed(x, kernel, bias, attrs):
    """Conv2DTranspose as the adjoint of the forward conv (kernel (KH, KW, F, Cin) read as a
    forward kernel F -> Cin) on the image it would have come from: n*s per axis for `same`,
    n*s + max(k - s, 0) for `valid` (TensorFlow's conv_transpose output sizes)."""
    import torch

    (kh, kw), (sh, sw) = attrs["kernel"], attrs["stride"]
    n, _, h, w = x.shape
    f = kernel.shape[2]
    if attrs["padding"] == "same":
        oh, ow = h * sh, w * sw
    else:
        oh, ow = h * sh + max(kh - sh, 0), w * sw + max(kw - sw, 0)
    fwd = {"kernel": (kh, kw), "stride": (sh, sw), "padding": attrs["padding"]}
    z = torch.zeros(n, f, oh, ow, dtype=x.dtype, requires_grad=True)
    with torch.enable_grad():
        y = _conv(z, kernel, None, fwd)
        assert y.shape[2:] == x.shape[2:], (y.shape, x.shape)
        (g,) = torch.autograd.grad(y, z, x)
    return g if bias is None else g + bias[None, :, None, None]


def _bilinear(x, size):
    """Half-pixel bilinear upsampling by whole factors: output o reads input
    (o + 0.5) / k - 0.5, clamped to [0, n - 1], between its two neighbours."""
    import torch

    for axis, k in ((2, size[0]), (3, size[1])):
        n = x.shape[axis]
        src = ((torch.arange(n * k, dtype=torch.float64) + 0.5) / k - 0.5).clamp(0, n - 1)
        lo = src.floor().long()
        hi = (lo + 1).clamp(max=n - 1)
        lam = src - lo
        shape = [1, 1, 1, 1]
        shape[axis] = n * k
        lam = lam.reshape(shape)
        x = x.index_select(axis, lo) * (1 - lam) + x.index_select(axis, hi) * lam
    return x


def reference(net, params: dict, x_nhwc: np.ndarray, trace: "dict | None" = None, *,
              calibrate: bool = False) -> np.ndarray:
    """Run `net` with `params` (Keras layouts) on x (N, H, W, C); returns NHWC / (N, units).

    calibrate=True also sets, in `params`, every batchnorm's mean and var to the statistics of
    its actual input on x (per channel; earlier batchnorms already calibrated), as a training
    pass would (random statistics can leave a deep network's output to its biases alone), and
    scales each softmax dense so that its logits on x have spread 3."""
    import torch
    import torch.nn.functional as F

    P = {k: torch.from_numpy(np.asarray(v, np.float64)) for k, v in params.items()}
    vals = {}
    with torch.no_grad():
        for node in net.nodes:
            a, k = node.attrs, node.kind
            if k == "input":
                y = torch.from_numpy(np.asarray(x_nhwc, np.float64)).permute(0, 3, 1, 2)
                vals[node.name] = y
                continue
            x = vals[node.inputs[0].name]
            image = x.dim() == 4
            bias = P.get(f"{node.name}.bias")
            if k == "conv":
                y = _conv(x, P[f"{node.name}.kernel"], bias, a, groups=a["groups"])
                y = _act(y, a["activation"], True)
            elif k == "dwconv":
                y = _act(_depthwise(x, P[f"{node.name}.kernel"], bias, a), a["activation"], True)
            elif k == "sepconv":
                y = _depthwise(x, P[f"{node.name}.depthwise"], None, a)
                y = F.conv2d(y, P[f"{node.name}.pointwise"].permute(3, 2, 0, 1), bias)
                y = _act(y, a["activation"], True)
            elif k == "deconv":
                y = _act(_transposed(x, P[f"{node.name}.kernel"], bias, a), a["activation"], True)
            elif k == "upsample":
                if a["mode"] == "nearest":
                    y = x.repeat_interleave(a["size"][0], dim=2).repeat_interleave(a["size"][1], dim=3)
                else:
                    y = _bilinear(x, a["size"])
            elif k == "zeropad":
                t, b, l, r = a["sides"]
                y = F.pad(x, (l, r, t, b))
            elif k == "globalmaxpool":
                y = x.amax(dim=(2, 3))
            elif k == "rescale":
                y = x * a["scale"] + a["offset"]
            elif k == "scale":
                y = vals[node.inputs[0].name] * vals[node.inputs[1].name][:, :, None, None]
            elif k == "pool":
                x = F.pad(x, _pads(x, a), value=-math.inf)
                y = F.max_pool2d(x, a["kernel"], a["stride"])
            elif k == "avgpool":
                pads = _pads(x, a)
                kh, kw = a["kernel"]
                total = F.avg_pool2d(F.pad(x, pads), a["kernel"], a["stride"]) * (kh * kw)
                if a["padding"] == "same":  # real pixels only
                    ones = torch.ones_like(x[:1, :1])
                    count = F.avg_pool2d(F.pad(ones, pads), a["kernel"], a["stride"]) * (kh * kw)
                    y = total / count
                else:  # integer padding counts the zeros (count_include_pad=True)
                    y = total / (kh * kw)
            elif k == "globalpool":
                y = x.mean(dim=(2, 3))
            elif k == "flatten":
                y = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1) if image else x
            elif k == "dense":
                y = x @ P[f"{node.name}.kernel"] + P[f"{node.name}.bias"]
                if calibrate and a["activation"] == "softmax" and float(y.std()) > 0:
                    # logits of spread 3: neither a saturated softmax nor a flat one
                    for part in ("kernel", "bias"):
                        params[f"{node.name}.{part}"] = (params[f"{node.name}.{part}"] * (3.0 / float(y.std()))
                                                         ).astype(np.float32)
                        P[f"{node.name}.{part}"] = torch.from_numpy(params[f"{node.name}.{part}"].astype(np.float64))
                    y = x @ P[f"{node.name}.kernel"] + P[f"{node.name}.bias"]
                y = _act(y, a["activation"], False)
            elif k == "batchnorm":
                n = node.name
                if calibrate:
                    dims = (0, 2, 3) if image else (0,)
                    for stat, v in (("mean", x.mean(dim=dims)), ("var", x.var(dim=dims, unbiased=False))):
                        params[f"{n}.{stat}"] = v.numpy().astype(np.float32)   # what the models will hold
                        P[f"{n}.{stat}"] = torch.from_numpy(params[f"{n}.{stat}"].astype(np.float64))
                y = F.batch_norm(x, P[f"{n}.mean"], P[f"{n}.var"], P.get(f"{n}.gamma"), P.get(f"{n}.beta"),
                                 training=False, eps=a["eps"])
            elif k == "dropout":
                y = F.dropout(x, a["rate"], training=False)
            elif k == "crop":
                t, b, l, r = a["sides"]
                y = x[:, :, t:x.shape[2] - b, l:x.shape[3] - r]
            elif k == "layerscale":
                g = P[f"{node.name}.gamma"]
                y = x * (g[None, :, None, None] if image else g)
            elif k == "normalize":   # (x - mean) / max(sqrt(var), 1e-7), Keras's Normalization
                c = x.shape[1]
                if a["mean"] is None:
                    mean, var = P[f"{node.name}.mean"], P[f"{node.name}.var"]
                else:
                    mean, var = (torch.tensor(tuple(v) * (c if len(v) == 1 else 1), dtype=torch.float64)
                                 for v in (a["mean"], a["var"]))
                den = torch.clamp(torch.sqrt(var), min=1e-7)
                shape = (1, c, 1, 1) if image else (1, c)
                y = (x - mean.reshape(shape)) / den.reshape(shape)
            elif k == "layernorm":   # over each pixel's channels
                v = x.permute(0, 2, 3, 1) if image else x
                v = F.layer_norm(v, v.shape[-1:], P[f"{node.name}.gamma"], P[f"{node.name}.beta"], a["eps"])
                y = v.permute(0, 3, 1, 2) if image else v
            elif k == "residual":   # shortcut + scale * block
                y = vals[node.inputs[0].name] * a.get("scale", 1.0) + vals[node.inputs[1].name]
            elif k == "add":
                y = vals[node.inputs[0].name]
                for i in node.inputs[1:]:
                    y = y + vals[i.name]
            elif k == "multiply":   # one shape elementwise, or an image times a vector per channel
                g = vals[node.inputs[1].name]
                y = x * (g[:, :, None, None] if x.dim() == 4 and g.dim() == 2 else g)
            elif k == "concat":
                y = torch.cat([vals[i.name] for i in node.inputs], dim=1)
            else:
                y = _act(x, a["activation"], image)
            vals[node.name] = y
    out = {n: (v.permute(0, 2, 3, 1) if v.dim() == 4 else v).numpy() for n, v in vals.items()}
    if trace is not None:
        trace.update(out)
    return out[net.output.name]


def assert_close(got, ref, what="", *, other, whole=False, rel=1e-4):
    """max |got - ref| <= rel * max(1, |ref|) elementwise (whole=True: rel * max(1, max |ref|),
    the error relative to the whole tensor, for deep networks whose float32 sums of large
    terms leave small values with absolute errors of the large ones); and `other`, the
    reference for another input, differs from `ref` by at least 100 times that tolerance
    somewhere, so that the comparison can fail (tests/numeric.py)."""
    from numeric import assert_sensitive

    got = np.asarray(got, np.float64)
    assert got.shape == ref.shape, f"{what}: shape {got.shape} vs reference {ref.shape}"
    assert np.isfinite(got).all() == np.isfinite(ref).all(), f"{what}: non-finite values differ"
    tol = rel * np.maximum(1.0, np.abs(ref).max(initial=0.0) if whole else np.abs(ref))
    err = np.abs(got - ref)
    bad = err > tol
    assert not bad.any(), (f"{what}: {bad.sum()} of {bad.size} values off; max error "
                           f"{err.max():.3g} at {np.unravel_index(err.argmax(), err.shape)}")
    assert_sensitive(ref, other, tol=tol, what=what)
