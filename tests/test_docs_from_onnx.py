"""docs/bridges.md shows the program `cnnc from-onnx` writes for a ResNet-18 in full, and the
command's report: both are what the command writes today."""

from __future__ import annotations

import re

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

import onnx_nets as N  # noqa: E402
from conftest import ROOT, run_cnnc  # noqa: E402

DOC = ROOT / "docs" / "bridges.md"


def _section() -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.index("## Bringing networks in: `cnnc from-onnx")
    return text[start:text.index("\n## ", start)]


def test_the_resnet18_program_in_the_docs_is_what_the_command_writes(tmp_path):
    section = _section()
    shown = re.search(r"^```cnn\n(.*?)^```", section, re.S | re.M).group(1)
    module = N.ResNet18().eval()   # torchvision's resnet18: width 64, 1000 classes
    N.export(module, torch.zeros(1, 3, 224, 224), tmp_path / "resnet18.onnx", dynamo=False)
    code, out, err = run_cnnc("from-onnx", "resnet18.onnx", cwd=tmp_path)
    assert code == 0, err
    assert (tmp_path / "resnet18.cnn").read_text() == shown
    report = " ".join(out.split())
    assert f"`{report}`" in " ".join(section.split()), report


def test_the_refusal_shown_is_the_commands(tmp_path):
    from torch import nn

    class Flip(nn.Module):
        def __init__(self):
            super().__init__()
            self.c = nn.Conv2d(3, 4, 3)

        def forward(self, x):
            return torch.flip(self.c(x), [3])

    N.export(Flip().eval(), torch.zeros(1, 3, 8, 8), tmp_path / "flip.onnx", dynamo=False)
    code, out, err = run_cnnc("from-onnx", "flip.onnx", cwd=tmp_path)
    assert code == 1
    shown = re.search(r"^```\n(cnnc: error: flip.onnx.*?)^```", _section(), re.S | re.M).group(1)
    assert err == shown
