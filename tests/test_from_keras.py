"""cnnc from-keras: Keras 3 models written as cnnc programs and weights, compared with Keras.

Each test converts a model (cnnc reads the file without Keras), compiles the program with
the numpy backend and compares its output with Keras's on the same inputs; another input
must move the output by at least 100 times the tolerance. Every written program keeps the
line limits (80 non-blank, non-comment lines; InceptionResNetV2 100, InceptionV3 150,
NASNetLarge 200; no line over 200 characters). `--slow` runs all 39 keras.applications.
"""

from __future__ import annotations

import os
import re

import numpy as np
import pytest

import cnnc
from cnnc import layers as L

os.environ["KERAS_BACKEND"] = "torch"   # Keras 3 without TensorFlow
pytest.importorskip("h5py")
keras = pytest.importorskip("keras")
from keras_models import application, images, keras_out, randomize  # noqa: E402,F401

from cnnc.bridges.importers.keras.model import Unconvertible, convert  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


LIMITS = {"InceptionResNetV2": 100, "InceptionV3": 150, "NASNetLarge": 200}
THIRD_KINDS = ("layernorm", "layerscale", "normalize", "crop")


def check_lines(text, name):
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert len(lines) <= LIMITS.get(name, 80), f"{name}: {len(lines)} lines\n{text}"
    assert max(map(len, text.splitlines())) <= 200
    assert text.startswith("# ") and ".keras" in text.splitlines()[0]


def converted(km, tmp_path, name):
    path = tmp_path / f"{name}.keras"
    km.save(path)
    try:
        text, params = convert(path)
    except Unconvertible as e:
        missing = [k for k in THIRD_KINDS if k not in L.KINDS and f"`{k}`" in str(e)]
        if missing:
            pytest.skip(f"needs the statements {', '.join(missing)} (the third edition's kinds)")
        raise
    check_lines(text, name)
    return text, params


def agree(km, text, params, shape, rtol=3e-4):
    model = cnnc.compile(cnnc.parse(text), weights=params)
    x = images(shape, 2)
    # one Keras call for both inputs: its eager overhead is per layer, not per image
    want, other = np.split(keras_out(km, np.concatenate([x, images(shape, 2, seed=7)])), 2)
    got = np.asarray(model(x))
    tol = rtol * np.abs(want).max() + 1e-6
    assert np.abs(got - want).max() <= tol, (np.abs(got - want).max(), tol)
    moved = np.abs(other - want).max()
    assert moved >= 100 * tol, f"another input moves the output by {moved:g} only (tolerance {tol:g})"


CI = [("MobileNet", 32), ("MobileNetV2", 32), ("ResNet101", 32), ("DenseNet169", 32), ("InceptionResNetV2", 75),
      ("ConvNeXtTiny", 32), ("EfficientNetV2B0", 32)]
# ConvNeXt's logits move little with the input at 32x32 (its layer norms keep every scale: the
# other input moves ConvNeXtTiny's by 1.5e-2 of the largest logit), and Keras's own float32 logits are
# within 1e-6 of it from float64 (scripts/keras_float_error.py): a tighter tolerance
RTOL = {name: 5e-5 for name in dir(keras.applications) if name.startswith("ConvNeXt")}
# ResNet's residual stacks add rounding up: Keras's own float32 logits are 2.6e-4 (ResNet101) and
# 6.7e-4 (ResNet152) of the largest from float64 (the same script), cnnc's as far again, so two
# float32 computations differ by up to 1.3e-3; the other input moves them by 1.2 times the largest
RTOL.update({name: 2e-3 for name in dir(keras.applications) if name.startswith("ResNet")})


@pytest.mark.parametrize("name, size", CI, ids=[c[0] for c in CI])
def test_keras_applications(name, size, tmp_path):
    km = application(name, size)
    text, params = converted(km, tmp_path, name)
    agree(km, text, params, (size, size, 3), **({"rtol": RTOL[name]} if name in RTOL else {}))


ALL = [n for n in dir(keras.applications) if n[:1].isupper() and n != "NASNetMobile"]   # not on torch yet
SIZES = {"InceptionV3": 75, "InceptionResNetV2": 75, "Xception": 71, "NASNetLarge": 331}


