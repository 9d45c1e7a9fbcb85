"""Install vscode-textmate and vscode-oniguruma for tests/test_textmate.py, from the npm
registry with `npm ci` and tests/textmate/package-lock.json, into a cache folder keyed by
the lockfile (installed once per lockfile, reused after):

    python tests/textmate/install.py      # prints the node_modules folder

scripts/test.sh runs it before the tests; the test runs it too when nothing is installed.
Exit 1 (with why) when node or npm is missing or the registry cannot be reached.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def cache_folder() -> Path:
    lock = (HERE / "package-lock.json").read_bytes() + (HERE / "package.json").read_bytes()
    key = hashlib.sha256(lock).hexdigest()[:16]
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "cnnc-tests" / f"textmate-{key}"


def install() -> Path:
    """The node_modules folder, installed if it was not; RuntimeError with why it cannot be."""
    folder = cache_folder()
    modules = folder / "node_modules"
    if (modules / "vscode-textmate").is_dir() and (modules / "vscode-oniguruma").is_dir():
        return modules
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise RuntimeError("node and npm are needed to tokenize with vscode-textmate")
    tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copy(HERE / name, tmp / name)
    p = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"], cwd=tmp,
                       capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise RuntimeError(f"npm ci failed: {(p.stderr or p.stdout).strip()[-500:]}")
    try:
        tmp.rename(folder)   # in one step: a concurrent install finds all of it or none
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)   # another install got there first
    return modules


if __name__ == "__main__":
    try:
        print(install())
    except RuntimeError as e:
        print(f"tests/textmate/install.py: {e}", file=sys.stderr)
        sys.exit(1)
