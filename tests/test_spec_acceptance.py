"""Black-box acceptance tests of cnnc against /work/shared/SPEC.md (sections 1, 3 and 4).

Written from SPEC.md alone (docs/ only where SPEC is silent). Every expected value comes from
an oracle built here: the SPEC's shape formulas, hand-counted names, and a PyTorch float64
reference built from the Keras-layout parameters (TF `same` via explicit F.pad, max pooling
padded with -inf, `same` avgpool divided by the count of real pixels).
"""

from __future__ import annotations

import math
import pathlib
import pickle
import re

import numpy as np
import pytest

import cnnc
from numeric import another, assert_close, assert_equal, assert_sensitive, he_normal, unlike

torch = pytest.importorskip("torch")
F = torch.nn.functional

LENET = """# LeNet for MNIST: the Keras model from the course notes
input 28x28x1
conv 32 3x3 relu
pool 2
conv 64 3x3 relu
pool 2
flatten
dense 64 relu
dense 10 softmax
"""


# ----------------------------------------------------------------------------- oracles

def out_size(n, k, s, padding):
    """SPEC §1 Shapes, per axis."""
    if padding == "valid":
        return (n - k) // s + 1
    if padding == "same":
        return -(-n // s)
    return (n + 2 * padding - k) // s + 1


def pads(n, k, s, padding):
    """(before, after) padding of one axis: TF rule for same, p on both sides for an integer."""
    if padding == "valid":
        return 0, 0
    if padding == "same":
        out = -(-n // s)
        total = max((out - 1) * s + k - n, 0)
        return total // 2, total - total // 2
    return padding, padding


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def pad_nchw(x, k, s, padding, value):
    (kh, kw), (sh, sw) = k, s
    t, b = pads(x.shape[2], kh, sh, padding)
    l, r = pads(x.shape[3], kw, sw, padding)
    return F.pad(x, (l, r, t, b), value=value)


ACTS = {
    None: lambda y: y,
    "linear": lambda y: y,
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "softmax": lambda y: torch.softmax(y, dim=1),
}


class Ref:
    """A float64 PyTorch reference on NCHW tensors, reading Keras-layout params by name."""

    def __init__(self, params):
        self.P = {k: torch.from_numpy(np.asarray(v, dtype=np.float64)) for k, v in params.items()}

    def conv(self, x, name, k, s=1, padding="valid", act=None):
        k, s = pair(k), pair(s)
        x = pad_nchw(x, k, s, padding, 0.0)
        w = self.P[name + ".kernel"].permute(3, 2, 0, 1)     # (KH,KW,Cin,Cout) -> (Cout,Cin,KH,KW)
        return ACTS[act](F.conv2d(x, w, self.P[name + ".bias"], stride=s))

    @staticmethod
    def maxpool(x, k, s=None, padding="valid"):
        k = pair(k)
        s = pair(s) if s is not None else k
        return F.max_pool2d(pad_nchw(x, k, s, padding, -math.inf), k, s)

    @staticmethod
    def avgpool(x, k, s=None, padding="valid"):
        k = pair(k)
        s = pair(s) if s is not None else k
        total = F.avg_pool2d(pad_nchw(x, k, s, padding, 0.0), k, s) * (k[0] * k[1])
        if padding == "same":          # only real pixels count
            ones = torch.ones_like(x[:, :1])
            count = F.avg_pool2d(pad_nchw(ones, k, s, padding, 0.0), k, s) * (k[0] * k[1])
        else:                          # valid: all real; integer p: the zeros count too
            count = k[0] * k[1]
        return total / count

    def batchnorm(self, x, name, eps=0.001):
        g, b, m, v = (self.P[f"{name}.{p}"] for p in ("gamma", "beta", "mean", "var"))
        shape = (1, -1, 1, 1) if x.dim() == 4 else (1, -1)
        g, b, m, v = (t.reshape(shape) for t in (g, b, m, v))
        return (x - m) / torch.sqrt(v + eps) * g + b

    def dense(self, x, name, act=None):
        return ACTS[act](x @ self.P[name + ".kernel"] + self.P[name + ".bias"])

    @staticmethod
    def flatten(x):
        return x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)     # H, W, C order

    @staticmethod
    def globalpool(x):
        return x.mean(dim=(2, 3))


def nchw(x):
    return torch.from_numpy(np.asarray(x, dtype=np.float64).transpose(0, 3, 1, 2).copy())


def to_nhwc(y):
    y = y.detach().numpy()
    return y.transpose(0, 2, 3, 1) if y.ndim == 4 else y


def random_params(shapes, seed, small_var=False):
    """Weights unlike any initialiser: batchnorm mean/beta nonzero, var positive; kernels
    He-normal, so that the output of a deep program neither saturates nor is left to the
    biases (another input must move it, or no comparison of it could fail)."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in shapes.items():
        if name.endswith(".kernel"):
            out[name] = he_normal(rng, shape)
        elif name.endswith(".var"):
            lo, hi = (0.0005, 0.005) if small_var else (0.5, 2.0)
            out[name] = rng.uniform(lo, hi, shape).astype(np.float32)
        elif name.endswith(".gamma"):
            out[name] = rng.uniform(0.5, 1.5, shape).astype(np.float32)
        else:
            out[name] = (rng.standard_normal(shape) * 0.4).astype(np.float32)
    return out


def close(got, want, rel=1e-4, *, other):
    """max |got - want| <= rel * max(1, max |want|); and `other`, what another input gives,
    is 100 times that far from `want` somewhere (tests/numeric.py)."""
    got = np.asarray(got, dtype=np.float64)
    assert got.shape == want.shape, (got.shape, want.shape)
    scale = max(1.0, float(np.abs(want).max()))
    err = float(np.abs(got - want).max()) / scale
    assert err <= rel, f"relative error {err:.3g} > {rel}"
    assert_sensitive(want, other, tol=rel * scale)


def model_with(text, tmp_path, seed=5, small_var=False):
    """Compile `text` with the numpy backend and load fresh random weights through an .npz."""
    model = cnnc.compile(cnnc.parse(text), backend="numpy", seed=0)
    shapes = {k: tuple(np.shape(v)) for k, v in model.params.items()}
    params = random_params(shapes, seed, small_var)
    path = tmp_path / "w.npz"
    np.savez(path, **params)
    model.load_weights(str(path))
    return model, params


def err_of(text, **kw):
    with pytest.raises(cnnc.CnncError) as info:
        cnnc.parse(text, filename="t.cnn", **kw)
    return info.value


def has_error_at(err, line, col=None):
    col_re = r"\d+" if col is None else str(col)
    return re.search(rf"t\.cnn:{line}:{col_re}: error: ", str(err)) is not None


# ----------------------------------------------------------------------------- §1 language

def test_lenet_parse_shapes_and_names():
    net = cnnc.parse(LENET)
    assert tuple(net.input_shape) == (28, 28, 1)
    assert tuple(net.output_shape) == (10,)
    names = [n.name for n in net.layers]
    assert names == ["conv_1", "pool_1", "conv_2", "pool_2", "flatten_1", "dense_1", "dense_2"]
    assert list(net.param_shapes()) == ["conv_1.kernel", "conv_1.bias", "conv_2.kernel", "conv_2.bias",
                                        "dense_1.kernel", "dense_1.bias", "dense_2.kernel", "dense_2.bias"]


def test_parse_file(tmp_path):
    p = tmp_path / "lenet.cnn"
    p.write_text(LENET)
    net = cnnc.parse_file(str(p))
    assert tuple(net.output_shape) == (10,)
    assert tuple(cnnc.parse_file(p).input_shape) == (28, 28, 1)


def test_semicolons_newlines_comments_whitespace():
    text = ("# a comment line\n"
            "input   8x8x2 ;conv 4 3x3 relu   # trailing comment\n"
            "\n"
            "\tpool  2;flatten\n"
            "dense\t5 ; dense 3 softmax\n")
    net = cnnc.parse(text)
    assert [n.name for n in net.layers] == ["conv_1", "pool_1", "flatten_1", "dense_1", "dense_2"]
    assert tuple(net.output_shape) == (3,)
    one = cnnc.parse("input 8x8x2; conv 4 3x3 relu; pool 2; flatten; dense 5; dense 3 softmax")
    assert one.param_shapes() == net.param_shapes()


def test_input_may_be_supplied_from_python():
    net = cnnc.parse("conv 4 3\nflatten", input=(6, 7, 2))
    assert tuple(net.input_shape) == (6, 7, 2)
    assert tuple(net.output_shape) == (4 * 5 * 4,)


def test_activation_option_equals_bare_word(tmp_path):
    x = np.random.default_rng(0).standard_normal((2, 6, 6, 2)).astype(np.float32)
    outs = []
    for text in ("input 6x6x2; conv 3 3 relu; flatten; dense 4 activation=tanh",
                 "input 6x6x2; conv 3 3 activation=relu; flatten; dense 4 tanh"):
        m, p = model_with(text, tmp_path, seed=1)
        outs.append(m(x))
    assert_equal(outs[0], outs[1], other=m(another(x)))
    m, p = model_with("input 6x6x2; conv 3 3 activation=relu", tmp_path, seed=1)
    assert (m(x) >= 0).all() and (m(x) > 0).any()


def test_named_layers_key_params():
    net = cnnc.parse("input 8x8x1\nc1: conv 4 3 relu\nfeat: flatten\nhead: dense 2")
    assert [n.name for n in net.layers] == ["c1", "feat", "head"]
    assert net.param_shapes() == {"c1.kernel": (3, 3, 1, 4), "c1.bias": (4,),
                                  "head.kernel": (144, 2), "head.bias": (2,)}


NESTED = """input 9x9x4
repeat 2 {
  residual {
    conv 4 3 padding=same relu
    conv 4 3 padding=same
  }
  relu
}
concat {
  branch { conv 2 1 stride=2 }
  branch { residual { conv 4 3 stride=2 padding=same } shortcut { avgpool 1 stride=2 } }
  branch { pool 3 stride=2 padding=same }
}
batchnorm
globalpool
dense 3 softmax
"""


def test_block_and_repeat_naming():
    net = cnnc.parse(NESTED)
    names = {n.name for n in net.layers}
    assert names == {"residual_1", "conv_1", "conv_2", "relu_1", "residual_2", "conv_3", "conv_4",
                     "relu_2", "concat_1", "conv_5", "residual_3", "conv_6", "avgpool_1", "pool_1",
                     "batchnorm_1", "globalpool_1", "dense_1"}
    shapes = net.param_shapes()
    assert shapes["conv_5.kernel"] == (1, 1, 4, 2)
    assert shapes["conv_6.kernel"] == (3, 3, 4, 4)
    assert shapes["batchnorm_1.gamma"] == (10,)
    assert shapes["dense_1.kernel"] == (10, 3)
    assert tuple(net.output_shape) == (3,)


def test_named_repeat_layers_are_distinct():
    net = cnnc.parse("input 6x6x2\nrepeat 3 { c: conv 2 3 padding=same }")
    names = [n.name for n in net.layers]
    assert len(names) == 3 and len(set(names)) == 3


def test_repeat_nested_in_repeat_unrolls():
    net = cnnc.parse("input 6x6x2\nrepeat 2 { repeat 3 { conv 2 3 padding=same } relu }")
    names = [n.name for n in net.layers]
    assert names == ["conv_1", "conv_2", "conv_3", "relu_1", "conv_4", "conv_5", "conv_6", "relu_2"]


def _grid():
    cases = []
    for n in (1, 2, 5, 7, 8, 11, 16):
        for k in (1, 2, 3, 5):
            for s in (1, 2, 3):
                for p in ("valid", "same", 0, 1, 2):
                    cases.append((n, k, s, p))
    return cases


@pytest.mark.parametrize("kind", ["conv", "pool", "avgpool"])
def test_shape_formulas_grid(kind):
    """Square sizes over a grid, and non-square kernels/strides on non-square inputs."""
    checked = 0
    for n, k, s, p in _grid():
        if kind != "conv" and isinstance(p, int) and 2 * p > k:
            continue     # a pool window entirely of padding is not a meaningful program
        pad = f" padding={p}"
        head = f"{kind} 3 {k}" if kind == "conv" else f"{kind} {k}"
        text = f"input {n}x{n + 3}x2\n{head} stride={s}{pad}"
        want_h, want_w = out_size(n, k, s, p), out_size(n + 3, k, s, p)
        if want_h <= 0 or want_w <= 0:
            e = err_of(text)
            assert e.line == 2
            continue
        net = cnnc.parse(text)
        c = 3 if kind == "conv" else 2
        assert tuple(net.output_shape) == (want_h, want_w, c), (text, net.output_shape)
        checked += 1
    assert checked > 100


@pytest.mark.parametrize("kh,kw,sh,sw,pad", [(3, 5, 2, 1, "valid"), (1, 4, 1, 3, "same"), (5, 2, 3, 2, 1),
                                             (2, 3, 2, 2, "same"), (4, 1, 1, 2, 2)])
@pytest.mark.parametrize("kind", ["conv", "pool", "avgpool"])
def test_non_square_kernel_and_stride(kind, kh, kw, sh, sw, pad):
    H, W = 13, 10
    head = f"{kind} 3 {kh}x{kw}" if kind == "conv" else f"{kind} {kh}x{kw}"
    text = f"input {H}x{W}x2\n{head} stride={sh}x{sw} padding={pad}"
    if kind == "pool" and isinstance(pad, int) and pad >= min(kh, kw):
        # max pooling never picks padding, so a window of padding only has no value
        e = err_of(text)
        assert (e.line, e.col) == (2, 1) and "padding" in str(e)
        return
    net = cnnc.parse(text)
    c = 3 if kind == "conv" else 2
    assert tuple(net.output_shape) == (out_size(H, kh, sh, pad), out_size(W, kw, sw, pad), c)


def test_pool_stride_defaults_to_kernel():
    assert tuple(cnnc.parse("input 12x9x1; pool 3").output_shape) == (4, 3, 1)
    assert tuple(cnnc.parse("input 12x9x1; avgpool 3x2").output_shape) == (4, 4, 1)


def test_other_shapes():
    assert tuple(cnnc.parse("input 5x6x7; globalpool").output_shape) == (7,)
    assert tuple(cnnc.parse("input 5x6x7; flatten").output_shape) == (210,)
    assert tuple(cnnc.parse("input 5x6x7; batchnorm eps=1e-5; dropout 0.5; tanh").output_shape) == (5, 6, 7)
    assert tuple(cnnc.parse("input 5x6x7; dropout 0; sigmoid; linear; softmax").output_shape) == (5, 6, 7)
    net = cnnc.parse("input 8x8x3; concat { branch { conv 4 1 } branch { conv 5 3 padding=1 } "
                     "branch { pool 3 stride=1 padding=same } }")
    assert tuple(net.output_shape) == (8, 8, 12)


# ----------------------------------------------------------------------------- §1 diagnostics

def test_syntax_error_place():
    e = err_of("input 8x8x1\nconv 8 3x3 {\nflatten")
    assert e.line == 2 and e.col == 12
    assert has_error_at(e, 2, 12)
    assert "Traceback" not in str(e)


def test_unknown_statement_suggests_closest():
    e = err_of("input 8x8x1\nflatten\ndence 10")
    assert e.line == 3 and e.col == 1 and has_error_at(e, 3, 1)
    assert "dense" in str(e).split("error:", 1)[1]
    e = err_of("input 8x8x1\n  covn 8 3x3")
    assert e.line == 2 and e.col == 3 and "conv" in str(e).split("error:", 1)[1]
    e = err_of("input 8x8x1\nConv 8 3x3")
    assert "'conv'" in str(e) or " conv" in str(e).split("error:", 1)[1]


@pytest.mark.parametrize("text,line", [
    ("input 8x8x1\nconv 0 3x3", 2),
    ("input 8x8x1\nconv 4 0x3", 2),
    ("input 8x8x1\nconv 4 3 stride=0", 2),
    ("input 8x8x1\npool 0", 2),
    ("input 8x8x1\navgpool 2x0", 2),
    ("input 8x8x1\nflatten\ndense 0", 3),
    ("input 0x8x1\nflatten", 1),
    ("input 8x8x0\nflatten", 1),
    ("input 8x8x1\nrepeat 0 { conv 2 3 }", 2),
])
def test_zero_counts_and_sizes_are_errors(text, line):
    e = err_of(text)
    assert e.line == line and has_error_at(e, line)


def test_collapse_error_names_layer_sizes_and_padding_same():
    e = err_of("input 10x10x1\nrepeat 5 { conv 8 3x3 }")
    msg = str(e)
    assert e.line == 2 and has_error_at(e, 2)
    assert "conv_5" in msg and "2x2" in msg and "padding=same" in msg
    e = err_of("input 8x8x1\nconv 4 3\nbig: conv 4 7x7")
    msg = str(e)
    assert e.line == 3 and e.col == 1 and has_error_at(e, 3, 1)
    assert "big" in msg and "6x6" in msg and "0x0" in msg and "padding=same" in msg


def test_collapse_by_pooling():
    e = err_of("input 3x3x2\npool 2\npool 2")
    assert e.line == 3 and "pool_2" in str(e) and "1x1" in str(e)


def test_dense_on_image():
    e = err_of("input 8x8x1\nconv 4 3\ndense 10")
    msg = str(e)
    assert e.line == 3 and has_error_at(e, 3, 1)
    assert "dense_1" in msg and "6x6x4" in msg and "flatten" in msg


@pytest.mark.parametrize("stmt", ["conv 4 3", "pool 2", "avgpool 2", "globalpool"])
def test_image_layer_on_vector(stmt):
    e = err_of(f"input 8x8x1\nflatten\n{stmt}")
    assert e.line == 3 and has_error_at(e, 3)
    assert "64" in str(e)


def test_residual_mismatch_shows_both_shapes():
    e = err_of("input 8x8x4\nresidual {\n  conv 8 3x3 padding=same\n}")
    msg = str(e)
    assert has_error_at(e, 2) and "residual_1" in msg
    assert "8x8x8" in msg and "8x8x4" in msg
    e = err_of("input 8x8x4\nresidual { conv 4 3 padding=same } shortcut { conv 4 1 stride=2 }")
    assert "8x8x4" in str(e) and "4x4x4" in str(e)


def test_concat_mismatch_shows_both_shapes():
    e = err_of("input 8x8x4\nconcat {\n branch { conv 4 1 }\n branch { conv 4 3 }\n}")
    msg = str(e)
    assert "concat_1" in msg and "8x8" in msg and "6x6" in msg


def test_duplicate_name():
    e = err_of("input 8x8x1\na: conv 4 3\na: conv 4 3")
    assert e.line == 3 and has_error_at(e, 3) and "a" in str(e).split("error:", 1)[1]


def test_missing_input_shape():
    e = err_of("conv 4 3\nflatten")
    assert "error:" in str(e) and e.line >= 1 and "input" in str(e)


def test_errors_raise_cnnc_error_never_something_else():
    for bad in ["", "input", "input 8x8", "input 8x8x1\nconv", "input 8x8x1\nconv 4 3 padding=bogus",
                "input 8x8x1\ndropout 1.0", "input 8x8x1\nresidual {", "input 8x8x1\n}", "\x00",
                "input 8x8x1\nconv 4 3 stride=2x", "input 8x8x1\nrelu relu"]:
        if bad == "":
            try:
                cnnc.parse(bad, filename="t.cnn")
            except cnnc.CnncError:
                pass
            continue
        e = err_of(bad)
        assert isinstance(e.line, int) and isinstance(e.col, int)
        assert re.search(r"t\.cnn:\d+:\d+: error: ", str(e)), (bad, str(e))


# ----------------------------------------------------------------------------- §3 Python API

@pytest.fixture(scope="module")
def lenet_model():
    return cnnc.compile(cnnc.parse(LENET), backend="numpy", seed=0)


def test_compile_from_path_and_network(tmp_path, lenet_model):
    p = tmp_path / "lenet.cnn"
    p.write_text(LENET)
    m = cnnc.compile(str(p), backend="numpy", seed=0)
    x = np.random.default_rng(1).random((3, 28, 28, 1)).astype(np.float32)
    y = m(x)
    assert y.shape == (3, 10)
    assert_equal(y, lenet_model(x), other=lenet_model(another(x)))
    assert_close(y.sum(axis=1), np.ones(3), other=y[:, 0], rtol=1e-5)


def test_params_names_layouts_order(lenet_model):
    assert list(lenet_model.params) == ["conv_1.kernel", "conv_1.bias", "conv_2.kernel", "conv_2.bias",
                                        "dense_1.kernel", "dense_1.bias", "dense_2.kernel", "dense_2.bias"]
    shapes = {k: np.shape(v) for k, v in lenet_model.params.items()}
    assert shapes == {"conv_1.kernel": (3, 3, 1, 32), "conv_1.bias": (32,),
                      "conv_2.kernel": (3, 3, 32, 64), "conv_2.bias": (64,),
                      "dense_1.kernel": (1600, 64), "dense_1.bias": (64,),
                      "dense_2.kernel": (64, 10), "dense_2.bias": (10,)}


def test_batchnorm_param_names_and_order():
    m = cnnc.compile(cnnc.parse("input 4x4x3\nconv 5 3\nbatchnorm\nflatten\nbn: batchnorm\ndense 2"), seed=0)
    assert list(m.params) == ["conv_1.kernel", "conv_1.bias",
                              "batchnorm_1.gamma", "batchnorm_1.beta", "batchnorm_1.mean", "batchnorm_1.var",
                              "bn.gamma", "bn.beta", "bn.mean", "bn.var", "dense_1.kernel", "dense_1.bias"]
    assert np.shape(m.params["batchnorm_1.var"]) == (5,) and np.shape(m.params["bn.gamma"]) == (20,)


def test_seed_reproducible():
    a = cnnc.compile(cnnc.parse(LENET), seed=3).params
    b = cnnc.compile(cnnc.parse(LENET), seed=3).params
    c = cnnc.compile(cnnc.parse(LENET), seed=4).params
    def flat(p):
        return np.concatenate([p[k].ravel() for k in a])
    assert_equal(flat(b), flat(a), other=flat(c))    # the same seed, the same weights; another, others


@pytest.mark.parametrize("dtype", [np.float64, np.float16, np.int32, np.int64, np.uint8, np.int8])
def test_any_real_dtype_computed_in_float32(dtype, lenet_model):
    x = (np.random.default_rng(2).random((2, 28, 28, 1)) * 5).astype(dtype)
    y = lenet_model(x)
    want = lenet_model(x.astype(np.float32))
    assert y.shape == (2, 10)
    assert_close(np.asarray(y, np.float64), want, other=lenet_model(another(x).astype(np.float32)), rtol=1e-6, atol=1e-7)


def test_missing_batch_axis_value_error_names_shape(lenet_model):
    with pytest.raises(ValueError) as info:
        lenet_model(np.zeros((28, 28, 1), np.float32))
    assert re.search(r"28\D{1,3}28\D{1,3}1", str(info.value)), str(info.value)
    with pytest.raises(ValueError) as info:
        lenet_model(np.zeros((2, 28, 27, 1), np.float32))
    assert re.search(r"28\D{1,3}28\D{1,3}1", str(info.value))


@pytest.mark.parametrize("x", [np.full((1, 28, 28, 1), "a"), np.full((1, 28, 28, 1), None, dtype=object),
                               np.zeros((1, 28, 28, 1), dtype=[("a", "f4")])])
def test_non_numeric_value_error(x, lenet_model):
    with pytest.raises(ValueError) as info:
        lenet_model(x)
    assert re.search(r"28\D{1,3}28\D{1,3}1", str(info.value)), str(info.value)


@pytest.mark.parametrize("ext", ["npz", "safetensors"])
def test_save_load_roundtrip(ext, tmp_path):
    if ext == "safetensors":
        pytest.importorskip("safetensors")
    a = cnnc.compile(cnnc.parse(LENET), seed=1)
    b = cnnc.compile(cnnc.parse(LENET), seed=2)
    path = str(tmp_path / f"w.{ext}")
    before = b.params.copy()
    x = np.random.default_rng(0).random((2, 28, 28, 1)).astype(np.float32)
    y_before = b(x)
    a.save_weights(path)
    b.load_weights(path)

    def flat(p):
        return np.concatenate([p[k].ravel() for k in a.params])
    assert_equal(flat(b.params), flat(a.params), other=flat(before))   # the loaded weights, not b's own
    assert_equal(a(x), b(x), other=y_before)


def test_save_weights_npz_is_plain_keras_arrays(tmp_path):
    a = cnnc.compile(cnnc.parse(LENET), seed=1)
    path = tmp_path / "w.npz"
    a.save_weights(str(path))
    with np.load(path, allow_pickle=False) as z:
        assert set(z.files) == set(a.params)
        assert z["conv_2.kernel"].shape == (3, 3, 32, 64)


def test_safetensors_written_by_others_loads(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    m = cnnc.compile(cnnc.parse(LENET), seed=0)
    params = random_params({k: np.shape(v) for k, v in m.params.items()}, 9)
    st.save_file(params, str(tmp_path / "w.safetensors"))
    before = m.params["dense_2.kernel"].copy()
    m.load_weights(str(tmp_path / "w.safetensors"))
    assert_equal(m.params["dense_2.kernel"], params["dense_2.kernel"], other=before)


def _lenet_arrays():
    """A model, and arrays that fit it but differ from its own (loading them changes it)."""
    m = cnnc.compile(cnnc.parse(LENET), seed=0)
    return m, {k: np.array(v) for k, v in cnnc.compile(cnnc.parse(LENET), seed=1).params.items()}


def _load_error(model, path):
    with pytest.raises(Exception) as info:
        model.load_weights(str(path))
    assert not isinstance(info.value, (AttributeError, TypeError, pickle.UnpicklingError)), repr(info.value)
    return str(info.value)


def test_load_weights_wrong_name(tmp_path):
    m, arrs = _lenet_arrays()
    arrs["conv_9.kernel"] = arrs.pop("conv_2.kernel")
    np.savez(tmp_path / "w.npz", **arrs)
    msg = _load_error(m, tmp_path / "w.npz")
    assert "conv_9.kernel" in msg or "conv_2.kernel" in msg


def _save(path, arrs):
    if str(path).endswith(".safetensors"):
        pytest.importorskip("safetensors.numpy").save_file(arrs, str(path))
    else:
        np.savez(path, **arrs)


@pytest.mark.parametrize("ext", ["npz", "safetensors"])
def test_load_weights_wrong_shape(tmp_path, ext):
    m, arrs = _lenet_arrays()
    arrs["dense_1.kernel"] = np.zeros((64, 1600), np.float32)
    _save(tmp_path / f"w.{ext}", arrs)
    msg = _load_error(m, tmp_path / f"w.{ext}")
    assert "dense_1.kernel" in msg and re.search(r"1600\D{1,3}64", msg) and re.search(r"64\D{1,3}1600", msg)


@pytest.mark.parametrize("ext", ["npz", "safetensors"])
def test_load_weights_missing_and_extra(tmp_path, ext):
    m, arrs = _lenet_arrays()
    before = {k: np.array(v) for k, v in m.params.items()}
    missing = dict(arrs)
    del missing["dense_2.bias"]
    _save(tmp_path / f"missing.{ext}", missing)
    assert "dense_2.bias" in _load_error(m, tmp_path / f"missing.{ext}")
    extra = dict(arrs, **{"dense_3.kernel": np.zeros((3, 3), np.float32)})
    _save(tmp_path / f"extra.{ext}", extra)
    assert "dense_3.kernel" in _load_error(m, tmp_path / f"extra.{ext}")
    def flat(p):
        return np.concatenate([np.ravel(p[k]) for k in before])
    assert_equal(flat(m.params), flat(before), other=flat(arrs))   # a refused file changes nothing


class _Bomb:
    """Unpickling this touches a marker file: proof that a weights file was unpickled."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def test_npz_with_object_array_is_refused_not_unpickled(tmp_path):
    m, arrs = _lenet_arrays()
    marker = tmp_path / "UNPICKLED"
    bomb = np.empty(10, dtype=object)
    bomb[:] = [_Bomb(str(marker))] * 10
    arrs["dense_2.bias"] = bomb
    np.savez(tmp_path / "w.npz", **arrs)
    _load_error(m, tmp_path / "w.npz")
    assert not marker.exists()
    with pytest.raises(Exception):
        cnnc.compile(cnnc.parse(LENET), weights=str(tmp_path / "w.npz"))
    assert not marker.exists()


def test_pickle_file_named_npz_is_refused(tmp_path):
    m, _ = _lenet_arrays()
    marker = tmp_path / "UNPICKLED"
    (tmp_path / "w.npz").write_bytes(pickle.dumps(_Bomb(str(marker))))
    _load_error(m, tmp_path / "w.npz")
    assert not marker.exists()


# ----------------------------------------------------------------------------- §4 numpy vs torch

def _check(text, ref_fn, tmp_path, x_shape, seed=5, small_var=False, x_offset=0.0):
    model, params = model_with(text, tmp_path, seed=seed, small_var=small_var)
    x = (np.random.default_rng(seed + 100).standard_normal(x_shape) + x_offset).astype(np.float32)
    got = model(x)
    want = to_nhwc(ref_fn(Ref(params), nchw(x)))
    close(got, want, other=to_nhwc(ref_fn(Ref(params), nchw(another(x)))))
    return got


CONV_CASES = [
    # (H, W, C, F, kernel, stride, padding, act)
    (7, 7, 3, 4, (3, 3), (1, 1), "valid", "relu"),
    (9, 11, 2, 3, (3, 2), (2, 1), "same", "sigmoid"),
    (8, 7, 3, 5, (4, 4), (2, 2), "same", "tanh"),
    (11, 10, 2, 3, (5, 3), (3, 2), "same", "linear"),
    (7, 9, 2, 4, (3, 3), (2, 2), 1, "relu"),
    (6, 5, 1, 2, (2, 3), (1, 2), 2, None),
    (9, 9, 4, 3, (1, 1), (2, 2), "valid", None),
    (10, 6, 2, 3, (2, 2), (1, 1), "same", "softmax"),   # softmax over channels of an image
]


@pytest.mark.parametrize("H,W,C,Fn,k,s,p,act", CONV_CASES)
def test_conv_matches_torch(H, W, C, Fn, k, s, p, act, tmp_path):
    text = (f"input {H}x{W}x{C}\nconv {Fn} {k[0]}x{k[1]} stride={s[0]}x{s[1]} padding={p}"
            + (f" {act}" if act else ""))
    _check(text, lambda r, x: r.conv(x, "conv_1", k, s, p, act), tmp_path, (2, H, W, C))


POOL_CASES = [
    (8, 8, (2, 2), None, "valid"),
    (9, 11, (3, 3), (2, 2), "same"),
    (7, 8, (2, 3), (2, 1), "same"),
    (8, 9, (3, 3), (2, 2), 1),
    (10, 7, (2, 2), (1, 1), "same"),
    (11, 11, (3, 2), (3, 1), "valid"),
    (6, 7, (5, 5), (1, 1), 2),
]


@pytest.mark.parametrize("H,W,k,s,p", POOL_CASES)
@pytest.mark.parametrize("kind", ["pool", "avgpool"])
def test_pools_match_torch(kind, H, W, k, s, p, tmp_path):
    stride = f" stride={s[0]}x{s[1]}" if s else ""
    text = f"input {H}x{W}x3\n{kind} {k[0]}x{k[1]}{stride} padding={p}"
    fn = Ref.maxpool if kind == "pool" else Ref.avgpool
    # all-negative input: a max pool that picks a zero pad, or an avgpool that counts it, shows up
    _check(text, lambda r, x: fn(x, k, s, p), tmp_path, (2, H, W, 3), x_offset=-4.0)


def test_maxpool_never_picks_padding_explicit():
    m = cnnc.compile(cnnc.parse("input 3x3x1\npool 2 stride=2 padding=same"), seed=0)
    x = -np.arange(1, 10, dtype=np.float32).reshape(1, 3, 3, 1)
    # same: out 2, total pad 1 -> bottom/right only; the other values: a pool that picked a 0 pad
    assert_equal(m(x)[0, :, :, 0], np.array([[-1, -3], [-7, -9]]), other=np.array([[-1, 0], [0, 0]]))
    m = cnnc.compile(cnnc.parse("input 3x3x1\npool 2 stride=2 padding=1"), seed=0)
    assert_equal(m(x)[0, :, :, 0], np.array([[-1, -2], [-4, -5]]), other=np.array([[0, 0], [0, -5]]))


def test_avgpool_padding_counts_explicit():
    x = np.ones((1, 3, 3, 1), np.float32)
    # the other values: what counting the padding (or not) would give
    m = cnnc.compile(cnnc.parse("input 3x3x1\navgpool 2 padding=same"), seed=0)
    assert_close(m(x)[0, :, :, 0], np.ones((2, 2)), other=np.array([[1, 0.5], [0.5, 0.25]]), rtol=1e-6)   # real pixels only
    m = cnnc.compile(cnnc.parse("input 3x3x1\navgpool 2 padding=1"), seed=0)
    assert_close(m(x)[0, :, :, 0], np.array([[0.25, 0.5], [0.5, 1.0]]), other=np.ones((2, 2)), rtol=1e-6)


def test_same_padding_smaller_half_top_left():
    # 4x4 input, k=2, stride 1, same: total pad 1 -> 0 top/left, 1 bottom/right.
    m = cnnc.compile(cnnc.parse("input 4x4x1\nconv 1 2 padding=same"), seed=0)
    k = np.zeros((2, 2, 1, 1), np.float32)
    k[0, 0, 0, 0] = 1.0     # picks the window's top-left pixel
    x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    import tempfile, os
    with tempfile.TemporaryDirectory() as d:
        np.savez(os.path.join(d, "w.npz"), **{"conv_1.kernel": k, "conv_1.bias": np.zeros(1, np.float32)})
        m.load_weights(os.path.join(d, "w.npz"))
    # the other value: the window's top-left pixel with the pad on top/left instead
    shifted = np.zeros_like(x)
    shifted[:, 1:, 1:] = x[:, :-1, :-1]
    assert_equal(m(x), x, other=shifted)


def test_batchnorm_default_eps_on_image_and_vector(tmp_path):
    text = "input 5x4x3\nbatchnorm\nflatten\nbatchnorm\ndense 4"

    def ref(r, x):
        y = r.flatten(r.batchnorm(x, "batchnorm_1", 0.001))
        return r.dense(r.batchnorm(y, "batchnorm_2", 0.001), "dense_1")
    _check(text, ref, tmp_path, (3, 5, 4, 3), small_var=True)


def test_batchnorm_explicit_eps(tmp_path):
    text = "input 4x4x2\nbatchnorm eps=0.01\nbatchnorm eps=1e-5"

    def ref(r, x):
        return r.batchnorm(r.batchnorm(x, "batchnorm_1", 0.01), "batchnorm_2", 1e-5)
    _check(text, ref, tmp_path, (2, 4, 4, 2), small_var=True)


def test_flatten_order_and_dense(tmp_path):
    text = "input 3x4x2\nflatten\ndense 5 relu\ndense 3 softmax"

    def ref(r, x):
        return r.dense(r.dense(r.flatten(x), "dense_1", "relu"), "dense_2", "softmax")
    _check(text, ref, tmp_path, (4, 3, 4, 2))


def test_flatten_is_hwc_without_dense():
    m = cnnc.compile(cnnc.parse("input 2x3x2\nflatten"), seed=0)
    x = np.arange(12, dtype=np.float32).reshape(1, 2, 3, 2)
    assert_equal(m(x), x.reshape(1, 12), other=x.transpose(0, 3, 1, 2).reshape(1, 12))   # not C, H, W


def test_globalpool_dropout_and_activation_layers(tmp_path):
    text = ("input 5x6x4\nconv 6 3 padding=same\nrelu\ndropout 0.5\nglobalpool\ndense 5\nsigmoid\n"
            "dense 4\ntanh\nlinear\ndense 3\nsoftmax")

    def ref(r, x):
        y = r.globalpool(torch.relu(r.conv(x, "conv_1", 3, 1, "same")))
        y = torch.tanh(r.dense(torch.sigmoid(r.dense(y, "dense_1")), "dense_2"))
        return torch.softmax(r.dense(y, "dense_3"), dim=1)
    out = _check(text, ref, tmp_path, (3, 5, 6, 4))
    assert_close(out.sum(axis=1), np.ones(3), other=out[:, 0], rtol=1e-5)


def test_residual_identity_and_shortcut(tmp_path):
    text = ("input 9x9x4\n"
            "residual { conv 4 3 padding=same relu; conv 4 3 padding=same }\n"
            "relu\n"
            "residual {\n  conv 6 3 stride=2 padding=same relu\n  conv 6 3 padding=same\n} shortcut {\n"
            "  conv 6 1 stride=2\n}\n")

    def ref(r, x):
        y = torch.relu(r.conv(r.conv(x, "conv_1", 3, 1, "same", "relu"), "conv_2", 3, 1, "same") + x)
        a = r.conv(r.conv(y, "conv_3", 3, 2, "same", "relu"), "conv_4", 3, 1, "same")
        return a + r.conv(y, "conv_5", 1, 2, "valid")
    _check(text, ref, tmp_path, (2, 9, 9, 4))


def test_concat_three_branches(tmp_path):
    text = ("input 7x8x3\n"
            "concat {\n"
            "  branch { conv 2 1 relu }\n"
            "  branch { conv 3 1 relu; conv 4 3 padding=same relu }\n"
            "  branch { pool 3 stride=1 padding=same; conv 2 1 relu }\n"
            "}\n")

    def ref(r, x):
        a = r.conv(x, "conv_1", 1, act="relu")
        b = r.conv(r.conv(x, "conv_2", 1, act="relu"), "conv_3", 3, 1, "same", "relu")
        c = r.conv(r.maxpool(x, 3, 1, "same"), "conv_4", 1, act="relu")
        return torch.cat([a, b, c], dim=1)
    _check(text, ref, tmp_path, (2, 7, 8, 3))


def test_nested_blocks_match_torch(tmp_path):
    def ref(r, x):
        y = x
        for i in (0, 2):
            a = r.conv(r.conv(y, f"conv_{i + 1}", 3, 1, "same", "relu"), f"conv_{i + 2}", 3, 1, "same")
            y = torch.relu(a + y)
        b1 = r.conv(y, "conv_5", 1, 2)
        b2 = r.conv(y, "conv_6", 3, 2, "same") + r.avgpool(y, 1, 2)
        b3 = r.maxpool(y, 3, 2, "same")
        z = r.batchnorm(torch.cat([b1, b2, b3], dim=1), "batchnorm_1")
        return r.dense(r.globalpool(z), "dense_1", "softmax")
    _check(NESTED, ref, tmp_path, (2, 9, 9, 4))


def test_lenet_matches_torch(tmp_path):
    def ref(r, x):
        y = r.maxpool(r.conv(x, "conv_1", 3, act="relu"), 2)
        y = r.maxpool(r.conv(y, "conv_2", 3, act="relu"), 2)
        return r.dense(r.dense(r.flatten(y), "dense_1", "relu"), "dense_2", "softmax")
    _check(LENET, ref, tmp_path, (2, 28, 28, 1))


def test_triton_backend_lenet_batch1_interpreter_or_gpu(tmp_path):
    """One tiny check of backend="triton" (SPEC §4: runs in the interpreter without a GPU)."""
    pytest.importorskip("triton")
    text = "input 8x8x1\nconv 4 3 relu\npool 2\nflatten\ndense 3 softmax"
    ref_model, params = model_with(text, tmp_path, seed=7)
    t = cnnc.compile(cnnc.parse(text), backend="triton", seed=0, weights=str(tmp_path / "w.npz"))
    x = np.random.default_rng(3).standard_normal((1, 8, 8, 1)).astype(np.float32)

    def ref(r, xx):
        y = r.maxpool(r.conv(xx, "conv_1", 3, act="relu"), 2)
        return r.dense(r.flatten(y), "dense_1", "softmax")
    close(np.asarray(t(x)), to_nhwc(ref(Ref(params), nchw(x))), other=to_nhwc(ref(Ref(params), nchw(another(x)))))


# ----------------------------------------------------------------------------- random programs

class _Gen:
    """Builds a random program text, its expected names/shapes/params/MACs and a torch reference."""

    def __init__(self, seed):
        import random
        self.r = random.Random(seed)
        self.counts = {}
        self.lines = []
        self.shapes = {}       # param name -> shape, network order
        self.macs = 0
        self.outs = {}         # layer name -> expected output shape

    def name(self, kind):
        self.counts[kind] = self.counts.get(kind, 0) + 1
        return f"{kind}_{self.counts[kind]}"

    def window_opts(self, shape, conv):
        r = self.r
        h, w, _ = shape
        for _ in range(20):
            k = (r.randint(1, 4), r.randint(1, 4))
            s = (r.randint(1, 2), r.randint(1, 2))
            p = r.choice(["valid", "same", 0, 1])
            if not conv and isinstance(p, int) and 2 * p > min(k):
                continue
            oh, ow = out_size(h, k[0], s[0], p), out_size(w, k[1], s[1], p)
            if oh >= 1 and ow >= 1:
                return k, s, p, (oh, ow)
        return (1, 1), (1, 1), "valid", (h, w)

    def layer(self, shape, ops):
        """One random statement on `shape`; appends a reference op; returns (text, new shape)."""
        r = self.r
        if len(shape) == 3:
            kind = r.choice(["conv", "conv", "pool", "avgpool", "batchnorm", "act", "dropout"])
        else:
            kind = r.choice(["dense", "dense", "batchnorm", "act", "dropout"])
        if kind == "conv":
            f = r.randint(1, 5)
            k, s, p, (oh, ow) = self.window_opts(shape, True)
            act = r.choice([None, "relu", "sigmoid", "tanh", "linear"])
            n = self.name("conv")
            self.shapes[n + ".kernel"] = (k[0], k[1], shape[2], f)
            self.shapes[n + ".bias"] = (f,)
            self.macs += oh * ow * f * k[0] * k[1] * shape[2]
            ops.append(lambda R, x, n=n, k=k, s=s, p=p, act=act: R.conv(x, n, k, s, p, act))
            opt = r.choice(["", " activation="]) if act else ""
            text = (f"conv {f} {k[0]}x{k[1]} stride={s[0]}x{s[1]} padding={p}"
                    + ((" " + act if opt == "" else opt + act) if act else ""))
            new = (oh, ow, f)
        elif kind in ("pool", "avgpool"):
            k, s, p, (oh, ow) = self.window_opts(shape, False)
            n = self.name(kind)
            fn = Ref.maxpool if kind == "pool" else Ref.avgpool
            ops.append(lambda R, x, k=k, s=s, p=p, fn=fn: fn(x, k, s, p))
            text = f"{kind} {k[0]}x{k[1]} stride={s[0]}x{s[1]} padding={p}"
            new = (oh, ow, shape[2])
        elif kind == "batchnorm":
            n = self.name("batchnorm")
            c = shape[-1]
            for p in ("gamma", "beta", "mean", "var"):
                self.shapes[f"{n}.{p}"] = (c,)
            eps = r.choice([None, 0.01, 1e-5])
            ops.append(lambda R, x, n=n, eps=eps: R.batchnorm(x, n, 0.001 if eps is None else eps))
            text = "batchnorm" + ("" if eps is None else f" eps={eps}")
            new = shape
        elif kind == "act":
            a = r.choice(["relu", "sigmoid", "tanh", "linear"])
            n = self.name(a)
            ops.append(lambda R, x, a=a: ACTS[a](x))
            text, new = a, shape
        elif kind == "dropout":
            n = self.name("dropout")
            ops.append(lambda R, x: x)
            text, new = f"dropout {r.choice(['0', '0.25', '0.5'])}", shape
        else:
            u = r.randint(1, 6)
            act = r.choice([None, "relu", "tanh"])
            n = self.name("dense")
            self.shapes[n + ".kernel"] = (shape[0], u)
            self.shapes[n + ".bias"] = (u,)
            self.macs += shape[0] * u
            ops.append(lambda R, x, n=n, act=act: R.dense(x, n, act))
            text, new = f"dense {u}" + (f" {act}" if act else ""), (u,)
        self.outs[n] = new
        return text, new

    def program(self):
        r = self.r
        shape = (r.randint(5, 12), r.randint(5, 12), r.randint(1, 3))
        lines = [f"input {shape[0]}x{shape[1]}x{shape[2]}"]
        ops = []
        for _ in range(r.randint(2, 5)):
            choice = r.random()
            if len(shape) == 3 and choice < 0.15:
                n = self.name("residual")
                c = shape[2]
                k = (r.choice([1, 3]), r.choice([1, 3]))
                m1 = self.name("conv")
                m2 = self.name("conv")
                for m, cin in ((m1, c), (m2, c)):
                    self.shapes[m + ".kernel"] = (k[0], k[1], cin, c)
                    self.shapes[m + ".bias"] = (c,)
                    self.macs += shape[0] * shape[1] * c * k[0] * k[1] * cin
                    self.outs[m] = shape
                self.outs[n] = shape
                lines.append(f"residual {{ conv {c} {k[0]}x{k[1]} padding=same relu; "
                             f"conv {c} {k[0]}x{k[1]} padding=same }}")
                ops.append(lambda R, x, m1=m1, m2=m2, k=k: R.conv(R.conv(x, m1, k, 1, "same", "relu"),
                                                                     m2, k, 1, "same") + x)
            elif len(shape) == 3 and choice < 0.3:
                n = self.name("concat")
                fs = [r.randint(1, 3) for _ in range(r.randint(2, 3))]
                branches, names = [], []
                for f in fs:
                    m = self.name("conv")
                    names.append(m)
                    self.shapes[m + ".kernel"] = (3, 3, shape[2], f)
                    self.shapes[m + ".bias"] = (f,)
                    self.macs += shape[0] * shape[1] * f * 9 * shape[2]
                    self.outs[m] = (shape[0], shape[1], f)
                    branches.append(f"branch {{ conv {f} 3 padding=same }}")
                lines.append("concat { " + " ".join(branches) + " }")
                shape = (shape[0], shape[1], sum(fs))
                self.outs[n] = shape
                ops.append(lambda R, x, names=names: torch.cat(
                    [R.conv(x, m, 3, 1, "same") for m in names], dim=1))
            elif len(shape) == 3 and choice < 0.4:
                times = r.randint(1, 3)
                body_ops = []
                texts = []
                for _ in range(times):
                    t, shape2 = self.layer_same(shape, body_ops)
                    texts.append(t)
                lines.append(f"repeat {times} {{ {texts[0]} }}")
                ops.extend(body_ops)
            else:
                t, shape = self.layer(shape, ops)
                lines.append(t)
        if len(shape) == 3:
            if r.random() < 0.5:
                self.outs[self.name("flatten")] = (shape[0] * shape[1] * shape[2],)
                ops.append(lambda R, x: R.flatten(x))
                lines.append("flatten")
                shape = (shape[0] * shape[1] * shape[2],)
            else:
                self.outs[self.name("globalpool")] = (shape[2],)
                ops.append(lambda R, x: R.globalpool(x))
                lines.append("globalpool")
                shape = (shape[2],)
        n = self.name("dense")
        self.shapes[n + ".kernel"] = (shape[0], 3)
        self.shapes[n + ".bias"] = (3,)
        self.macs += shape[0] * 3
        self.outs[n] = (3,)
        last = r.choice(["softmax", None])       # logits half the time: softmax can hide errors
        ops.append(lambda R, x, n=n, last=last: R.dense(x, n, last))
        lines.append("dense 3" + (" softmax" if last else ""))
        sep = r.choice(["\n", "; "])
        return sep.join(lines) + "\n", ops

    def layer_same(self, shape, ops):
        """A shape-keeping conv for repeat bodies (every copy gets the same text)."""
        n = self.name("conv")
        c = shape[2]
        self.shapes[n + ".kernel"] = (3, 3, c, c)
        self.shapes[n + ".bias"] = (c,)
        self.macs += shape[0] * shape[1] * c * 9 * c
        self.outs[n] = shape
        ops.append(lambda R, x, n=n: R.conv(x, n, 3, 1, "same", "tanh"))
        return f"conv {c} 3 padding=same tanh", shape


@pytest.mark.parametrize("seed", range(30))
def test_random_programs_shapes_params_and_numerics(seed, tmp_path):
    g = _Gen(seed)
    text, ops = g.program()
    net = cnnc.parse(text)
    assert net.param_shapes() == g.shapes, text
    assert list(net.param_shapes()) == list(g.shapes), text
    assert net.total_macs == g.macs, text
    assert net.total_params == sum(math.prod(s) for s in g.shapes.values()), text
    got_outs = {n.name: tuple(n.out.dims) for n in net.layers}
    assert got_outs == {k: tuple(v) for k, v in g.outs.items()}, text

    def ref(R, x):
        for op in ops:
            x = op(R, x)
        return x
    model, params = model_with(text, tmp_path, seed=seed)
    x = np.random.default_rng(seed).standard_normal((2, *net.input_shape)).astype(np.float32)
    # the other input has other statistics: two images of the same noise have nearly the same
    # global average, and a program that ends in one could not tell them apart
    other = unlike(x)
    close(model(x), to_nhwc(ref(Ref(params), nchw(x))), other=to_nhwc(ref(Ref(params), nchw(other))))


# ----------------------------------------------------------------------------- more language edges

def test_name_rules():
    net = cnnc.parse("input 6x6x1\n_x1: conv 2 3\nX9_: conv 2 1\nflatten")
    assert [n.name for n in net.layers][:2] == ["_x1", "X9_"]
    e = err_of("input 6x6x1\n1a: conv 2 3")
    assert e.line == 2


@pytest.mark.parametrize("text", ["INPUT 8x8x1\nflatten", "input 8x8x1\nconv 4 3 RELU",
                                  "input 8x8x1\nFlatten", "input 8x8x1\nconv 4 3 Padding=same"])
def test_keywords_are_lower_case(text):
    e = err_of(text)
    assert has_error_at(e, e.line)


@pytest.mark.parametrize("rate,ok", [("0", True), ("0.999", True), ("0.5", True), ("1.0", False),
                                     ("1", False), ("1.5", False), ("-0.1", False)])
def test_dropout_rate_range(rate, ok):
    text = f"input 4x4x1\nflatten\ndropout {rate}"
    if ok:
        assert tuple(cnnc.parse(text).output_shape) == (16,)
    else:
        e = err_of(text)
        assert e.line == 3


def test_error_place_after_semicolon_and_inside_block():
    e = err_of("input 8x8x1; conv 4 3; dense 2")
    assert e.line == 1 and e.col == 24 and has_error_at(e, 1, 24)
    e = err_of("input 8x8x1\nresidual {\n  conv 1 3 padding=same\n  flatten\n  dense 0\n}")
    assert e.line == 5 and e.col in (3, 9)     # the statement, or its bad argument
    e = err_of("input 8x8x1\nrepeat 2 {\n  conv 2 3\n  conv 2 3 stride=0\n}")
    assert e.line == 4


def test_errors_name_the_file_given():
    with pytest.raises(cnnc.CnncError) as info:
        cnnc.parse("input 8x8x1\nconv 4 3\ndense 10", filename="nets/my net.cnn")
    assert "nets/my net.cnn:3:1: error: " in str(info.value)


def test_compile_without_input_statement_takes_input():
    net = cnnc.parse("conv 2 3 relu\nglobalpool\ndense 2", input=(7, 5, 3))
    m = cnnc.compile(net, seed=0)
    assert m(np.zeros((4, 7, 5, 3), np.float32)).shape == (4, 2)
    with pytest.raises(ValueError):
        m(np.zeros((4, 7, 5, 2), np.float32))


def test_wrong_channel_count_value_error(lenet_model):
    with pytest.raises(ValueError) as info:
        lenet_model(np.zeros((2, 28, 28, 3), np.float32))
    assert re.search(r"28\D{1,3}28\D{1,3}1", str(info.value))


def test_output_is_float32(lenet_model):
    y = lenet_model(np.zeros((1, 28, 28, 1), np.float64))
    assert np.asarray(y).dtype == np.float32


def test_integer_input_values_are_used_exactly(tmp_path):
    m, params = model_with("input 3x3x2\nconv 2 2", tmp_path, seed=2)
    xi = np.arange(18, dtype=np.int64).reshape(1, 3, 3, 2) - 9
    want = to_nhwc(Ref(params).conv(nchw(xi), "conv_1", 2))
    close(m(xi), want, other=to_nhwc(Ref(params).conv(nchw(another(xi)), "conv_1", 2)))


@pytest.mark.parametrize("typo,want", [("maxpool 2", "pool"), ("glbalpool", "globalpool"), ("batchnrm", "batchnorm"),
                                       ("Dense 3", "dense"), ("avgpol 2", "avgpool"), ("sigmod", "sigmoid"),
                                       ("droput 0.5", "dropout"), ("flaten", "flatten"), ("tahn", "tanh")])
def test_unknown_statement_suggestions(typo, want):
    e = err_of(f"input 8x8x1\nflatten\n{typo}" if want in ("dense", "dropout", "sigmoid", "tanh")
               else f"input 8x8x1\n{typo}")
    msg = str(e).split("error:", 1)[1]
    assert re.search(rf"\b{want}\b", msg.replace(typo.split()[0], "")), msg
    assert e.col == 1


@pytest.mark.parametrize("text,want", [("input 8x8x1\nrepet 2 { conv 1 3 }", "repeat"),
                                       ("input 8x8x1\nresidul { relu }", "residual"),
                                       ("input 8x8x1\nconcta { branch { relu } }", "concat")])
def test_misspelt_block_keyword_suggests_closest(text, want):
    e = err_of(text)
    assert e.line == 2 and e.col == 1
    assert want in str(e)


@pytest.mark.parametrize("text", ["input 8x8x1\nconv -4 3", "input 8x8x1\nconv 4 3 strides=2",
                                  "input 8x8x1\nconv 4 3 padding=-1", "input 8x8x1\nconv 4 3 padding=vaild",
                                  "input 8x8x1\nflatten\ndense -2", "input 8x8x1\nconv 4"])
def test_more_bad_programs_are_located_errors(text):
    e = err_of(text)
    assert has_error_at(e, e.line) and e.line == text.count("\n") + 1
    e = err_of("input -8x8x1\nflatten")
    assert e.line == 1 and has_error_at(e, 1)


def test_standalone_softmax_not_last_warns_and_last_does_not():
    net = cnnc.parse("input 4x4x1\nflatten\ndense 3\nsoftmax\ndense 2", filename="t.cnn")
    assert any(re.search(r"t\.cnn:4:1: warning: .*softmax", str(w)) for w in net.warnings)
    net = cnnc.parse("input 4x4x1\nflatten\ndense 3\nsoftmax", filename="t.cnn")
    assert not net.warnings


def test_maxpool_all_padding_window_is_error_or_finite():
    text = "input 4x4x1\npool 2 padding=2"
    try:
        m = cnnc.compile(cnnc.parse(text), seed=0)
    except cnnc.CnncError:
        return
    assert np.isfinite(m(-np.ones((1, 4, 4, 1), np.float32))).all()


def test_save_weights_safetensors_readable_by_safetensors(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    m = cnnc.compile(cnnc.parse(LENET), seed=4)
    m.save_weights(str(tmp_path / "w.safetensors"))
    got = st.load_file(str(tmp_path / "w.safetensors"))
    assert set(got) == set(m.params)
    for k in got:
        assert_equal(got[k], m.params[k], other=another(m.params[k]), what=k)


def test_batch_independence_views_and_no_mutation(tmp_path):
    text = "input 7x6x2\nconv 3 3 padding=same relu\nbatchnorm\npool 2 padding=same\nflatten\ndense 4 softmax"
    m, params = model_with(text, tmp_path, seed=8)
    base = np.random.default_rng(8).standard_normal((5, 7, 6, 4)).astype(np.float32)
    x = base[:, :, :, ::2]                         # a non-contiguous view
    keep = x.copy()
    y = m(x)
    assert_equal(x, keep, other=another(keep))
    for i in range(5):
        close(m(np.ascontiguousarray(x[i:i + 1])), np.asarray(y[i:i + 1], np.float64), rel=1e-5,
              other=np.asarray(y[(i + 1) % 5:(i + 1) % 5 + 1], np.float64))   # another image's answer
    close(m(np.asfortranarray(x)), np.asarray(y, np.float64), rel=1e-5, other=m(another(np.ascontiguousarray(x))))


def test_softmax_is_stable_for_large_logits(tmp_path):
    m, params = model_with("input 2x2x1\nflatten\ndense 5 softmax", tmp_path, seed=3)
    x = np.full((2, 2, 2, 1), 1e4, np.float32)
    x[1] *= -1
    y = np.asarray(m(x), np.float64)
    assert np.isfinite(y).all()
    assert_close(y.sum(axis=1), np.ones(2), other=y[:, 0], rtol=1e-5)      # probabilities, not one of them
    want = to_nhwc(Ref(params).dense(Ref.flatten(nchw(x)), "dense_1", "softmax"))
    # the other input: the large logits in the other order (1e4 and -1e4 swapped)
    close(y, want, other=to_nhwc(Ref(params).dense(Ref.flatten(nchw(-x)), "dense_1", "softmax")))


def _accepts(text, shape):
    try:
        cnnc.parse(text, input=shape)
        return True
    except cnnc.CnncError:
        return False


@pytest.mark.parametrize("seed", range(0, 30, 3))
def test_min_input_is_least_accepted_size_per_axis(seed):
    """SPEC §2: min_input = least H (and least W) with no error; brute force with the language itself."""
    g = _Gen(seed)
    text, _ = g.program()
    net = cnnc.parse(text)
    H, W, C = net.input_shape
    want_h = next(h for h in range(1, H + 1) if _accepts(text, (h, W, C)))
    want_w = next(w for w in range(1, W + 1) if _accepts(text, (H, w, C)))
    assert tuple(net.min_input()) == (want_h, want_w), text


# examples/cifar_resnet.cnn on a small input, ending in logits (softmax can hide errors)
RESNET_SMALL = (pathlib.Path(__file__).resolve().parent.parent / "examples" / "cifar_resnet.cnn").read_text() \
    .replace("input 32x32x3", "input 8x8x3").replace("dense 10 softmax", "dense 10")
assert "input 8x8x3" in RESNET_SMALL and RESNET_SMALL.rstrip().endswith("dense 10")


def test_resnet_with_shortcuts_and_batchnorm_matches_torch(tmp_path):
    def ref(r, x):
        count = {}

        def name(kind):
            count[kind] = count.get(kind, 0) + 1
            return f"{kind}_{count[kind]}"

        def cbn(y, k, s, p):
            y = r.conv(y, name("conv"), k, s, p)
            return r.batchnorm(y, name("batchnorm"))

        def block(y, s):
            return cbn(torch.relu(cbn(y, 3, s, "same")), 3, 1, "same")

        y = torch.relu(cbn(x, 3, 1, "same"))
        for stage, repeats in ((0, 3), (1, 2), (2, 2)):
            if stage:
                main = block(y, 2)
                y = torch.relu(main + cbn(y, 1, 2, "valid"))
            for _ in range(repeats):
                y = torch.relu(block(y, 1) + y)
        return r.dense(r.globalpool(y), name("dense"))      # logits: softmax would hide errors
    _check(RESNET_SMALL, ref, tmp_path, (2, 8, 8, 3), small_var=False)


@pytest.mark.parametrize("text", [
    "input 8x8x1\n" + "residual { " * 300 + "relu" + " }" * 300,
    "input 8x8x1\nrepeat 1000000 { relu }",
    "input 8x8x1\n" + "repeat 1000 { " * 3 + "relu" + " }" * 3,
    "input 8x8x1\n" + "(" * 5000,
    "input 8x8x1\nconv 99999999999999999999999999 3",
])
def test_extreme_programs_never_escape_as_python_errors(text):
    """SPEC §1: no error of a program ever shows a Python traceback (only CnncError escapes)."""
    try:
        cnnc.parse(text, filename="t.cnn")
    except cnnc.CnncError as e:
        assert re.search(r"t\.cnn:\d+:\d+: error: ", str(e))


def test_api_types(lenet_model):
    net = cnnc.parse(LENET)
    assert net.input_shape == (28, 28, 1) and isinstance(net.input_shape, tuple)
    assert net.output_shape == (10,) and isinstance(net.output_shape, tuple)
    assert isinstance(lenet_model.params, dict)
    assert all(isinstance(v, np.ndarray) and v.dtype == np.float32 for v in lenet_model.params.values())
    e = err_of("input 8x8x1\nconv 0 3")
    assert isinstance(e, Exception) and isinstance(e.line, int) and isinstance(e.col, int)
    assert str(e).startswith("t.cnn:2:")
