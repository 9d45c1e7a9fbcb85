"""Weights: Keras-default initialisation, .npz/.safetensors round trips, and every bad case."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

import cnnc
from cnnc.errors import WeightsError
from numeric import another, assert_equal, assert_params_equal

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
    assert_equal(a["conv_1.kernel"], rng.uniform(-lim, lim, (3, 3, 2, 4)).astype(np.float32), other=c["conv_1.kernel"])


@pytest.mark.parametrize("ext", [".npz", ".safetensors"])
def test_round_trip(tmp_path, model, ext):
    if ext == ".safetensors":
        pytest.importorskip("safetensors")
    path = tmp_path / f"w{ext}"
    model.save_weights(path)
    other = cnnc.compile(cnnc.parse(TEXT), seed=99)
    before = other.params.copy()
    x = np.random.default_rng(0).standard_normal((2, 8, 8, 2)).astype(np.float32)
    y_before = other(x)
    other.load_weights(path)
    assert_params_equal(other.params, model.params, other=before)
    assert_equal(other(x), model(x), other=y_before)
    again = cnnc.compile(cnnc.parse(TEXT), weights=str(path))
    assert_equal(again(x), model(x), other=model(another(x)))


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
    arrays = _good(cnnc.compile(cnnc.parse(TEXT), seed=2))   # weights unlike the model's
    good = dict(arrays)
    arrays["dense_1.kernel"] = np.zeros((2, 2), np.float32)
    with pytest.raises(ValueError):
        model.load_weights(_npz(tmp_path / "w.npz", arrays))
    assert_params_equal(model.params, before, other=good)   # not even the arrays that fit


def test_pickled_object_array_is_refused(tmp_path, model):
    arrays = {k: v for k, v in _good(model).items()}
    arrays["dense_1.bias"] = np.array([{"evil": 1}, None, 3], dtype=object)
    path = _npz(tmp_path / "w.npz", arrays)  # savez pickles object arrays
    with pytest.raises(WeightsError, match="'dense_1.bias' holds Python objects .pickled data is never loaded") as e:
        model.load_weights(path)
    assert e.value.unreadable


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


def test_the_same_weights_give_the_same_npz_bytes(tmp_path, model):
    """A weights file is a generated file: the same weights give the same bytes whenever they are
    written, and other weights other bytes."""
    model.save_weights(tmp_path / "a.npz")
    model.save_weights(tmp_path / "b.npz")
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    other = cnnc.compile(cnnc.parse(TEXT), seed=2)
    other.save_weights(tmp_path / "c.npz")
    assert (tmp_path / "c.npz").read_bytes() != (tmp_path / "a.npz").read_bytes()


# --- hardening: every file is checked from its directory before any array is read ---

def _npy_bytes(shape, dtype="<f4", data=b""):
    """An .npy member whose header declares `shape` and which holds only `data`."""
    import io

    f = io.BytesIO()
    np.lib.format.write_array_header_1_0(f, {"descr": dtype, "fortran_order": False, "shape": tuple(shape)})
    return f.getvalue() + data


def _peak_bytes(fn):
    import tracemalloc

    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


@pytest.mark.parametrize("member, message", [
    ("zz_bomb", "unexpected array 'zz_bomb'"),        # an extra name
    ("dense_1.kernel", r"'dense_1.kernel' has shape \(65536, 16384\)"),   # an expected name, a huge shape
])
def test_a_huge_declared_array_is_refused_before_it_is_read(tmp_path, model, member, message):
    """A 4 GiB array declared in a few bytes (a zip bomb's effect) costs no memory: names and
    shapes come from the zip directory and the .npy headers, never from reading the arrays."""
    path = tmp_path / "w.npz"
    good = _good(model)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for k, v in good.items():
            if k != member:
                buf = __import__("io").BytesIO()
                np.save(buf, v)
                z.writestr(k + ".npy", buf.getvalue())
        z.writestr(member + ".npy", _npy_bytes((65536, 16384), data=b"\0" * 4096))   # declares 4 GiB
    assert path.stat().st_size < 10_000
    errors = []

    def load():
        with pytest.raises(WeightsError, match=message) as e:
            model.load_weights(path)
        errors.append(e.value)
    assert _peak_bytes(load) < 5_000_000
    assert not errors[0].unreadable      # it is a file that does not fit: exit 1 in the CLI


def test_an_extra_member_that_is_not_an_array_is_refused(tmp_path, model):
    path = tmp_path / "w.npz"
    np.savez(path, **_good(model))
    with zipfile.ZipFile(path, "a") as z:
        z.writestr("notes.txt", "hello")
    with pytest.raises(WeightsError, match="member 'notes.txt' is not an .npy array"):
        model.load_weights(path)


def test_a_truncated_array_is_a_clear_error(tmp_path, model):
    path = tmp_path / "w.npz"
    good = _good(model)
    with zipfile.ZipFile(path, "w") as z:
        for k, v in good.items():
            z.writestr(k + ".npy", _npy_bytes(v.shape, data=v.tobytes()[:-4]) if k == "conv_1.kernel"
                       else _npy_bytes(v.shape, data=v.tobytes()))
    with pytest.raises(WeightsError, match="array 'conv_1.kernel' cannot be read") as e:
        model.load_weights(path)
    assert e.value.unreadable


@pytest.mark.parametrize("value, message", [
    (np.nan, r"'conv_1.bias' holds 1 NaN or infinite value\(s\) \(the first at index \(2,\)\)"),
    (np.inf, r"'conv_1.bias' holds 1 NaN or infinite value"),
    (1e300, r"'conv_1.bias' holds values too large for float32 \(largest magnitude 1e\+300"),
])
@pytest.mark.parametrize("via", ["file", "set_params"])
def test_weights_that_are_not_finite_in_float32_are_an_error(tmp_path, model, value, message, via):
    import warnings

    arrays = {k: v.astype(np.float64) for k, v in _good(model).items()}
    arrays["conv_1.bias"][2] = value
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # numpy's overflow warning must not leak either
        with pytest.raises(WeightsError, match=message):
            if via == "file":
                model.load_weights(_npz(tmp_path / "w.npz", arrays))
            else:
                model.set_params(arrays)


def test_a_folder_and_a_renamed_npy_are_named_for_what_they_are(tmp_path, model):
    (tmp_path / "w.npz").mkdir()
    with pytest.raises(WeightsError, match="is a folder, not a weights file") as e:
        model.load_weights(tmp_path / "w.npz")
    assert e.value.unreadable
    np.save(tmp_path / "one.npy", np.zeros(3))
    (tmp_path / "one.npy").rename(tmp_path / "one.npz")
    with pytest.raises(WeightsError, match="a single .npy array, not an .npz archive") as e:
        model.load_weights(tmp_path / "one.npz")
    assert e.value.unreadable and "context manager" not in str(e.value)


def test_bfloat16_tensors_are_widened_not_refused(tmp_path, model):
    torch = pytest.importorskip("torch")
    bf16 = {k: torch.from_numpy(v).to(torch.bfloat16) for k, v in _good(model).items()}
    want = {k: v.float().numpy() for k, v in bf16.items()}
    before = model.params.copy()
    model.set_params(bf16)
    assert_params_equal(model.params, want, other=before)
    pytest.importorskip("safetensors")
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in bf16.items()}, tmp_path / "w.safetensors")
    other = cnnc.compile(cnnc.parse(TEXT), seed=5)
    before = other.params.copy()
    other.load_weights(tmp_path / "w.safetensors")
    assert_params_equal(other.params, want, other=before)


# --- bad safetensors files: the same clear ValueError from the library and from generated modules ---

def _safetensors_file(path, header, data=b"", raw=None, length=None):
    import json
    import struct

    h = raw if raw is not None else json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(h) if length is None else length) + h + data)
    return path


def _entries(model, **change):
    """A correct header for `model`'s parameters, with entries replaced by `change`."""
    header, offset = {}, 0
    for k, v in _good(model).items():
        header[k] = {"dtype": "F32", "shape": list(v.shape), "data_offsets": [offset, offset + v.nbytes]}
        offset += v.nbytes
    for k, v in change.items():
        header[k.replace("__", ".")] = v
    return header, b"\0" * offset


def _bad_safetensors(model, tmp_path):
    h, data = _entries(model)
    first = next(iter(h))
    n = h[first]["data_offsets"][1]
    yield "negative offset", {**h, first: {**h[first], "data_offsets": [-4, n]}}, data, {}
    second = list(h)[1]
    yield "overlapping offsets", {**h, second: {**h[second], "data_offsets": [0, h[second]["data_offsets"][1] -
                                                                             h[second]["data_offsets"][0]]}}, data, {}
    yield "extra tensor", {**h, "zz_extra": {"dtype": "F32", "shape": [1], "data_offsets": [len(data), len(data) + 4]}}, \
        data + b"\0" * 4, {}
    yield "unknown dtype", {**h, first: {**h[first], "dtype": "X9"}}, data, {}
    yield "complex dtype", {**h, first: {**h[first], "dtype": "C64", "shape": [n // 8]}}, data, {}
    yield "size mismatch", {**h, first: {**h[first], "shape": [1, 2, 3]}}, data, {}
    yield "truncated data", h, data[:-8], {}
    yield "not JSON", None, data, {"raw": b"{garbage"}
    yield "not an object", None, data, {"raw": b"[1, 2]"}
    yield "huge header length", h, data, {"length": 2 ** 62}
    yield "empty", None, b"", {"raw": b""}


def _bad_cases():
    return ["negative offset", "overlapping offsets", "extra tensor", "unknown dtype", "complex dtype",
            "size mismatch", "truncated data", "not JSON", "not an object", "huge header length", "empty"]


@pytest.fixture(scope="module")
def generated_modules():
    """The numpy and the triton backend's generated modules for TEXT (executed, as `import` would)."""
    pytest.importorskip("safetensors")
    net = cnnc.parse(TEXT)
    mods = {"numpy": cnnc.compile(net, backend="numpy").module}
    try:
        import triton  # noqa: F401
        mods["triton"] = cnnc.compile(net, backend="triton").module
    except ImportError:
        pass
    return mods


@pytest.mark.parametrize("case", _bad_cases())
def test_bad_safetensors_are_a_clear_value_error_everywhere(tmp_path, model, generated_modules, case):
    header, data, kw = next((h, d, k) for name, h, d, k in _bad_safetensors(model, tmp_path) if name == case)
    path = _safetensors_file(tmp_path / "w.safetensors", header, data, **kw)
    with pytest.raises(WeightsError) as lib:
        model.load_weights(path)
    assert str(path) in str(lib.value)
    if case == "extra tensor":
        assert "unexpected array 'zz_extra'" in str(lib.value) and not lib.value.unreadable
    elif case == "complex dtype":
        assert "holds C64, which cnnc cannot read" in str(lib.value)
    else:
        assert "not a readable safetensors file" in str(lib.value) and lib.value.unreadable
    for backend, mod in generated_modules.items():
        with pytest.raises(ValueError) as gen:
            mod.load(str(path))
        assert type(gen.value).__name__ in ("ValueError", "UnreadableWeights"), backend
        assert str(gen.value) == str(lib.value), backend


def _zip_of_many(path, n):
    """A zip of n empty members a0.npy, a1.npy, ... (zip64 end records past 65,535), written
    byte by byte: zipfile takes seconds for as many."""
    import struct

    local, central = [], []
    offset = 0
    for i in range(n):
        name = f"a{i}.npy".encode()
        head = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0, 0, 0, 0, len(name), 0) + name
        central.append(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, 0, 0, 0, len(name), 0, 0,
                                   0, 0, 0, offset) + name)
        local.append(head)
        offset += len(head)
    cd = b"".join(central)
    end = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, n, n, len(cd), offset)
    end += struct.pack("<4sLQL", b"PK\x06\x07", 0, offset + len(cd), 1)
    end += struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, len(cd), offset, 0)
    path.write_bytes(b"".join(local) + cd + end)
    return path


