"""benchmarks/gpu_report.sh, the one command that measures the triton backend on a GPU,
runs on a CPU too (--tiny: Triton's interpreter, tiny sizes, nothing tuned), so its
steps and its report are checked here; the GPU run itself is not."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

pytest.importorskip("torch")
pytest.importorskip("triton")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_the_tiny_report_runs_every_step_and_writes_json_and_markdown(tmp_path):
    out = tmp_path / "report"
    r = subprocess.run(["bash", os.path.join(ROOT, "benchmarks", "gpu_report.sh"), "--tiny", str(out)],
                       capture_output=True, text=True, timeout=600, cwd=ROOT,
                       env={**os.environ, "CNNC_CACHE_DIR": str(tmp_path / "cache")})
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    report = json.loads((out / "gpu_report.json").read_text())
    assert set(report["steps"]) == {"tests", "tune", "benchmark"}
    assert all(s["exit"] == 0 and not s["timed_out"] for s in report["steps"].values()), report["steps"]
    row, = report["benchmark"]["results"]
    assert row["net"] == "lenet" and row["batch"] == 1 and row["triton"] > 0 and row["eager"] > 0
    md = (out / "gpu_report.md").read_text()
    assert "| lenet | 1 |" in md and "GPU tests:" in md
