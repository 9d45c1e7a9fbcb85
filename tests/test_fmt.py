"""`cnnc fmt`: one canonical layout that never changes the network and keeps every comment."""

from __future__ import annotations

import json
import os
import random
import re
import stat
import subprocess
import sys

import pytest

import cnnc
from cnnc.format import format_text
from cnnc.summary import summary_dict
from cnnc.syntax import tokenize
from conftest import EXAMPLES, ROOT, run_cnnc
from fuzz_programs import Seeded, any_program, network

EXAMPLE_FILES = sorted(EXAMPLES.rglob("*.cnn"))

MESSY = """\
# a comment at the top   \r
input   28x28x1 ;\r
c1 :conv 32   3x3  relu   # trailing\r
pool 2;;   # another\r
\r
residual {   ; conv 8 3x3 padding = same;\r
      # inside\r
   conv 8 3x3 padding=same ; }shortcut{conv 8 1x1}\r
concat { branch {} branch { conv 4 1x1;} }\r
\t flatten ;dense 10 softmax\r
\r
\r
"""

TIDY = """\
# a comment at the top
input 28x28x1
c1: conv 32 3x3 relu  # trailing
pool 2                # another

residual { conv 8 3x3 padding=same
  # inside
  conv 8 3x3 padding=same } shortcut { conv 8 1x1 }
concat { branch { } branch { conv 4 1x1 } }
flatten; dense 10 softmax
"""


def _summary(text: str) -> dict:
    """What `cnnc shapes --json` prints for a valid program, but the columns of its warnings
    (indentation moves them; lines stay)."""
    data = json.loads(json.dumps(summary_dict(cnnc.parse(text))))
    for d in data["diagnostics"]:
        del d["col"]
    return data


def _comments(text: str) -> list:
    return [t.value.rstrip() for t in tokenize(text) if t.type == "COMMENT"]


def _respace(text: str, rng: random.Random) -> str:
    """The same program with other blanks: random spaces and tabs between tokens and at
    line starts (a size, a number or a name stays one token)."""
    out = []
    for line in text.split("\n"):
        toks = list(tokenize(line))
        pieces = [rng.choice(["", " ", "\t", "   "])]
        for a, b in zip(toks, toks[1:] + [None]):
            pieces.append(a.value)
            if b is not None:
                glue = a.value + b.value
                together = [(t.type, t.value) for t in tokenize(glue)] == [(a.type, a.value), (b.type, b.value)]
                pieces.append(rng.choice(["", " ", "  ", "\t"] if together else [" ", "  ", "\t "]))
        pieces.append(rng.choice(["", " ", "\t"]) if not toks or toks[-1].type != "COMMENT" else "")
        out.append("".join(pieces))
    return "\n".join(out)


def test_the_canonical_layout():
    assert format_text(MESSY) == TIDY
    assert format_text(TIDY) == TIDY
    # the other way round: the messy program is not already tidy, so the comparison can fail
    assert format_text(MESSY) != MESSY


def test_the_examples_are_formatted():
    """CI's check: `cnnc fmt --check examples/` passes (a file out of layout fails it)."""
    rc, out, err = run_cnnc("fmt", "--check", "examples/")
    assert rc == 0 and out == "" and err == "", out + err


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_examples_keep_their_network_and_comments_in_any_spacing(path):
    text = path.read_text()
    rng = random.Random(path.name)
    messy = _respace(text, rng)
    assert messy != text
    tidy = format_text(messy, str(path))
    assert tidy == text                      # differing only in blanks, they format identically
    assert _summary(messy) == _summary(tidy)  # the same graph, names, shapes and lines
    assert _comments(messy) == _comments(tidy)


def test_generated_networks_keep_their_network():
    for seed in range(150):
        text = network(Seeded(seed), max_statements=8)
        rng = random.Random(seed)
        messy = _respace(text, rng)
        tidy = format_text(messy)
        assert format_text(tidy) == tidy, text
        assert format_text(text) == tidy, text
        assert _summary(tidy) == _summary(text), text


