"""The `cnnc shapes` transcripts in docs/language.md print what they show.

A transcript is a code block whose first line is `$ cnnc shapes ARGS`; the lines after it
are what the command prints (standard error first, then standard output). A line `...`
stands for any number of lines, so a long table can be shown in part. A transcript that
shows an error is a program with errors: the command exits 1.
"""

from __future__ import annotations

import re
import shlex

import pytest

from conftest import ROOT, run_cnnc

DOC = ROOT / "docs" / "language.md"


def transcripts():
    blocks = re.findall(r"```\n(\$ cnnc shapes [^\n]*)\n(.*?)```", DOC.read_text(), re.S)
    return [(cmd[2:], body.splitlines()) for cmd, body in blocks]


def matches(expected: list, got: list) -> bool:
    """Line by line; `...` matches any run of lines (shortest first)."""
    if not expected:
        return not got
    if expected[0] == "...":
        return any(matches(expected[1:], got[i:]) for i in range(len(got) + 1))
    return bool(got) and got[0] == expected[0] and matches(expected[1:], got[1:])


def test_the_doc_has_transcripts():
    assert len(transcripts()) >= 4


@pytest.mark.parametrize("command,expected", transcripts(), ids=[c for c, _ in transcripts()])
def test_transcript(command, expected):
    args = shlex.split(command)[1:]
    rc, out, err = run_cnnc(*args)
    assert rc == (1 if any(": error: " in line for line in expected) else 0), err   # a shown error exits 1
    got = err.splitlines() + out.splitlines()
    assert matches(expected, got), "\n".join(got)
