"""The numpy backend's in-place work changes the array it means to, whatever its memory layout.

Epilogues (bias, activations) run in place on a fresh `y`, some through a reshape to long
rows; a reshape of an array that is not C-contiguous is a copy, and work on the copy was
lost (a relu after bilinear upsampling let negatives through). Every activation runs here
after every kind of layer, and on arrays of every layout."""

from __future__ import annotations

import numpy as np
import pytest

import cnnc
from cnnc.backends.numpy.carried import numpy_ops
from cnnc.layers.activations import ACTIVATIONS

torch = pytest.importorskip("torch")
from numeric import another, assert_close, assert_equal  # noqa: E402
from test_numpy_backend import check  # noqa: E402
from torch_reference import random_params, reference  # noqa: E402


def test_relu_after_bilinear_upsampling_is_never_negative():
    net = cnnc.parse("input 4x4x2; upsample 2 mode=bilinear; relu")
    params = random_params(net)
    x = np.random.default_rng(0).standard_normal((1, 4, 4, 2)).astype(np.float32)
    y = cnnc.compile(net, weights=params)(x)
    assert y.min() >= 0
    assert_close(y, reference(net, params, x), other=reference(net, params, another(x)), rtol=1e-5, atol=1e-6)


# the layers an activation can follow, as the head of the numpy function before it (so its
# output is the `y` the activation changes) or as a fused anchor; input 5x4x3
PRODUCERS = [
    "upsample 2 mode=bilinear", "upsample 2x3 mode=bilinear", "upsample 1x2 mode=bilinear",
    "upsample 2", "upsample 1x3",
    "zeropad 1", "zeropad top=1", "pool 2", "avgpool 3 stride=2 padding=same", "globalpool", "globalmaxpool",
    "concat { branch { } branch { conv 2 1 } }", "residual { conv 3 1 }", "scale { globalpool; dense 3 sigmoid }",
    "batchnorm", "rescale 2 offset=-1", "flatten", "flatten; dense 4", "dropout 0.5",
    "conv 4 3 padding=same", "conv 4 1 stride=2", "conv 4 3 groups=1 dilation=2 padding=same", "dwconv 3",
    "sepconv 4 3", "deconv 4 3 stride=2", "conv 4 3; pool 2",
]
ACTS = sorted({a.name for a in ACTIVATIONS.values()})


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("producer", PRODUCERS)
def test_every_activation_after_every_kind(producer, act):
    check(f"input 5x4x3; {producer}; {act}")


@pytest.mark.parametrize("act", ACTS)
def test_every_activation_after_nearest_upsampling_of_one_column(act):
    # a 1-pixel-wide image repeats without a copy: the upsampled array is a view
    check(f"input 5x1x3; upsample 2; {act}")
    check(f"input 5x1x3; upsample 1; {act}")


def _layouts(a):
    """Fresh writable arrays holding the values of `a` in other memory layouts."""
    f = np.asfortranarray(a)
    t = np.ascontiguousarray(a.transpose(0, 2, 1, 3)).transpose(0, 2, 1, 3)
    return {"fortran": f, "transposed": t}


def _apply(act, y):
    env = {name: getattr(numpy_ops, name) for name in dir(numpy_ops) if name.startswith("_")}
    env.update(np=np, y=y)
    for line in ACTIVATIONS[act].numpy:
        if not line.startswith("# "):
            exec(line, env)
    return env["y"]


@pytest.mark.parametrize("act", ACTS)
def test_activation_lines_change_y_itself_in_any_layout(act):
    rng = np.random.default_rng(1)
    a = (rng.standard_normal((2, 3, 4, 5)) * 3).astype(np.float32)
    want = _apply(act, a.copy())
    other = _apply(act, another(a))
    for layout, y in _layouts(a).items():
        got = _apply(act, y)
        assert got is y or act == "linear", f"{act} on {layout}: y was rebound, not changed in place"
        assert_close(y, want, other=other, rtol=1e-6, atol=1e-7, what=f"{act} on {layout}")


def test_bias_is_added_in_place_in_any_layout():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    bias = rng.standard_normal(5).astype(np.float32)
    tiled = np.tile(bias, 4)
    want = a + bias
    for layout, y in [("C", a.copy()), *_layouts(a).items()]:
        numpy_ops._add_bias(y, tiled)
        assert_equal(y, want, other=want + np.tile(another(bias), 1), what=layout)


def test_bilinear_gives_a_fresh_c_contiguous_array():
    x = np.random.default_rng(3).standard_normal((2, 3, 4, 5)).astype(np.float32)
    for kh, kw in ((2, 2), (1, 3), (3, 1), (1, 1)):
        y = numpy_ops._bilinear(x, kh, kw)
        assert y.flags.c_contiguous and y.flags.writeable and not np.shares_memory(y, x)
