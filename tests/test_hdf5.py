"""HDF5 files are read only when self-contained (cnnc/runtime/hdf5.py): external storage,
virtual datasets, external links and soft links that leave the file's own objects are
refused before any array is read, so a hostile `.keras` file cannot read a local file,
block on a FIFO or read /dev/zero."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest

from cnnc.errors import WeightsError
from cnnc.runtime import hdf5

h5py = pytest.importorskip("h5py")


def _file(tmp_path, build) -> str:
    path = str(tmp_path / "w.h5")
    with h5py.File(path, "w") as f:
        g = f.create_group("layers/dense/vars")
        g["0"] = np.arange(6, dtype="f4").reshape(2, 3)
        build(f)
    return path


def _secret(tmp_path) -> str:
    p = tmp_path / "secret.txt"
    p.write_bytes(b"TOP-SECRET" * 16)
    return str(p)


def test_a_self_contained_file_opens_with_hard_and_soft_links_and_a_cycle(tmp_path):
    def build(f):
        f["alias"] = h5py.SoftLink("/layers/dense/vars/0")
        f["layers/dense"]["loop"] = f["layers"]          # a hard-link cycle is walked once
    with hdf5.open_file(_file(tmp_path, build), "w.h5") as h5:
        np.testing.assert_array_equal(h5["alias"][()], np.arange(6).reshape(2, 3))


def _external_storage(secret):
    def build(f):
        f["layers/dense/vars"].create_dataset("1", shape=(40,), dtype="f4", external=[(secret, 0, 160)])
    return build


@pytest.mark.parametrize("case, message", [
    ("external_storage", "keeps its data in an external file"),
    ("external_link", "is an external link to another file"),
    ("soft_link_through_external", "is a soft link to '/out/x', which is not an object of this file"),
    ("dangling_soft_link", "is a soft link to '/nowhere'"),
    ("virtual", "is a virtual dataset"),
])
def test_data_outside_the_file_is_refused_before_reading(tmp_path, case, message):
    secret = _secret(tmp_path)
    other = str(tmp_path / "other.h5")
    with h5py.File(other, "w") as f:
        f["x"] = np.frombuffer(b"TOP-SECRET" * 4, dtype="f4")
    builds = {
        "external_storage": _external_storage(secret),
        "external_link": lambda f: f.__setitem__("out", h5py.ExternalLink(other, "/")),
        "soft_link_through_external": lambda f: (f.__setitem__("out", h5py.ExternalLink(other, "/")),
                                                 f.__setitem__("alias", h5py.SoftLink("/out/x"))),
        "dangling_soft_link": lambda f: f.__setitem__("alias", h5py.SoftLink("/nowhere")),
        "virtual": lambda f: f.create_virtual_dataset("v", _layout(other)),
    }
    path = _file(tmp_path, builds[case])
    with h5py.File(path, "r") as f:   # h5py itself would read the outside data
        if case == "external_storage":
            assert f["layers/dense/vars/1"][()].tobytes().startswith(b"TOP-SECRET")
    with pytest.raises(WeightsError, match=message) as e:
        hdf5.open_file(path, "w.h5")
    assert e.value.unreadable and "only self-contained files are read" in str(e.value)


def _layout(other):
    layout = h5py.VirtualLayout(shape=(4,), dtype="f4")
    layout[:] = h5py.VirtualSource(other, "x", shape=(4,))
    return layout


def test_a_fifo_or_dev_zero_as_external_storage_is_refused_without_reading(tmp_path):
    fifo = str(tmp_path / "fifo")
    os.mkfifo(fifo)
    for target in (fifo, "/dev/zero"):
        path = _file(tmp_path, _external_storage(target))
        with pytest.raises(WeightsError, match="keeps its data in an external file"):
            hdf5.open_file(path, "w.h5")   # h5py would block on the FIFO and read zeros from /dev/zero


def test_a_file_object_is_checked_too_and_garbage_is_not_hdf5(tmp_path):
    path = _file(tmp_path, _external_storage(_secret(tmp_path)))
    with open(path, "rb") as f, pytest.raises(WeightsError, match="external file"):
        hdf5.open_file(io.BytesIO(f.read()), "w.h5")
    with pytest.raises(WeightsError, match="w.h5 is not an HDF5 file"):
        hdf5.open_file(io.BytesIO(b"not hdf5" * 100), "w.h5")


def test_open_indexed_gives_every_dataset_once_opened_by_the_check(tmp_path):
    def build(f):
        f["layers/dense/vars"]["1"] = np.ones(3, dtype="f4")
        f["layers/block/layers/conv/vars/0"] = np.zeros((1, 1, 2, 2), dtype="f4")
        f["again"] = f["layers/dense/vars/1"]   # a second hard link: listed under one path
    with hdf5.open_indexed(_file(tmp_path, build), "w.h5") as (h5, datasets):
        assert len(datasets) == 3 and {b"layers/block/layers/conv/vars/0", b"layers/dense/vars/0"} < set(datasets)
        assert {b"again", b"layers/dense/vars/1"} & set(datasets)
        np.testing.assert_array_equal(h5py.Dataset(datasets[b"layers/dense/vars/0"])[()], h5["layers/dense/vars/0"][()])
        assert h5py.Dataset(datasets[b"layers/dense/vars/0"])[()][1, 2] == 5 != h5["layers/dense/vars/0"][()][0, 2]
    assert not h5.id.valid   # closed after the block


def test_open_indexed_refuses_as_open_file_does(tmp_path):
    path = _file(tmp_path, _external_storage(_secret(tmp_path)))
    with pytest.raises(WeightsError, match="keeps its data in an external file"):
        with hdf5.open_indexed(path, "w.h5"):
            pass


def test_an_external_link_to_a_fifo_is_refused_without_opening_it(tmp_path):
    fifo = str(tmp_path / "fifo")
    os.mkfifo(fifo)

    def build(f):
        f["layers/dense"]["out"] = h5py.ExternalLink(fifo, "/")   # the walk must not follow it (it would block)
    with pytest.raises(WeightsError, match="layers/dense/out is an external link to another file"):
        hdf5.open_file(_file(tmp_path, build), "w.h5")
