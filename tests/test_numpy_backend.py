"""The numpy backend against the independent torch reference (tests/torch_reference.py),
for every statement and option of SPEC §1, on random non-trivial weights."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import cnnc
from cnnc.errors import CnncError

torch = pytest.importorskip("torch")
from numeric import another, sensitivity  # noqa: E402
from torch_reference import assert_close, random_params, reference  # noqa: E402


def check(text: str, batch: int = 2, seed: int = 0, input=None, scale: float = 1.0, only_sensitive=False):
    """The model's output and every traced node against the torch reference, each shown to
    be a comparison that can fail (the reference for another input is far from it).
    only_sensitive: a drawn program whose reference cannot tell inputs apart (a softmax over
    one channel is 1 everywhere) is discarded (hypothesis's assume) rather than compared."""
    net = cnnc.parse(text, input=input)
    params = random_params(net, seed)
    x = np.random.default_rng(seed + 1).standard_normal((batch, *net.input_shape)).astype(np.float32) * scale
    ref_trace, other_trace = {}, {}
    ref = reference(net, params, x, ref_trace)
    other = reference(net, params, another(x), other_trace)   # what a wrong input would give
    if only_sensitive:
        assume(all(sensitivity(v, other_trace[k], tol=1e-4 * np.maximum(1.0, np.abs(v))) >= 100
                   for k, v in ref_trace.items()))
    model = cnnc.compile(net, weights=params)
    got = model(x)
    assert got.dtype == np.float32
    assert got.shape == (batch, *net.output_shape)
    assert_close(got, ref, text, other=other)
    # every materialized node agrees too (the trace `cnnc check` compares)
    for name, value in model.trace(x).items():
        assert_close(value, ref_trace[name], f"{text} @ {name}", other=other_trace[name])
    return model


CASES = [
    # conv: paddings, kernels, strides, activations, channel counts
    "input 8x8x1; conv 4 3x3",
    "input 8x8x3; conv 5 3x3 relu",
    "input 9x7x2; conv 4 3x3 padding=same",
    "input 9x7x2; conv 4 3x3 stride=2 padding=same",          # TF same, stride 2, odd sizes
    "input 11x13x3; conv 4 4x4 stride=2 padding=same",        # even kernel: asymmetric split
    "input 10x11x2; conv 3 5x5 stride=3 padding=same tanh",
    "input 7x9x2; conv 4 2x2 stride=2 padding=same",
    "input 9x9x2; conv 4 3x3 padding=1 sigmoid",
    "input 9x9x2; conv 4 3x3 stride=2 padding=2",
    "input 9x11x3; conv 4 3x5 stride=2x1",
    "input 9x11x3; conv 4 1x3 padding=same",
    "input 8x8x6; conv 4 1x1",
    "input 9x9x6; conv 4 1x1 stride=2",
    "input 6x6x3; conv 7 3x3 softmax",
    "input 6x6x3; conv 7 3x3 activation=linear",
    "input 5x5x1; conv 2 5x5",
    # max pooling
    "input 8x8x3; pool 2",
    "input 11x11x3; pool 2",
    "input 9x9x2; pool 3 stride=2 padding=same",
    "input 10x10x2; pool 2 stride=1 padding=same",
    "input 9x9x2; pool 3 stride=1 padding=same",
    "input 9x9x2; pool 3 stride=2 padding=1",
    "input 9x11x2; pool 2x3 stride=1x2",
    # average pooling
    "input 8x8x3; avgpool 2",
    "input 9x9x2; avgpool 3 stride=2 padding=same",
    "input 10x7x2; avgpool 2 padding=same",
    "input 9x9x2; avgpool 3 stride=1 padding=same",
    "input 9x9x2; avgpool 3 padding=1",
    "input 9x9x2; avgpool 3 stride=2 padding=1",
    # conv groups with a fused max pool (monotone: pooled before bias; softmax: after)
    "input 12x12x1; conv 4 3x3 relu; pool 2",
    "input 12x12x3; conv 4 3x3 sigmoid; pool 2",
    "input 12x12x3; conv 4 3x3 softmax; pool 2",
    "input 12x12x3; conv 4 3x3; tanh; pool 3 stride=2 padding=same",
    "input 12x12x3; conv 4 3x3 relu; pool 3 stride=2 padding=1",
    # vectors
    "input 6x5x3; flatten",
    "input 6x5x3; flatten; dense 7",
    "input 6x5x3; flatten; dense 7 relu; dense 3 softmax",
    "input 6x5x3; globalpool; dense 4 sigmoid",
    "input 6x5x3; globalpool; dense 4 tanh; flatten",
    # batchnorm: folded after a linear conv/dense, on its own otherwise
    "input 8x8x3; conv 4 3x3; batchnorm",
    "input 8x8x3; conv 4 3x3 padding=same; batchnorm eps=1e-5; relu",
    "input 8x8x3; conv 4 3x3; batchnorm; relu; pool 2",
    "input 8x8x3; conv 4 3x3 relu; batchnorm",
    "input 8x8x3; batchnorm",
    "input 8x8x3; flatten; dense 5; batchnorm; softmax",
    "input 8x8x3; globalpool; batchnorm eps=0.01",
    "input 8x8x3; conv 4 3x3; concat { branch { batchnorm } branch { relu } }",
    # standalone activations, dropout
    "input 5x5x4; relu",
    "input 5x5x4; sigmoid",
    "input 5x5x4; tanh",
    "input 5x5x4; softmax",
    "input 5x5x4; linear; relu",
    "input 5x5x4; dropout 0.5; flatten; dropout 0.25; dense 3",
    # blocks
    "input 8x8x4; residual { conv 4 3x3 padding=same relu; conv 4 3x3 padding=same }; relu",
    "input 8x8x4; residual { conv 8 3x3 stride=2 padding=same relu; conv 8 3x3 padding=same } shortcut { conv 8 1x1 stride=2 }",
    "input 8x8x4; residual { relu } shortcut { }",
    "input 8x8x4; residual { }",
    "input 9x9x3; concat { branch { conv 2 1x1 relu } branch { conv 3 3x3 padding=same } branch { pool 3 stride=1 padding=same; conv 2 1x1 } }",
    "input 6x6x2; flatten; concat { branch { dense 3 } branch { dense 4 relu } }",
    "input 8x8x3; repeat 3 { conv 3 3x3 padding=same relu }",
    "input 8x8x3; repeat 2 { residual { conv 3 3x3 padding=same; batchnorm; relu } }",
    "input 8x8x2; c1: conv 3 3x3; c2: conv 3 3x3; residual { class: relu }",
    # a residual add fused into the conv/dense that ends the block (or the shortcut)
    "input 6x6x3; residual { conv 3 3x3 padding=same tanh }; sigmoid; relu",
    "input 6x6x3; residual { conv 5 3x3 padding=same } shortcut { conv 5 1x1; batchnorm }; relu",
    "input 4x4x2; flatten; residual { dense 32 relu; dense 32 }; relu; dense 3",
    "input 6x6x3; residual { conv 3 3x3 padding=same; pool 3 stride=1 padding=same }",
]


@pytest.mark.parametrize("text", CASES)
def test_statement_matches_torch(text):
    check(text)


def test_batch_of_one_and_large_values():
    net = cnnc.parse("input 6x6x2; conv 3 3x3; flatten; dense 4 softmax")
    params = random_params(net, 3)
    # logits near 300 (exp overflows float32 past 88) that the input still moves: a softmax
    # saturated on one class would give the same answer for any input
    params["dense_1.bias"] = np.array([300.0, 300.5, 299.0, 300.0], np.float32)
    model = cnnc.compile(net, weights=params)
    x = np.random.default_rng(0).standard_normal((1, 6, 6, 2)).astype(np.float32)
    y = model(x)
    assert np.isfinite(y).all()
    assert_close(y, reference(net, params, x), other=reference(net, params, another(x)))


def test_sigmoid_saturates_without_overflow():
    net = cnnc.parse("input 1x1x3; sigmoid")
    model = cnnc.compile(net)
    x = np.array([[[[-1e4, 0.0, 1e4]]]], np.float32)
    with np.errstate(all="raise"):
        y = model(x)
    assert y.ravel().tolist() == [0.0, 0.5, 1.0]


@pytest.mark.parametrize("path", ["examples/lenet.cnn", "examples/cifar_resnet.cnn", "examples/oneliner.cnn"])
def test_examples_match_torch(path):
    import pathlib

    text = (pathlib.Path(__file__).parent.parent / path).read_text()
    check(text, batch=3)


def test_inception_example_matches_torch():
    import pathlib

    # a wide input spread: the average over 784 pixels would otherwise leave the logits
    # mostly to the biases (another input moves them by less than 100x the tolerance)
    check((pathlib.Path(__file__).parent.parent / "examples/inception.cnn").read_text(), batch=1, scale=3.0)


# --- random networks ----------------------------------------------------------

ACT = st.sampled_from(["relu", "sigmoid", "tanh", "softmax", "linear"])
PAD = st.sampled_from(["valid", "same", "1"])


@st.composite
def image_stmt(draw, depth=0):
    kind = draw(st.sampled_from(["conv", "conv", "pool", "avgpool", "batchnorm", "act", "dropout"]
                                + (["residual", "concat", "repeat"] if depth < 2 else [])))
    if kind == "conv":
        k = draw(st.sampled_from(["1", "2", "3", "3x2", "1x3"]))
        s = draw(st.sampled_from(["1", "1", "2", "2x1"]))
        return (f"conv {draw(st.integers(1, 5))} {k} stride={s} padding={draw(PAD)} {draw(ACT)}")
    if kind in ("pool", "avgpool"):
        k = draw(st.sampled_from(["2", "3", "2x3"]))
        s = draw(st.sampled_from(["1", "2", "2x1"]))
        return f"{kind} {k} stride={s} padding={draw(PAD)}"
    if kind == "batchnorm":
        return "batchnorm"
    if kind == "act":
        return draw(ACT)
    if kind == "dropout":
        return "dropout 0.3"
    body = draw(st.lists(image_stmt(depth + 1), min_size=0, max_size=2))
    if kind == "repeat":
        return f"repeat {draw(st.integers(1, 2))} {{ {'; '.join(body) or 'relu'} }}"
    if kind == "residual":
        c = draw(st.integers(1, 4))
        block = "; ".join(body + [f"conv {c} 3x3 padding=same"])
        if draw(st.booleans()):
            return f"residual {{ {block} }} shortcut {{ conv {c} 1x1 }}"
        return f"residual {{ {block} }}"
    branches = draw(st.lists(st.lists(image_stmt(depth + 1), max_size=2), min_size=1, max_size=3))
    return "concat { " + " ".join("branch { " + "; ".join(b + ["conv 2 1x1"]) + " }" for b in branches) + " }"


@st.composite
def program(draw):
    h, w, c = draw(st.integers(4, 12)), draw(st.integers(4, 12)), draw(st.integers(1, 4))
    body = draw(st.lists(image_stmt(), min_size=1, max_size=4))
    tail = draw(st.sampled_from(["", "flatten; dense 3", "globalpool; dense 4 softmax",
                                 "flatten; dense 5; batchnorm; relu; dense 2"]))
    return "; ".join([f"input {h}x{w}x{c}"] + body + ([tail] if tail else []))


@settings(max_examples=60, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(program())
def test_random_networks_match_torch(text):
    try:
        cnnc.parse(text)
    except CnncError:
        assume(False)
    check(text, only_sensitive=True)