def test_a_zip_of_200000_members_is_refused_before_its_directory_is_parsed(tmp_path, model, monkeypatch):
    """It took 12 s to refuse; its end record says how many members it has."""
    from cnnc.training.data import DataError, load_data

    with zipfile.ZipFile(_zip_of_many(tmp_path / "small.zip", 3)) as z:
        assert z.namelist() == ["a0.npy", "a1.npy", "a2.npy"]   # the builder writes real zips
    path = _zip_of_many(tmp_path / "w.npz", 200_000)
    parsed = []
    real = zipfile.ZipFile.__init__
    monkeypatch.setattr(zipfile.ZipFile, "__init__", lambda self, *a, **k: parsed.append(a) or real(self, *a, **k))
    with pytest.raises(WeightsError, match="holds 200,000 members, more than the 1,032 it may hold"):
        model.load_weights(path)
    with pytest.raises(DataError, match="holds 200,000 members"):
        load_data(path, model.network)
    assert parsed == []


def test_a_zip_with_a_member_name_twice_is_refused(tmp_path, model):
    from cnnc.training.data import DataError, load_data

    path = tmp_path / "w.npz"
    good = _good(model)
    with pytest.warns(UserWarning, match="Duplicate name"), zipfile.ZipFile(path, "w") as z:
        for name, a in [*good.items(), ("conv_1.kernel", np.ones_like(good["conv_1.kernel"]))]:
            with z.open(name + ".npy", "w") as f:
                np.lib.format.write_array(f, a)
    with pytest.raises(WeightsError, match="the member 'conv_1.kernel.npy' appears twice"):
        model.load_weights(path)
    with pytest.raises(DataError, match="appears twice"):
        load_data(path, model.network)
