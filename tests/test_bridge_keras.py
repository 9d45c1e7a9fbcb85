"""model.load_keras: Keras 3 `.keras` files into cnnc, with Keras itself as the oracle.

Each test builds a Keras model, gives it random weights (batchnorm statistics included, so
no batchnorm is an identity), saves it with Keras, loads the file into the equivalent cnnc
program (which never imports Keras) and compares outputs. The Keras Applications, as the
programs of examples/keras/, are checked the same way in tests/test_keras_examples.py.
"""

from __future__ import annotations

import io
import os
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

import cnnc

os.environ["KERAS_BACKEND"] = "torch"   # Keras 3 without TensorFlow
h5py = pytest.importorskip("h5py")
keras = pytest.importorskip("keras")
layers = keras.layers
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")   # Keras 3 on numpy 2

ROOT = Path(__file__).resolve().parent.parent


def randomize(model, seed=0):
    """Random weights everywhere: kernels stay Keras's (random) initial ones; biases, betas and
    moving means become N(0, 0.1), gammas and moving variances U(0.5, 1.5)."""
    rng = np.random.default_rng(seed)
    for v in model.weights:
        kind = v.path.rsplit("/", 1)[-1]
        if kind in ("gamma", "moving_variance"):
            v.assign(rng.uniform(0.5, 1.5, v.shape).astype(np.float32))
        elif kind in ("beta", "moving_mean", "bias"):
            v.assign((0.1 * rng.standard_normal(v.shape)).astype(np.float32))
    return model


def images(shape, n=2, seed=1):
    return np.random.default_rng(seed).standard_normal((n, *shape)).astype(np.float32)


def keras_out(km, x):
    import torch

    with torch.no_grad():
        return keras.ops.convert_to_numpy(km(x, training=False))


def assert_keras(got, km, x, rtol, atol):
    """cnnc's answer `got` for x agrees with Keras's; Keras's answer for another input is far
    (100x the tolerance), so the comparison can fail (tests/numeric.py)."""
    from numeric import another, assert_close

    assert_close(got, keras_out(km, x), other=keras_out(km, another(x)), rtol=rtol, atol=atol)


def save(km, path):
    km.save(path)
    return path


# --- the course notes' LeNet: a Sequential model -----------------------------------------

def lenet_keras():
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(32, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2)),
        layers.Conv2D(64, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2)),
        layers.Flatten(), layers.Dense(64, activation="relu"), layers.Dense(10, activation="softmax")])


@pytest.fixture(scope="module")
def lenet_file(tmp_path_factory):
    km = randomize(lenet_keras())
    return km, save(km, tmp_path_factory.mktemp("lenet") / "lenet.keras")


def test_sequential_lenet(lenet_file):
    km, path = lenet_file
    model = cnnc.compile(ROOT / "examples" / "lenet.cnn", seed=5)
    assert model.load_keras(path) is None
    x = images((28, 28, 1), 3)
    assert_keras(model(x), km, x, rtol=1e-4, atol=1e-6)
    # the flatten->dense kernel is Keras's own (H, W, C rows): no permutation
    from numeric import assert_equal

    kernel = km.layers[-2].get_weights()[0]
    assert_equal(model.params["dense_1.kernel"], kernel, other=kernel.reshape(5, 5, 64, 64).transpose(2, 0, 1, 3)
                 .reshape(kernel.shape))   # rows in C, H, W order: what a permutation would give


def test_triton_backend_reads_keras_weights_too(lenet_file):
    pytest.importorskip("triton")
    os.environ.setdefault("TRITON_INTERPRET", "1")
    km, path = lenet_file
    model = cnnc.compile(ROOT / "examples" / "lenet.cnn", backend="triton")
    model.load_keras(path)
    x = images((28, 28, 1), 1)
    got = model(x)
    got = got.cpu().numpy() if hasattr(got, "cpu") else np.asarray(got)
    assert_keras(got, km, x, rtol=1e-4, atol=1e-6)


