"""Every command, driven with what a careless or hostile user gives it: no exit 3, no traceback.

Each bad input of the hardening issue (huge numbers, odd and truncated files, zip bombs,
NaN weights, pictures that are not pictures, outputs that are inputs, a full disk...) is
given to every command that reads it. The answer is exit 1 (the program, or weights that
do not fit it) or 2 (usage, a file that cannot be read or written) with a `cnnc: error:`
or `FILE:LINE:COL: error:` message, or 0 where the input is in fact fine -- never
"internal error" (exit 3), and no input file is touched.
"""

from __future__ import annotations

import io
import os
import zipfile

import numpy as np
import pytest

import cnnc
from cnnc.cli import main

SMALL = "input 8x8x1\nconv 4 3x3 relu\npool 2\nflatten\ndense 3 softmax\n"

PROGRAMS = {
    "digits5000.cnn": "input 8x8x1\nconv " + "9" * 5000 + " 3x3\nflatten\ndense 3\n",
    "huge_count.cnn": "input 8x8x1\nconv 99999999999999999999 3x3\nflatten\ndense 3\n",
    "huge_input.cnn": "input 99999999999999999999x8x1\nconv 2 3x3\nglobalpool\ndense 3\n",
    "bom.cnn": "\ufeff" + SMALL,
    "deep.cnn": "input 8x8x1\n" + "residual { " * 400 + "relu" + " }" * 400 + "\nflatten\ndense 3\n",
}


def _npy(shape, data=b"", dtype="<f4"):
    f = io.BytesIO()
    np.lib.format.write_array_header_1_0(f, {"descr": dtype, "fortran_order": False, "shape": tuple(shape)})
    return f.getvalue() + data


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile")
    (d / "net.cnn").write_text(SMALL)
    for name, text in PROGRAMS.items():
        (d / name).write_text(text, encoding="utf-8")
    (d / "binary.cnn").write_bytes(b"\xff\xfe\x00\x81input")
    (d / "folder.cnn").mkdir()
    model = cnnc.compile(cnnc.parse(SMALL), seed=0)
    good = {k: np.array(v) for k, v in model.params.items()}
    model.save_weights(d / "w.npz")
    (d / "truncated.npz").write_bytes((d / "w.npz").read_bytes()[:200])
    np.save(d / "single.npy", np.zeros(3))
    os.replace(d / "single.npy", d / "renamed.npz")
    (d / "wdir.npz").mkdir()
    with zipfile.ZipFile(d / "bomb.npz", "w", zipfile.ZIP_DEFLATED) as z:
        for k, v in good.items():
            z.writestr(k + ".npy", _npy(v.shape, v.tobytes()))
        z.writestr("bomb.npy", _npy((65536, 16384), b"\0" * 64))
    np.savez(d / "nan.npz", **{**good, "conv_1.bias": np.full(4, np.nan, np.float32)})
    np.savez(d / "big.npz", **{**good, "dense_1.bias": np.full(3, 1e300)})
    np.savez(d / "pickled.npz", **{**good, "dense_1.bias": np.array([{}, None, 1], dtype=object)})
    (d / "bad.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00" + b'{"a": {"dtype": "F32", "shape": [1]')
    (d / "fake.png").write_bytes(b"this is no png")
    np.save(d / "empty.npy", np.zeros((0, 8, 8, 1), np.float32))
    np.save(d / "img.npy", np.zeros((8, 8, 1), np.float32))
    (d / "truncated_img.npy").write_bytes((d / "img.npy").read_bytes()[:100])
    rng = np.random.default_rng(0)
    np.savez(d / "data.npz", x=rng.random((20, 8, 8, 1)).astype(np.float32), y=rng.integers(0, 3, 20))
    (d / "truncated_data.npz").write_bytes((d / "data.npz").read_bytes()[:300])
    np.save(d / "data.npy", np.zeros((4, 8, 8, 1)))
    np.savez(d / "data_out.npz", x=np.zeros((4, 8, 8, 1), np.float32), y=np.zeros(4, np.int64))
    (d / "out_dir").mkdir()
    inputs = sorted(os.listdir(d))
    return d, {p: (d / p).stat().st_mtime_ns for p in inputs if p != "data_out.npz"}


BAD_PROGRAMS = [*PROGRAMS, "binary.cnn", "folder.cnn", "missing.cnn"]
BAD_WEIGHTS = ["truncated.npz", "renamed.npz", "wdir.npz", "bomb.npz", "nan.npz", "big.npz", "pickled.npz",
               "bad.safetensors", "missing.npz", "net.cnn"]


