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


# --- reading: only regular files, with a bound ---------------------------------------

def test_file_inside_accepts_only_a_regular_file_in_the_folder(tmp_path):
    from cnnc.runtime.files import file_inside

    model = tmp_path / "model"
    (model / "sub").mkdir(parents=True)
    (model / "sub" / "w.bin").write_bytes(b"1234")
    (tmp_path / "secret.txt").write_text("secret")
    os.symlink(tmp_path / "secret.txt", model / "out.bin")
    os.symlink(model / "sub" / "w.bin", model / "in.bin")
    os.symlink("/dev/zero", model / "zero.bin")
    os.mkfifo(model / "fifo.bin")
    assert file_inside(model, "sub/w.bin") == os.path.realpath(model / "sub" / "w.bin")
    assert file_inside(model, "in.bin") == os.path.realpath(model / "sub" / "w.bin")
    for name, why in [("../secret.txt", "leads out of"), ("sub/../../secret.txt", "leads out of"),
                      ("out.bin", "leads out of"), (str(tmp_path / "secret.txt"), "absolute path"),
                      ("zero.bin", "leads out of"), ("fifo.bin", "not a regular file"), ("sub", "not a regular"),
                      ("missing.bin", "cannot be read"), ("", "not a file name"), (".", "leads out of")]:
        with pytest.raises(ValueError, match=why):
            file_inside(model, name)


@pytest.fixture
def hostile(tmp_path):
    """{suffix: [paths]}: a FIFO (a reader that opens it would wait for a writer forever) and a
    symlink to /dev/zero (getsize says 0; a reader would never reach the end) per suffix."""
    out = {}
    for suffix in (".cnn", ".npz", ".safetensors", ".npy", ".png", ".json", ".keras"):
        fifo, zero = tmp_path / ("fifo" + suffix), tmp_path / ("zero" + suffix)
        os.mkfifo(fifo)
        os.symlink("/dev/zero", zero)
        out[suffix] = [fifo, zero]
    return out


@pytest.fixture
def alarm():
    """Fail (instead of hanging the suite) when a read blocks for 20 s."""
    import signal

    def timeout(*_):
        raise TimeoutError("blocked reading a non-regular file")
    old = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def test_every_reader_refuses_a_fifo_and_dev_zero_unread(hostile, alarm, tmp_path):
    import cnnc
    from cnnc.backends.carried.triton_tuner import read_record
    from cnnc.pictures import read_image
    from cnnc.training import checkpoint
    from cnnc.training.data import DataError, load_data

    net = cnnc.parse("input 4x4x1\nconv 2 3\nflatten\ndense 2\n")
    model = cnnc.compile(net)
    for fifo_or_zero in zip(*hostile.values()):
        paths = dict(zip(hostile, fifo_or_zero))
        kind = "FIFO" if "fifo" in str(paths[".cnn"]) else "device"
        with pytest.raises(cnnc.CnncError, match=kind):
            cnnc.parse_file(paths[".cnn"])
        for ext in (".npz", ".safetensors"):
            with pytest.raises(cnnc.CnncError, match=f"{kind}.*not a weights file"):
                model.load_weights(paths[ext])
        for ext in (".npy", ".npz", ".png"):
            with pytest.raises(ValueError, match=f"{kind}.*not an image file"):
                read_image(paths[ext], (4, 4, 1))
        with pytest.raises(DataError, match=f"{kind}.*not an .npz file"):
            load_data(paths[".npz"], net)
        with pytest.raises(DataError, match=f"{kind}.*not an .npz file"):
            checkpoint.read(paths[".npz"], net.param_shapes(), {})
        entries, problem = read_record(str(paths[".json"]))
        assert entries == [] and kind in problem
        with pytest.raises(cnnc.CnncError, match=f"{kind}.*not a .keras file"):
            model.load_keras(paths[".keras"])


def test_a_generated_module_refuses_a_fifo_as_its_weights(hostile, alarm, tmp_path):
    import importlib.util

    from cnnc.cli import main

    (tmp_path / "n.cnn").write_text("input 4x4x1\nconv 2 3\nflatten\ndense 2\n")
    assert main(["compile", str(tmp_path / "n.cnn"), "-o", str(tmp_path / "n.py")]) == 0
    spec = importlib.util.spec_from_file_location("n_fifo", tmp_path / "n.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    for path in hostile[".npz"]:
        with pytest.raises(ValueError, match="not a weights file"):
            mod.load(str(path))


def test_a_program_larger_than_the_limit_is_refused_unread(tmp_path, monkeypatch):
    import cnnc
    import cnnc.limits

    p = tmp_path / "big.cnn"
    p.write_text("input 4x4x1\n" + "# padding\n" * 100)
    monkeypatch.setattr(cnnc.limits, "MAX_PROGRAM_BYTES", 500)
    with pytest.raises(cnnc.CnncError, match="larger than 500 bytes"):
        cnnc.parse_file(p)