# --- a functional model whose lists are not in the program's order ----------------------

MIXED_CNN = """
input 12x12x3
conv 8 3 padding=same; batchnorm; relu
residual { conv 16 3 stride=2 padding=same relu; conv 16 3 padding=same } shortcut { conv 16 1 stride=2 }
relu
concat {
  branch { conv 6 1 relu; conv 5 3 padding=same relu }
  branch { conv 4 1 relu }
  branch { pool 3 stride=1 padding=same; conv 3 1 }
}
globalpool
dense 7 relu
dense 5
"""


def mixed_keras():
    """MIXED_CNN in Keras, built the way Keras code often is: the shortcut before the body and
    added first, branches created in another order than concatenated, a 1x1 Conv2D on the
    pooled 1x1 image as the first dense layer."""
    inp = keras.Input((12, 12, 3))
    x = layers.Conv2D(8, 3, padding="same", name="stem")(inp)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.Activation("relu")(x)
    shortcut = layers.Conv2D(16, 1, strides=2, name="a_shortcut")(x)
    y = layers.Conv2D(16, 3, strides=2, padding="same", activation="relu", name="a_1")(x)
    y = layers.Conv2D(16, 3, padding="same", name="a_2")(y)
    x = layers.ReLU()(layers.Add()([shortcut, y]))
    b2 = layers.Conv2D(4, 1, activation="relu", name="b2")(x)
    b3 = layers.Conv2D(3, 1, name="b3")(layers.MaxPooling2D(3, strides=1, padding="same")(x))
    b1 = layers.Conv2D(6, 1, activation="relu", name="b1a")(x)
    b1 = layers.Conv2D(5, 3, padding="same", activation="relu", name="b1b")(b1)
    x = layers.Concatenate()([b1, b2, b3])
    x = layers.GlobalAveragePooling2D(keepdims=True)(x)
    x = layers.Conv2D(7, 1, activation="relu", name="head")(x)
    x = layers.Dense(5, name="logits")(layers.Flatten()(x))
    return keras.Model(inp, x)


@pytest.fixture(scope="module")
def mixed_file(tmp_path_factory):
    km = randomize(mixed_keras(), seed=3)
    return km, save(km, tmp_path_factory.mktemp("mixed") / "mixed.keras")


def test_graphs_match_by_structure_not_names_or_order(mixed_file):
    km, path = mixed_file
    model = cnnc.compile(cnnc.parse(MIXED_CNN))
    from cnnc.bridges.keras_import import read_keras

    params, pairs, skipped = read_keras(model.network, path)
    assert skipped == []
    pairs = {c: k.name for c, k in pairs.items()}
    assert pairs == {
        "conv_1": "stem", "batchnorm_1": "stem_bn", "conv_2": "a_1", "conv_3": "a_2", "conv_4": "a_shortcut",
        "conv_5": "b1a", "conv_6": "b1b", "conv_7": "b2", "conv_8": "b3", "dense_1": "head", "dense_2": "logits"}
    model.load_keras(path)
    x = images((12, 12, 3), 4)
    assert_keras(model(x), km, x, rtol=1e-4, atol=1e-5)
    assert model.params["dense_1.kernel"].shape == (12, 7)   # Keras's (1, 1, 12, 7), read as (in, out)


def test_a_wrong_shape_names_the_layer_and_both_shapes(mixed_file):
    _, path = mixed_file
    model = cnnc.compile(cnnc.parse(MIXED_CNN.replace("branch { conv 4 1 relu }", "branch { conv 9 1 relu }")))
    with pytest.raises(cnnc.CnncError) as e:
        model.load_keras(path)
    assert isinstance(e.value, ValueError)
    assert "conv_7.kernel has shape (1, 1, 16, 9) in the program, but the Keras layer 'b2' (Conv2D) holds " \
           "(1, 1, 16, 4)" in str(e.value)


