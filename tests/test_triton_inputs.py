"""The triton module's inputs follow the numpy module's rule: any real dtype (bool included)
is computed in float32; anything else is a ValueError naming the expected shape."""

from __future__ import annotations

import numpy as np
import pytest

import cnnc

torch = pytest.importorskip("torch")
pytest.importorskip("triton")

TEXT = "input 4x4x2; conv 3 3x3 relu; globalpool"


@pytest.fixture(scope="module")
def models():
    net = cnnc.parse(TEXT)
    return cnnc.compile(net, backend="triton", seed=1), cnnc.compile(net, backend="numpy", seed=1)


def _bools():
    return np.random.default_rng(0).random((2, 4, 4, 2)) > 0.5


def test_bool_inputs_are_accepted_as_numpy_accepts_them(models):
    tri, ref = models
    x = _bools()
    want = ref(x)
    np.testing.assert_allclose(tri(x), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(tri.module.forward(tri._state, x), want, rtol=1e-5, atol=1e-6)   # the module itself
    y = tri(torch.from_numpy(x))
    assert isinstance(y, torch.Tensor) and y.dtype == torch.float32
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("bad", [np.full((1, 4, 4, 2), "a"), np.full((1, 4, 4, 2), None, dtype=object),
                                 np.zeros((1, 4, 4, 2), np.complex64)])
def test_what_is_not_real_numbers_is_a_value_error_in_the_module(models, bad):
    tri, _ = models
    with pytest.raises(ValueError, match=r"real-valued array of shape \(N, 4, 4, 2\)"):
        tri.module.forward(tri._state, bad)


def test_a_missing_batch_axis_is_named(models):
    tri, _ = models
    with pytest.raises(ValueError, match=r"add the batch axis"):
        tri.module.forward(tri._state, np.zeros((4, 4, 2), np.float32))
    with pytest.raises(ValueError, match=r"real-valued tensor"):
        tri.module.forward(tri._state, torch.zeros((1, 4, 4, 2), dtype=torch.complex64))
