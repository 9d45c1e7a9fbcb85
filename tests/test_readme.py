"""The README, run as a newcomer pastes it: every code block prints what the README shows.

The README's fenced code blocks, in order, in one scratch folder that holds a copy of
examples/ (what a fresh clone has), with the environment's `cnnc` and `python` first on PATH:

- a block with `$ COMMAND` lines is a transcript: each command runs in bash and prints
  (stdout and stderr together) exactly the lines below it. A here-document
  (`cat > f <<'EOF'` ... `EOF`) is part of its command.
- a ```python block is pasted into `python`: it must run, and print exactly the block
  right after the line `<!-- output of the block above -->` (nothing, if there is none).
- any other block is a program listing, and must parse without errors.
- a block right after the line `<!-- not executed: REASON -->` is skipped: the set-up
  commands (this test runs in the environment they make) and measured figures.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import cnnc

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
NOT_EXECUTED = re.compile(r"<!-- not executed: (.+?) -->")
OUTPUT = "<!-- output of the block above -->"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.M | re.S)


def blocks(text: str) -> list:
    """[(line, language, body, mark)] of every fenced block; mark is the line above the fence
    when it is a marker (`not executed: REASON`, `output`), else None."""
    out = []
    for m in FENCE.finditer(text):
        before = text[:m.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
        skip = NOT_EXECUTED.fullmatch(before)
        mark = skip.group(1) if skip else "output" if before == OUTPUT else None
        out.append((text.count("\n", 0, m.start()) + 1, m.group(1), m.group(2), mark))
    return out


def transcript(body: str) -> list:
    """[(command, expected output lines)] of a block of `$ ` lines."""
    steps, lines, i = [], body.splitlines(), 0
    while i < len(lines):
        if not lines[i].startswith("$ "):
            raise AssertionError(f"output before any command: {lines[i]!r}")
        command = lines[i][2:]
        i += 1
        heredoc = re.search(r"<<-?'?(\w+)'?", command)
        if heredoc:
            end = lines.index(heredoc.group(1), i)
            command = "\n".join([command, *lines[i:end + 1]])
            i = end + 1
        expected = []
        while i < len(lines) and not lines[i].startswith("$ "):
            expected.append(lines[i])
            i += 1
        steps.append((command, expected))
    return steps


def kind(language: str, body: str) -> str:
    if language == "python":
        return "python"
    if any(line.startswith("$ ") for line in body.splitlines()):
        return "transcript"
    assert language in ("", "cnn"), f"a ```{language} block that is neither a transcript nor marked not executed"
    return "listing"


def _run(command, cwd, stdin=None):
    """What `command` prints (stdout and stderr together), as lines without trailing blanks."""
    p = subprocess.run(command, input=stdin, cwd=cwd, env=_env(), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=300)
    return [ln.rstrip() for ln in p.stdout.splitlines()]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    d = tmp_path_factory.mktemp("fresh_clone")
    shutil.copytree(ROOT / "examples", d / "examples", ignore=shutil.ignore_patterns("out", "__pycache__"))
    return d


def _env():
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
               NO_COLOR="1", PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1")
    env.pop("PYTHONPATH", None)   # the environment's own cnnc, as after `source .venv/bin/activate`
    return env


def test_the_readme_runs_as_shown(scratch):
    cnnc_script = Path(sys.executable).with_name("cnnc")
    if not cnnc_script.exists():
        pytest.skip("no cnnc console script beside this Python (not installed in an environment)")
    found = blocks(README.read_text(encoding="utf-8"))
    ran = {"transcript": 0, "python": 0, "listing": 0}
    for k_block, (line, language, body, mark) in enumerate(found):
        if mark == "output":
            continue   # compared with the block above it
        if mark:
            assert mark.strip(), f"README.md:{line}: say why the block is not executed"
            continue
        k = kind(language, body)
        ran[k] += 1
        where = f"README.md:{line}"
        if k == "listing":
            cnnc.parse(body, filename=where)   # raises CnncError on a program error
        elif k == "python":
            following = found[k_block + 1] if k_block + 1 < len(found) else None
            expected = following[2].splitlines() if following and following[3] == "output" else []
            got = _run(["python", "-"], scratch, stdin=body)
            assert got == [ln.rstrip() for ln in expected], (
                f"{where}: the Python printed\n" + "\n".join(got) + "\ninstead of\n" + "\n".join(expected))
        else:
            for command, expected in transcript(body):
                got = _run(["bash", "-c", command], scratch)
                assert got == [ln.rstrip() for ln in expected], (
                    f"{where}: `{command}` printed\n" + "\n".join(got) + "\ninstead of\n" + "\n".join(expected))
    # the README has each kind, and every set-up block is marked
    assert ran["transcript"] >= 4 and ran["python"] == 1 and ran["listing"] >= 2, ran


def test_set_up_and_measured_blocks_are_marked_and_files_read_are_written_first():
    found = blocks(README.read_text(encoding="utf-8"))
    skipped = [body for _, _, body, mark in found if mark and mark != "output"]
    assert any("scripts/examples.sh" in b and "scripts/test.sh" in b for b in skipped)
    assert any("digits.py" in b for b in skipped)
    # a transcript reads no file of its own that no earlier transcript wrote (a fresh clone has examples/)
    written: set = set()
    for _, language, body, mark in found:
        if mark or kind(language, body) != "transcript":
            continue
        for command, _ in transcript(body):
            for name in re.findall(r"(?<![\w/.-])([\w-]+\.cnn)\b", command):
                assert name in written or f"> {name}" in command, f"`{command}` reads {name}, never written"
            written.update(re.findall(r">\s*([\w.-]+)", command))


def test_the_transcript_reader():
    steps = transcript("$ cat > a.cnn <<'EOF'\ninput 8x8x1\nEOF\n$ cnnc shapes a.cnn\nline 1\nline 2\n")
    assert steps == [("cat > a.cnn <<'EOF'\ninput 8x8x1\nEOF", []), ("cnnc shapes a.cnn", ["line 1", "line 2"])]
    text = ("x\n<!-- not executed: set-up -->\n```sh\nscripts/test.sh\n```\n\n```\n$ ls\n```\n"
            "```python\nprint(1)\n```\n<!-- output of the block above -->\n```\n1\n```\n")
    assert [(lang, mark) for _, lang, _, mark in blocks(text)] == [("sh", "set-up"), ("", None), ("python", None),
                                                                   ("", "output")]
