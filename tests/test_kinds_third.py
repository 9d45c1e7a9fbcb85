"""The third edition's kinds -- layernorm, layerscale, normalize, crop, and leaky_relu / elu with
their parameter as statements alone -- against Keras 3 (keras 3.15, torch backend) as the oracle:
on the numpy backend and on Triton's interpreter under two tile configs, with the weights read
from a `.keras` file by load_keras; and through to_torch, ONNX (onnxruntime) and load_torch.

Every numeric comparison also shows that it can fail: Keras's output for another input differs
from the one compared by at least 100 times the tolerance.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import cnnc

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")
pytest.importorskip("h5py")
layers = keras.layers
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

RTOL, ATOL = 1e-4, 1e-5


def close(got, want, what=""):
    np.testing.assert_allclose(np.asarray(got, np.float64), np.asarray(want, np.float64), rtol=RTOL, atol=ATOL,
                               err_msg=what)


def can_fail(want, other):
    """The comparison of `want` within RTOL/ATOL could fail: `other` (the same model on another
    input) differs from it by at least 100x the tolerance somewhere."""
    tol = ATOL + RTOL * np.abs(want)
    assert np.max(np.abs(np.asarray(other, np.float64) - want) / tol) >= 100


def keras_out(km, x):
    with torch.no_grad():
        return keras.ops.convert_to_numpy(km(x, training=False))


def images(shape, n=2, seed=1):
    return np.random.default_rng(seed).standard_normal((n, *shape)).astype(np.float32)


def unlike_images(shape, n=2, seed=1):
    """Images of other statistics (twice the spread, the mean moved by one): the program's layer
    norms and normalizations take out much of what two draws of one noise differ by."""
    return 2 * images(shape, n, seed) + 1


def _layer_scale():
    from keras.src.applications.convnext import LayerScale

    return LayerScale


# One program with every new kind, in the places where each lowers differently: a normalize
# with weights at the input (a group of its own), a layerscale and an adapted normalize after a
# linear conv (folded into its weights), a layernorm after a conv (a whole-row epilogue), a
# layerscale after it (not folded), crop before a conv (folded into its gather) and at the end
# of a branch, the activations with their own parameter, normalize with constants, layernorm on
# a vector.
PROGRAM = """\
input 7x8x4
normalize
conv 8 3x3 padding=same
layernorm
layerscale 0.5
crop top=1 left=2 right=1
conv 6 1x1
layerscale
conv 6 3x3 padding=same
normalize
leaky_relu slope=0.05
crop 1x0
elu alpha=0.7
normalize mean=0.25 var=2.0
globalpool
dense 5
layernorm eps=1e-05
"""


def program_keras():
    LayerScale = _layer_scale()
    inp = keras.Input((7, 8, 4))
    x = layers.Normalization(axis=-1, name="n_in")(inp)
    x = layers.Conv2D(8, 3, padding="same", name="c1")(x)
    x = layers.LayerNormalization(epsilon=1e-3, name="ln1")(x)
    x = LayerScale(0.5, 8, name="ls1")(x)
    x = layers.Cropping2D(((1, 0), (2, 1)))(x)
    x = layers.Conv2D(6, 1, name="c2")(x)
    x = LayerScale(1e-6, 6, name="ls2")(x)
    x = layers.Conv2D(6, 3, padding="same", name="c3")(x)
    x = layers.Normalization(axis=-1, name="n_mid")(x)
    x = layers.LeakyReLU(negative_slope=0.05)(x)
    x = layers.Cropping2D(((1, 1), (0, 0)))(x)
    x = layers.ELU(alpha=0.7)(x)
    x = layers.Normalization(mean=0.25, variance=2.0, name="n_const")(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(5, name="d")(x)
    return keras.Model(inp, layers.LayerNormalization(epsilon=1e-5, name="ln2")(x))


def randomize(km, seed=0):
    """Every weight non-trivial: gammas of both signs, betas, means, positive variances."""
    rng = np.random.default_rng(seed)
    for v in km.weights:
        kind = v.path.rsplit("/", 1)[-1]
        if kind == "variance":
            v.assign(rng.uniform(0.3, 3.0, v.shape).astype(np.float32))
        elif kind == "count":
            v.assign(np.array(17, dtype=v.dtype))
        elif kind in ("gamma", "mean", "beta", "bias") or len(v.shape) == 1:   # LayerScale's is unnamed
            v.assign(rng.uniform(-1.5, 1.5, v.shape).astype(np.float32))
    return km


@pytest.fixture(scope="module")
def keras_file(tmp_path_factory):
    km = randomize(program_keras())
    path = tmp_path_factory.mktemp("third") / "third.keras"
    km.save(path)
    return km, path


@pytest.fixture(scope="module")
def loaded(keras_file):
    km, path = keras_file
    model = cnnc.compile(cnnc.parse(PROGRAM), backend="numpy", seed=3)
    model.load_keras(path)
    return km, model


def test_the_program_counts_keras_parameters(keras_file):
    km, _ = keras_file
    net = cnnc.parse(PROGRAM)
    assert net.total_params == km.count_params()
    trainable = sum(int(np.prod(v.shape)) for v in km.trainable_weights)
    assert net.trainable_params == trainable
    assert net.output_shape == tuple(km.output.shape[1:])


def test_numpy_matches_keras(loaded):
    km, model = loaded
    x, other = images((7, 8, 4), 3), unlike_images((7, 8, 4), 3, seed=9)
    want = keras_out(km, x)
    close(model(x), want, "numpy backend")
    can_fail(want, keras_out(km, other))


def test_every_layer_matches_keras_on_the_way(loaded):
    # the layers Keras names map to cnnc's; each output compared, not only the last one
    km, model = loaded
    x = images((7, 8, 4), 2, seed=4)
    pairs = {"normalize_1": "n_in", "layernorm_1": "ln1", "layerscale_1": "ls1", "layerscale_2": "ls2",
             "normalize_2": "n_mid", "layernorm_2": "ln2"}
    trace = model.trace(x)   # a fused group's output is traced under its last layer's name
    compared = [m for m in pairs if m in trace]
    assert len(compared) >= 4, compared
    for mine in compared:
        want = keras_out(keras.Model(km.input, km.get_layer(pairs[mine]).output), x)
        close(trace[mine], want, mine)
        can_fail(want, keras_out(keras.Model(km.input, km.get_layer(pairs[mine]).output), x[::-1]))


def test_triton_matches_keras_under_two_configs(loaded):
    pytest.importorskip("triton")
    from cnnc.backends.triton.carried import triton_tiles as T

    km, model = loaded
    tri = cnnc.compile(cnnc.parse(PROGRAM), backend="triton", weights=model.params, precision="ieee")
    x = images((7, 8, 4), 2, seed=5)
    want = keras_out(km, x)
    can_fail(want, keras_out(km, unlike_images((7, 8, 4), 2, seed=6)))
    mod = tri.module
    for pick in (0, -1):
        chosen = {name: T.candidates(g)[pick] for name, g in mod.KERNELS.items()}
        mod.use_tiles(tri._state, chosen)
        close(tri(x), want, f"triton under {chosen}")


def test_the_triton_plan_fuses_the_new_kinds():
    from cnnc.backends.triton import plan_kernels

    _, kernels, folded = plan_kernels(cnnc.parse(PROGRAM), "ieee")
    groups = [k.g.describe() for k in kernels]
    # the layerscale and the adapted normalize after linear convs fold into their weights
    assert {"layerscale_2", "normalize_2"} <= folded
    # layernorm is an epilogue of the conv before it; crop is done by the gather of the conv after it
    assert "conv_1 > layernorm_1 > layerscale_1" in groups
    assert any(g.startswith("crop_1 > conv_2") for g in groups)
    assert any(g.startswith("crop_2 > elu_1") or g.startswith("crop_2") for g in groups)


def test_to_torch_and_onnx_match_numpy(loaded, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    _, model = loaded
    x, other = images((7, 8, 4), 2, seed=7), unlike_images((7, 8, 4), 2, seed=8)
    want = model(x)
    can_fail(want, model(other))
    module = model.to_torch()
    text = str(module)
    assert "LayerNorm((8,)" in text and "LeakyReLU(negative_slope=0.05)" in text and "ELU(alpha=0.7)" in text
    with torch.no_grad():
        close(module(torch.from_numpy(x)).numpy(), want, "to_torch")
    path = model.to_onnx(tmp_path / "third.onnx")
    sess = ort.InferenceSession(str(path))
    close(sess.run(None, {sess.get_inputs()[0].name: x})[0], want, "onnx")


def test_load_torch_reads_back_the_to_torch_module_and_its_state_dict(loaded):
    _, model = loaded
    module = model.to_torch()
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.5)
    fresh = cnnc.compile(cnnc.parse(PROGRAM), backend="numpy", seed=11)
    fresh.load_torch(module)
    x = images((7, 8, 4), 2)
    with torch.no_grad():
        want = module(torch.from_numpy(x)).numpy()
    close(fresh(x), want, "load_torch(module)")
    can_fail(want, model(x))
    again = cnnc.compile(cnnc.parse(PROGRAM), backend="numpy", seed=12)
    again.load_torch(module.state_dict())
    close(again(x), want, "load_torch(state_dict)")
    # the adapted normalize's state travels in the state_dict (count included), constants do not
    keys = set(module.state_dict())
    assert "layers.normalize_1.count" in keys and not any(k.startswith("layers.normalize_3.") for k in keys)


def test_load_torch_reads_a_plain_torch_network_with_layernorm():
    nn = torch.nn
    plain = nn.Sequential(nn.Flatten(), nn.Linear(12, 6), nn.LayerNorm(6, eps=1e-3), nn.ReLU(), nn.Linear(6, 3))
    with torch.no_grad():
        plain[2].weight.uniform_(-2, 2)
        plain[2].bias.uniform_(-1, 1)
    model = cnnc.compile(cnnc.parse("input 1x1x12; flatten; dense 6; layernorm; relu; dense 3"), backend="numpy")
    model.load_torch(plain)
    x, other = images((1, 1, 12), 3), images((1, 1, 12), 3, seed=2)
    with torch.no_grad():
        want = plain(torch.from_numpy(x)).numpy()
        far = plain(torch.from_numpy(other)).numpy()
    close(model(x), want, "plain torch")
    can_fail(want, far)


# --- shapes, parameters, MACs and the summary --------------------------------------------

@pytest.mark.parametrize("text, out, params, trainable", [
    ("input 6x6x5; layernorm", (6, 6, 5), 10, 10),
    ("input 6x6x5; flatten; layernorm eps=1e-6", (180,), 360, 360),
    ("input 6x6x5; layerscale", (6, 6, 5), 5, 5),
    ("input 6x6x5; layerscale 0.1", (6, 6, 5), 5, 5),
    ("input 6x6x5; normalize", (6, 6, 5), 11, 0),
    ("input 6x6x5; normalize mean=0.5 var=4", (6, 6, 5), 0, 0),
    ("input 6x6x5; crop 1", (4, 4, 5), 0, 0),
    ("input 6x6x5; crop 2x1", (2, 4, 5), 0, 0),
    ("input 6x6x5; crop top=1 right=2", (5, 4, 5), 0, 0),
    ("input 6x6x5; crop bottom=5", (1, 6, 5), 0, 0),
    ("input 6x6x5; leaky_relu slope=0.01; elu alpha=2", (6, 6, 5), 0, 0),
])
def test_shapes_and_parameters(text, out, params, trainable):
    net = cnnc.parse(text)
    assert net.output_shape == out
    assert net.total_params == params and net.trainable_params == trainable
    assert net.total_macs == 0


def test_parameter_names_shapes_and_initial_values():
    net = cnnc.parse("input 4x4x3; layernorm; layerscale 0.25; normalize; layerscale")
    assert net.param_shapes() == {
        "layernorm_1.gamma": (3,), "layernorm_1.beta": (3,), "layerscale_1.gamma": (3,),
        "normalize_1.mean": (3,), "normalize_1.var": (3,), "normalize_1.count": (), "layerscale_2.gamma": (3,)}
    p = cnnc.compile(net, backend="numpy", seed=0).params
    assert (p["layernorm_1.gamma"] == 1).all() and (p["layernorm_1.beta"] == 0).all()
    assert (p["layerscale_1.gamma"] == np.float32(0.25)).all() and (p["layerscale_2.gamma"] == np.float32(1e-6)).all()
    assert (p["normalize_1.mean"] == 0).all() and (p["normalize_1.var"] == 1).all() and p["normalize_1.count"] == 0


def test_smallest_input_counts_the_crop():
    assert cnnc.parse("input 10x10x1; crop top=2 bottom=1 left=3; conv 1 3x3").min_input() == (6, 6)


def test_statements_read_back():
    from cnnc.layers import statement

    text = ("input 6x6x3; layernorm eps=1e-05; layerscale 0.5; normalize mean=0.5 var=2.0; crop 1x2; "
            "crop top=1; leaky_relu slope=0.01; elu alpha=0.5; leaky_relu; elu")
    net = cnnc.parse(text)
    written = [statement(n) for n in net.layers]
    assert written == ["layernorm eps=1e-05", "layerscale 0.5", "normalize mean=0.5 var=2.0", "crop 1x2",
                       "crop top=1", "leaky_relu slope=0.01", "elu alpha=0.5", "leaky_relu", "elu"]
    again = cnnc.parse("input 6x6x3; " + "; ".join(written))
    assert [(n.kind, n.attrs) for n in again.layers] == [(n.kind, n.attrs) for n in net.layers]


def test_normalize_reads_a_list_of_values():
    # the comma list a program writes (`mean=0.485,0.456,0.406`): one value per channel
    from cnnc.layers import KINDS
    from cnnc.syntax import Value

    parse = KINDS["normalize"].options["mean"].parse
    assert parse(Value("0.485,0.456,0.406", "list", 1, 1)) == (0.485, 0.456, 0.406)
    assert parse(Value("0.5", "number", 1, 1)) == (0.5,)
    assert KINDS["normalize"].constants({"mean": (1.0, 2.0), "var": (4.0,)}, 2) == ((1.0, 2.0), (4.0, 4.0))


# --- diagnostics ------------------------------------------------------------------------

@pytest.mark.parametrize("text, message", [
    ("input 6x6x3\ncrop 3", r"2:1: error: crop_1: the image collapses: crop removes 6 rows and 6 columns "
                            r"from 6x6x3, which leaves 0x0x3"),
    ("input 6x6x3\ncrop 1 top=2", r"2:8: error: crop_1: give the cropping once"),
    ("input 6x6x3\ncrop", r"crop needs its cropping \(usage: crop P"),
    ("input 6x6x3\nnormalize mean=1", r"2:11: error: normalize_1: give both mean= and var=.*var= is missing"),
    ("input 6x6x3\nnormalize mean=0 var=-1", r"the variance must be in \[0, inf\), got -1"),
    ("input 6x6x3\nleaky_relu slope=-0.1", r"leaky_relu_1: slope must be in \[0, inf\), got -0.1"),
    ("input 6x6x3\nconv 4 3 leaky_relu slope=0.1",
     r"unknown option 'slope' for conv; leaky_relu's slope is set by a statement of its own "
     r"\(`leaky_relu slope=0.1` after conv\); as the activation of conv it is 0.2"),
    ("input 6x6x3\nrelu alpha=1", r"unknown option 'alpha' for relu"),
    ("input 6x6x3\nLayerNormalization", r"unknown statement 'LayerNormalization'; did you mean 'layernorm'\?"),
    ("input 6x6x3\nCropping2D 1", r"did you mean 'crop'\?"),
    ("input 6x6x3\nNormalization", r"did you mean 'normalize'\?"),
    ("input 6x6x3\nLeakyReLU", r"the activations are .*leaky_relu"),
    ("input 6x6x3\nlayerscale x", r"the initial scale must be a decimal number, got 'x'"),
    ("input 6x6x3\nlayernorm eps=0", r"eps must be in \(0, inf\), got 0"),
])
def test_diagnostics(text, message):
    import re

    with pytest.raises(cnnc.CnncError) as e:
        cnnc.parse(text)
    assert re.search(message, str(e.value)), str(e.value)


def test_a_normalize_list_of_the_wrong_length_names_both_counts():
    from cnnc.layers import KINDS, ShapeError
    from cnnc.layers.types import Image

    with pytest.raises(ShapeError, match=r"mean= has 2 values, but an image 4x4x3 has 3 channels"):
        KINDS["normalize"].infer(Image(4, 4, 3), {"mean": (1.0, 2.0), "var": (1.0,)})


# --- rows wider than a tile: a row kernel of their own -----------------------------------

WIDE = [
    "input 1x1x3; flatten; dense 1025 softmax",            # an anchor's own softmax, wider than a tile
    "input 2x3x4; conv 1100 1 softmax",
    "input 2x2x8; conv 2048 1; layernorm; relu; layerscale 0.5",  # ConvNeXtXLarge's widest layernorm
    "input 2x2x8; conv 1500 1 relu; softmax",
    "input 2x2x1100; a: relu; b: layernorm; add a b",   # a row kernel that adds another buffer
]


@pytest.mark.parametrize("text", WIDE)
def test_wide_rows_run_in_a_row_kernel_and_match_numpy(text):
    pytest.importorskip("triton")
    from cnnc.backends.triton.carried import triton_tiles as T
    from cnnc.runtime.weights import random_params

    net = cnnc.parse(text)
    params = random_params(net, 0)
    ref = cnnc.compile(net, backend="numpy", weights=params)
    tri = cnnc.compile(net, backend="triton", weights=params, precision="ieee")
    assert any(name.endswith("_row") or "row" == g["gather"] for name, g in tri.module.KERNELS.items())
    x, other = images(net.input_shape, 2, seed=3), unlike_images(net.input_shape, 2, seed=4)
    want = ref(x)
    can_fail(want, ref(other))
    for pick in (0, -1):
        chosen = {name: T.candidates(g)[pick] for name, g in tri.module.KERNELS.items()}
        tri.module.use_tiles(tri._state, chosen)
        close(tri(x), want, f"{text} under {chosen}")


def test_wide_rows_list_their_tiles(tmp_path):
    # issue 15: these compiled, then raised `no legal tile` on the first call; `cnnc tune --list` exited 3
    from conftest import run_cnnc

    path = tmp_path / "wide.cnn"
    path.write_text(WIDE[0].replace("; ", "\n") + "\n")
    code, out, err = run_cnnc("tune", str(path), "--list", timeout=120)
    assert code == 0, err
    assert "k1_dense_1_row: default" in out and "legal candidates" in out


def test_a_kernel_no_tile_can_run_is_a_compile_error(monkeypatch):
    pytest.importorskip("triton")
    from cnnc.backends.triton.carried import triton_tiles as T

    def none(geom, batch=None):
        raise ValueError("no legal tile")
    monkeypatch.setattr(T, "default_config", none)
    with pytest.raises(cnnc.CnncError, match=r"2:1: error: conv_1: the triton backend has no legal tile for "
                                             r"this layer's kernel \(conv_1 > layernorm_1, 16 channels\)"):
        cnnc.compile(cnnc.parse("input 2x2x8\nconv 16 1\nlayernorm\n"), backend="triton")