def test_a_missing_layer_is_named(mixed_file):
    _, path = mixed_file
    model = cnnc.compile(cnnc.parse(MIXED_CNN.replace("conv 8 3 padding=same; batchnorm; relu",
                                                      "conv 8 3 padding=same relu")))
    with pytest.raises(cnnc.CnncError, match=r"conv_1 \(conv 8 3x3 padding=same relu\) has no counterpart: the "
                                             r"Keras model has 'stem_bn' \(BatchNormalization\) there"):
        model.load_keras(path)


def test_concat_order_is_the_channel_order(mixed_file):
    """Branches given in another order than Keras concatenates them are different networks."""
    _, path = mixed_file
    swapped = MIXED_CNN.replace("  branch { conv 6 1 relu; conv 5 3 padding=same relu }\n  branch { conv 4 1 relu }",
                                "  branch { conv 4 1 relu }\n  branch { conv 6 1 relu; conv 5 3 padding=same relu }")
    with pytest.raises(cnnc.CnncError, match="does not match the program"):
        cnnc.compile(cnnc.parse(swapped)).load_keras(path)


# --- the second edition's kinds ---------------------------------------------------------------

SECOND_CNN = """
input 8x8x3
rescale 0.00784313725490196 offset=-1
zeropad top=1 bottom=2 left=0 right=1
conv 8 3 dilation=2 bias=false
batchnorm scale=false
relu6
conv 8 3 padding=same groups=4
dwconv 3 stride=2 padding=same multiplier=2
batchnorm center=false
hard_swish
scale { globalpool; dense 4 relu; dense 16 sigmoid }
sepconv 6 3 padding=same multiplier=2 swish
deconv 5 3 stride=2 padding=same
upsample 2 mode=bilinear
upsample 1x2
conv 3 1 softmax
globalmaxpool
"""


def second_keras():
    """SECOND_CNN in Keras: every second-edition kind, squeeze-and-excitation as Keras writes it."""
    inp = keras.Input((8, 8, 3))
    x = layers.Rescaling(1 / 127.5, offset=-1, name="pre")(inp)
    x = layers.ZeroPadding2D(((1, 2), (0, 1)))(x)
    x = layers.Conv2D(8, 3, dilation_rate=2, use_bias=False, name="c_dil")(x)
    x = layers.Activation("relu6")(layers.BatchNormalization(scale=False, name="bn1")(x))
    x = layers.Conv2D(8, 3, padding="same", groups=4, name="c_grp")(x)
    x = layers.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2, name="dw")(x)
    x = layers.Activation("hard_swish")(layers.BatchNormalization(center=False, name="bn2")(x))
    se = layers.GlobalAveragePooling2D(keepdims=True)(x)
    se = layers.Conv2D(4, 1, activation="relu", name="se_reduce")(se)
    se = layers.Conv2D(16, 1, activation="sigmoid", name="se_expand")(se)
    x = layers.Multiply()([x, se])
    x = layers.SeparableConv2D(6, 3, padding="same", depth_multiplier=2, activation="swish", name="sep")(x)
    x = layers.Conv2DTranspose(5, 3, strides=2, padding="same", name="up")(x)
    x = layers.UpSampling2D(2, interpolation="bilinear")(x)
    x = layers.UpSampling2D((1, 2))(x)
    x = layers.Conv2D(3, 1, activation="softmax", name="pixels")(x)
    return keras.Model(inp, layers.GlobalMaxPooling2D()(x))


