"""The training examples write only into the folder they are given, and the same command
makes the same pictures byte for byte (what lets a maintainer regenerate docs/images and
compare)."""

import importlib.util
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

ROOT = Path(__file__).resolve().parents[1]
DIGITS = ROOT / "examples" / "digits"


def load(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", DIGITS / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def tracked_changes():
    """`git status` of the tracked files (None outside a git checkout)."""
    try:
        p = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                           text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return p.stdout if p.returncode == 0 else None


def test_lenet_featuremaps_writes_its_pictures_only_under_out_and_the_same_each_time(tmp_path, capsys):
    before = tracked_changes()
    ex = load("lenet_featuremaps")
    for run in ("a", "b"):
        assert ex.main(["--out", str(tmp_path / run), "--epochs", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("machine: ") and "test accuracy" in out and "edge detectors" in out
    pictures = ["digit_three_28x28.png", "lenet_conv1_featuremaps.png", "lenet_graph.svg", "lenet_graph.dot"]
    for name in pictures:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert b"<dc:date>" not in (tmp_path / "a" / "lenet_graph.svg").read_bytes()
    assert tracked_changes() == before                       # docs/images and the rest untouched


def test_edge_detector_rule():
    import numpy as np

    ex = load("lenet_featuremaps")
    k = np.zeros((3, 3, 1, 4), np.float32)
    k[0, :, 0, 0], k[2, :, 0, 0] = -1, 1        # dark above, bright below: the top edge of a stroke
    k[:, 0, 0, 1], k[:, 2, 0, 1] = 1, -1        # bright left, dark right: a right edge
    k[..., 0, 2] = 1                            # a blur: brightness, not change
    k[1, 1, 0, 3] = 1
    lines = ex.edge_detectors(k)
    assert lines[0].startswith("conv_1 edge detectors (2 of 4")
    assert "top edges of strokes: channels 0" in lines[1] and "right edges of strokes: channels 1" in lines[4]
