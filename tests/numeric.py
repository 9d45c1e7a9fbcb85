"""Numeric comparisons that can fail, and weights that make them meaningful.

The rule every numeric test follows: a comparison proves something only if a wrong answer
would fail it. So each test shows, in the test, that *another input* moves the expected
output by at least FACTOR (100) times the tolerance it is compared with, somewhere. A
comparison whose tolerance swallows the effect of the input tests nothing: random biases
dominating the logits of a deep network, a softmax saturated on one class, two models that
were equal before the weights under test were ever loaded.

    from numeric import assert_close, another

    want, other = reference(x), reference(another(x))
    assert_close(model(x), want, other=other, rtol=1e-5, atol=1e-6)

`assert_params_equal(got, want, other=before)` does it for dicts of weights.
`assert_close` compares like `np.testing.assert_allclose` (|got - want| <= atol + rtol*|want|
elementwise, NaN and Inf where they are) and then checks `other` with `assert_sensitive`.
For an exact comparison (rtol = atol = 0) it suffices that `other` differs anywhere.

Weights for the oracles:
- `he_normal(rng, shape, fan_in)`: kernels whose activations neither vanish nor explode;
- `keras_calibrate(model, x)` / `torch_calibrate(module, x)`: every batchnorm's moving mean and
  variance set to the statistics of its actual input on the calibration batch `x`, so that no
  batchnorm turns its input into a constant (random statistics can leave the logits of a deep
  network to the biases alone);
- `keras_he_normal(model, seed)`: He-normal draws for every kernel of a Keras model;
- `calibrated_params(net, x, seed)`: cnnc's random_params with the batchnorms calibrated on x.
"""

from __future__ import annotations

import numpy as np

FACTOR = 100
# a calibrated variance is at least this fraction of its layer's mean: a channel that the
# batch hardly moves (a ReLU that is almost always 0) would otherwise divide by nearly 0 and
# amplify float32 rounding by hundreds, in the oracle as much as in the code under test
VARIANCE_FLOOR = 0.1


def another(x, seed: int = 12345):
    """An input of the same shape and dtype as `x`, drawn independently of it: normal with
    x's own mean and spread for floats, uniform over x's range for integers, fair coins for
    booleans."""
    a = np.asarray(x)
    rng = np.random.default_rng(seed)
    if a.dtype == np.bool_:
        return rng.random(a.shape) < 0.5
    if np.issubdtype(a.dtype, np.integer):
        lo, hi = (int(a.min()), int(a.max())) if a.size else (0, 1)
        return rng.integers(lo, max(hi, lo + 1) + 1, a.shape).astype(a.dtype)
    spread = float(np.std(a[np.isfinite(a)])) if a.size and np.isfinite(a).any() else 1.0
    centre = float(np.mean(a[np.isfinite(a)])) if a.size and np.isfinite(a).any() else 0.0
    return (centre + max(spread, 1e-3) * rng.standard_normal(a.shape)).astype(a.dtype)


def unlike(x, seed: int = 12345):
    """Another input with other statistics: twice x's spread, its mean moved by one spread.
    Two draws of the same noise have nearly the same global averages, so a network that
    pools globally (a squeeze-and-excitation gate, a classifier head) hardly tells them
    apart; an image of another brightness and contrast it does."""
    a = np.asarray(x)
    spread = float(np.std(a)) if a.size else 1.0
    return (2 * another(a, seed) + max(spread, 1e-3)).astype(a.dtype)


def _numpy(a):
    if hasattr(a, "detach"):      # a torch tensor, on any device, of any float dtype
        a = a.detach().cpu()
        if a.is_floating_point():
            a = a.double()
        a = a.numpy()
    return np.asarray(a)


def sensitivity(want, other, *, rtol: float = 0.0, atol: float = 0.0, tol=None) -> float:
    """max over elements of |other - want| / tolerance, the tolerance being `tol` (a number
    or an array broadcasting against `want`) or atol + rtol*|want|. Elements where both are
    the same non-finite value count 0; where exactly one is non-finite, infinity. With a zero
    tolerance any difference counts as infinity."""
    w = _numpy(want).astype(np.float64)
    o = _numpy(other).astype(np.float64)
    if w.shape != o.shape:
        return float("inf")    # a different shape is a different output
    if w.size == 0:
        return 0.0
    t = np.broadcast_to(np.asarray(atol + rtol * np.abs(w) if tol is None else tol, np.float64), w.shape)
    fin = np.isfinite(w) & np.isfinite(o)
    same_nonfinite = ~fin & ((w == o) | (np.isnan(w) & np.isnan(o)))
    if (~fin & ~same_nonfinite).any():
        return float("inf")
    diff = np.abs(o[fin] - w[fin])
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(diff == 0, 0.0, np.where(t[fin] > 0, diff / t[fin], np.inf))
    return float(ratio.max()) if ratio.size else 0.0