def test_second_edition_kinds(tmp_path):
    from numeric import keras_calibrate, keras_he_normal

    # batchnorms calibrated: with random statistics another input moved the output by 23x the tolerance
    km = keras_calibrate(keras_he_normal(randomize(second_keras(), seed=4)),
                         np.random.default_rng(9).uniform(0, 255, (8, 8, 8, 3)).astype(np.float32))
    path = save(km, tmp_path / "second.keras")
    model = cnnc.compile(cnnc.parse(SECOND_CNN))
    from cnnc.bridges.keras_import import read_keras

    _, pairs, before = read_keras(model.network, path)
    assert before == []   # the program's rescale stands for Keras's Rescaling
    assert {c: k.name for c, k in pairs.items()} == {
        "conv_1": "c_dil", "batchnorm_1": "bn1", "conv_2": "c_grp", "dwconv_1": "dw", "batchnorm_2": "bn2",
        "dense_1": "se_reduce", "dense_2": "se_expand", "sepconv_1": "sep", "deconv_1": "up", "conv_3": "pixels"}
    model.load_keras(path)
    x = np.random.default_rng(2).uniform(0, 255, (3, 8, 8, 3)).astype(np.float32)
    assert_keras(model(x), km, x, rtol=1e-4, atol=1e-6)


# --- preprocessing before the program, and a nested model (transfer learning) -------------

def test_program_starting_after_keras_preprocessing(tmp_path):
    inp = keras.Input((8, 8, 3))
    pre = layers.Normalization(mean=[0.1, 0.2, 0.3], variance=[1.5, 2.0, 0.5], name="norm")(
        layers.Rescaling(1 / 255, name="scale")(inp))
    out = layers.Dense(4, name="fc")(layers.Flatten()(layers.Conv2D(2, 3, name="c")(pre)))
    km = randomize(keras.Model(inp, out))
    model = cnnc.compile(cnnc.parse("input 8x8x3; conv 2 3; flatten; dense 4"))
    with pytest.warns(UserWarning, match=r"starts after Keras's preprocessing 'scale' \(Rescaling\), 'norm' "
                                         r"\(Normalization\)"):
        model.load_keras(save(km, tmp_path / "pre.keras"))
    x = images((8, 8, 3)) * 255
    x_pre = keras_out(keras.Model(inp, pre), x)
    assert_keras(model(x_pre), km, x, rtol=1e-4, atol=1e-5)


def test_nested_model(tmp_path):
    base_in = keras.Input((10, 10, 3))
    b = layers.Conv2D(4, 3, activation="relu", name="base_conv")(base_in)
    base = keras.Model(base_in, layers.BatchNormalization(name="base_bn")(b), name="base")
    km = randomize(keras.Sequential([keras.Input((10, 10, 3)), base, layers.GlobalAveragePooling2D(),
                                     layers.Dense(3, activation="softmax", name="top")]))
    model = cnnc.compile(cnnc.parse("input 10x10x3; conv 4 3 relu; batchnorm; globalpool; dense 3 softmax"))
    model.load_keras(save(km, tmp_path / "nested.keras"))
    x = images((10, 10, 3))
    assert_keras(model(x), km, x, rtol=1e-4, atol=1e-6)


# --- bad files ------------------------------------------------------------------------------

def _rewrite(src, dst, edit_h5=None, config=None, compress=zipfile.ZIP_STORED):
    """A copy of the .keras file `src` with its HDF5 file edited by `edit_h5(h5py.File)`."""
    with zipfile.ZipFile(src) as z:
        cfg = z.read("config.json") if config is None else config
        h5bytes = z.read("model.weights.h5")
    if edit_h5 is not None:
        buf = io.BytesIO(h5bytes)
        with h5py.File(buf, "a") as f:
            edit_h5(f)
        h5bytes = buf.getvalue()
    with zipfile.ZipFile(dst, "w", compress) as z:
        z.writestr("config.json", cfg)
        z.writestr("model.weights.h5", h5bytes)
    return dst