@pytest.mark.slow
@pytest.mark.parametrize("name", ALL)
def test_every_keras_application(name, tmp_path):
    size = SIZES.get(name, 32)
    km = application(name, size)
    text, params = converted(km, tmp_path, name)
    agree(km, text, params, (size, size, 3), **({"rtol": RTOL[name]} if name in RTOL else {}))


def _nasnet_cells(n=4, f=4, size=16):
    """NASNet normal cells (keras.applications.nasnet's layer classes and wiring): each cell
    reads the previous cell and the one before it, so the program needs named inputs."""
    layers = keras.layers

    def sep(x, k):
        for _ in range(2):
            x = layers.Activation("relu")(x)
            x = layers.SeparableConv2D(f, k, padding="same", use_bias=False)(x)
            x = layers.BatchNormalization(momentum=0.9997, epsilon=1e-3)(x)
        return x

    def adjust(p, channels):
        if p.shape[-1] == channels:
            return p
        p = layers.Activation("relu")(p)
        p = layers.Conv2D(channels, 1, padding="same", use_bias=False)(p)
        return layers.BatchNormalization(momentum=0.9997, epsilon=1e-3)(p)

    def cell(ip, p):
        p = adjust(p, f)
        h = layers.Activation("relu")(ip)
        h = layers.Conv2D(f, 1, padding="same", use_bias=False)(h)
        h = layers.BatchNormalization(momentum=0.9997, epsilon=1e-3)(h)
        x1 = layers.add([sep(h, 5), sep(p, 3)])
        x2 = layers.add([sep(p, 5), sep(p, 3)])
        x3 = layers.add([layers.AveragePooling2D(3, strides=1, padding="same")(h), p])
        x4 = layers.add([layers.AveragePooling2D(3, strides=1, padding="same")(p),
                         layers.AveragePooling2D(3, strides=1, padding="same")(p)])
        x5 = layers.add([sep(h, 3), h])
        return layers.concatenate([p, x1, x2, x3, x4, x5])

    inp = keras.Input((size, size, 3))
    stem = layers.BatchNormalization()(layers.Conv2D(6 * f, 3, padding="same", use_bias=False)(inp))
    x, p = stem, stem
    for _ in range(n):
        x, p = cell(x, p), x
    out = layers.Dense(5)(layers.GlobalAveragePooling2D()(layers.Activation("relu")(x)))
    return randomize(keras.Model(inp, out), (size, size, 3))


def test_nasnet_cells(tmp_path):
    """Four cells, each reading the two before it: written as a definition whose parameter is
    the name of the cell before the last, and one use per cell (as NASNetLarge under --slow)."""
    km = _nasnet_cells()
    text, params = converted(km, tmp_path, "nasnet_cells")
    assert "from=" in text and "add " in text   # named inputs where nothing else can say it
    cell = re.search(r"^def (\w+) prev \{$", text, re.M)
    assert cell, text
    uses = re.findall(rf"^(?:\w+: )?{cell.group(1)} \w+\b", text, re.M)
    assert len(uses) == 4, text
    agree(km, text, params, (16, 16, 3))


def test_stochastic_depth_is_left_out_and_dropout_kept(tmp_path):
    """A Dropout with a noise_shape drops whole samples (EfficientNet's stochastic depth), which
    `dropout` cannot say: it is left out, an identity at inference; a plain Dropout stays."""
    layers = keras.layers
    inp = keras.Input((8, 8, 3))
    x = layers.Conv2D(4, 3, padding="same")(inp)
    x = layers.add([x, layers.Dropout(0.25, noise_shape=(None, 1, 1, 1))(layers.Conv2D(4, 1)(x))])
    x = layers.Dropout(0.3)(layers.GlobalAveragePooling2D()(x))
    km = randomize(keras.Model(inp, layers.Dense(3)(x)), (8, 8, 3))
    text, params = converted(km, tmp_path, "stochastic_depth")
    assert "dropout 0.3" in text and "0.25" not in text
    agree(km, text, params, (8, 8, 3))
