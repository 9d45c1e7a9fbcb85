"""Without an optional package, every feature that needs it says which extra to install:
exit 2 from the command line, MissingDependency (a CnncError and an ImportError) from
Python -- never "internal error: ModuleNotFoundError". Here torch and triton are hidden
from a fresh interpreter, as on a machine with only `pip install cnnc`."""

from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HIDE = "import sys\nfor m in ('torch', 'triton'):\n    sys.modules[m] = None\n"
PROGRAM = "input 8x8x1\nconv 2 3\nflatten\ndense 2\n"


def _run(code: str, cwd):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-c", HIDE + code], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=120)


def test_commands_that_need_torch_name_the_extra(tmp_path):
    (tmp_path / "n.cnn").write_text(PROGRAM)
    code = ("from cnnc.cli import main\n"
            "codes = [main(a) for a in (['compile', 'n.cnn', '--backend', 'triton'], ['tune', 'n.cnn', '--list'],\n"
            "                           ['check', 'n.cnn'], ['shapes', 'n.cnn'])]\n"
            "print(codes)\n")
    r = _run(code, tmp_path)
    assert r.stdout.strip().splitlines()[-1] == "[2, 2, 2, 0]", r.stdout + r.stderr
    assert r.stderr.count("needs torch, which is not installed; install it with: pip install 'cnnc[triton]'") == 3
    assert "internal error" not in r.stderr and not os.path.exists(tmp_path / "n.py")


def test_the_api_raises_a_cnnc_error_that_is_an_import_error(tmp_path):
    (tmp_path / "n.cnn").write_text(PROGRAM)
    code = ("import cnnc\n"
            "try:\n"
            "    cnnc.compile('n.cnn', backend='triton')\n"
            "except cnnc.CnncError as e:\n"
            "    print(type(e).__name__, isinstance(e, ImportError), str(e))\n"
            "print(cnnc.compile('n.cnn').backend)\n")
    r = _run(code, tmp_path)
    assert r.stdout.splitlines() == [
        "MissingDependency True the triton backend needs torch, which is not installed; "
        "install it with: pip install 'cnnc[triton]'", "numpy"], r.stdout + r.stderr
