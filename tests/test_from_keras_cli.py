"""cnnc from-keras as a command: where it writes, what it refuses (exit 1: the language cannot
say it, every such layer named, nothing written; exit 2: bad usage, unreadable or hostile
files, nothing written), and the Keras configurations it must read right (operation nodes,
pooled 1x1 images before a conv, LeakyReLU's defaults, free input sizes)."""

from __future__ import annotations

import io
import os
import zipfile

import numpy as np
import pytest

import cnnc
from cnnc.cli import main

os.environ["KERAS_BACKEND"] = "torch"
h5py = pytest.importorskip("h5py")
keras = pytest.importorskip("keras")
from keras_models import images, keras_out, randomize  # noqa: E402

layers = keras.layers
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def save(km, path):
    km.save(path)
    return path


def small(shape=(8, 8, 3)):
    inp = keras.Input(shape)
    x = layers.Conv2D(4, 3, padding="same", activation="relu")(inp)
    return randomize(keras.Model(inp, layers.Dense(3)(layers.GlobalAveragePooling2D()(x))), shape)


def cli(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_default_output_beside_the_model_and_compile_reads_its_weights(tmp_path, capsys, monkeypatch):
    km = small()
    model = save(km, tmp_path / "net.keras")
    monkeypatch.chdir(tmp_path.parent)   # the outputs go beside the model, not here
    code, out, err = cli(capsys, "from-keras", str(model))
    assert code == 0, err
    assert (tmp_path / "net.cnn").exists() and (tmp_path / "net.npz").exists()
    compiled = cnnc.compile(str(tmp_path / "net.cnn"))   # the program's own weights, beside it
    x = images((8, 8, 3))
    want = keras_out(km, x)
    np.testing.assert_allclose(compiled(x), want, rtol=1e-4, atol=1e-5)
    assert np.abs(keras_out(km, images((8, 8, 3), seed=5)) - want).max() > 100 * (1e-5 + 1e-4 * np.abs(want).max())


def test_never_overwrites_without_force_and_never_the_model(tmp_path, capsys):
    model = save(small(), tmp_path / "net.keras")
    (tmp_path / "net.cnn").write_text("# mine\n")
    code, _, err = cli(capsys, "from-keras", str(model))
    assert code == 2 and "--force" in err and (tmp_path / "net.cnn").read_text() == "# mine\n"
    assert not (tmp_path / "net.npz").exists()
    assert cli(capsys, "from-keras", str(model), "--force")[0] == 0
    assert (tmp_path / "net.cnn").read_text().startswith("# ")
    before = model.read_bytes()
    code, _, err = cli(capsys, "from-keras", str(model), "-o", str(tmp_path / "x.cnn"), "--force")
    assert code == 0
    code, _, err = cli(capsys, "from-keras", str(model), "-o", str(model), "--force")
    assert code == 2 and model.read_bytes() == before


def test_every_unsayable_layer_is_named_and_nothing_written(tmp_path, capsys):
    inp = keras.Input((8, 8, 3))
    x = layers.Conv2D(4, 3, padding="same")(inp)
    x = layers.Lambda(lambda t: t * 2.0, name="doubler")(x)
    x = layers.Conv2D(4, 3, padding="causal" if False else "same", name="ok")(x)
    x = layers.ReLU(max_value=4.0, name="capped")(x)
    x = layers.Activation("selu", name="selu_act")(x)
    model = save(keras.Model(inp, x), tmp_path / "odd.keras")
    code, out, err = cli(capsys, "from-keras", str(model))
    assert code == 1
    for name, cls in (("doubler", "Lambda"), ("capped", "ReLU"), ("selu_act", "Activation")):
        assert f"'{name}' ({cls})" in err, err
    assert "3 Keras layer(s)" in err
    assert not list(tmp_path.glob("odd.cnn")) and not list(tmp_path.glob("odd.npz"))


def test_several_inputs_or_outputs_exit_1(tmp_path, capsys):
    a, b = keras.Input((8, 8, 3)), keras.Input((8, 8, 3))
    two_in = save(keras.Model([a, b], layers.Add()([a, b])), tmp_path / "two_in.keras")
    assert cli(capsys, "from-keras", str(two_in))[0] == 1
    x = layers.Conv2D(2, 1)(a)
    two_out = save(keras.Model(a, [x, layers.ReLU()(x)]), tmp_path / "two_out.keras")
    code, _, err = cli(capsys, "from-keras", str(two_out))
    assert code == 1 and "2 outputs" in err


def _convert_and_agree(km, tmp_path, shape, expect=()):
    from cnnc.bridges.importers.keras.model import convert

    text, params = convert(save(km, tmp_path / "m.keras"))
    for line in expect:
        assert line in text, text
    model = cnnc.compile(cnnc.parse(text, input=shape), weights=params)
    x = images(shape)
    want = keras_out(km, x)
    np.testing.assert_allclose(model(x), want, rtol=2e-4, atol=1e-5)
    assert np.abs(keras_out(km, images(shape, seed=9)) - want).max() > 100 * (1e-5 + 2e-4 * np.abs(want).max())
    return text


def test_operation_nodes_and_a_squeeze_excitation_of_a_pooled_image(tmp_path):
    inp = keras.Input((8, 8, 4))
    x = layers.Conv2D(8, 3, padding="same")(inp)
    x = x * layers.ReLU(6.0)(x + 3.0) * (1.0 / 6.0)                      # MobileNetV3's hard swish
    g = layers.GlobalAveragePooling2D(keepdims=True)(x)                  # a 1x1 image before a conv
    g = layers.Conv2D(2, 1, activation="relu")(g)
    g = layers.Conv2D(8, 1)(g)
    g = layers.ReLU(6.0)(g + 3.0) * (1.0 / 6.0)                          # the hard sigmoid, spelt out
    x = layers.Multiply()([x, g])
    y = layers.Reshape((1, 1, 8))(layers.GlobalAveragePooling2D()(x))   # a Reshape to 1x1 before a conv
    y = layers.Conv2D(8, 1, activation="sigmoid")(y)
    x = x * y
    x = inp + layers.Conv2D(4, 1)(x)                                     # ConvNeXt's inputs + layer(x)
    km = randomize(keras.Model(inp, layers.Flatten()(x)), (8, 8, 4))
    text = _convert_and_agree(km, tmp_path, (8, 8, 4), ["hard_swish", "scale {", "hard_sigmoid", "residual {"])
    assert "rescale" not in text


def test_leaky_relu_defaults(tmp_path):
    """Keras's LeakyReLU layer slopes 0.3 by default, its "leaky_relu" activation 0.2."""
    if "slope" not in cnnc.layers.KINDS["leaky_relu"].options:
        pytest.skip("needs leaky_relu slope= (the third edition's kinds)")
    inp = keras.Input((6, 6, 3))
    x = layers.Conv2D(4, 3, activation="leaky_relu")(inp)
    x = layers.LeakyReLU()(layers.Conv2D(4, 3)(x))
    km = randomize(keras.Model(inp, x), (6, 6, 3))
    _convert_and_agree(km, tmp_path, (6, 6, 3), ["leaky_relu slope=0.3"])


def test_free_input_dimensions_give_no_input_line(tmp_path):
    inp = keras.Input((None, None, 3))
    x = layers.Conv2D(4, 3, padding="same", activation="relu")(inp)
    km = randomize(keras.Model(inp, layers.GlobalMaxPooling2D()(x)), (10, 10, 3))
    text = _convert_and_agree(km, tmp_path, (10, 10, 3))
    assert "\ninput " not in text


def test_per_channel_rescaling_after_normalization_folds(tmp_path):
    if "normalize" not in cnnc.layers.KINDS:
        pytest.skip("needs normalize (the third edition's kinds)")
    inp = keras.Input((6, 6, 3))
    x = layers.Normalization(mean=[0.4, 0.5, 0.6], variance=[0.04, 0.09, 0.16])(inp)
    x = layers.Rescaling([2.0, 0.5, 1.5])(x)                                 # pretrained EfficientNet's
    km = randomize(keras.Model(inp, layers.Conv2D(4, 3)(x)), (6, 6, 3))
    text = _convert_and_agree(km, tmp_path, (6, 6, 3))
    assert text.count("normalize") == 1 and "rescale" not in text


# --- hostile and unreadable files: exit 2, nothing written, before any array is read --------------

def _rezip(src, dst, extra=(), compress=zipfile.ZIP_STORED, replace=None):
    with zipfile.ZipFile(src) as z:
        members = {n: z.read(n) for n in z.namelist()}
    members.update(replace or {})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compress) as z:
        for name, data in list(members.items()) + list(extra):
            z.writestr(name, data)
    dst.write_bytes(buf.getvalue())
    return dst


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    return save(small(), tmp_path_factory.mktemp("good") / "good.keras")


