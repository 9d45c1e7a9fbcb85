"""model.load_keras refuses weights that fit the program in shape but not in meaning: every
Keras layer's configuration (weighted or not) is compared with the program, and a difference
names both sides; the documented equivalences load. Keras builds the files (the oracle);
cnnc reads them without it."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest

import cnnc
from cnnc.errors import WeightsError

os.environ["KERAS_BACKEND"] = "torch"
pytest.importorskip("h5py")
keras = pytest.importorskip("keras")
layers = keras.layers
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def saved(tmp_path, *body, shape=(8, 8, 3), name="m"):
    km = keras.Sequential([keras.Input(shape), *body])
    path = tmp_path / f"{name}.keras"
    km.save(path)
    return km, path


def refusal(program, path) -> str:
    model = cnnc.compile(cnnc.parse(program))
    before = {k: v.copy() for k, v in model.params.items()}
    with pytest.raises(WeightsError) as e:
        model.load_keras(path)
    assert all(np.array_equal(before[k], v) for k, v in model.params.items()), "nothing loads on a refusal"
    return str(e.value)


def test_the_issues_conv_names_both_sides(tmp_path):
    _, path = saved(tmp_path, layers.Conv2D(8, 3, strides=2, activation="tanh", name="conv2d"))
    msg = refusal("input 8x8x3; conv 8 3x3 relu", path)
    assert "conv_1: the program has stride 1 and relu, the Keras layer 'conv2d' has strides (2, 2) and tanh" in msg


@pytest.mark.parametrize("keras_layer, program, words", [
    (lambda: layers.Conv2D(4, 3, padding="same"), "conv 4 3", ["padding 'same'"]),
    (lambda: layers.Conv2D(4, 3, dilation_rate=2), "conv 4 3", ["dilation 1", "dilation_rate (2, 2)"]),
    (lambda: layers.DepthwiseConv2D(3, strides=2), "dwconv 3", ["stride 1", "strides (2, 2)"]),
    (lambda: layers.Conv2D(4, 3, activation="sigmoid"), "conv 4 3 sigmoid relu".replace(" relu", ""), None),
])
def test_an_option_of_a_weighted_layer(tmp_path, keras_layer, program, words):
    _, path = saved(tmp_path, keras_layer())
    if words is None:   # the same layer: loads
        cnnc.compile(cnnc.parse(f"input 8x8x3; {program}")).load_keras(path)
        return
    msg = refusal(f"input 8x8x3; {program}", path)
    for w in words:
        assert w in msg, msg


def test_a_batchnorm_epsilon(tmp_path):
    _, path = saved(tmp_path, layers.Conv2D(4, 3), layers.BatchNormalization(epsilon=1e-5, name="batch_normalization"))
    msg = refusal("input 8x8x3; conv 4 3; batchnorm", path)
    assert "batchnorm_1: the program has eps 0.001, the Keras layer 'batch_normalization' has epsilon 1e-05" in msg


def test_a_pool_size_between_weighted_layers(tmp_path):
    _, path = saved(tmp_path, layers.Conv2D(4, 3), layers.MaxPooling2D(3, strides=1, name="max_pooling2d"), layers.Conv2D(2, 1))
    msg = refusal("input 8x8x3; conv 4 3; pool 2 stride=1; conv 2 1", path)
    assert "pool_1: the program has pool 2, the Keras layer 'max_pooling2d' has pool_size (3, 3)" in msg


def test_an_activation_layer_the_program_lacks(tmp_path):
    _, path = saved(tmp_path, layers.Conv2D(4, 3), layers.Activation("tanh", name="activation"), layers.Flatten(), layers.Dense(2))
    msg = refusal("input 8x8x3; conv 4 3; flatten; dense 2", path)
    assert re.search(r"the Keras layer 'activation' \(Activation\) \(tanh\) has no counterpart", msg), msg


def test_an_activation_the_program_has_and_keras_does_not(tmp_path):
    _, path = saved(tmp_path, layers.Conv2D(4, 3), layers.Flatten(), layers.Dense(2))
    msg = refusal("input 8x8x3; conv 4 3 relu; flatten; dense 2", path)
    assert "conv_1: the program has relu" in msg and "the Keras model has nothing there" in msg


def test_a_final_activation(tmp_path):
    _, path = saved(tmp_path, layers.Flatten(), layers.Dense(2, activation="softmax", name="dense"))
    msg = refusal("input 8x8x3; flatten; dense 2 sigmoid", path)
    assert "dense_1: the program has sigmoid, the Keras layer 'dense' has softmax" in msg


def test_rescaling_in_the_middle(tmp_path):
    _, path = saved(tmp_path, layers.Conv2D(4, 3), layers.Rescaling(0.5, name="rescaling"), layers.Conv2D(2, 1))
    msg = refusal("input 8x8x3; conv 4 3; rescale 0.25; conv 2 1", path)
    assert "rescale_1" in msg and "'rescaling'" in msg
    cnnc.compile(cnnc.parse("input 8x8x3; conv 4 3; rescale 0.5; conv 2 1")).load_keras(path)


def test_a_lambda_cannot_be_compared(tmp_path):
    _, path = saved(tmp_path, layers.Conv2D(4, 3), layers.Lambda(lambda x: x * 2.0, name="lambda"), layers.Conv2D(2, 1))
    msg = refusal("input 8x8x3; conv 4 3; conv 2 1", path)
    assert "'lambda' (Lambda) cannot be compared with the program" in msg


def _agree(model, km, shape):
    x = np.random.default_rng(3).standard_normal((2, *shape)).astype(np.float32)
    y = keras.ops.convert_to_numpy(km(x, training=False))
    np.testing.assert_allclose(model(x), y, rtol=1e-4, atol=1e-5)
    other = keras.ops.convert_to_numpy(km(x[::-1].copy() * 3, training=False))
    assert np.abs(other - y).max() > 100 * (1e-5 + 1e-4 * np.abs(y).max()), "another input moves the output"


@pytest.mark.parametrize("body, program", [
    # a separate Activation is a fused ACT, and the other way round
    (lambda: [layers.Conv2D(4, 3), layers.Activation("relu"), layers.Conv2D(4, 1, activation="tanh")],
     "conv 4 3 relu; conv 4 1; tanh"),
    # ZeroPadding2D + a valid conv is integer padding; padding=same is the padding it works out to
    (lambda: [layers.ZeroPadding2D(1), layers.Conv2D(4, 3), layers.Conv2D(4, 3, padding="same")],
     "conv 4 3 padding=1; zeropad 1; conv 4 3"),
    # ReLU(max_value=6) is relu6; swish is silu; Dropout may be absent
    (lambda: [layers.Conv2D(4, 3), layers.ReLU(6.0), layers.Dropout(0.3), layers.Conv2D(4, 1, activation="swish")],
     "conv 4 3 relu6; conv 4 1 silu"),
    # the hard sigmoid spelt with arithmetic, as MobileNetV3 writes it
    (None, "conv 4 3 hard_sigmoid"),
])
def test_equivalences_load(tmp_path, body, program):
    if body is None:
        inp = keras.Input((8, 8, 3))
        c = layers.Conv2D(4, 3)(inp)
        km = keras.Model(inp, layers.ReLU(6.0)(c + 3.0) * (1.0 / 6.0))
    else:
        km = keras.Sequential([keras.Input((8, 8, 3)), *body()])
    for v in km.weights:
        v.assign(np.random.default_rng(0).standard_normal(v.shape).astype(np.float32) * 0.5)
    km.save(tmp_path / "eq.keras")
    model = cnnc.compile(cnnc.parse(f"input 8x8x3; {program}"))
    model.load_keras(tmp_path / "eq.keras")
    _agree(model, km, (8, 8, 3))
