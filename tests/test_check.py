"""`cnnc check`: the triton backend against numpy, group by group."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("torch")
pytest.importorskip("triton")

from cnnc.cli import main  # noqa: E402


def test_good_network_agrees(capsys):
    assert main(["check", "examples/lenet.cnn"]) == 0
    out = capsys.readouterr().out
    assert "triton (ieee) vs numpy on 2x28x28x1, seed 0" in out
    assert "all 4 groups and the output agree" in out


def test_residual_network_agrees_on_a_smaller_input(capsys):
    assert main(["check", "examples/cifar_resnet.cnn", "--input", "6x6x3", "--batch", "1", "--seed", "3"]) == 0
    assert "all 22 groups and the output agree" in capsys.readouterr().out


def test_a_miscompile_is_reported_at_its_group(monkeypatch, capsys, tmp_path):
    # sabotage one epilogue: every tanh is emitted as the identity
    import cnnc.backends.triton.template as tri

    real = tri.emit_activation

    def broken(e, act, name):
        if act != "tanh":
            real(e, act, name)
    monkeypatch.setattr(tri, "emit_activation", broken)
    prog = tmp_path / "net.cnn"
    prog.write_text("input 8x8x2\nconv 4 3x3 relu\nconv 4 3x3 tanh\npool 2\nflatten\ndense 3\n")
    assert main(["check", str(prog)]) == 1
    out = capsys.readouterr().out
    assert "group k2_conv_2 (conv_2(tanh) > pool_1, line 3, 4) diverges: max abs error" in out
    assert "1 of 4 values agree before it" in out


def test_bad_program_and_bad_usage_exit_codes(tmp_path):
    prog = tmp_path / "bad.cnn"
    prog.write_text("input 8x8x1\nconv 4 9x9\n")
    r = subprocess.run([sys.executable, "-m", "cnnc", "check", str(prog)], capture_output=True, text=True)
    assert r.returncode == 1 and "error:" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([sys.executable, "-m", "cnnc", "check", str(tmp_path / "missing.cnn")],
                       capture_output=True, text=True)
    assert r.returncode == 2
    r = subprocess.run([sys.executable, "-m", "cnnc", "check", "examples/lenet.cnn", "--batch", "0"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "--batch" in r.stderr


def test_check_compares_copies_concats_and_the_output(capsys, tmp_path, monkeypatch):
    """Two identity branches once left a slice unwritten and check skipped copies: a copy
    kernel that writes the wrong slice must now be reported."""
    import cnnc.passes.fusion as fusion

    prog = tmp_path / "twice.cnn"
    prog.write_text("input 8x8x1\nconv 4 3x3 padding=same relu\nconcat { branch { } branch { } }\n")
    assert main(["check", str(prog)]) == 0
    assert "all 3 groups, 1 concat and the output agree" in capsys.readouterr().out

    real = fusion.Group.__init__

    def same_slice(self, index, nodes, source, copy_into=None, copy_offset=0):
        real(self, index, nodes, source, copy_into, 0)   # the old bug: every copy lands at 0
    monkeypatch.setattr(fusion.Group, "__init__", same_slice)
    # the slice nobody writes must hold garbage, not by chance what an earlier run left there
    import torch

    real_empty = torch.empty
    monkeypatch.setattr(torch, "empty", lambda *a, **k: real_empty(*a, **k).fill_(float("nan")))
    assert main(["check", str(prog)]) == 1
    out = capsys.readouterr().out
    # each copy agrees with its own (wrong) slice; the concat as a whole does not
    assert "group concat_1 (concat concat_1, line 3) diverges" in out and "3 of 5 values agree before it" in out
