"""The playground's editor bundle is what its lockfile builds: `npm ci` and the build script
in a temporary folder make cnnc/play/static/editor.bundle.js byte for byte (as
cnnc/parse_tables.py is what make_parse_tables.py writes). Needs Node.js and npm, and the
npm registry (or npm's cache) for `npm ci`."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FRONTEND = os.path.join(ROOT, "cnnc", "play", "frontend")
BUNDLE = os.path.join(ROOT, "cnnc", "play", "static", "editor.bundle.js")


def test_the_committed_bundle_is_what_npm_ci_and_the_build_make(tmp_path):
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        pytest.fail("rebuilding the editor bundle needs Node.js and npm (apt-get install nodejs npm)")
    work = tmp_path / "frontend"
    work.mkdir()
    for name in ("package.json", "package-lock.json", "build.mjs"):
        shutil.copy(os.path.join(FRONTEND, name), work / name)
    shutil.copytree(os.path.join(FRONTEND, "src"), work / "src")
    run = dict(cwd=work, capture_output=True, text=True, timeout=600)
    r = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], **run)
    assert r.returncode == 0, r.stdout + r.stderr
    out = tmp_path / "editor.bundle.js"
    r = subprocess.run([node, "build.mjs", "--outfile", str(out)], **run)
    assert r.returncode == 0, r.stdout + r.stderr
    with open(BUNDLE, "rb") as f:
        committed = f.read()
    assert out.read_bytes() == committed, ("cnnc/play/static/editor.bundle.js is not what its sources build: "
                                           "cd cnnc/play/frontend && npm ci && npm run build")


def test_the_lockfile_pins_every_package_and_the_sources_are_what_the_page_loads():
    import json

    with open(os.path.join(FRONTEND, "package.json")) as f:
        pkg = json.load(f)
    with open(os.path.join(FRONTEND, "package-lock.json")) as f:
        lock = json.load(f)
    for name, version in pkg["devDependencies"].items():
        assert version[0].isdigit(), f"{name} is pinned to an exact version, not {version}"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version
    assert all("integrity" in p for k, p in lock["packages"].items() if k and not p.get("optional"))
    with open(os.path.join(ROOT, "cnnc", "play", "static", "index.html")) as f:
        page = f.read()
    assert '<script src="/static/editor.bundle.js"' in page and "http" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")
