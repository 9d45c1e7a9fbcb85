"""Keras models for the importer tests, built once per test session: weights drawn He-normal
(kernels) and N(0, 0.1) / U(0.5, 1.5) (biases, betas / gammas and layer scales), batchnorm
statistics calibrated on a batch (momentum 0, one training-mode call, its dropouts seeded), so
no layer is an identity, the output depends on the input, and a model is the same whichever
tests ran before it."""

from __future__ import annotations

import os

import numpy as np

os.environ["KERAS_BACKEND"] = "torch"


# images in the batch the batchnorms are calibrated on: at 32x32 the last stages are 1x1, where
# each statistic is over the batch alone; with 8, some variances came out near zero and
# EfficientNetV2B2's logits grew to 3e3, Keras's own float32 1.6e-2 of them from float64. Past
# 75x75 (NASNetLarge at 331x331: its last stage is 11x11) 8 images suffice, and 32 would not fit
# in memory (24 GB)
CALIBRATION = 32
LARGE = 8


def randomize(km, shape, seed=0):
    import keras

    rng = np.random.default_rng(seed)
    for v in km.weights:
        leaf = v.path.rsplit("/", 1)[-1]
        shape_v = tuple(v.shape)
        if leaf in ("kernel", "depthwise_kernel", "pointwise_kernel"):
            fan_in = int(np.prod(shape_v[:-1])) if leaf != "depthwise_kernel" else int(np.prod(shape_v[:2]))
            v.assign((rng.standard_normal(shape_v) * np.sqrt(2.0 / max(fan_in, 1))).astype(np.float32))
        elif leaf in ("gamma",):
            v.assign(rng.uniform(0.5, 1.5, shape_v).astype(np.float32))
        elif leaf in ("beta", "bias"):
            v.assign((0.1 * rng.standard_normal(shape_v)).astype(np.float32))
    bns = [layer for layer in _layers(km) if isinstance(layer, keras.layers.BatchNormalization)]
    for layer in bns:
        layer.momentum = 0.0
    if bns:
        import torch

        with torch.no_grad():   # statistics only: no graph kept for a backward pass (NASNetLarge's is 16 GB)
            km(images(shape, CALIBRATION if max(shape[:2]) <= 75 else LARGE, seed + 100), training=True)
    return km


def _layers(km):
    for layer in km.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _layers(layer)


def images(shape, n=2, seed=1):
    return np.random.default_rng(seed).standard_normal((n, *shape)).astype(np.float32)


def keras_out(km, x):
    import keras
    import torch

    with torch.no_grad():
        return keras.ops.convert_to_numpy(km(x, training=False))


def application(name, size, **kw):
    import keras

    ctor = getattr(keras.applications, name)
    keras.utils.set_random_seed(0)   # each dropout's seed is drawn as it is built: the same each time
    km = ctor(weights=None, input_shape=(size, size, 3), classifier_activation=None, **kw)
    return randomize(km, (size, size, 3))
