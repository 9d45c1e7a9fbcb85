"""The .npz writer (cnnc/runtime/npz.py): np.load, zipfile and cnnc's own reader read back
exactly what np.savez would have written, the CRCs are real, and the same arrays give the
same bytes."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from cnnc.runtime import npz
from cnnc.runtime.weights import read_file


def _arrays():
    rng = np.random.default_rng(0)
    return {
        "conv_1.kernel": rng.standard_normal((3, 3, 2, 4)).astype(np.float32),
        "empty": np.zeros((0, 3), np.float32),
        "scalar": np.array(2.5, np.float32),            # 0-d stays 0-d
        "wide": rng.standard_normal(300_000),            # float64, several CRC blocks
        "ints": np.arange(7, dtype=np.int64),
        "fortran": np.asfortranarray(rng.standard_normal((3, 4))),
        "dense_é.bias": np.ones(3, np.float32),          # a non-ASCII name (UTF-8 flag)
    }


def test_np_load_reads_back_every_array_exactly(tmp_path):
    arrays = _arrays()
    path = tmp_path / "w.npz"
    npz.write_npz(path, arrays)
    with np.load(path, allow_pickle=False) as got:
        assert list(got.keys()) == list(arrays)
        for name, a in arrays.items():
            assert got[name].dtype == a.dtype and got[name].shape == a.shape, name
            np.testing.assert_array_equal(got[name], a)
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None   # every member's CRC checks
        assert all(i.compress_type == zipfile.ZIP_STORED for i in z.infolist())


def test_members_are_what_np_savez_writes(tmp_path):
    arrays = {k: v for k, v in _arrays().items() if v.flags.c_contiguous}   # savez keeps Fortran order
    npz.write_npz(tmp_path / "mine.npz", arrays)
    np.savez(tmp_path / "numpy.npz", **arrays)
    with zipfile.ZipFile(tmp_path / "mine.npz") as a, zipfile.ZipFile(tmp_path / "numpy.npz") as b:
        assert [(i.filename, i.file_size, i.CRC) for i in a.infolist()] == \
               [(i.filename, i.file_size, i.CRC) for i in b.infolist()]
        for i in a.infolist():
            assert a.read(i.filename) == b.read(i.filename)


def test_a_changed_byte_fails_the_crc(tmp_path):
    path = tmp_path / "w.npz"
    arrays = {"a": np.arange(1000, dtype=np.float32)}
    npz.write_npz(path, arrays)
    data = bytearray(path.read_bytes())
    at = data.index(np.float32(500).tobytes())
    data[at] ^= 1
    path.write_bytes(bytes(data))
    with zipfile.ZipFile(path) as z:
        assert z.testzip() == "a.npy"


def test_the_same_arrays_give_the_same_bytes_and_other_values_other_bytes(tmp_path):
    arrays = _arrays()
    npz.write_npz(tmp_path / "a.npz", arrays)
    npz.write_npz(tmp_path / "b.npz", dict(arrays))
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    arrays["conv_1.kernel"] = arrays["conv_1.kernel"] * 2
    npz.write_npz(tmp_path / "c.npz", arrays)
    assert (tmp_path / "c.npz").read_bytes() != (tmp_path / "a.npz").read_bytes()


def test_cnnc_reads_it_as_weights(tmp_path):
    params = {"conv_1.kernel": np.full((3, 3, 1, 2), 0.5, np.float32), "conv_1.bias": np.array([1.0, -2.0], np.float32)}
    npz.write_npz(tmp_path / "w.npz", params)
    got = read_file(tmp_path / "w.npz")
    assert set(got) == set(params)
    for k in params:
        np.testing.assert_array_equal(got[k], params[k])


def test_object_arrays_are_refused_not_pickled(tmp_path):
    with pytest.raises(ValueError, match="without pickling"):
        npz.write_npz(tmp_path / "w.npz", {"a": np.array([{"x": 1}], dtype=object)})