def test_any_program_formats_or_is_refused_unchanged():
    """Text that may not even be a program: either a syntax error (CnncError) or a layout
    whose parse gives the same errors, or the same network, as the original."""
    formatted = 0
    for seed in range(400):
        text = any_program(Seeded(seed))
        try:
            tidy = format_text(text)
        except cnnc.CnncError as e:
            assert all(re.match(r"<string>:\d+:\d+: error: ", line) for line in str(e).splitlines())
            continue
        formatted += 1
        assert format_text(tidy) == tidy, text
        assert _comments(text) == _comments(tidy), text
        try:
            before = _summary(text)
        except cnnc.CnncError as e:
            with pytest.raises(cnnc.CnncError) as after:
                cnnc.parse(tidy)
            assert [(d.line, d.message) for d in e.diagnostics] == \
                [(d.line, d.message) for d in after.value.diagnostics], text
        else:
            assert _summary(tidy) == before, text
    assert formatted > 50


def test_semicolons_stay_on_one_line_with_normal_spacing():
    assert format_text("input 8x8x1 ;conv 4 3x3;   relu;;pool 2 ;\n") == "input 8x8x1; conv 4 3x3; relu; pool 2\n"
    assert format_text((EXAMPLES / "oneliner.cnn").read_text()).count("\n") == 1


def test_comments_align_in_runs_and_keep_their_text():
    text = "input 8x8x1   #   the input  \nconv 4 3x3 relu # a conv\n\nflatten  #x\ndense 2\n"
    assert format_text(text) == ("input 8x8x1      #   the input\nconv 4 3x3 relu  # a conv\n\n"
                                 "flatten  #x\ndense 2\n")


def test_indentation_follows_the_blocks():
    text = "input 8x8x3\nrepeat 2 {\nresidual {\n      conv 3 3x3 padding=same\n # c\n}\n}\n"
    assert format_text(text) == ("input 8x8x3\nrepeat 2 {\n  residual {\n    conv 3 3x3 padding=same\n"
                                 "    # c\n  }\n}\n")


def test_a_program_with_shape_errors_is_formatted():
    text = "input 4x4x1\nconv  8 9x9\ndense 2\n"
    with pytest.raises(cnnc.CnncError):
        cnnc.parse(text)
    assert format_text(text) == "input 4x4x1\nconv 8 9x9\ndense 2\n"


def test_the_empty_program():
    assert format_text("") == "" and format_text("\n\n  \n") == ""
    assert format_text("# only a comment") == "# only a comment\n"


def test_cli_formats_in_place_and_says_so(tmp_path):
    p = tmp_path / "net.cnn"
    p.write_text(MESSY)
    os.chmod(p, 0o640)
    rc, out, err = run_cnnc("fmt", str(p))
    assert rc == 0 and out == f"formatted {p}\n", err
    assert p.read_text() == TIDY
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o640
    assert [f.name for f in tmp_path.iterdir()] == ["net.cnn"]   # no temporary file left
    before = os.stat(p).st_mtime_ns
    rc, out, err = run_cnnc("fmt", str(p))
    assert rc == 0 and out == "" and os.stat(p).st_mtime_ns == before   # unchanged: not written


def test_cli_check_writes_nothing(tmp_path):
    messy, tidy = tmp_path / "messy.cnn", tmp_path / "tidy.cnn"
    messy.write_text(MESSY)
    tidy.write_text(TIDY)
    rc, out, _ = run_cnnc("fmt", "--check", str(messy), str(tidy))
    assert rc == 1 and out == f"{messy} would be reformatted\n"
    assert messy.read_bytes() == MESSY.encode()
    rc, out, _ = run_cnnc("fmt", "--check", str(tidy))
    assert rc == 0 and out == ""


def test_cli_a_syntax_error_leaves_the_file_unchanged(tmp_path):
    bad = tmp_path / "bad.cnn"
    text = "input  8x8x1\nconv 4 3x3 = relu\n"
    bad.write_text(text)
    rc, out, err = run_cnnc("fmt", str(bad))
    assert rc == 1 and out == ""
    assert err.startswith(f"{bad}:2:12: error: syntax error"), err
    assert bad.read_text() == text
    rc, out, err = run_cnnc("fmt", "--check", str(bad))
    assert rc == 1 and f"{bad}:2:12: error:" in err


