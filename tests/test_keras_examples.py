"""The Keras Applications family as cnnc programs (examples/keras/) and the U-Net: Keras 3's
exact parameter counts, Keras's shapes at the places its models name, written with blocks
and repeat, and the numpy backend against the torch reference (small inputs here, full
size with --slow)."""

from __future__ import annotations

import numpy as np
import pytest

import cnnc
from conftest import EXAMPLES

KERAS = EXAMPLES / "keras"

# keras.applications.X(weights=None): count_params() and the trainable weights' size,
# Keras 3.15.1 (EfficientNetB0 without its input Rescaling and Normalization)
KERAS_COUNTS = {
    "vgg16": ((224, 224, 3), 138_357_544, 138_357_544),
    "resnet50": ((224, 224, 3), 25_636_712, 25_583_592),
    "resnet50v2": ((224, 224, 3), 25_613_800, 25_568_360),
    "inception_v3": ((299, 299, 3), 23_851_784, 23_817_352),
    "xception": ((299, 299, 3), 22_910_480, 22_855_952),
    "mobilenet_v2": ((224, 224, 3), 3_538_984, 3_504_872),
    "mobilenet_v3_small": ((224, 224, 3), 2_554_968, 2_542_856),
    "densenet121": ((224, 224, 3), 8_062_504, 7_978_856),
    "efficientnet_b0": ((224, 224, 3), 5_330_564, 5_288_548),
}


@pytest.mark.parametrize("name", sorted(KERAS_COUNTS))
def test_keras_parameter_counts(name):
    shape, total, trainable = KERAS_COUNTS[name]
    net = cnnc.parse_file(KERAS / f"{name}.cnn")
    assert net.input_shape == shape
    assert net.output_shape == (1000,)
    assert (net.total_params, net.trainable_params) == (total, trainable)
    assert not net.warnings


def test_the_keras_family_is_all_there():
    assert sorted(p.stem for p in KERAS.glob("*.cnn")) == sorted(KERAS_COUNTS)
    assert not (EXAMPLES / "vgg16.cnn").exists() and not (EXAMPLES / "resnet50.cnn").exists()


@pytest.mark.parametrize("name", sorted(KERAS_COUNTS))
def test_written_with_blocks_not_unrolled(name):
    text = (KERAS / f"{name}.cnn").read_text()
    net = cnnc.parse(text)
    statements = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert "repeat" in text
    assert len(statements) < 0.75 * len(net.layers), (len(statements), len(net.layers))


# output shapes at the layers Keras names (its model.get_layer(NAME).output.shape), found
# here as the n-th node of a kind
KERAS_SHAPES = {
    "resnet50v2": [("residual", 2, (28, 28, 256)), ("residual", 15, (7, 7, 2048)), ("globalpool", 0, (2048,))],
    "inception_v3": [("concat", 0, (35, 35, 256)), ("concat", 3, (17, 17, 768)), ("concat", 8, (8, 8, 1280)),
                     ("concat", 9, (8, 8, 768)), ("concat", 14, (8, 8, 2048)), ("globalpool", 0, (2048,))],
    "xception": [("residual", 0, (74, 74, 128)), ("residual", 2, (19, 19, 728)), ("residual", 11, (10, 10, 1024)),
                 ("globalpool", 0, (2048,))],
    "mobilenet_v2": [("residual", 0, (56, 56, 24)), ("residual", 9, (7, 7, 160)), ("globalpool", 0, (1280,))],
    "mobilenet_v3_small": [("scale", 0, (56, 56, 16)), ("scale", 8, (7, 7, 576)), ("globalpool", 9, (576,))],
    "densenet121": [("concat", 5, (56, 56, 256)), ("avgpool", 0, (28, 28, 128)), ("concat", 57, (7, 7, 1024)),
                    ("globalpool", 0, (1024,))],
    "efficientnet_b0": [("scale", 0, (112, 112, 32)), ("residual", 8, (7, 7, 192)), ("globalpool", 16, (1280,))],
}


