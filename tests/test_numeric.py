"""tests/numeric.py, the helpers every numeric test uses, can themselves fail."""

from __future__ import annotations

import numpy as np
import pytest

from numeric import another, assert_close, assert_equal, assert_sensitive, he_normal, sensitivity


def test_sensitivity_is_the_largest_difference_in_tolerances():
    want = np.array([1.0, 100.0])
    assert sensitivity(want, [1.5, 100.0], rtol=0, atol=1e-3) == pytest.approx(500)
    assert sensitivity(want, [1.0, 101.0], rtol=1e-2, atol=0) == pytest.approx(1)
    assert sensitivity(want, want, rtol=0, atol=0) == 0
    assert sensitivity(want, [1.0, 100.5], rtol=0, atol=0) == float("inf")


def test_non_finite_values_count_only_where_they_differ():
    inf, nan = float("inf"), float("nan")
    assert sensitivity([inf, nan, 1.0], [inf, nan, 1.0], atol=1e-6) == 0
    assert sensitivity([inf, 1.0], [-inf, 1.0], atol=1e-6) == float("inf")
    assert sensitivity([nan, 1.0], [0.0, 1.0], atol=1e-6) == float("inf")


def test_an_insensitive_comparison_fails():
    """The probe of the Keras Applications: the expected output for another input moves by
    less than the tolerance, so the comparison passes whatever the input was."""
    want = np.array([0.25, 0.75])
    with pytest.raises(AssertionError, match="cannot fail"):
        assert_close(want, want, other=want * (1 + 9e-5), rtol=2e-4)
    with pytest.raises(AssertionError, match="cannot fail"):
        assert_sensitive(want, want + 1e-3, rtol=0, atol=1e-4)          # 10x: not 100x
    with pytest.raises(AssertionError, match="same output"):
        assert_equal(want, want, other=want.copy())
    assert assert_sensitive(want, want + 1e-2, rtol=0, atol=1e-4) == pytest.approx(100)
    assert_equal(want, want, other=want + 1)


def test_a_wrong_answer_fails_the_comparison():
    want = np.array([1.0, 2.0])
    with pytest.raises(AssertionError):
        assert_close(want + 1e-3, want, other=want + 1, rtol=1e-5, atol=1e-6)


def test_another_input_differs_and_keeps_shape_and_dtype():
    x = np.random.default_rng(0).standard_normal((2, 3, 3, 1)).astype(np.float32)
    y = another(x)
    assert y.shape == x.shape and y.dtype == x.dtype and not np.allclose(x, y)
    ints = np.arange(12, dtype=np.uint8).reshape(3, 4)
    assert another(ints).dtype == np.uint8 and not np.array_equal(another(ints), ints)


def test_he_normal_has_the_variance_of_its_fan_in():
    w = he_normal(np.random.default_rng(0), (3, 3, 64, 256))
    assert w.dtype == np.float32 and abs(w.var() * 3 * 3 * 64 / 2 - 1) < 0.02
    # another draw moves the kernel far beyond any tolerance a test would use
    assert_sensitive(w, he_normal(np.random.default_rng(1), w.shape), rtol=1e-4, atol=1e-6)


def test_the_torch_reference_knows_the_third_editions_kinds():
    """tests/torch_reference.py (the oracle of the backend tests and of calibrated_params) computes
    normalize, crop, layernorm and layerscale as the numpy backend does, with weights that are not
    their initial values (ones and zeros would hide a missing gamma or beta)."""
    import cnnc
    from torch_reference import random_params, reference

    net = cnnc.parse("input 12x12x3\nnormalize mean=0.5,0.4,0.3 var=0.2\nconv 8 3x3 padding=same relu\n"
                     "crop top=1 left=2 right=1\nlayernorm\nlayerscale 0.5\nnormalize\nconv 4 3x3 relu\n"
                     "flatten\nlayernorm eps=0.01\ndense 3")
    rng = np.random.default_rng(0)
    params = random_params(net, 0)
    for name, value in params.items():
        if name.endswith((".gamma", ".beta", ".mean")):
            params[name] = rng.standard_normal(value.shape).astype(np.float32)
        elif name.endswith(".var"):
            params[name] = (rng.random(value.shape) + 0.5).astype(np.float32)
    model = cnnc.compile(net, weights=params)
    x = rng.standard_normal((2, 12, 12, 3)).astype(np.float32)
    want = reference(net, params, x)
    assert_close(model(x), want, other=reference(net, params, another(x)), rtol=1e-4, atol=1e-5)
