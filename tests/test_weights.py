"""Weights: Keras-default initialisation, .npz/.safetensors round trips, and every bad case."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

import cnnc
from cnnc.errors import WeightsError

TEXT = "input 8x8x2\nconv 4 3x3\nbatchnorm\nrelu\nflatten\ndense 3 softmax"


@pytest.fixture
def model():
    return cnnc.compile(cnnc.parse(TEXT), seed=1)


def test_initial_weights_follow_keras(model):
    p = model.params
    assert list(p) == ["conv_1.kernel", "conv_1.bias", "batchnorm_1.gamma", "batchnorm_1.beta",
                       "batchnorm_1.mean", "batchnorm_1.var", "dense_1.kernel", "dense_1.bias"]
    assert all(a.dtype == np.float32 for a in p.values())
    limit = np.sqrt(6 / (3 * 3 * 2 + 3 * 3 * 4))
    k = p["conv_1.kernel"]
    assert k.shape == (3, 3, 2, 4) and np.abs(k).max() <= limit and np.abs(k).max() > 0.8 * limit
    dl = np.sqrt(6 / (144 + 3))
    assert np.abs(p["dense_1.kernel"]).max() <= dl
    assert not p["conv_1.bias"].any() and not p["dense_1.bias"].any()
    assert (p["batchnorm_1.gamma"] == 1).all() and (p["batchnorm_1.beta"] == 0).all()
    assert (p["batchnorm_1.mean"] == 0).all() and (p["batchnorm_1.var"] == 1).all()


def test_seed_reproduces_weights():
    net = cnnc.parse(TEXT)
    a, b, c = (cnnc.compile(net, seed=s).params for s in (7, 7, 8))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["conv_1.kernel"], c["conv_1.kernel"])
    # drawn from default_rng(seed) in network order
    rng = np.random.default_rng(7)
    lim = np.sqrt(6 / (18 + 36))
    np.testing.assert_array_equal(a["conv_1.kernel"], rng.uniform(-lim, lim, (3, 3, 2, 4)).astype(np.float32))


@pytest.mark.parametrize("ext", [".npz", ".safetensors"])
def test_round_trip(tmp_path, model, ext):
    if ext == ".safetensors":
        pytest.importorskip("safetensors")
    path = tmp_path / f"w{ext}"
    model.save_weights(path)
    other = cnnc.compile(cnnc.parse(TEXT), seed=99)
    other.load_weights(path)
    for k in model.params:
        np.testing.assert_array_equal(other.params[k], model.params[k])
    x = np.random.default_rng(0).standard_normal((2, 8, 8, 2)).astype(np.float32)
    np.testing.assert_array_equal(other(x), model(x))
    again = cnnc.compile(cnnc.parse(TEXT), weights=str(path))
    np.testing.assert_array_equal(again(x), model(x))


def _npz(path, arrays):
    np.savez(path, **arrays)
    return path


def _good(model):
    return {k: np.array(v) for k, v in model.params.items()}


def test_missing_array(tmp_path, model):
    arrays = _good(model)
    del arrays["batchnorm_1.var"]
    with pytest.raises(WeightsError, match=r"missing array 'batchnorm_1.var' of shape \(4,\)"):
        model.load_weights(_npz(tmp_path / "w.npz", arrays))


def test_extra_array(tmp_path, model):
    arrays = {**_good(model), "conv_9.kernel": np.zeros(3, np.float32)}
    with pytest.raises(WeightsError, match="unexpected array 'conv_9.kernel'"):
        model.load_weights(_npz(tmp_path / "w.npz", arrays))


def test_wrong_shape_names_first_wrong(tmp_path, model):
    arrays = _good(model)
    arrays["conv_1.kernel"] = np.zeros((3, 3, 4, 2), np.float32)  # torch-ish order
    arrays["dense_1.bias"] = np.zeros(4, np.float32)
    with pytest.raises(WeightsError, match=r"'conv_1.kernel' has shape \(3, 3, 4, 2\), expected \(3, 3, 2, 4\)"):
        model.load_weights(_npz(tmp_path / "w.npz", arrays))


def test_non_numeric_array(model):
    arrays = _good(model)
    arrays["dense_1.bias"] = np.array(["a", "b", "c"])
    with pytest.raises(WeightsError, match="dense_1.bias"):
        model.set_params(arrays)


def test_failed_load_keeps_old_weights(tmp_path, model):
    before = _good(model)
    arrays = _good(model)
    arrays["dense_1.kernel"] = np.zeros((2, 2), np.float32)
    with pytest.raises(ValueError):
        model.load_weights(_npz(tmp_path / "w.npz", arrays))
    for k in before:
        np.testing.assert_array_equal(model.params[k], before[k])


def test_pickled_object_array_is_refused(tmp_path, model):
    arrays = {k: v for k, v in _good(model).items()}
    arrays["dense_1.bias"] = np.array([{"evil": 1}, None, 3], dtype=object)
    path = _npz(tmp_path / "w.npz", arrays)  # savez pickles object arrays
    with pytest.raises(WeightsError, match="not a readable .npz"):
        model.load_weights(path)


def test_corrupt_and_missing_files(tmp_path, model):
    bad = tmp_path / "w.npz"
    bad.write_bytes(b"this is not a zip file")
    with pytest.raises(WeightsError, match="not a readable .npz") as e:
        model.load_weights(bad)
    assert e.value.unreadable
    truncated = tmp_path / "t.npz"
    model.save_weights(truncated)
    truncated.write_bytes(truncated.read_bytes()[:100])
    with pytest.raises(WeightsError):
        model.load_weights(truncated)
    with pytest.raises(WeightsError, match="no such weights file"):
        model.load_weights(tmp_path / "nope.npz")
    with pytest.raises(WeightsError, match=".npz or .safetensors"):
        model.load_weights(tmp_path / "w.pt")
    npy = tmp_path / "single.npz"
    with open(npy, "wb") as f:
        np.save(f, np.zeros(3))
    with pytest.raises(WeightsError):
        model.load_weights(npy)


def test_corrupt_safetensors(tmp_path, model):
    pytest.importorskip("safetensors")
    bad = tmp_path / "w.safetensors"
    bad.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{garbage")
    with pytest.raises(WeightsError, match="not a readable safetensors"):
        model.load_weights(bad)


def test_weights_error_is_both_kinds():
    e = WeightsError("w.npz: missing array 'a'")
    assert isinstance(e, cnnc.CnncError) and isinstance(e, ValueError)
    assert str(e) == "w.npz: missing array 'a'"


def test_safetensors_missing_says_how_to_install(tmp_path, model, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "safetensors", None)
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)
    with pytest.raises(WeightsError, match="pip install safetensors"):
        model.save_weights(tmp_path / "w.safetensors")


def test_npz_is_a_plain_zip_of_npy(tmp_path, model):
    path = tmp_path / "w.npz"
    model.save_weights(path)
    with zipfile.ZipFile(path) as z:
        assert sorted(z.namelist()) == sorted(f"{k}.npy" for k in model.params)
