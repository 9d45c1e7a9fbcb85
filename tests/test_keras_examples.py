"""The Keras Applications as cnnc programs (examples/keras/) and the two U-Nets.

Keras 3 (`KERAS_BACKEND=torch`) is the oracle. Each program's header names the
`keras.applications` call it equals and Keras's total and trainable counts (printed by
scripts/keras_counts.py). Here:

- the header's counts are the program's, and Keras's own at the small input CI runs;
- the programs, now written with definitions, make exactly the layers they made when they
  were written out (names, kinds, shapes, parameters), and read as a few definitions and a
  short list of uses;
- the numpy backend, with weights that Keras saved and `Model.load_keras` read, computes
  Keras's output: at small inputs here (each Keras model built once per session), at full
  size with `--slow`. The weights make that comparison able to fail: He-normal kernels,
  random biases, gammas and betas, batchnorm statistics calibrated on a batch, and each test
  shows that another input moves Keras's output by 100x the tolerance (tests/numeric.py);
- unet_named.cnn computes unet.cnn's function, and unet.cnn PyTorch's.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import cnnc
from conftest import EXAMPLES, ROOT
from numeric import another, assert_close, keras_calibrate, keras_he_normal

KERAS = EXAMPLES / "keras"

# keras.applications.X(weights=None): count_params() and the trainable weights' size, Keras
# 3.15.1 (scripts/keras_counts.py prints them); the full-size input, and the small one CI runs
# (the least each Keras model accepts).
KERAS_COUNTS = {
    "vgg16": ((224, 224, 3), 138_357_544, 138_357_544, 32),
    "resnet50": ((224, 224, 3), 25_636_712, 25_583_592, 32),
    "resnet50v2": ((224, 224, 3), 25_613_800, 25_568_360, 32),
    "resnet152": ((224, 224, 3), 60_419_944, 60_268_520, 32),
    "inception_v3": ((299, 299, 3), 23_851_784, 23_817_352, 75),
    "inception_resnet_v2": ((299, 299, 3), 55_873_736, 55_813_192, 75),
    "xception": ((299, 299, 3), 22_910_480, 22_855_952, 71),
    "mobilenet_v2": ((224, 224, 3), 3_538_984, 3_504_872, 32),
    "mobilenet_v3_small": ((224, 224, 3), 2_554_968, 2_542_856, 32),
    "mobilenet_v3_large": ((224, 224, 3), 5_507_432, 5_483_032, 32),
    "densenet121": ((224, 224, 3), 8_062_504, 7_978_856, 32),
    "efficientnet_b0": ((224, 224, 3), 5_330_571, 5_288_548, 32),
    "efficientnet_v2_s": ((384, 384, 3), 21_612_360, 21_458_488, 64),   # at 32 its last 15 blocks see 1x1
    "convnext_tiny": ((224, 224, 3), 28_589_128, 28_589_128, 32),
}
NAMES = sorted(KERAS_COUNTS)

HEADER = re.compile(r"keras\.applications\.(\w+)\((.*?)\),\s*([\d,]+) parameters\s*\(([\d,]+) trainable")


def header(name: str):
    """(constructor, keyword arguments, total, trainable) as the program's header states them."""
    lines = []
    for line in (KERAS / f"{name}.cnn").read_text().splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("# "))
    m = HEADER.search(" ".join(lines))
    assert m, f"{name}.cnn: the header names no keras.applications call with its counts"
    call = ast.parse(f"f({m.group(2)})", mode="eval").body
    kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
    return m.group(1), kwargs, int(m.group(3).replace(",", "")), int(m.group(4).replace(",", ""))


