"""The transcripts in docs/triton.md print what they show, like the README's (test_readme.py).

Every fenced block of `$ COMMAND` lines is run in bash from the repository root, with this
checkout's `cnnc` first on the PATH, and must print exactly the lines below each command --
but for one figure. `cnnc check`'s "largest relative error E, in KERNEL" depends on the
rounding of the BLAS library under both backends (another CPU, or another number of
threads, sums in another order), so the test reads E from both the doc and the run and
requires each to lie within the tolerance `cnnc check` applies (cnnc/verify.py); KERNEL,
where it occurs, may differ too. Everything else on those lines (how many groups, that the
output agrees) is compared as text.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT
from test_readme import blocks, transcript

from cnnc.verify import TOLERANCE

DOC = ROOT / "docs" / "triton.md"
# `cnnc check`'s summary line; group 2 is the figure that rounding moves
LARGEST = re.compile(r"^(all \d+ groups.* agree) \(largest relative error ([0-9.e+-]+), in (k\d+_\w+)\)$")


def doc_transcripts() -> list:
    found = []
    for line, language, body, mark in blocks(DOC.read_text(encoding="utf-8")):
        if not mark and any(line.startswith("$ ") for line in body.splitlines()):
            found += [(f"docs/triton.md:{line}", command, expected) for command, expected in transcript(body)]
    return found


def same(expected: str, got: str, precision: str) -> bool:
    """One line as the doc shows it against the run's, the check's error figure within tolerance."""
    if expected == got:
        return True
    e, g = LARGEST.match(expected), LARGEST.match(got)
    if not (e and g) or e.group(1) != g.group(1):
        return False
    tol = TOLERANCE[precision]
    return float(e.group(2)) <= tol and float(g.group(2)) <= tol


@pytest.fixture(scope="module")
def bin_dir(tmp_path_factory):
    """A folder with a `cnnc` that runs this checkout (python -m cnnc with it on PYTHONPATH)."""
    d = tmp_path_factory.mktemp("bin")
    (d / "cnnc").write_text(f'#!/bin/sh\nPYTHONPATH={ROOT} exec {sys.executable} -m cnnc "$@"\n')
    (d / "cnnc").chmod(0o755)
    return d


def test_the_doc_has_its_transcripts():
    commands = [c for _, c, _ in doc_transcripts()]
    assert any(c.startswith("cnnc check ") for c in commands) and any("--plan" in c for c in commands)


@pytest.mark.parametrize("where,command,expected", doc_transcripts(), ids=[w for w, _, _ in doc_transcripts()])
def test_transcript(where, command, expected, bin_dir):
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", NO_COLOR="1")
    p = subprocess.run(["bash", "-c", command], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=600)
    got = [ln.rstrip() for ln in p.stdout.splitlines()]
    want = [ln.rstrip() for ln in expected]
    precision = "tf32" if "--precision tf32" in command else "ieee"
    ok = len(got) == len(want) and all(same(w, g, precision) for w, g in zip(want, got))
    assert ok, f"{where}: `{command}` printed\n" + "\n".join(got) + "\ninstead of\n" + "\n".join(want)


def test_the_error_figure_is_all_that_may_differ():
    line = "all 22 groups and the output agree (largest relative error 6.9e-07, in k22_dense_1)"
    assert same(line, line.replace("6.9e-07", "5.2e-07").replace("k22_dense_1", "k18_conv_18"), "ieee")
    assert not same(line, line.replace("6.9e-07", "3e-04"), "ieee")          # past the tolerance
    assert not same(line, line.replace("22 groups", "21 groups"), "ieee")     # the count is text
    assert not same(line, line.replace("and the output agree", "agree"), "ieee")
