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
    from cnnc.backends import numpy as numpy_backend

    monkeypatch.setattr(numpy_backend, "CHUNK_BYTES", 2048)
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


def test_bilinear_past_the_last_pixel_reads_only_the_last_pixel():
    # PyTorch clamps the source index at 0 only; past the last pixel both taps are the last
    # pixel, so an infinite edge stays infinite instead of becoming inf * 0 = NaN
    torch = pytest.importorskip("torch")
    net = cnnc.parse("input 3x3x1; upsample 2 mode=bilinear")
    m = cnnc.compile(net)
    x = np.zeros((1, 3, 3, 1), np.float32)
    x[0, 2, 2, 0] = np.inf
    y = m(x)[0, :, :, 0]
    assert np.isposinf(y[5, 5]) and np.isposinf(y[4, 5]) and np.isposinf(y[5, 4])
    t = torch.nn.functional.interpolate(torch.from_numpy(x).permute(0, 3, 1, 2), scale_factor=2, mode="bilinear",
                                        align_corners=False)[0, 0].numpy()
    assert np.array_equal(np.isposinf(y), np.isposinf(t)) and np.array_equal(np.isnan(y), np.isnan(t))