def statements(text: str) -> list:
    """The non-blank, non-comment lines."""
    return [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


# --- counts and headers ----------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_keras_parameter_counts(name):
    shape, total, trainable, _ = KERAS_COUNTS[name]
    net = cnnc.parse_file(KERAS / f"{name}.cnn")
    assert net.input_shape == shape
    assert net.output_shape == (1000,) and net.output.activation == "softmax"
    assert (net.total_params, net.trainable_params) == (total, trainable)
    assert not net.warnings


@pytest.mark.parametrize("name", NAMES)
def test_the_header_names_the_keras_call_and_its_counts(name):
    ctor, kwargs, total, trainable = header(name)
    assert kwargs.get("weights", "imagenet") is None
    assert (total, trainable) == KERAS_COUNTS[name][1:3]


def test_the_keras_family_is_all_there():
    assert sorted(p.stem for p in KERAS.glob("*.cnn")) == NAMES
    assert not (EXAMPLES / "vgg16.cnn").exists() and not (EXAMPLES / "resnet50.cnn").exists()


def test_preprocessing_is_part_of_the_program():
    """EfficientNetB0's Rescaling and adapted Normalization (2C + 1 parameters, none trainable),
    ConvNeXt's Normalization with ImageNet's constants (0 parameters), EfficientNetV2S's and
    MobileNetV3Large's Rescaling to [-1, 1]: as Keras's models start."""
    def first(name, n):
        return [(x.kind, x.params) for x in cnnc.parse_file(KERAS / f"{name}.cnn").layers[:n]]

    assert first("efficientnet_b0", 3) == [("rescale", {}), ("normalize", {"mean": (3,), "var": (3,), "count": ()}),
                                           ("conv", {"kernel": (3, 3, 3, 32)})]
    b0 = cnnc.parse_file(KERAS / "efficientnet_b0.cnn")
    assert b0.layers[0].attrs["scale"] == pytest.approx(1 / 255, rel=1e-15)
    assert b0.total_params - b0.trainable_params == 7 + 2 * sum(x.out.dims[-1] for x in b0.layers
                                                                if x.kind == "batchnorm")
    convnext = cnnc.parse_file(KERAS / "convnext_tiny.cnn")
    norm = convnext.layers[0]
    assert norm.kind == "normalize" and not norm.params
    mean, var = norm.spec.constants(norm.attrs, 3)
    want_mean = np.array([0.485, 0.456, 0.406]) * 255
    want_var = (np.array([0.229, 0.224, 0.225]) * 255) ** 2
    # the same constants in BGR order, Caffe's: the mistake these comparisons would catch
    assert_close(mean, want_mean, other=want_mean[::-1], rtol=1e-12, what="ConvNeXt's mean")
    assert_close(var, want_var, other=want_var[::-1], rtol=1e-12, what="ConvNeXt's variance")
    for name, scale in (("efficientnet_v2_s", 1 / 128), ("mobilenet_v3_large", 1 / 127.5)):
        first_layer = cnnc.parse_file(KERAS / f"{name}.cnn").layers[0]
        assert first_layer.kind == "rescale"
        assert (first_layer.attrs["scale"], first_layer.attrs["offset"]) == (pytest.approx(scale, rel=1e-15), -1)


# --- written with definitions: the same layers, in a few lines -------------------------------

# The Keras family as it was written before definitions existed: the commit whose text each
# rewritten program must reproduce layer for layer.
WRITTEN_OUT_AT = "d694bc2"
REWRITTEN = ["densenet121", "efficientnet_b0", "inception_v3", "mobilenet_v2", "mobilenet_v3_small", "resnet50",
             "resnet50v2", "vgg16", "xception"]


def _shapes_json(path) -> dict:
    """`cnnc shapes --json` without the source positions."""
    out = subprocess.run([sys.executable, "-m", "cnnc", "shapes", "--json", str(path)], capture_output=True,
                         text=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120)
    assert out.returncode == 0, out.stderr

    def strip(o):
        if isinstance(o, dict):
            return {k: strip(v) for k, v in o.items() if k not in ("line", "col", "file")}
        return [strip(v) for v in o] if isinstance(o, list) else o

    return strip(json.loads(out.stdout))


@pytest.mark.parametrize("name", REWRITTEN)
def test_definitions_make_the_layers_the_written_out_program_made(name, tmp_path):
    try:
        old = subprocess.run(["git", "show", f"{WRITTEN_OUT_AT}:examples/keras/{name}.cnn"], capture_output=True,
                             text=True, cwd=ROOT, timeout=60)
    except OSError:
        pytest.skip("git is not installed")
    if old.returncode != 0:
        pytest.skip(f"commit {WRITTEN_OUT_AT} is not in this clone's history")
    text = old.stdout
    assert "def " not in text
    if name == "efficientnet_b0":   # the program now starts with Keras's preprocessing, as Keras does
        text = text.replace("input 224x224x3\n", "input 224x224x3\nrescale 0.00392156862745098; normalize\n")
    (tmp_path / f"{name}.cnn").write_text(text)
    want, got = _shapes_json(tmp_path / f"{name}.cnn"), _shapes_json(KERAS / f"{name}.cnn")
    for a, b in zip(want["layers"], got["layers"]):
        assert a == b
    assert want == got
    before, after = cnnc.parse(text), cnnc.parse_file(KERAS / f"{name}.cnn")
    assert [(n.name, n.kind, n.out.dims, n.params, [i.name for i in n.inputs]) for n in before.layers] == \
        [(n.name, n.kind, n.out.dims, n.params, [i.name for i in n.inputs]) for n in after.layers]


# at most this many non-blank, non-comment lines (a definition or two and a short list of uses)
SHORT = {"mobilenet_v2": 25, "efficientnet_b0": 25, "resnet50": 25, "densenet121": 25, "resnet152": 25,
         "vgg16": 15, "xception": 25, "resnet50v2": 25, "convnext_tiny": 25, "mobilenet_v3_small": 35,
         "mobilenet_v3_large": 35, "efficientnet_v2_s": 30, "inception_v3": 60, "inception_resnet_v2": 70}


@pytest.mark.parametrize("name", NAMES)
def test_a_few_definitions_and_a_short_list_of_uses(name):
    text = (KERAS / f"{name}.cnn").read_text()
    lines = statements(text)
    net = cnnc.parse(text)
    assert any(line.startswith("def ") for line in lines)
    assert len(lines) <= SHORT[name], len(lines)
    assert len(lines) <= 0.5 * len(net.layers), (len(lines), len(net.layers))
    assert max(len(line) for line in text.splitlines()) <= 120


# output shapes at the layers Keras names (its model.get_layer(NAME).output.shape), found
# here as the n-th node of a kind
KERAS_SHAPES = {
    "resnet50v2": [("residual", 2, (28, 28, 256)), ("residual", 15, (7, 7, 2048)), ("globalpool", 0, (2048,))],
    "resnet152": [("residual", 2, (56, 56, 256)), ("residual", 10, (28, 28, 512)), ("residual", 46, (14, 14, 1024)),
                  ("residual", 49, (7, 7, 2048))],
    "inception_v3": [("concat", 0, (35, 35, 256)), ("concat", 3, (17, 17, 768)), ("concat", 8, (8, 8, 1280)),
                     ("concat", 9, (8, 8, 768)), ("concat", 14, (8, 8, 2048)), ("globalpool", 0, (2048,))],
    "inception_resnet_v2": [("concat", 0, (35, 35, 320)), ("residual", 9, (35, 35, 320)),
                            ("concat", 11, (17, 17, 1088)), ("residual", 29, (17, 17, 1088)),
                            ("concat", 32, (8, 8, 2080)), ("residual", 39, (8, 8, 2080))],
    "xception": [("residual", 0, (74, 74, 128)), ("residual", 2, (19, 19, 728)), ("residual", 11, (10, 10, 1024)),
                 ("globalpool", 0, (2048,))],
    "mobilenet_v2": [("residual", 0, (56, 56, 24)), ("residual", 9, (7, 7, 160)), ("globalpool", 0, (1280,))],
    "mobilenet_v3_small": [("scale", 0, (56, 56, 16)), ("scale", 8, (7, 7, 576)), ("globalpool", 9, (576,))],
    "mobilenet_v3_large": [("residual", 0, (112, 112, 16)), ("scale", 0, (28, 28, 72)),
                           ("scale", 7, (7, 7, 960)), ("globalpool", 8, (960,))],
    "densenet121": [("concat", 5, (56, 56, 256)), ("avgpool", 0, (28, 28, 128)), ("concat", 57, (7, 7, 1024)),
                    ("globalpool", 0, (1024,))],
    "efficientnet_b0": [("scale", 0, (112, 112, 32)), ("residual", 8, (7, 7, 192)), ("globalpool", 16, (1280,))],
    "efficientnet_v2_s": [("residual", 1, (192, 192, 24)), ("residual", 4, (96, 96, 48)),
                          ("scale", 0, (24, 24, 256)), ("residual", 34, (12, 12, 256))],
    "convnext_tiny": [("residual", 2, (56, 56, 96)), ("residual", 5, (28, 28, 192)), ("residual", 14, (14, 14, 384)),
                      ("residual", 17, (7, 7, 768)), ("layernorm", 22, (768,))],
}


@pytest.mark.parametrize("name", sorted(KERAS_SHAPES))
def test_keras_shapes(name):
    net = cnnc.parse_file(KERAS / f"{name}.cnn")
    for kind, i, dims in KERAS_SHAPES[name]:
        nodes = [n for n in net.layers if n.kind == kind]
        assert nodes[i].out.dims == dims, (kind, i)


# --- the numpy backend against Keras -----------------------------------------------------------

def _keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")   # Keras 3 without TensorFlow
    pytest.importorskip("h5py")
    pytest.importorskip("torch")
    return pytest.importorskip("keras")


def _randomize(km, seed=0):
    """He-normal kernels, centered (tests/numeric.py); biases and betas N(0, 0.1);
    gammas (batchnorm, layernorm, ConvNeXt's layer scale, whose initial 1e-6 would leave every
    block out) U(0.5, 1.5); an adapted Normalization's mean and variance those of pixels
    scaled to [0, 1]. Batchnorm statistics are calibrated afterwards (_keras_model)."""
    keras_he_normal(km, seed)
    rng = np.random.default_rng(seed + 1)
    for v in km.weights:
        kind = v.path.rsplit("/", 1)[-1]
        layer = v.path.rsplit("/", 1)[0]
        if kind in ("bias", "beta"):
            v.assign((0.1 * rng.standard_normal(v.shape)).astype(np.float32))
        elif kind == "gamma" or (kind.startswith("variable") and "layer_scale" in layer):
            v.assign(rng.uniform(0.5, 1.5, v.shape).astype(np.float32))
        elif kind == "mean" and len(v.shape) == 1:            # Normalization, adapted
            v.assign(rng.uniform(0.35, 0.55, v.shape).astype(np.float32))
        elif kind == "variance" and len(v.shape) == 1:
            v.assign(rng.uniform(0.04, 0.08, v.shape).astype(np.float32))
    return km


def _inputs(net, size, n, seed):
    """Pixels in [0, 255] for a program that starts with Keras's preprocessing (it expects
    them), N(0, 1) values for one that starts with a convolution."""
    rng = np.random.default_rng(seed)
    shape = (n, size, size, 3)
    if net.layers[0].kind in ("rescale", "normalize"):
        return rng.uniform(0, 255, shape).astype(np.float32)
    return rng.standard_normal(shape).astype(np.float32)


def _logits(name, size):
    """The program at size x size without its last softmax: Keras's comparison is made on the
    logits (`classifier_activation=None`). Random weights make logits that span tens of units,
    and a softmax over them puts most classes below 1e-20, where float32's rounding of the
    logits (~1e-5 of their scale) is a relative error of the probabilities far above any
    tolerance; on the logits it is measured against their scale."""
    text = (KERAS / f"{name}.cnn").read_text()
    assert text.count("dense 1000 softmax") == 1 and text.rstrip().endswith("dense 1000 softmax")
    return cnnc.parse(text.replace("dense 1000 softmax", "dense 1000"), input=(size, size, 3))


_BUILT: dict = {}
BATCH = 2   # images compared


def _keras_model(name, size, folder):
    """The Keras model of `name`'s header at size x size, giving logits, with random weights
    and batchnorm calibrated on a batch of 8 other images, saved to a .keras file; and the
    program without its softmax. Built once per session per (name, size)."""
    key = (name, size)
    if key not in _BUILT:
        keras = _keras()
        import torch

        ctor, kwargs, _, _ = header(name)
        torch.manual_seed(0)
        km = getattr(keras.applications, ctor)(**{**kwargs, "input_shape": (size, size, 3),
                                                  "classifier_activation": None})
        net = _logits(name, size)
        keras_calibrate(_randomize(km), _inputs(net, size, 8, seed=7))
        path = folder / f"{name}_{size}.keras"
        km.save(path)
        _BUILT.clear()   # one model held at a time: ResNet152 and VGG16 are hundreds of MB each
        _BUILT[key] = (km, net, path)
    return _BUILT[key]


def _keras_out(km, x):
    import keras
    import torch

    with torch.no_grad():
        return keras.ops.convert_to_numpy(km(x, training=False))


# How far float32 may stray from the exact logits, as a fraction of their scale. Keras's own
# float32 logits differ from its float64 ones (the same model and weights built under
# keras.config.set_dtype_policy("float64")) by up to 1.5e-4 of their scale at the small inputs
# (EfficientNetV2S; ResNet50 and InceptionV3 1e-4, the others 5e-5 or less), and by 1.2e-3 for
# ResNet152, whose 50 residual blocks amplify rounding most; the numpy backend's float32 is
# about as far from float64 again.
TOLERANCE = {"resnet152": 5e-3}


def conformance(name, size, folder, backend="numpy", batch=BATCH):
    """Keras's logits against the backend's, with the weights Keras saved: within TOLERANCE
    (default 5e-4) of the logits' scale, and another input moves Keras's logits by at least
    100 times that. Also checks that the counts at this size are Keras's own."""
    km, net, path = _keras_model(name, size, folder)
    assert km.count_params() == net.total_params
    assert sum(int(np.prod(v.shape)) for v in km.trainable_weights) == net.trainable_params
    model = cnnc.compile(net, backend=backend, seed=0)
    model.load_keras(path)
    x = _inputs(net, size, batch, seed=1)
    both = _keras_out(km, np.concatenate([x, another(x)]))   # one call: Keras's eager overhead is per layer
    want, other = both[:batch], both[batch:]
    got = model(x)
    got = got.cpu().numpy() if hasattr(got, "cpu") else np.asarray(got)
    tol = TOLERANCE.get(name, 5e-4) * max(1.0, float(np.abs(want).max()))
    assert_close(got, want, other=other, rtol=0.0, atol=tol, what=f"{name} at {size}x{size}")


@pytest.fixture(scope="module")
def keras_files(tmp_path_factory):
    return tmp_path_factory.mktemp("keras")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("name", NAMES)
def test_numpy_matches_keras_at_a_small_input(name, keras_files):
    conformance(name, KERAS_COUNTS[name][3], keras_files)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("name", NAMES)
def test_numpy_matches_keras_at_full_size(name, keras_files):
    conformance(name, KERAS_COUNTS[name][0][0], keras_files)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("name", NAMES)
def test_triton_interpreter_matches_keras_at_a_small_input(name, keras_files):
    """The same on the Triton backend (on a machine without a GPU, its interpreter: minutes per
    network)."""
    pytest.importorskip("triton")
    os.environ.setdefault("TRITON_INTERPRET", "1")
    conformance(name, KERAS_COUNTS[name][3], keras_files, backend="triton", batch=1)


# --- the U-Nets -----------------------------------------------------------------------------

def _check_against_torch(path, input, batch=1):
    """The numpy backend's output and every node it keeps against the torch reference
    (tests/torch_reference.py), as test_numpy_backend.check does.

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


# the examples whose kinds the torch reference computes (not ConvNeXt's layernorm and layer
# scale, nor EfficientNetB0's normalize): each node against it at full size (Keras, above,
# checks the output of every example)
TORCH_REFERENCE = [n for n in NAMES if n not in ("convnext_tiny", "efficientnet_b0")]


@pytest.mark.slow
@pytest.mark.parametrize("name", TORCH_REFERENCE)
def test_numpy_matches_torch_at_full_size(name):
    _check_against_torch(KERAS / f"{name}.cnn", None, batch=2)


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
    _check_against_torch(EXAMPLES / "unet.cnn", (16, 24, 3), batch=2)
    y = cnnc.compile(net, seed=1)(np.random.default_rng(0).standard_normal((1, 128, 128, 3)).astype(np.float32))
    assert y.shape == (1, 128, 128, 4)
    # probabilities: each pixel's sum is 1 (another pixel's single probability is far from it)
    assert_close(y.sum(-1), np.ones((1, 128, 128)), other=y[..., 0], rtol=0, atol=1e-5)


def test_the_unet_with_named_skips_computes_the_nested_ones_function():
    nested, named = cnnc.parse_file(EXAMPLES / "unet.cnn"), cnnc.parse_file(EXAMPLES / "unet_named.cnn")
    text = (EXAMPLES / "unet_named.cnn").read_text()
    assert "def " in text and "from=" not in text and "branch" not in text   # skips by name alone
    assert [n.name for n in named.layers if n.kind == "concat"] == ["concat_1", "concat_2", "concat_3"]
    # each joins a named encoder level (the skip, first) with what comes up from below
    assert [[i.name for i in n.inputs] for n in named.layers if n.kind == "concat"] == \
        [["e3", "up3"], ["e2", "up2"], ["e1", "up1"]]
    assert [named[e].out.dims for e in ("e1", "e2", "e3")] == [(128, 128, 16), (64, 64, 32), (32, 32, 64)]
    # the same layers in the same order: kinds, shapes, weights
    assert [(n.kind, n.out.dims, n.params) for n in nested.layers] == \
        [(n.kind, n.out.dims, n.params) for n in named.layers]
    assert (named.total_params, named.min_input()) == (nested.total_params, nested.min_input())
    small = (32, 48, 3)
    a = cnnc.compile(cnnc.parse_file(EXAMPLES / "unet.cnn", input=small), seed=3)
    named_small = cnnc.parse_file(EXAMPLES / "unet_named.cnn", input=small)
    b = cnnc.compile(named_small, weights=dict(zip(named_small.param_shapes(), a.params.values())))
    x = np.random.default_rng(0).standard_normal((2, *small)).astype(np.float32)
    want = a(x)
    assert_close(b(x), want, other=a(another(x)), rtol=1e-6, atol=1e-7, what="unet_named")
    # and the skips matter: the same weights with the first skip's channels swapped are another function
    swapped = (EXAMPLES / "unet_named.cnn").read_text().replace("concat e1 up1", "concat up1 e1")
    c = cnnc.compile(cnnc.parse(swapped, input=small), weights=b.params)
    assert np.abs(c(x) - want).max() > 100 * (1e-7 + 1e-6 * np.abs(want).max())
