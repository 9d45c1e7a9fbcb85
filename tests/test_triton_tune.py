"""`cnnc tune`: what it says and does without a GPU (the measurements themselves need one:
tests/test_triton_gpu.py), its usage errors, and the record files it would write."""

from __future__ import annotations

import pytest

from cnnc.cli import main

pytest.importorskip("torch")
pytest.importorskip("triton")


def test_list_shows_each_kernels_default_and_shortlist(capsys):
    assert main(["tune", "examples/lenet.cnn", "--list", "--batch", "1,256"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("4 kernels; precision ieee")
    assert "k1_conv_1: default " in out and "legal candidates" in out
    assert out.count("  batch 1: ") == 4 and out.count("  batch 256: ") == 4


def test_without_a_gpu_tuning_is_a_usage_error(capsys, tmp_path, monkeypatch):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is here")
    monkeypatch.setenv("CNNC_CACHE_DIR", str(tmp_path))
    assert main(["tune", "examples/lenet.cnn", "--batch", "1"]) == 2
    err = capsys.readouterr().err
    assert "measures the kernels on a CUDA GPU" in err and "--list" in err
    assert not list(tmp_path.iterdir())      # nothing written


@pytest.mark.parametrize("args,message", [
    (["--batch", "0"], "expected batch sizes"),
    (["--batch", "1,x"], "expected batch sizes"),
    (["--limit", "0"], "positive integer"),
    (["--time-limit", "-3"], "positive number of seconds"),
])
def test_bad_options_exit_2(args, message, capsys):
    with pytest.raises(SystemExit) as e:
        main(["tune", "examples/lenet.cnn", *args])
    assert e.value.code == 2 and message in capsys.readouterr().err


def test_a_python_file_must_be_a_compiled_triton_module(tmp_path, capsys):
    other = tmp_path / "other.py"
    other.write_text("print('hello')\n")
    assert main(["tune", str(other), "--list"]) == 2
    assert "not a module written by cnnc compile --backend triton" in capsys.readouterr().err
    assert main(["tune", str(tmp_path / "missing.py"), "--list"]) == 2
    assert main(["tune", str(other), "--precision", "tf32"]) == 2


def test_a_compiled_module_lists_its_kernels(tmp_path, capsys):
    prog = tmp_path / "net.cnn"
    prog.write_text("input 6x6x2\nconv 4 3x3 relu\nflatten\ndense 3 softmax\n")
    assert main(["compile", str(prog), "--backend", "triton", "-o", str(tmp_path / "net_gpu.py")]) == 0
    capsys.readouterr()
    assert main(["tune", str(tmp_path / "net_gpu.py"), "--list", "--batch", "8"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("2 kernels; precision ieee") and "k2_dense_1: default" in out


def test_a_bad_program_exits_1(tmp_path, capsys):
    prog = tmp_path / "bad.cnn"
    prog.write_text("input 8x8x1\nconv 4 9x9\n")
    assert main(["tune", str(prog), "--list"]) == 1