def test_an_h5_bomb_is_refused_from_its_directory(lenet_file, tmp_path):
    """An array of 4 GiB that takes no room in the file (never written): its shape is refused
    before anything is read."""
    _, path = lenet_file

    def bomb(f):
        del f["layers/dense/vars/0"]
        f["layers/dense/vars"].create_dataset("0", shape=(1 << 28, 4), dtype="f4", chunks=(1 << 16, 4))
    bad = _rewrite(path, tmp_path / "bomb.keras", bomb)
    assert bad.stat().st_size < 2_000_000
    model = cnnc.compile(ROOT / "examples" / "lenet.cnn")
    tracemalloc.start()
    try:
        with pytest.raises(cnnc.CnncError, match=r"dense_1.kernel has shape \(1600, 64\) in the program, but the "
                                                 r"Keras layer 'dense' \(Dense\) holds \(268435456, 4\)"):
            model.load_keras(bad)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50_000_000


def test_a_keras_file_that_reads_a_local_file_is_refused(lenet_file, tmp_path):
    """A dataset whose raw storage is another file (here a 'secret' of the bias's size): h5py
    would return that file's bytes as the bias, and save_weights would hand them on."""
    _, path = lenet_file
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"TOP-SECRET!!" * 32)

    def external(f):
        del f["layers/dense/vars/1"]
        f["layers/dense/vars"].create_dataset("1", shape=(64,), dtype="f4", external=[(str(secret), 0, 256)])
    bad = _rewrite(path, tmp_path / "leak.keras", external)
    model = cnnc.compile(ROOT / "examples" / "lenet.cnn")
    with pytest.raises(cnnc.CnncError, match="keeps its data in an external file; only self-contained"):
        model.load_keras(bad)
    model.save_weights(tmp_path / "w.npz")
    assert b"TOP-SECRET" not in (tmp_path / "w.npz").read_bytes()


def test_a_compressed_bomb_is_refused_from_the_zip_directory(lenet_file, tmp_path):
    _, path = lenet_file
    bad = tmp_path / "zipbomb.keras"
    with zipfile.ZipFile(path) as z:
        cfg = z.read("config.json")
    with zipfile.ZipFile(bad, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("config.json", cfg)
        with z.open("model.weights.h5", "w", force_zip64=True) as f:
            zeros = bytes(1 << 20)
            for _ in range(64):
                f.write(zeros)
    assert bad.stat().st_size < 1_000_000
    model = cnnc.compile(ROOT / "examples" / "lenet.cnn")
    with pytest.raises(cnnc.CnncError, match=r"model.weights.h5 unpacks to 67,108,864 bytes, more than this "
                                             r"network's weights can take"):
        model.load_keras(bad)


def test_a_compressed_file_that_is_no_bomb_loads(lenet_file, tmp_path):
    km, path = lenet_file
    good = _rewrite(path, tmp_path / "deflated.keras", compress=zipfile.ZIP_DEFLATED)
    model = cnnc.compile(ROOT / "examples" / "lenet.cnn")
    model.load_keras(good)
    x = images((28, 28, 1))
    assert_keras(model(x), km, x, rtol=1e-4, atol=1e-6)


def test_non_finite_weights_are_named(lenet_file, tmp_path):
    _, path = lenet_file

    def nan(f):
        a = f["layers/conv2d_1/vars/1"][()]
        a[3] = np.nan
        f["layers/conv2d_1/vars/1"][...] = a
    bad = _rewrite(path, tmp_path / "nan.keras", nan)
    with pytest.raises(cnnc.CnncError, match=r"conv_2.bias \(Keras layer 'conv2d_1' \(Conv2D\)\) holds NaN"):
        cnnc.compile(ROOT / "examples" / "lenet.cnn").load_keras(bad)


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_bytes(b"not a zip"), "not a .keras file"),
    (lambda p: zipfile.ZipFile(p, "w").writestr("model.weights.h5", b""), "holds config.json, this one does not"),
    (lambda p: zipfile.ZipFile(p, "w").writestr("config.json", b"{nope"), "config.json is not valid JSON"),
], ids=["not_zip", "no_config", "bad_json"])
def test_unreadable_files_are_clear_errors(tmp_path, make, message):
    p = tmp_path / "m.keras"
    make(p)
    with pytest.raises(cnnc.CnncError, match=message):
        cnnc.compile(ROOT / "examples" / "lenet.cnn").load_keras(p)
    with pytest.raises(cnnc.CnncError, match="no such file"):
        cnnc.compile(ROOT / "examples" / "lenet.cnn").load_keras(tmp_path / "missing.keras")


