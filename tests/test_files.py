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
    from cnnc.backends.triton.carried.triton_tuner import read_record
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


# --- writing: each path always holds a whole file -------------------------------------

KILL_AT = """
import os, signal, sys
k, when = int(sys.argv[1]), sys.argv[2]
real, calls = os.replace, [0]

def replace(src, dst):   # the process is killed just before or just after its k-th rename
    calls[0] += 1
    if calls[0] == k and when == "before":
        os.kill(os.getpid(), signal.SIGKILL)
    real(src, dst)
    if calls[0] == k and when == "after":
        os.kill(os.getpid(), signal.SIGKILL)

os.replace = replace
from cnnc.cli import main
sys.exit(main(["compile", "net.cnn", "--force", "--seed", "1"]))
"""


@pytest.mark.parametrize("k, when", [(1, "before"), (1, "after"), (2, "before"), (2, "after")])
def test_a_compile_killed_at_any_rename_leaves_whole_files_and_no_mixed_pair(tmp_path, k, when):
    import subprocess
    import sys

    import numpy as np

    from cnnc.cli import main

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    (tmp_path / "net.cnn").write_text("input 6x6x1\nconv 2 3\nflatten\ndense 2\n")
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert main(["compile", "net.cnn", "-q"]) == 0
    finally:
        os.chdir(old)
    before = {n: (tmp_path / n).read_bytes() for n in ("net.py", "net.npz")}
    r = subprocess.run([sys.executable, "-c", KILL_AT, str(k), when], cwd=tmp_path, capture_output=True,
                       env=dict(os.environ, PYTHONPATH=root), timeout=120)
    assert r.returncode == -9, r.stderr
    after = {n: (tmp_path / n).read_bytes() for n in ("net.py", "net.npz")}
    changed = [n for n in after if after[n] != before[n]]
    assert len(changed) == (k - 1) + (when == "after")   # every path holds the old or the new file
    probe = ("import sys, numpy as np; sys.path.insert(0, '.'); import net\n"
             "try:\n    m = net.load()\nexcept ValueError as e:\n    print('refused:', e)\n"
             "else:\n    print('ran', m(np.ones((1, 6, 6, 1), 'float32')).shape)\n"
             "print('explicit', net.load('net.npz')(np.ones((1, 6, 6, 1), 'float32')).shape)\n")
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True,
                         timeout=60).stdout.splitlines()
    if len(changed) == 1:   # a new module beside old weights, or the reverse: never run together
        assert out[0].startswith("refused: ") and "not the weights this module was compiled with" in out[0]
    else:
        assert out[0] == "ran (1, 2)"
    assert out[1] == "explicit (1, 2)"   # load(path) reads any fitting file
    assert np.load(tmp_path / "net.npz")["conv_1.kernel"].shape == (3, 3, 1, 2)


def test_a_reader_never_finds_a_replaced_file_missing(tmp_path):
    import threading

    pair = [tmp_path / "net.py", tmp_path / "net.npz"]
    write_together([(p, _writer("0")) for p in pair])
    done, missing, seen = threading.Event(), [], set()

    def read():
        while not done.is_set():
            for p in pair:
                try:
                    with open(p) as f:
                        seen.add(f.read())
                except FileNotFoundError:
                    missing.append(p)
    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(1, 300):
            write_together([(p, _writer(str(i))) for p in pair])
    finally:
        done.set()
        reader.join()
    assert missing == [] and len(seen) > 1
    assert sorted(os.listdir(tmp_path)) == ["net.npz", "net.py"]


def test_a_module_refuses_other_weights_beside_it_and_reads_them_when_named(tmp_path):
    import importlib.util

    import numpy as np

    import cnnc
    from cnnc.cli import main

    (tmp_path / "n.cnn").write_text("input 4x4x1\nconv 2 3\nflatten\ndense 2\n")
    assert main(["compile", str(tmp_path / "n.cnn"), "-o", str(tmp_path / "n.py"), "-q"]) == 0

    def module():
        spec = importlib.util.spec_from_file_location("n_digest", tmp_path / "n.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    x = np.ones((1, 4, 4, 1), np.float32)
    first = module().load()(x)
    other = cnnc.compile(cnnc.parse_file(tmp_path / "n.cnn"), seed=5)
    other.save_weights(tmp_path / "n.npz")   # replaced by hand (as `cnnc train -o n.npz` does)
    with pytest.raises(ValueError, match="not the weights this module was compiled with.*load\\("):
        module().load()
    named = module().load(str(tmp_path / "n.npz"))(x)
    np.testing.assert_allclose(named, other(x), rtol=1e-6)
    assert np.abs(named - first).max() > 1e-3
    # compiling again keeps the fitting weights beside it and records their digest
    assert main(["compile", str(tmp_path / "n.cnn"), "-o", str(tmp_path / "n.py"), "-q"]) == 0
    np.testing.assert_allclose(module().load()(x), other(x), rtol=1e-6)
