"""Shared fixtures for the front-end tests (kept small on purpose)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def pytest_addoption(parser):
    parser.addoption("--slow", action="store_true", default=False,
                     help="also run the tests marked slow (full-size networks)")


def pytest_collection_modifyitems(config, items):
    """Tests marked `slow` run only with --slow (or CNNC_SLOW=1): the suite stays short."""
    if config.getoption("--slow") or os.environ.get("CNNC_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: run with --slow or CNNC_SLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True, scope="module")
def _fresh_keras_names():
    """Keras numbers default layer names per session: each module that built Keras models
    leaves the next one starting from zero again (a test that reads a layer by its default
    name, or compares names, must not depend on which modules ran before it)."""
    yield
    keras = sys.modules.get("keras")
    if keras is not None:
        keras.backend.clear_session()


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