def test_loading_needs_no_keras(lenet_file, monkeypatch):
    import sys

    _, path = lenet_file
    monkeypatch.setitem(sys.modules, "keras", None)   # any `import keras` now fails
    model = cnnc.compile(ROOT / "examples" / "lenet.cnn")
    model.load_keras(path)


def test_a_dense_on_an_image_is_a_1x1_conv(tmp_path):
    """Keras's Dense applied to an image acts on each pixel (ConvNeXt's pointwise layers): it
    loads into a `conv N 1x1`, its kernel (in, out) read as (1, 1, in, out); on a 1x1 image
    too. A conv that is not 1x1 has no such counterpart."""
    from numeric import another, assert_close

    inp = keras.Input((6, 6, 3))
    x = layers.Conv2D(4, 3, name="c")(inp)
    x = layers.Dense(5, activation="relu", name="per_pixel")(x)
    x = layers.Dense(3, name="last_pixel")(layers.Conv2D(4, 4, name="c2")(x))   # on a 1x1 image
    km = randomize(keras.Model(inp, layers.Dense(2, name="top")(layers.Flatten()(x))))
    path = save(km, tmp_path / "pointwise.keras")
    model = cnnc.compile(cnnc.parse("input 6x6x3; conv 4 3; conv 5 1x1 relu; conv 4 4; conv 3 1x1; flatten; dense 2"))
    model.load_keras(path)
    np.testing.assert_array_equal(model.params["conv_2.kernel"][0, 0], km.get_layer("per_pixel").kernel.numpy())
    assert model.params["conv_4.kernel"].shape == (1, 1, 4, 3)
    x = images((6, 6, 3), 3)
    assert_close(model(x), keras_out(km, x), other=keras_out(km, another(x)), rtol=1e-5, atol=1e-6)
    wrong = cnnc.compile(cnnc.parse("input 6x6x3; conv 4 3; conv 5 3x3 padding=same relu; conv 4 4; conv 3 1x1; "
                                    "flatten; dense 2"))
    with pytest.raises(cnnc.CnncError, match=r"conv_2 \(conv 5 3x3 padding=same relu\) has no counterpart: the "
                                             r"Keras model has 'per_pixel' \(Dense\)"):
        wrong.load_keras(path)


def test_a_residual_written_with_plus_loads(tmp_path):
    """`inputs + layer(x)` in a functional model (ConvNeXt's blocks) is an operation node of
    two tensors, not an Add layer: it is the residual's join, and what follows it compares."""
    from numeric import another, assert_close

    inp = keras.Input((6, 6, 4))
    x = inp + layers.Conv2D(4, 3, padding="same", name="c")(inp)
    x = layers.Activation("relu", name="after")(x)
    km = randomize(keras.Model(inp, layers.Dense(3, name="top")(layers.GlobalAveragePooling2D()(x))))
    model = cnnc.compile(cnnc.parse("input 6x6x4; residual { conv 4 3 padding=same }; relu; globalpool; dense 3"))
    model.load_keras(save(km, tmp_path / "plus.keras"))
    x = images((6, 6, 4), 3)
    assert_close(model(x), keras_out(km, x), other=keras_out(km, another(x)), rtol=1e-5, atol=1e-6)
    wrong = cnnc.compile(cnnc.parse("input 6x6x4; residual { conv 4 3 padding=same }; sigmoid; globalpool; dense 3"))
    with pytest.raises(cnnc.CnncError, match="relu"):
        wrong.load_keras(tmp_path / "plus.keras")


