"""10,000 generated programs through the front end, per CI run.

Each program (valid or not: tests/fuzz_programs.py; definitions, named joins and
expressions among them) goes through `cnnc shapes` in this
process -- parse, shape inference, the summary table, the smallest-input search and the
Triton plan of the kernel column -- and, when it is valid, through the numpy backend's
plan and `--json`. The only answers allowed are a result (exit 0) or errors at places in
the text (exit 1): never another exception, never exit 3.

The programs come from fixed seeds (the same 10,000 every run; CNNC_FUZZ_PROGRAMS and
CNNC_FUZZ_SEED explore further) plus a derandomized hypothesis run that shrinks a failure
to a small program. About 20 s on the 2-core CI machine.
"""

from __future__ import annotations

import contextlib
import io
import os
import re

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import cnnc
from cnnc.backends.numpy.policy import NUMPY
from cnnc.backends.triton.policy import TRITON
from cnnc.cli import main
from cnnc.passes.fusion import format_plan, plan
from fuzz_programs import Drawn, Seeded, any_program

PROGRAMS = int(os.environ.get("CNNC_FUZZ_PROGRAMS", "10000"))
SEED = int(os.environ.get("CNNC_FUZZ_SEED", "0"))
HYPOTHESIS_EXAMPLES = 500  # of the PROGRAMS; the rest come from seeds
LONG_LABEL = re.compile(r"\w{500}\s*:")


def check_program(text: str, path) -> "str | None":
    """Run `text` through the front end; None when every answer is allowed, else what went wrong."""
    try:
        net = cnnc.parse(text, filename="f.cnn")
    except cnnc.CnncError as e:
        lines = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")  # as an editor shows it
        for d in e.diagnostics:
            if d.severity != "error" or not 1 <= d.line <= len(lines) + 1 or d.col < 1:
                return f"misplaced diagnostic {d.format()!r}"
            if not d.format().startswith(f"f.cnn:{d.line}:{d.col}: error: "):
                return f"malformed diagnostic {d.format()!r}"
            if any(not 1 <= line <= len(lines) + 1 or col < 1 for line, col, _ in d.notes):
                return f"misplaced note in {d.format()!r}"   # the uses of a definition it is inside
            if len(d.format().splitlines()[0]) > 1000 and not LONG_LABEL.search(text):
                # a 5000-character word is abbreviated, not echoed (a name the user chose is the
                # layer's name: messages begin with it)
                return f"a diagnostic of {len(d.format()):,} characters: {d.format()[:300]!r}..."
        net = None
    except Exception as e:  # noqa: BLE001 -- the point of the test
        return f"cnnc.parse raised {type(e).__name__}: {e}"
    if net is not None:
        try:
            assert all(n.out is not None for n in net.nodes)
            for policy in (NUMPY, TRITON):
                p = plan(net, policy)
                planned = {n.name for g in p.groups for n in g.nodes} | {v.name for v in p.views} | \
                    {j.name for j in p.joins}
                assert planned == {n.name for n in net.layers}, "the plan lost or invented a layer"
                format_plan(net, policy)
        except Exception as e:  # noqa: BLE001
            return f"planning raised {type(e).__name__}: {e}"
    path.write_text(text, encoding="utf-8")
    for argv in (["shapes", str(path)], ["shapes", "--json", str(path)]):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main(argv)
        if rc != (0 if net is not None else 1) or "internal error" in err.getvalue():
            return f"cnnc {' '.join(argv[:-1])} exited {rc}: {err.getvalue()[-500:]}"
        if net is None:
            break  # the error was checked above; --json fails the same way
    return None


def test_seeded_programs(tmp_path):
    path = tmp_path / "f.cnn"
    bad = []
    for i in range(PROGRAMS - HYPOTHESIS_EXAMPLES):
        text = any_program(Seeded(f"{SEED}:{i}"))
        problem = check_program(text, path)
        if problem:
            bad.append((i, text, problem))
    assert not bad, f"{len(bad)} programs failed; the first (seed {SEED}, {bad[0][0]}):\n{bad[0][1]!r}\n{bad[0][2]}"


@settings(max_examples=HYPOTHESIS_EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture])
@given(st.data())
def test_hypothesis_programs(tmp_path, data):
    text = any_program(Drawn(data))
    problem = check_program(text, tmp_path / "f.cnn")
    assert problem is None, f"{text!r}\n{problem}"


# What this fuzzing found, each as small as it shrank to: `check_program` holds for each.
FOUND = {
    "a comment holding a carriage return: the CLI reads files with Python's newlines, the API did not":
        "input 2x12x2\n  # \romment",
    "a lone carriage return between statements": "input 2x2x1\rrelu\r\nrelu",
    "a 5000-digit deconv padding was echoed whole": "input 4x4x1\ndeconv 2 3 padding=" + "9" * 5000,
}


@pytest.mark.parametrize("what", FOUND)
def test_what_fuzzing_found(what, tmp_path):
    assert check_program(FOUND[what], tmp_path / "f.cnn") is None
