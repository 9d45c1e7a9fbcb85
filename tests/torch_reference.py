"""An independent reference for the numpy backend: the network run with torch's
functional ops, NCHW, in float64.

It reads only the graph (kinds, attrs, edges) and the Keras-layout parameters; it
does its own padding arithmetic (TF `same` as explicit F.pad, since torch has no
asymmetric mode) and never calls cnnc's window() or generated code.
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
    """(left, right, top, bottom) for F.pad, from the layer's padding option."""
    (kh, kw), (sh, sw), p = attrs["kernel"], attrs["stride"], attrs["padding"]
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
    if act == "sigmoid":
        return torch.sigmoid(x)
    if act == "tanh":
        return torch.tanh(x)
    if act == "softmax":
        return F.softmax(x, dim=1)  # channels in NCHW, units for a vector
    assert act == "linear", act
    return x


def reference(net, params: dict, x_nhwc: np.ndarray, trace: "dict | None" = None) -> np.ndarray:
    """Run `net` with `params` (Keras layouts) on x (N, H, W, C); returns NHWC / (N, units)."""
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
            if k == "conv":
                w = P[f"{node.name}.kernel"].permute(3, 2, 0, 1)
                x = F.pad(x, _pads(x, a))
                y = F.conv2d(x, w, P[f"{node.name}.bias"], stride=a["stride"])
                y = _act(y, a["activation"], True)
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
                y = _act(y, a["activation"], False)
            elif k == "batchnorm":
                n = node.name
                y = F.batch_norm(x, P[f"{n}.mean"], P[f"{n}.var"], P[f"{n}.gamma"], P[f"{n}.beta"],
                                 training=False, eps=a["eps"])
            elif k == "dropout":
                y = F.dropout(x, a["rate"], training=False)
            elif k == "residual":
                y = vals[node.inputs[0].name] + vals[node.inputs[1].name]
            elif k == "concat":
                y = torch.cat([vals[i.name] for i in node.inputs], dim=1)
            else:
                y = _act(x, a["activation"], image)
            vals[node.name] = y
    out = {n: (v.permute(0, 2, 3, 1) if v.dim() == 4 else v).numpy() for n, v in vals.items()}
    if trace is not None:
        trace.update(out)
    return out[net.output.name]


def assert_close(got, ref, what=""):
    """max |got - ref| <= 1e-4 * max(1, |ref|) elementwise."""
    got = np.asarray(got, np.float64)
    assert got.shape == ref.shape, f"{what}: shape {got.shape} vs reference {ref.shape}"
    assert np.isfinite(got).all() == np.isfinite(ref).all(), f"{what}: non-finite values differ"
    tol = 1e-4 * np.maximum(1.0, np.abs(ref))
    err = np.abs(got - ref)
    bad = err > tol
    assert not bad.any(), (f"{what}: {bad.sum()} of {bad.size} values off; max error "
                           f"{err.max():.3g} at {np.unravel_index(err.argmax(), err.shape)}")