def test_bfloat16_weights_load_exactly(tmp_path):
    km = keras.Sequential([keras.Input((4,)), layers.Dense(3, dtype="bfloat16", name="d")])
    model = cnnc.compile(cnnc.parse("input 1x1x4; flatten; dense 3"))
    model.load_keras(save(km, tmp_path / "bf16.keras"))
    kernel = keras.ops.convert_to_numpy(keras.ops.cast(km.layers[0].kernel, "float32"))
    from numeric import assert_equal

    assert_equal(model.params["dense_1.kernel"], kernel, other=cnnc.compile(model.network).params["dense_1.kernel"])


def test_an_integer_array_is_refused_before_any_is_read(lenet_file, tmp_path):
    _, path = lenet_file

    def ints(f):
        a = f["layers/dense_1/vars/1"][()]
        del f["layers/dense_1/vars/1"]
        f["layers/dense_1/vars"].create_dataset("1", data=a.astype(np.int32))
    bad = _rewrite(path, tmp_path / "ints.keras", ints)
    with pytest.raises(cnnc.CnncError, match=r"dense_2.bias \(Keras layer 'dense_1' \(Dense\)\) is stored as int32"):
        cnnc.compile(ROOT / "examples" / "lenet.cnn").load_keras(bad)


@keras.saving.register_keras_serializable(package="cnnc_tests")
class _Wrapped(layers.Layer):
    """A custom layer whose weights live in a sub-layer (its own `vars` are empty)."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.inner = layers.Dense(18)

    def build(self, shape):
        self.inner.build(shape)

    def call(self, x):
        return self.inner(x)


def test_a_layer_with_weights_in_sub_layers_is_not_taken_for_weightless(tmp_path):
    inp = keras.Input((3, 3, 2))
    km = keras.Model(inp, layers.Dense(2, name="fc")(_Wrapped(name="wrapped")(layers.Flatten()(inp))))
    model = cnnc.compile(cnnc.parse("input 3x3x2; flatten; dense 2"))
    with pytest.raises(cnnc.CnncError, match=r"the program starts at its input where the Keras model still has "
                                             r"'wrapped' \(_Wrapped\)"):
        model.load_keras(save(km, tmp_path / "wrapped.keras"))


# --- the third edition's joins by name: Add of three, Multiply by a gate and of two images --------

JOINS_CNN = """input 8x8x3
a: conv 4 3 padding=same
b: conv 4 1 from=input relu
c: conv 4 1 from=input
s: add a b c
globalpool
d: dense 4 sigmoid
m: multiply s d
n: multiply m a
concat n b
"""


def test_named_joins_read_keras_add_multiply_and_concatenate(tmp_path):
    inp = keras.Input((8, 8, 3))
    a = layers.Conv2D(4, 3, padding="same")(inp)
    b = layers.Conv2D(4, 1, activation="relu")(inp)
    c = layers.Conv2D(4, 1)(inp)
    s = layers.Add()([a, b, c])
    d = layers.Dense(4, activation="sigmoid")(layers.GlobalAveragePooling2D()(s))
    m = layers.Multiply()([s, layers.Reshape((1, 1, 4))(d)])
    n = layers.Multiply()([m, a])
    km = randomize(keras.Model(inp, layers.Concatenate()([n, b])), seed=5)
    model = cnnc.compile(cnnc.parse(JOINS_CNN))
    model.load_keras(save(km, tmp_path / "joins.keras"))
    x = images((8, 8, 3), 3)
    want = keras_out(km, x)
    np.testing.assert_allclose(model(x), want, rtol=1e-4, atol=1e-5)
    # another input moves Keras's output by far more than the tolerance: the comparison can fail
    assert np.abs(keras_out(km, x[::-1] * 1.5) - want).max() >= 100 * (1e-5 + 1e-4 * np.abs(want).max())
