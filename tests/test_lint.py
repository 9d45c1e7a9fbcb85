"""ruff over the project and over generated modules: code that generated modules carry
(cnnc/backends/carried/) is linted where it lives and again where it lands."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

import cnnc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUFF = shutil.which("ruff", path=os.path.dirname(sys.executable)) or shutil.which("ruff")
pytestmark = pytest.mark.skipif(RUFF is None, reason="ruff is not installed")


def _ruff(*args, stdin=None):
    return subprocess.run([RUFF, "check", "--no-cache", *args], input=stdin, capture_output=True, text=True, cwd=ROOT)


def test_project_is_clean():
    r = _ruff("cnnc", "benchmarks", "tests", "examples")
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("backend", ["numpy", "triton"])
@pytest.mark.parametrize("example", ["lenet.cnn", "cifar_resnet.cnn", "inception.cnn"])
def test_generated_modules_are_clean(backend, example):
    from cnnc.backends import get_backend

    net = cnnc.parse_file(os.path.join(ROOT, "examples", example))
    source = get_backend(backend).generate(net)
    # `if trace is not None: trace[name] = v` stays one line per layer in forward() (E701)
    r = _ruff("--extend-ignore", "E701", "--stdin-filename", f"generated_{backend}.py", "-", stdin=source)
    assert r.returncode == 0, r.stdout + r.stderr
