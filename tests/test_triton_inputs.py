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
    from numeric import another, assert_close

    want, other = ref(x), ref(another(x))
    assert_close(tri(x), want, other=other, rtol=1e-5, atol=1e-6)
    assert_close(tri.module.forward(tri._state, x), want, other=other, rtol=1e-5, atol=1e-6)   # the module itself
    y = tri(torch.from_numpy(x))
    assert isinstance(y, torch.Tensor) and y.dtype == torch.float32
    assert_close(y.numpy(), want, other=other, rtol=1e-5, atol=1e-6)


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


@pytest.mark.parametrize("bad", [torch.zeros(2, 3, dtype=torch.float64), torch.zeros(2, 3, dtype=torch.int32),
                                 torch.zeros(2, 3, dtype=torch.float16), torch.zeros(3, 3), torch.zeros(2, 3, 1),
                                 torch.zeros(6), np.zeros((2, 3), np.float32)],
                         ids=["float64", "int32", "float16", "batch", "rank", "flat", "numpy"])
def test_out_of_another_dtype_or_shape_is_a_value_error(models, bad):
    """out= once took any tensor: float16 or int32 rounded or truncated the answer silently,
    another shape raised torch's own errors."""
    tri, _ = models
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((2, 4, 4, 2)).astype(np.float32))
    keep = bad.clone() if isinstance(bad, torch.Tensor) else bad.copy()
    with pytest.raises(ValueError, match=r"out= must be a (float32 )?(torch )?tensor of shape \(2, 3\)"):
        tri.module.forward(tri._state, x, out=bad)
    assert (bad == keep).all()                       # untouched


def test_out_of_the_right_dtype_and_shape_receives_the_output(models):
    from numeric import another, assert_close

    tri, ref = models
    x = np.random.default_rng(0).standard_normal((2, 4, 4, 2)).astype(np.float32)
    out = torch.full((2, 3), float("nan"))
    assert tri.module.forward(tri._state, torch.from_numpy(x), out=out) is out
    assert_close(out.numpy(), ref(x), other=ref(another(x)), rtol=1e-5, atol=1e-6)
