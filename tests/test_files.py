"""Atomic writes: all or none, inputs never overwritten, outputs checked up front."""

from __future__ import annotations

import os

import pytest

from cnnc.errors import UsageError
from cnnc.runtime.files import check_writable, refuse_overwriting_inputs, same_file, write_atomic, write_together


def _writer(text):
    def write(tmp):
        with open(tmp, "w") as f:
            f.write(text)
    return write


def _failing(tmp):
    with open(tmp, "w") as f:
        f.write("half")
    raise OSError(28, "No space left on device")


def test_write_atomic_replaces_in_one_step_and_leaves_nothing_on_failure(tmp_path):
    p = tmp_path / "w.txt"
    p.write_text("old")
    with pytest.raises(OSError):
        write_atomic(p, _failing)
    assert p.read_text() == "old" and sorted(os.listdir(tmp_path)) == ["w.txt"]
    write_atomic(p, _writer("new"))
    assert p.read_text() == "new" and sorted(os.listdir(tmp_path)) == ["w.txt"]


def test_a_pair_is_written_both_or_neither(tmp_path):
    mod, weights = tmp_path / "net.py", tmp_path / "net.npz"
    mod.write_text("old module")
    weights.write_text("old weights")
    with pytest.raises(OSError):
        write_together([(mod, _writer("new module")), (weights, _failing)])
    assert mod.read_text() == "old module" and weights.read_text() == "old weights"
    assert sorted(os.listdir(tmp_path)) == ["net.npz", "net.py"]
    write_together([(mod, _writer("new module")), (weights, _writer("new weights"))])
    assert mod.read_text() == "new module" and weights.read_text() == "new weights"


def test_a_failed_rename_restores_the_files_already_replaced(tmp_path, monkeypatch):
    mod, weights = tmp_path / "net.py", tmp_path / "net.npz"
    mod.write_text("old module")
    real = os.replace
    calls = []

    def flaky(src, dst):
        calls.append(dst)
        if os.fspath(dst) == os.fspath(weights) and str(src).endswith(".tmp") and "net.npz." in str(src):
            raise OSError(5, "I/O error")
        return real(src, dst)
    monkeypatch.setattr(os, "replace", flaky)
    with pytest.raises(OSError):
        write_together([(mod, _writer("new module")), (weights, _writer("new weights"))])
    monkeypatch.setattr(os, "replace", real)
    assert mod.read_text() == "old module" and not weights.exists()
    assert sorted(os.listdir(tmp_path)) == ["net.py"]


def test_new_files_get_the_usual_mode_and_replaced_ones_keep_theirs(tmp_path):
    p = tmp_path / "a.txt"
    write_atomic(p, _writer("x"))
    mask = os.umask(0)
    os.umask(mask)
    assert os.stat(p).st_mode & 0o777 == 0o666 & ~mask
    os.chmod(p, 0o640)
    write_atomic(p, _writer("y"))
    assert os.stat(p).st_mode & 0o777 == 0o640


def test_outputs_that_are_inputs_are_refused(tmp_path):
    src = tmp_path / "net.cnn"
    src.write_text("input 8x8x1")
    os.symlink(src, tmp_path / "link.cnn")
    assert same_file(tmp_path / "link.cnn", src)
    assert same_file(tmp_path / "sub" / ".." / "net.cnn", src)
    with pytest.raises(UsageError, match="is the program"):
        refuse_overwriting_inputs([tmp_path / "link.cnn"], {"program": src, "weights": None})
    refuse_overwriting_inputs([tmp_path / "out.py"], {"program": src})


def test_check_writable(tmp_path):
    check_writable(tmp_path / "new.npz")
    with pytest.raises(UsageError, match="no folder"):
        check_writable(tmp_path / "missing" / "w.npz")
    with pytest.raises(UsageError, match="is a folder"):
        check_writable(tmp_path)