def assert_sensitive(want, other, *, rtol: float = 0.0, atol: float = 0.0, tol=None, what: str = "",
                     factor: float = FACTOR) -> float:
    """Fail unless `other` (the expected output for another input) differs from `want` by at
    least `factor` times the tolerance somewhere: the comparison that uses that tolerance can
    tell the two inputs apart. Returns the measured ratio."""
    s = sensitivity(want, other, rtol=rtol, atol=atol, tol=tol)
    exact = tol is None and rtol == 0 and atol == 0
    if exact:
        assert s > 0, f"{what}: the comparison cannot fail: another input gives the same output"
    else:
        assert s >= factor, (f"{what}: the comparison cannot fail: another input moves the expected "
                             f"output by only {s:.3g} times the tolerance (needs {factor:g})")
    return s


def assert_close(got, want, *, other, rtol: float = 1e-7, atol: float = 0.0, what: str = "") -> None:
    """np.testing.assert_allclose(got, want, rtol, atol), and assert_sensitive(want, other)
    with the same tolerance. `other` is the expected output for another input."""
    g, w = _numpy(got), _numpy(want)
    np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=what)
    assert_sensitive(w, other, rtol=rtol, atol=atol, what=what)


def assert_equal(got, want, *, other, what: str = "") -> None:
    """An exact comparison that another value of the input would fail: got == want
    everywhere, and other != want somewhere."""
    assert_close(got, want, other=other, rtol=0.0, atol=0.0, what=what)


def flat(params, names=None):
    """The named arrays of a dict of parameters, one after another, as one float64 vector."""
    names = list(params) if names is None else list(names)
    return np.concatenate([_numpy(params[k]).astype(np.float64).ravel() for k in names]) if names else np.zeros(0)


def assert_params_equal(got, want, *, other, what: str = "") -> None:
    """Every array of `want` is in `got`, exactly; and `other` (e.g. the weights before a load
    that should have replaced them) differs somewhere. Compared as one vector: a bias that is
    0 under any seed is no sign that the load did nothing."""
    names = list(want)
    missing = [k for k in names if k not in got]
    assert not missing, f"{what}: no {missing[0]!r}"
    for k in names:
        assert np.shape(got[k]) == np.shape(want[k]), f"{what}: {k} has shape {np.shape(got[k])}, not {np.shape(want[k])}"
    assert_equal(flat(got, names), flat(want, names), other=flat(other, names), what=what)


# --- weights for the oracles ---------------------------------------------------------------

def he_normal(rng, shape, fan_in: "int | None" = None, dtype=np.float32):
    """N(0, 2/fan_in): the activations of a ReLU network keep their scale layer after layer.
    fan_in defaults to the product of all axes but the last (Keras's kernel layouts)."""
    shape = tuple(int(d) for d in shape)
    if fan_in is None:
        fan_in = int(np.prod(shape[:-1])) if len(shape) > 1 else shape[0]
    return (rng.standard_normal(shape) * np.sqrt(2.0 / max(fan_in, 1))).astype(dtype)


def calibrated_params(net, x, seed: int = 0) -> dict:
    """cnnc's random_params (He-normal kernels, random biases and batchnorm parameters), the
    kernels centered, and every batchnorm's mean and var set to the statistics of its input on
    the batch `x` (tests/torch_reference.py computes them, layer after layer)."""
    from torch_reference import random_params, reference

    params = random_params(net, seed)
    for node in net.layers:
        for suffix, axes in _CNNC_FAN_IN.get(node.kind, {}).items():
            name = f"{node.name}.{suffix}"
            if name in params and params[name].ndim > max(axes):
                params[name] = centered(params[name], axes)
    reference(net, params, x, calibrate=True)
    return params