def _refused(capsys, path, words):
    code, _, err = cli(capsys, "from-keras", str(path))
    assert code == 2, err
    assert words in err, err
    assert not list(path.parent.glob(path.stem + ".cnn")) and not list(path.parent.glob(path.stem + ".npz"))


def test_path_traversal_in_the_zip(model_file, tmp_path, capsys):
    bad = _rezip(model_file, tmp_path / "trav.keras", extra=[("../../evil.txt", b"x")])
    _refused(capsys, bad, "outside the archive")


def test_a_compressed_bomb(model_file, tmp_path, capsys):
    bomb = tmp_path / "bomb.keras"
    with zipfile.ZipFile(model_file) as z:
        config = z.read("config.json")
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("config.json", config)
        z.writestr("model.weights.h5", b"\0" * (64 << 20))   # 64 MB of zeros pack to about 64 KB
    _refused(capsys, bomb, "unpacks to")


def test_external_storage_in_the_hdf5(model_file, tmp_path, capsys):
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.arange(4 * 3 * 3 * 3, dtype=np.float32).tobytes() * 2)
    h5 = tmp_path / "w.h5"
    with zipfile.ZipFile(model_file) as z:
        h5.write_bytes(z.read("model.weights.h5"))
    with h5py.File(h5, "r+") as f:
        name = next(n for n in ("layers/conv2d/vars/0",) if n in f) if "layers/conv2d/vars/0" in f else None
        if name is None:
            name = [k for k in _datasets(f) if f[k].ndim == 4][0]
        shape = f[name].shape
        del f[name]
        f.create_dataset(name, shape=shape, dtype="f4", external=[(str(secret), 0, int(np.prod(shape)) * 4)])
    bad = _rezip(model_file, tmp_path / "ext.keras", replace={"model.weights.h5": h5.read_bytes()})
    _refused(capsys, bad, "self-contained")


def _datasets(f):
    out = []
    f.visititems(lambda n, o: out.append(n) if isinstance(o, h5py.Dataset) else None)
    return out


def test_a_lying_array_header(model_file, tmp_path, capsys):
    h5 = tmp_path / "w.h5"
    with zipfile.ZipFile(model_file) as z:
        h5.write_bytes(z.read("model.weights.h5"))
    with h5py.File(h5, "r+") as f:
        name = [k for k in _datasets(f) if f[k].ndim == 4][0]
        del f[name]
        f.create_dataset(name, shape=(3, 3, 3, 1 << 20), dtype="f4", chunks=(3, 3, 3, 64))   # claims 108 MB
    bad = _rezip(model_file, tmp_path / "lie.keras", replace={"model.weights.h5": h5.read_bytes()})
    code, _, err = cli(capsys, "from-keras", str(bad))
    assert code == 2, err
    assert not (tmp_path / "lie.cnn").exists()


def test_not_a_keras_file(tmp_path, capsys):
    p = tmp_path / "x.keras"
    p.write_text("hello")
    _refused(capsys, p, "not a .keras file")
    assert cli(capsys, "from-keras", str(tmp_path / "missing.keras"))[0] == 2
