"""`cnnc compile` (SPEC §2): files written, exit codes, and the done-criterion import."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import cnnc
from cnnc.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LENET = os.path.join(ROOT, "examples", "lenet.cnn")


def run(args, cwd, capsys):
    old = os.getcwd()
    os.chdir(cwd)
    try:
        code = main(args)
    finally:
        os.chdir(old)
    out, err = capsys.readouterr()
    return code, out, err


def test_default_output_and_done_criterion(tmp_path, capsys):
    code, out, err = run(["compile", LENET], tmp_path, capsys)
    assert code == 0, err
    assert out.splitlines() == ["wrote lenet.py", "wrote lenet.npz"]
    assert "warning: pool_2" in err      # the program's warnings still show
    r = subprocess.run([sys.executable, "-c", "import sys; sys.modules['cnnc'] = None; import lenet, numpy as np; "
                        "print(lenet.load()(np.zeros((2,28,28,1),'float32')).shape)"],
                       cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "(2, 10)"


def test_output_weights_seed(tmp_path, capsys):
    (tmp_path / "out").mkdir()
    code, out, _ = run(["compile", LENET, "-o", "out/net.py", "--seed", "4"], tmp_path, capsys)
    assert code == 0 and (tmp_path / "out/net.npz").exists()
    seeded = cnnc.compile(LENET, seed=4)
    with np.load(tmp_path / "out/net.npz") as f:
        for k, v in seeded.params.items():
            np.testing.assert_array_equal(f[k], v)
    # --weights bakes given weights in (here: from another seed, as safetensors)
    pytest.importorskip("safetensors")
    other = cnnc.compile(LENET, seed=9)
    other.save_weights(tmp_path / "w.safetensors")
    code, _, _ = run(["compile", LENET, "-o", "w9.py", "--weights", "w.safetensors"], tmp_path, capsys)
    assert code == 0
    with np.load(tmp_path / "w9.npz") as f:
        np.testing.assert_array_equal(f["conv_1.kernel"], other.params["conv_1.kernel"])
    assert (tmp_path / "w9.py").read_text() == seeded.source   # the module is the same code


def test_input_option(tmp_path, capsys):
    (tmp_path / "noinput.cnn").write_text("conv 4 3x3 relu\nglobalpool\n")
    code, _, err = run(["compile", "noinput.cnn"], tmp_path, capsys)
    assert code == 1 and "input" in err
    code, _, err = run(["compile", "noinput.cnn", "--input", "10x10x3"], tmp_path, capsys)
    assert code == 0, err
    assert "INPUT_SHAPE = (10, 10, 3)" in (tmp_path / "noinput.py").read_text()


def test_program_errors_exit_1(tmp_path, capsys):
    (tmp_path / "bad.cnn").write_text("input 8x8x1\nconv 4 9x9\n")
    code, out, err = run(["compile", "bad.cnn"], tmp_path, capsys)
    assert code == 1 and "bad.cnn:2:1: error:" in err and "Traceback" not in err
    assert not (tmp_path / "bad.py").exists()


def test_weights_that_do_not_fit_exit_1(tmp_path, capsys):
    np.savez(tmp_path / "w.npz", **{"conv_1.kernel": np.zeros((3, 3, 1, 32), np.float32)})
    code, _, err = run(["compile", LENET, "--weights", "w.npz"], tmp_path, capsys)
    assert code == 1 and "cnnc: error:" in err and "missing array 'conv_1.bias'" in err
    assert not (tmp_path / "lenet.py").exists()


@pytest.mark.parametrize("args", [
    ["compile", "missing.cnn"],
    ["compile", LENET, "--weights", "missing.npz"],
    ["compile", LENET, "--weights", "corrupt.npz"],
    ["compile", LENET, "-o", "no_such_dir/x.py"],
    ["compile", LENET, "-o", "lenet.txt"],
])
def test_unreadable_or_bad_usage_exit_2(tmp_path, capsys, args):
    (tmp_path / "corrupt.npz").write_bytes(b"junk")
    code, _, err = run(args, tmp_path, capsys)
    assert code == 2, err
    assert "cnnc: error:" in err and "Traceback" not in err


@pytest.mark.parametrize("args", [["compile"], ["compile", LENET, "--backend", "cuda"],
                                  ["compile", LENET, "--input", "28x28"], ["compile", LENET, "--seed", "x"],
                                  ["compile", LENET, "--seed", "-1"], ["check", LENET, "--seed", "-1"]])
def test_argparse_usage_exit_2(tmp_path, capsys, args):
    with pytest.raises(SystemExit) as e:
        run(args, tmp_path, capsys)
    assert e.value.code == 2


def test_cli_entry_point_subprocess(tmp_path):
    r = subprocess.run([sys.executable, "-m", "cnnc", "compile", LENET, "-o", "m.py"], cwd=tmp_path,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(tmp_path)) == ["m.npz", "m.py"]


def test_emit_onnx(tmp_path, capsys):
    pytest.importorskip("onnx")
    code, out, err = run(["compile", LENET, "--emit", "onnx"], tmp_path, capsys)
    assert code == 0, err
    assert out.splitlines() == ["wrote lenet.onnx"]
    assert (tmp_path / "lenet.onnx").stat().st_size > 100_000   # the weights are inside


def test_export_follows_the_backends_weights_ext(tmp_path):
    pytest.importorskip("safetensors")
    from cnnc.runtime.export import export_module

    model = cnnc.compile(LENET)
    model.module.WEIGHTS_EXT = ".safetensors"   # e.g. what the triton module declares
    written = export_module(model, tmp_path / "t.py")
    assert [os.path.basename(p) for p in written] == ["t.py", "t.safetensors"]
    other = cnnc.compile(LENET, seed=1)
    other.load_weights(tmp_path / "t.safetensors")
    np.testing.assert_array_equal(other.params["dense_2.kernel"], model.params["dense_2.kernel"])


@pytest.mark.parametrize("missing", ["torch", "triton"])
@pytest.mark.parametrize("args", [["compile", LENET, "--backend", "triton"], ["check", LENET]])
def test_triton_backend_without_its_packages_says_what_to_install(tmp_path, capsys, monkeypatch, args, missing):
    monkeypatch.setitem(sys.modules, missing, None)   # as if not installed
    code, _, err = run(args, tmp_path, capsys)
    assert code == 2 and "cnnc: error:" in err and f"needs {missing}" in err and "pip install 'cnnc[triton]'" in err, err
    assert not (tmp_path / "lenet.py").exists()


def test_out_of_memory_is_a_clear_error_not_an_internal_one(tmp_path, capsys, monkeypatch):
    import cnnc.runtime.model as runtime_model

    def too_big(*args, **kwargs):
        raise MemoryError("Unable to allocate 584. GiB")

    monkeypatch.setattr(runtime_model, "compile_model", too_big)
    code, _, err = run(["compile", LENET], tmp_path, capsys)
    assert code == 2 and "cnnc: error: out of memory: Unable to allocate 584. GiB" in err, err