def _cases():
    for p in BAD_PROGRAMS:
        yield ["shapes", p]
        yield ["shapes", p, "--json"]
        yield ["compile", p, "-o", "out.py"]
        yield ["compile", p, "--backend", "triton", "-o", "tri.py"]
        yield ["compile", p, "--emit", "onnx", "-o", "out.onnx"]
        yield ["compile", p, "--plan"]
        yield ["check", p, "--batch", "1"]
        yield ["graph", p, "-o", "g.dot"]
        yield ["featuremaps", p, "--weights", "w.npz", "--image", "img.npy", "--layer", "conv_1", "-o", "m.png"]
        yield ["train", p, "--data", "data.npz", "--epochs", "1", "-o", "t.npz"]
    for w in BAD_WEIGHTS:
        yield ["compile", "net.cnn", "--weights", w, "-o", "out.py"]
        yield ["compile", "net.cnn", "--weights", w, "--emit", "onnx", "-o", "out.onnx"]
        yield ["featuremaps", "net.cnn", "--weights", w, "--image", "img.npy", "--layer", "conv_1", "-o", "m.png"]
        yield ["train", "net.cnn", "--data", "data.npz", "--weights", w, "--epochs", "1", "-o", "t.npz"]
    for img in ["fake.png", "empty.npy", "truncated_img.npy", "out_dir", "missing.png", "w.npz", "data.npy"]:
        yield ["featuremaps", "net.cnn", "--weights", "w.npz", "--image", img, "--layer", "conv_1", "-o", "m.png"]
    for data in ["truncated_data.npz", "data.npy", "renamed.npz"]:
        yield ["train", "net.cnn", "--data", data, "--epochs", "1", "-o", "t.npz"]
    for data in ["w.npz", "missing.npz", "out_dir"]:
        yield ["train", "net.cnn", "--data", data, "--epochs", "1", "-o", "t.npz"]
    for out in [".py", "class.py", "numpy.py", "out_dir", "out_dir/", "missing/x.py", "net.cnn", "/dev/full/x.py"]:
        yield ["compile", "net.cnn", "-o", out]
    for out in ["net.cnn", "out_dir", "g.gif", "missing/g.svg"]:
        yield ["graph", "net.cnn", "-o", out]
    for out in ["img.npy", "net.cnn", "w.npz", "out_dir", "missing/m.png"]:
        yield ["featuremaps", "net.cnn", "--weights", "w.npz", "--image", "img.npy", "--layer", "conv_1", "-o", out]
    yield ["train", "net.cnn", "--data", "data_out.npz", "--epochs", "1", "-o", "data_out.npz"]
    for out in ["net.cnn", "out_dir", "missing/t.npz"]:
        yield ["train", "net.cnn", "--data", "data.npz", "--epochs", "1", "-o", out]
    yield ["train", "net.cnn", "--data", "data.npz", "--epochs", "1", "--lr", "inf", "-o", "t.npz"]
    yield ["train", "net.cnn", "--data", "data.npz", "--epochs", "1", "--lr", "nan", "-o", "t.npz"]
    yield ["check", "net.cnn", "--batch", "0"]
    yield ["check", "net.cnn", "--input", "99999999999999999999x9x1"]
    yield ["shapes", "net.cnn", "--input", "99999999999999999999x9x1"]


CASES = list(_cases())


def _id(case):
    return " ".join(case.values[0] if hasattr(case, "values") else case)


@pytest.mark.parametrize("args", CASES, ids=[_id(c) for c in CASES])
def test_no_command_answers_a_bad_input_with_an_internal_error(work, capsys, monkeypatch, args):
    pytest.importorskip("torch")
    work, before = work
    monkeypatch.chdir(work)
    if "data_out.npz" in args:   # the one input a case may destroy: checked by that case alone
        before = {**before, "data_out.npz": (work / "data_out.npz").stat().st_mtime_ns}
    code = main(args)
    out, err = capsys.readouterr()
    assert code in (0, 1, 2), (code, err)   # some are fine programs (a BOM, a huge but valid count)
    assert "internal error" not in err and "Traceback" not in err
    assert code == 0 or "error:" in err
    for p, t in before.items():   # no input was touched
        assert (work / p).stat().st_mtime_ns == t, p


def test_an_onnx_export_past_protobufs_limit_is_exit_2(work, capsys, monkeypatch):
    pytest.importorskip("onnx")
    import cnnc.bridges.onnx_export as E

    work = work[0]
    monkeypatch.chdir(work)
    monkeypatch.setattr(E, "PROTOBUF_LIMIT", 1000)
    assert main(["compile", "net.cnn", "--emit", "onnx", "-o", "large.onnx"]) == 2   # (big.npz: misfit weights)
    assert "one ONNX file can hold" in capsys.readouterr().err and not (work / "large.onnx").exists()


@pytest.mark.parametrize("kind", ["fifo", "dev_zero"])
def test_a_fifo_or_dev_zero_given_as_any_input_is_refused_unread(tmp_path, capsys, monkeypatch, kind):
    """Each blocked forever (a FIFO) or ate gigabytes (/dev/zero behind a symlink: getsize is 0)."""
    import signal

    def blocked(*_):
        raise TimeoutError("a command blocked on a non-regular input")
    old = signal.signal(signal.SIGALRM, blocked)
    signal.alarm(60)
    try:
        monkeypatch.chdir(tmp_path)
        (tmp_path / "net.cnn").write_text(SMALL)
        cnnc.compile(cnnc.parse(SMALL)).save_weights(tmp_path / "w.npz")
        for name in ("bad.cnn", "bad.npz", "bad.npy", "bad.json"):
            os.mkfifo(name) if kind == "fifo" else os.symlink("/dev/zero", name)
        what = "FIFO" if kind == "fifo" else "device"
        for args in (["shapes", "bad.cnn"], ["compile", "bad.cnn", "-o", "m.py"],
                     ["compile", "net.cnn", "--weights", "bad.npz", "-o", "m.py"],
                     ["featuremaps", "net.cnn", "--weights", "w.npz", "--image", "bad.npy", "--layer", "conv_1",
                      "-o", "maps.png"],
                     ["train", "net.cnn", "--data", "bad.npz", "-o", "t.npz"]):
            code = main(args)
            err = capsys.readouterr().err
            assert code == 2 and what in err and "internal error" not in err, (args, err)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert not (tmp_path / "m.py").exists() and not (tmp_path / "t.npz").exists()
