"""Shared fixtures for the front-end tests (kept small on purpose)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def errors_of(text: str, **kw):
    """The CnncError that parsing `text` raises (fails the test if it parses)."""
    import cnnc

    with pytest.raises(cnnc.CnncError) as info:
        cnnc.parse(text, **kw)
    return info.value


def run_cnnc(*args, cwd=None, timeout=60):
    """`cnnc ARGS` as a separate process: (returncode, stdout, stderr)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, "-m", "cnnc", *args], capture_output=True, text=True,
                       cwd=cwd or ROOT, env=env, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


@pytest.fixture
def examples_dir() -> Path:
    return EXAMPLES