def test_cli_folders_and_standard_input(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.cnn").write_text("input 8x8x1 ;conv 2 3x3\n")
    (tmp_path / "notes.txt").write_text("not a program {")
    rc, out, _ = run_cnnc("fmt", str(tmp_path))
    assert rc == 0 and out == f"formatted {tmp_path / 'sub' / 'a.cnn'}\n"
    assert (tmp_path / "notes.txt").read_text() == "not a program {"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, "-m", "cnnc", "fmt", "-"], input=MESSY, capture_output=True, text=True,
                       env=env, timeout=60)
    assert p.returncode == 0 and p.stdout == TIDY
    p = subprocess.run([sys.executable, "-m", "cnnc", "fmt", "-"], input="conv {\n", capture_output=True,
                       text=True, env=env, timeout=60)
    assert p.returncode == 1 and p.stdout == "" and p.stderr.startswith("<stdin>:1:")


def test_cli_bad_usage_and_unreadable_files(tmp_path):
    rc, _, err = run_cnnc("fmt")
    assert rc == 2 and "FILE" in err
    rc, _, err = run_cnnc("fmt", "-", "examples/lenet.cnn")
    assert rc == 2 and "standard input" in err
    missing = tmp_path / "missing.cnn"
    rc, _, err = run_cnnc("fmt", str(missing))
    assert rc == 2 and f"cannot read {missing}" in err
    latin = tmp_path / "latin.cnn"
    latin.write_bytes(b"input 8x8x1 # caf\xe9\n")
    rc, _, err = run_cnnc("fmt", str(latin))
    assert rc == 2 and f"cannot read {latin}" in err


def test_cli_keeps_a_link_a_link(tmp_path):
    real = tmp_path / "real.cnn"
    real.write_text("input 8x8x1 ;conv 2 3x3\n")
    link = tmp_path / "link.cnn"
    link.symlink_to(real)
    rc, _, err = run_cnnc("fmt", str(link))
    assert rc == 0, err
    assert link.is_symlink() and real.read_text() == "input 8x8x1; conv 2 3x3\n"


def test_the_third_edition_layout():
    messy = ("input 32x32x3\ndef  bottleneck filters  stride = 1 {   # a block\n"
             "conv filters * 4 1x1 ; dense max( 1 , filters // 4 ) relu\n"
             "   conv filters - 1 1x1;conv ( filters + 1 ) * 2 1x1 ; conv filters -1 3x3\n}\n"
             "normalize mean=0.485, 0.456,0.406\nb1 : bottleneck 16\nr: residual scale = 0.17 { bottleneck 8 }\n"
             "add b1  r ;conv 8 1x1 from = b1\n")
    tidy = ("input 32x32x3\ndef bottleneck filters stride=1 {  # a block\n"
            "  conv filters*4 1x1; dense max(1, filters//4) relu\n"
            "  conv filters-1 1x1; conv (filters+1)*2 1x1; conv filters -1 3x3\n}\n"
            "normalize mean=0.485,0.456,0.406\nb1: bottleneck 16\nr: residual scale=0.17 { bottleneck 8 }\n"
            "add b1 r; conv 8 1x1 from=b1\n")
    assert format_text(messy) == tidy and format_text(tidy) == tidy
    # `c -1` is two arguments and `c-1` one expression: the layout keeps them apart
    assert [t.value for t in tokenize(tidy.split("\n")[3])][-3:] == ["filters", "-1", "3x3"]
    assert "conv filters -1 3x3" in tidy and "conv filters-1 1x1" in tidy


def test_the_docs_example_of_the_layout():
    text = (ROOT / "docs" / "language.md").read_text()
    section = text[text.index("## Layout: `cnnc fmt`"):]
    before, after = re.findall(r"^```(?:cnn)?\n(.*?)^```", section, re.S | re.M)[:2]
    assert before != after and format_text(before) == after