# kind -> {parameter: the axes of its fan-in} (Keras layouts), for centering kernels
_CNNC_FAN_IN = {"conv": {"kernel": (0, 1, 2)}, "dense": {"kernel": (0,)}, "dwconv": {"kernel": (0, 1)},
                "sepconv": {"depthwise": (0, 1), "pointwise": (0, 1, 2)}, "deconv": {"kernel": (0, 1, 3)}}


def _keras_fan_in(name: str, shape) -> int:
    if name == "depthwise_kernel":        # (KH, KW, C, multiplier): one input channel each
        return int(np.prod(shape[:-2]))
    return int(np.prod(shape[:-1]))


def centered(kernel, axes):
    """The kernel less its mean over `axes` (its fan-in): a constant input then gives 0. The
    outputs of a random kernel on non-negative inputs (after a ReLU) are otherwise a large
    common value plus a small input-dependent part; a calibrated batchnorm subtracts the
    large value, and float32 rounding of it becomes a relative error of 1e-3 deep down."""
    return (kernel - kernel.mean(axis=axes, keepdims=True)).astype(kernel.dtype)


def keras_he_normal(model, seed: int = 0):
    """He-normal draws, centered, for every kernel of a Keras model (conv, depthwise,
    separable, dense)."""
    rng = np.random.default_rng(seed)
    for v in model.weights:
        name = v.path.rsplit("/", 1)[-1]
        if name in ("kernel", "depthwise_kernel", "pointwise_kernel") and len(v.shape) >= 2:
            fan_axes = tuple(range(len(v.shape) - (2 if name == "depthwise_kernel" else 1)))
            if int(np.prod([v.shape[a] for a in fan_axes])) > 1:
                v.assign(centered(he_normal(rng, v.shape, _keras_fan_in(name, v.shape)), fan_axes))
            else:
                v.assign(he_normal(rng, v.shape, _keras_fan_in(name, v.shape)))
    return model


def _keras_layers(model):
    return list(model._flatten_layers(include_self=False, recursive=True))


def keras_calibrate(model, x):
    """Set every BatchNormalization's moving statistics to those of its actual input on the
    batch `x`, in one training-mode pass with momentum 0 (each batchnorm then sees inputs the
    earlier ones already normalize) and every dropout off; then scale each softmax Dense so
    that its logits on `x` have spread 1. Returns the model."""
    import keras
    import torch

    saved = []
    for layer in _keras_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            saved.append((layer, "momentum", layer.momentum))
            layer.momentum = 0.0
        elif isinstance(layer, keras.layers.Dropout):
            saved.append((layer, "rate", layer.rate))
            layer.rate = 0.0
    try:
        with torch.no_grad():
            model(np.asarray(x, np.float32), training=True)
    finally:
        for layer, attr, value in saved:
            setattr(layer, attr, value)
    for layer in _keras_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            var = keras.ops.convert_to_numpy(layer.moving_variance)
            layer.moving_variance.assign(np.maximum(var, VARIANCE_FLOOR * var.mean()))
    _keras_calibrate_softmax(model, x)
    return model


def _keras_calibrate_softmax(model, x):
    """Scale each softmax Dense (kernel and bias) so that its logits on `x` have spread 1: the
    sums of a residual stream grow with depth, and logits of tens saturate the softmax (one
    class 1, the others below float32's smallest normal), which no tolerance compares well."""
    import keras
    import torch

    for layer in _keras_layers(model):
        if not isinstance(layer, keras.layers.Dense) or layer.activation is not keras.activations.softmax:
            continue
        layer.activation = keras.activations.linear
        try:
            with torch.no_grad():
                logits = keras.ops.convert_to_numpy(keras.Model(model.inputs, layer.output)(
                    np.asarray(x, np.float32), training=False))
        finally:
            layer.activation = keras.activations.softmax
        spread = float(np.std(logits))
        if spread > 0:
            for v in layer.weights:
                v.assign(keras.ops.convert_to_numpy(v) / spread)


def torch_calibrate(module, x):
    """The same for a torch module: each BatchNorm's running statistics become those of its
    input on the batch `x` (momentum 1, dropout off); the module is left in eval mode."""
    import torch

    norms = [m for m in module.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    saved = [(m, m.momentum) for m in norms]
    module.eval()
    for m in norms:
        m.momentum = 1.0
        m.train()
    try:
        with torch.no_grad():
            module(torch.as_tensor(np.asarray(x)))
    finally:
        for m, momentum in saved:
            m.momentum = momentum
        module.eval()
    return module