@pytest.mark.parametrize("name", sorted(KERAS_SHAPES))
def test_keras_shapes(name):
    net = cnnc.parse_file(KERAS / f"{name}.cnn")
    for kind, i, dims in KERAS_SHAPES[name]:
        nodes = [n for n in net.layers if n.kind == kind]
        assert nodes[i].out.dims == dims, (kind, i)


# the smallest input each takes in Keras too, where the numpy backend is checked in the suite
SMALL = {"inception_v3": (75, 75, 3), "xception": (71, 71, 3)}


def _check(path, input, batch=1):
    """The numpy backend's output and every node it keeps against the torch reference, as
    test_numpy_backend.check does, with one run of the (float64, slow) reference.

    Each tensor's error is measured against its largest value (as `cnnc check` does) rather
    than value by value, to 3e-4: fifty float32 layers with calibrated batchnorms (large sums
    that cancel) leave up to 1.3e-4 of a layer's scale on its values (MobileNetV2's relu6_33;
    Keras itself is as far from float64)."""
    pytest.importorskip("torch")
    from numeric import another, calibrated_params, sensitivity, unlike
    from torch_reference import assert_close, reference

    net = cnnc.parse(path.read_text(), input=input)
    # batchnorms calibrated on a batch: with random statistics the output of a deep network
    # hardly depends on its input, and no comparison of it could fail
    params = calibrated_params(net, np.random.default_rng(2).standard_normal(
        (4, *net.input_shape)).astype(np.float32))
    model = cnnc.compile(net, weights=params)
    x = np.random.default_rng(1).standard_normal((batch, *net.input_shape)).astype(np.float32)
    ref: dict = {}
    want = reference(net, params, x, ref)
    # two other inputs: the same noise drawn again, and an image of other brightness and
    # contrast (draws of the same noise have nearly the same global averages, which is all
    # a squeeze-and-excitation gate sees); each comparison uses the one that moves its value most
    others = [{}, {}]
    reference(net, params, another(x), others[0])
    reference(net, params, unlike(x), others[1])

    def other(name):
        tol = 3e-4 * max(1.0, float(np.abs(ref[name]).max()))
        return max((o[name] for o in others), key=lambda o: sensitivity(ref[name], o, tol=tol))
    assert_close(model(x), want, path.name, other=other(net.output.name), whole=True, rel=3e-4)
    for name, value in model.trace(x).items():
        assert_close(value, ref[name], f"{path.name} @ {name}", other=other(name), whole=True, rel=3e-4)


@pytest.mark.parametrize("name", sorted(KERAS_COUNTS))
def test_numpy_matches_torch_at_a_small_input(name):
    _check(KERAS / f"{name}.cnn", SMALL.get(name, (32, 32, 3)))


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(KERAS_COUNTS))
def test_numpy_matches_torch_at_full_size(name):
    _check(KERAS / f"{name}.cnn", None, batch=2)


def test_unet():
    net = cnnc.parse_file(EXAMPLES / "unet.cnn")
    assert net.input_shape == (128, 128, 3) and net.output_shape == (128, 128, 4)
    assert net.output.activation == "softmax" and not net.warnings
    kinds = {n.kind for n in net.layers}
    assert {"pool", "deconv", "upsample", "concat"} <= kinds
    # every skip connection joins an encoder level with the decoder at the same size
    for c in (n for n in net.layers if n.kind == "concat"):
        assert c.inputs[0].out.dims[:2] == c.inputs[1].out.dims[:2]
    assert net.min_input() == (8, 8)
    _check(EXAMPLES / "unet.cnn", (16, 24, 3), batch=2)
    y = cnnc.compile(net, seed=1)(np.random.default_rng(0).standard_normal((1, 128, 128, 3)).astype(np.float32))
    assert y.shape == (1, 128, 128, 4)
    # probabilities: each pixel's sum is 1 (another pixel's single probability is far from it)
    from numeric import assert_close

    assert_close(y.sum(-1), np.ones((1, 128, 128)), other=y[..., 0], rtol=0, atol=1e-5)
