"""The numpy backend against the independent torch reference (tests/torch_reference.py)
for every statement and option of the second edition, alone and fused with what the
numpy planner puts beside it (batchnorm folded, activations, a residual add, a max pool)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import cnnc
from cnnc.errors import CnncError

torch = pytest.importorskip("torch")
from test_numpy_backend import check  # noqa: E402

CASES = [
    # conv: dilation, groups, no bias (with a batchnorm folded into it, and without)
    "input 11x10x3; conv 4 3 dilation=2",
    "input 11x10x3; conv 4 3x2 dilation=2x3 padding=same relu",
    "input 11x10x3; conv 4 3 dilation=2 padding=2",
    "input 9x9x4; conv 6 3 groups=2",
    "input 9x9x6; conv 6 3 groups=3 stride=2 padding=same tanh",
    "input 9x9x4; conv 4 1 groups=4",
    "input 9x9x4; conv 8 3 groups=2 dilation=2 padding=same bias=false",
    "input 9x9x3; conv 4 3 bias=false",
    "input 9x9x3; conv 4 3 bias=false; batchnorm; relu",
    "input 9x9x3; conv 4 3 groups=1 dilation=1 bias=true",
    "input 12x12x4; conv 4 3 dilation=2 relu; pool 2",                 # a dilated conv's max pool by tap
    "input 12x12x4; conv 4 3 groups=2 padding=same sigmoid; pool 3 stride=2 padding=same",
    "input 12x12x4; conv 4 3 groups=2 softmax; pool 2",
    # dwconv
    "input 9x8x3; dwconv 3",
    "input 9x8x3; dwconv 3 multiplier=2 padding=same",
    "input 9x8x3; dwconv 3x2 stride=2 padding=same relu6",
    "input 9x8x3; dwconv 5 stride=2 padding=same dilation=2 bias=false",
    "input 9x8x3; dwconv 3 padding=1 multiplier=3 leaky_relu",
    "input 9x8x3; dwconv 3 padding=same bias=false; batchnorm; relu6",
    "input 9x8x3; dwconv 3 multiplier=2; batchnorm scale=false",
    "input 8x8x4; residual { dwconv 3 padding=same }; relu",
    # sepconv
    "input 9x8x3; sepconv 5 3",
    "input 9x8x3; sepconv 5 3 multiplier=2 padding=same silu",
    "input 9x8x3; sepconv 5 3 stride=2 dilation=2 bias=false",
    "input 9x8x3; sepconv 4 3x1 padding=same bias=false; batchnorm eps=1e-5; relu",
    "input 8x8x4; residual { relu; sepconv 4 3 padding=same }",
    # deconv: every size rule, with and without bias, folded batchnorm
    "input 5x6x3; deconv 4 3",
    "input 5x6x3; deconv 4 3 stride=2",
    "input 5x6x3; deconv 4 3 stride=2 padding=same relu",
    "input 5x6x3; deconv 4 4 stride=2 padding=same",
    "input 5x6x3; deconv 4 2 stride=2",
    "input 5x6x3; deconv 4 1 stride=3",
    "input 5x6x3; deconv 4 1x2 stride=3x2 padding=same",
    "input 5x6x3; deconv 4 5x3 stride=1 padding=same",
    "input 5x6x3; deconv 4 3 stride=2 bias=false; batchnorm; elu",
    "input 4x4x2; residual { deconv 2 3 padding=same }",
    # resampling
    "input 5x6x3; upsample 2",
    "input 5x6x3; upsample 2x3; relu",
    "input 5x6x3; upsample 2 mode=bilinear",
    "input 5x6x3; upsample 3x2 mode=bilinear; sigmoid",
    "input 1x2x3; upsample 4 mode=bilinear",
    "input 5x6x3; zeropad 1",
    "input 5x6x3; zeropad 2x0",
    "input 5x6x3; zeropad top=1 right=2; conv 2 3",
    "input 5x6x3; zeropad 0",
    "input 5x6x3; zeropad 1; pool 3 stride=2",
    # pooling, rescale, batchnorm options
    "input 5x6x3; globalmaxpool",
    "input 5x6x3; conv 4 3 relu; globalmaxpool; dense 2",
    "input 5x6x3; rescale 0.00392156862745098",
    "input 5x6x3; rescale 2 offset=-1; relu6",
    "input 5x6x3; flatten; rescale -0.5 offset=0.25",
    "input 5x6x3; batchnorm scale=false",
    "input 5x6x3; batchnorm center=false",
    "input 5x6x3; batchnorm scale=false center=false eps=0.1",
    "input 5x6x3; conv 4 3; batchnorm scale=false center=false",
    "input 5x6x3; flatten; dense 4; batchnorm center=false",
    # the scale block (squeeze-and-excitation), identity branches, softmax per pixel
    "input 6x6x4; scale { globalpool; dense 4 relu; dense 4 sigmoid }",
    "input 6x6x4; conv 8 1 silu; scale { globalpool; dense 2 silu; dense 8 sigmoid }; conv 4 1",
    "input 6x6x4; scale { globalmaxpool; dense 4 hard_sigmoid }; relu",
    "input 6x6x4; residual { dwconv 3 padding=same; scale { globalpool; dense 4 sigmoid }; conv 4 1 }",
    "input 6x6x4; scale { globalpool; dense 4 }; scale { globalpool; dense 4 tanh }",
    "input 6x6x4; concat { branch { } branch { batchnorm; relu; conv 2 3 padding=same bias=false } }",
    "input 6x6x4; concat { branch { } branch { } branch { conv 1 1 } }",
    "input 6x6x4; conv 5 3 padding=same softmax",
    "input 6x6x4; softmax",
    # the activations, alone and on an anchor
    *[f"input 5x6x3; conv 4 3 {a}; {b}" for a, b in (("relu6", "gelu"), ("leaky_relu", "silu"), ("elu", "swish"),
                                                      ("hard_sigmoid", "hard_swish"), ("gelu", "hard_silu"))],
]


@pytest.mark.parametrize("text", CASES)
def test_statement_matches_torch(text):
    check(text)


def test_chunk_boundaries(monkeypatch):
    """Every chunked anchor with several chunks and a short last one."""
    from cnnc.backends.numpy import anchors

    monkeypatch.setattr(anchors, "CHUNK_BYTES", 2048)
    check("input 6x5x3; conv 4 3 groups=1 dilation=2 padding=same; dwconv 3 padding=same multiplier=2 relu; "
          "sepconv 4 3 padding=same; residual { deconv 4 3 padding=same; batchnorm; relu } ; "
          "conv 4 3 groups=2 relu; pool 2", batch=5)


def test_zeropad_0_never_hands_out_the_input():
    model = cnnc.compile(cnnc.parse("input 2x2x1; zeropad 0"))
    x = np.ones((1, 2, 2, 1), np.float32)
    y = model(x)
    y[...] = 5
    assert (x == 1).all()


def test_new_kinds_need_only_numpy():
    """The numpy module of the new kinds imports nothing but numpy."""
    src = cnnc.compile(cnnc.parse("input 6x6x4; dwconv 3; sepconv 2 3; deconv 2 2 stride=2; upsample 2 mode=bilinear; "
                                  "zeropad 1; scale { globalmaxpool; dense 2 }; rescale 2")).source
    imports = {line.split()[1] for line in src.splitlines() if line.startswith(("import ", "from "))}
    assert imports <= {"os", "numpy", "numpy.lib.stride_tricks"}, imports


# --- random networks of the new kinds -----------------------------------------------

ACT = st.sampled_from(["relu", "relu6", "silu", "hard_swish", "linear", "sigmoid"])


@st.composite
def modern_stmt(draw, depth=0):
    kind = draw(st.sampled_from(["conv", "dwconv", "sepconv", "deconv", "upsample", "zeropad", "batchnorm",
                                 "rescale"] + (["scale", "concat", "residual"] if depth < 2 else [])))
    s, p = draw(st.sampled_from(["1", "2"])), draw(st.sampled_from(["valid", "same"]))
    k = draw(st.sampled_from(["1", "2", "3", "3x2"]))
    if kind == "conv":
        d = draw(st.sampled_from(["1", "2"]))
        return f"conv 4 {k} {'stride=' + s if d == '1' else 'dilation=' + d} padding={p} groups=" \
               f"{draw(st.sampled_from(['1', '2']))} bias={draw(st.sampled_from(['true', 'false']))} {draw(ACT)}"
    if kind == "dwconv":
        return f"dwconv {k} stride={s} padding={p} multiplier={draw(st.sampled_from(['1', '2']))} {draw(ACT)}"
    if kind == "sepconv":
        return f"sepconv 4 {k} stride={s} padding={p} dilation={draw(st.sampled_from(['1', '2']))} {draw(ACT)}"
    if kind == "deconv":
        return f"deconv 4 {k} stride={s} padding={p} {draw(ACT)}"
    if kind == "upsample":
        return f"upsample {s}x{draw(st.sampled_from(['1', '2']))} mode={draw(st.sampled_from(['nearest', 'bilinear']))}"
    if kind == "zeropad":
        return draw(st.sampled_from(["zeropad 1", "zeropad 0x1", "zeropad top=1 right=2"]))
    if kind == "batchnorm":
        return f"batchnorm scale={draw(st.sampled_from(['true', 'false']))} " \
               f"center={draw(st.sampled_from(['true', 'false']))}"
    if kind == "rescale":
        return "rescale 0.5 offset=0.25"
    body = draw(st.lists(modern_stmt(depth + 1), max_size=2))
    if kind == "scale":
        return "conv 4 1; scale { globalpool; dense 2 relu; dense 4 sigmoid }" if not body else \
            "conv 4 1; scale { " + "; ".join(body) + "; globalmaxpool; dense 4 hard_sigmoid }"
    if kind == "residual":
        return "conv 4 1; residual { " + "; ".join(body + ["conv 4 3 padding=same"]) + " }"
    return "concat { branch { } branch { " + "; ".join(body) + " } }"


@st.composite
def modern_program(draw):
    h, w = draw(st.integers(3, 9)), draw(st.integers(3, 9))
    body = draw(st.lists(modern_stmt(), min_size=1, max_size=4))
    tail = draw(st.sampled_from(["", "globalmaxpool; dense 3 softmax", "softmax"]))
    return "; ".join([f"input {h}x{w}x{draw(st.integers(1, 3)) * 2}"] + body + ([tail] if tail else []))


@settings(max_examples=40, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(modern_program())
def test_random_modern_networks_match_torch(text):
    try:
        net = cnnc.parse(text)
    except CnncError:
        assume(False)
    assume(np.prod(net.output_shape) * max(n.out.dims[0] for n in net.layers if len(n.out.dims) == 3) < 10**6)
    check(text, only_sensitive=True)


def exact_bilinear(x, kh, kw):
    """Bilinear upsampling (half-pixel centres, the source index clamped to [0, n - 1]) of
    NHWC x in float64, as the weighted sum of the taps of non-zero weight only: an output on
    an input pixel is that pixel, so an infinite value there stays infinite (0 * inf would
    be NaN), and an infinity reaches exactly the outputs that weigh it."""
    def taps(n, k):
        out = []
        for o in range(n * k):
            src = min(max((o + 0.5) / k - 0.5, 0.0), n - 1)
            lo = int(np.floor(src))
            t = src - lo
            out.append([(i, w) for i, w in ((lo, 1.0 - t), (min(lo + 1, n - 1), t)) if w != 0])
        return out

    x = np.asarray(x, np.float64)
    n, h, w, c = x.shape
    th, tw = taps(h, kh), taps(w, kw)
    y = np.empty((n, h * kh, w * kw, c))
    with np.errstate(invalid="ignore"):
        for a, rows in enumerate(th):
            for b, cols in enumerate(tw):
                y[:, a, b] = sum(wr * wc * x[:, i, j] for i, wr in rows for j, wc in cols)
    return y


def assert_same_bilinear(got, want, other, what=""):
    """The same NaN and infinities where the oracle has them, the finite values close; and
    the oracle for another input is far from this one."""
    from numeric import assert_sensitive

    got = np.asarray(got, np.float64)
    for test in (np.isnan, np.isposinf, np.isneginf):
        assert np.array_equal(test(got), test(want)), f"{what}: {test.__name__} differs"
    fin = np.isfinite(want)
    np.testing.assert_allclose(got[fin], want[fin], rtol=1e-6, atol=1e-6, err_msg=what)
    assert_sensitive(want, other, rtol=1e-6, atol=1e-6, what=what)


def infinite_images(shape, seed=1):
    """Random images with +inf, -inf and NaN pixels, on edges, corners and inside."""
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    x[0, 1, 1, 0] = np.inf                       # inside: its neighbours' zero-weight tap
    x[0, -1, -1, 1] = -np.inf                    # the corner: past the last pixel
    x[0, 0, -2, 0] = -np.inf
    x[1, 0, 0, 1] = np.inf                       # the first pixel: the clamp at 0
    x[1, 2, 1, 0] = np.nan
    return x


BILINEAR_SIZES = ["2", "3", "2x3", "1x2", "4x1"]


@pytest.mark.parametrize("size", BILINEAR_SIZES)
def test_bilinear_is_exact_for_infinities(size):
    # a tap of weight exactly 0 contributes nothing, an infinite value stays infinite
    net = cnnc.parse(f"input 4x5x2; upsample {size} mode=bilinear")
    kh, kw = net.layers[-1].attrs["size"]
    x = infinite_images((2, 4, 5, 2))
    y = cnnc.compile(net)(x)
    assert_same_bilinear(y, exact_bilinear(x, kh, kw), exact_bilinear(infinite_images(x.shape, 7), kh, kw), size)
    assert np.isposinf(y[0, 1 * kh, 1 * kw, 0]) and np.isneginf(y[0, -1, -1, 1])


@pytest.mark.parametrize("k", [2, 3])
def test_bilinear_of_infinities_where_torch_and_onnx_runtime_differ(k, tmp_path):
    """What docs/bridges.md says of an infinite pixel: torch's interpolate and ONNX Runtime's
    Resize multiply the zero-weight tap too (NaN on the rows and columns that fall on a
    neighbouring pixel), and torch computes a 3x upsampling's weights from a rounded 1/3, so
    it spreads the infinity to outputs whose exact weight on it is 0; cnnc is exact."""
    x = np.zeros((1, 3, 3, 1), np.float32)
    x[0, 1, 1, 0] = np.inf
    m = cnnc.compile(cnnc.parse(f"input 3x3x1; upsample {k} mode=bilinear"))
    y = m(x)[0, :, :, 0]
    other = np.ones_like(x)
    assert_same_bilinear(y[None, :, :, None], exact_bilinear(x, k, k), exact_bilinear(other, k, k))
    t = m.to_torch()(torch.from_numpy(x)).detach().numpy()[0, :, :, 0]
    assert not np.isnan(y).any() and np.isnan(t[0, 1]) and y[0, 1] == 0
    if k == 3:   # output 1 falls on input pixel 0 exactly: its weight on pixel 1 is 0
        assert y[1, 4] == 0 and np.isposinf(t[1, 4])
    ort = pytest.importorskip("onnxruntime")
    m.to_onnx(tmp_path / "m.onnx")
    s = ort.InferenceSession(str(tmp_path / "m.onnx"))
    r = s.run(None, {s.get_inputs()[0].name: x})[0][0, :, :, 0]
    assert np.isnan(r[0, 1]) and np.array_equal(np.isposinf(r), np.isposinf(y))
