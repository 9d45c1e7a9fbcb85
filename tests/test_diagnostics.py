"""Every diagnostic SPEC §1 lists: its line, column and message."""

from __future__ import annotations

import pytest

import cnnc
from conftest import errors_of


def one(text, **kw):
    e = errors_of(text, **kw)
    return e.line, e.col, e.message


# (program, line, col, fragments the message must hold)
ERRORS = [
    ("syntax", "input 8x8x1\nconv 8 3 = 2\n", 2, 10, ["syntax error", "unexpected '='"]),
    ("stray brace", "input 8x8x1\n}\n", 2, 1, ["syntax error", "unexpected '}'"]),
    ("unclosed block", "input 8x8x1\nresidual {\n  conv 8 3\n", 4, 1, ["ends too early", "'}'"]),
    ("bad character", "input 8x8x1\nconv 8 3 @\n", 2, 10, ["unexpected character '@'"]),
    ("unknown statement", "input 8x8x1\n  convv 8 3\n", 2, 3, ["unknown statement 'convv'", "did you mean 'conv'"]),
    ("keras name", "input 8x8x1\nMaxPooling2D 2\n", 2, 1, ["unknown statement 'MaxPooling2D'", "did you mean 'pool'"]),
    ("unknown activation", "input 8x8x1\nselu\n", 2, 1, ["unknown statement 'selu'", "relu, relu6, leaky_relu"]),
    ("unknown statement, no guess", "input 8x8x1\nxyzzyplugh\n", 2, 1, ["unknown statement", "statements are"]),
    ("zero filters", "input 8x8x1\nconv 0 3\n", 2, 6, ["number of filters", "positive", "0"]),
    ("negative kernel", "input 8x8x1\nconv 4 3x-1\n", 2, 8, ["kernel size", "positive"]),
    ("zero stride", "input 8x8x1\npool 2 stride=0\n", 2, 8, ["stride", "positive"]),
    ("zero units", "input 8x8x1\nflatten; dense 0\n", 2, 16, ["number of units", "positive"]),
    ("zero input", "input 0x8x1\n", 1, 7, ["input sizes must be positive"]),
    ("zero repeat", "input 8x8x1\nrepeat 0 { relu }\n", 2, 8, ["repeat count", "positive"]),
    ("dropout range", "input 8x8x1\ndropout 1.5\n", 2, 9, ["dropout rate", "[0, 1)"]),
    ("collapse", "input 10x10x1\nrepeat 5 { conv 8 3x3 }\n", 2, 12,
     ["conv_5", "collapses", "2x2x8", "0x0x8", "padding=same", "smaller kernel or stride", "11x11"]),
    ("collapse pool", "input 5x5x3\nconv 4 3\np: pool 4\n", 3, 1,
     ["p:", "collapses", "pool 4x4", "3x3x4", "0x0x4", "padding=same", "4x4"]),
    ("dense on image", "input 8x8x1\nconv 4 3\ndense 10\n", 3, 1,
     ["dense_1", "needs a vector", "6x6x4", "flatten or globalpool"]),
    ("conv on vector", "input 8x8x1\nflatten\n c: conv 4 3\n", 3, 2, ["c:", "conv needs an image", "vector of 64"]),
    ("pool on vector", "input 8x8x1\nglobalpool\npool 2\n", 3, 1, ["pool_1", "pool needs an image", "vector of 1"]),
    ("residual mismatch", "input 8x8x4\nresidual { conv 8 3x3 padding=same }\n", 2, 1,
     ["residual_1", "8x8x8", "8x8x4", "shortcut { conv 8 1x1 }"]),
    ("residual shortcut mismatch", "input 8x8x4\nr: residual { conv 8 3 stride=2 padding=same } shortcut { conv 8 1 }\n",
     2, 1, ["r:", "4x4x8", "8x8x8", "shortcut"]),
    ("concat mismatch", "input 8x8x1\nconcat {\n branch { conv 2 3 }\n branch { conv 2 1 }\n}\n", 2, 1,
     ["concat_1", "6x6x2", "8x8x2", "height and width"]),
    ("duplicate name", "input 8x8x1\na: conv 2 1\nrelu\na: relu\n", 4, 1, ["duplicate name 'a'", "line 2"]),
    ("duplicate via repeat", "input 8x8x1\nrepeat 2 { a: relu }\na_2: relu\n", 3, 1, ["duplicate name 'a_2'"]),
    ("missing input", "conv 2 3\n", 1, 1, ["missing input shape", "input HxWxC", "--input"]),
    ("input twice", "input 8x8x1\ninput 8x8x1\n", 2, 1, ["input must be the first statement"]),
    ("input not first", "relu\ninput 8x8x1\n", 1, 1, ["missing input shape"]),
    ("unknown option", "input 8x8x1\nconv 2 3 strides=2\n", 2, 10, ["unknown option 'strides'", "stride="]),
    ("bad padding", "input 8x8x1\nconv 2 3 padding=full\n", 2, 10, ["padding must be valid, same"]),
    ("bad activation", "input 8x8x1\nconv 2 3 activation=selu\n", 2, 10, ["unknown activation 'selu'", "the activations are linear, relu, relu6"]),
    ("missing kernel", "input 8x8x1\nconv 2\n", 2, 6, ["missing its kernel", "usage: conv"]),
    ("count on residual", "input 8x8x1\nresidual 2 { relu }\n", 2, 10, ["takes no count"]),
    ("stray shortcut", "input 8x8x1\nshortcut { relu }\n", 2, 1, ["must follow a residual"]),
    ("stray branch", "input 8x8x1\nbranch { relu }\n", 2, 1, ["inside concat"]),
    ("named branch", "input 8x8x1\nconcat { b: branch { relu } }\n", 2, 10, ["branch block cannot be named"]),
]


@pytest.mark.parametrize("text,line,col,fragments", [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS])
def test_error(text, line, col, fragments):
    e = errors_of(text, filename="net.cnn")
    assert (e.line, e.col) == (line, col)
    assert str(e).startswith(f"net.cnn:{line}:{col}: error: ")
    for f in fragments:
        assert f in e.message or (f.endswith(":") and e.message.startswith(f[:-1])), (f, e.message)


def test_all_errors_of_a_program_are_reported_in_source_order():
    e = errors_of("input 8x8x1\nconv 0 3\nfoo\na: relu\na: relu\nconcat { relu }\n")
    got = [(d.line, d.col) for d in e.diagnostics]
    assert got == [(2, 6), (3, 1), (5, 1), (6, 1), (6, 10)]
    assert str(e).count("error:") == len(got)


def test_issue_example_is_valid_and_a_real_collapse_is_caught():
    # issue 2's example: 8 -> 6 -> 3 -> 1, a valid 1x1x8 output
    assert cnnc.parse("input 8x8x1; conv 8 3x3; pool 2; conv 8 3x3").output_shape == (1, 1, 8)
    text = "input 8x8x1; conv 8 3x3; pool 2; conv 8 3x3; conv 8 3x3"
    line, col, msg = one(text)
    assert (line, col) == (1, text.rindex("conv") + 1) and "conv_3" in msg and "1x1x8" in msg and "accepts is 12x12" in msg


def test_warnings_do_not_stop_and_carry_positions():
    net = cnnc.parse("input 11x11x1\nconv 4 3 softmax\npool 2\n  pool 2 stride=3\nflatten\ndense 2\n")
    got = [(w.line, w.col, w.severity) for w in net.warnings]
    assert (3, 1, "warning") in got and (2, 1, "warning") in got
    soft = [w for w in net.warnings if "softmax" in w.message][0]
    assert soft.message.startswith("conv_1: softmax is not the last layer")
    drop = [w for w in net.warnings if "pool_1" in w.message][0]
    assert "9x9" in drop.message and "last row and column" in drop.message
    assert str(drop).startswith("<string>:3:1: warning: ")
    # softmax last (or followed only by dropout) is fine
    assert not cnnc.parse("input 4x4x1\nflatten\ndense 2 softmax\ndropout 0.1\n").warnings


def test_api_errors():
    with pytest.raises(cnnc.CnncError) as e:
        cnnc.parse("conv 2 3", input=(0, 3, 1))
    assert "three positive integers" in str(e.value)
    with pytest.raises(cnnc.CnncError):
        cnnc.parse(b"input 8x8x1")  # not text
    e = errors_of("input 8x8x1\n" + "repeat 1000 { repeat 1000 { relu } }\n")
    assert "more than" in e.message and (e.line, e.col) == (2, 1)
    e = errors_of("input 8x8x1\n" + "residual {" * 80 + "}" * 80 + "\n")
    assert "nested" in e.message and e.line == 2


def test_a_wrong_statement_in_repeat_is_reported_once_with_its_layer_name():
    e = errors_of("input 8x8x1\nrepeat 3 { c: conv 0 3; foo }\n")
    assert [(d.line, d.col) for d in e.diagnostics] == [(2, 20), (2, 25)]
    assert e.diagnostics[0].message.startswith("c_1: the number of filters")
    assert "unknown statement 'foo'" in e.diagnostics[1].message


def test_warnings_are_in_source_order():
    net = cnnc.parse("input 11x11x1\nconv 4 3 softmax\npool 2\nflatten\ndense 2 softmax\n")
    assert [(w.line, w.col) for w in net.warnings] == [(2, 1), (3, 1)]


DOC_PROGRAMS = {  # the programs behind the messages quoted in docs/language.md
    "collapse.cnn": "input 10x10x1\nrepeat 5 { conv 8 3x3 }\n",
    "dense.cnn": "input 28x28x1\nconv 32 3x3 relu\npool 2\ndense 10 softmax\n",
    "res.cnn": "input 32x32x16\nresidual {\n  conv 32 3x3 stride=2 padding=same relu\n  conv 32 3x3 padding=same\n}\n",
    "typo.cnn": "input 28x28x1\ncovn 32 3x3 relu\n",
    "multi.cnn": "input 28x28x1\nconv 32 3x3 relu\npool 2\nc: conv 0 3x3\nc: relu\n",
    "syn.cnn": "input 28x28x1\nconv 32 3x3 relu {\n",
    "warn.cnn": "input 11x11x1\ndense_1: conv 4 3 softmax\npool 2\nflatten\ndense 2 softmax\n",
    "keras.cnn": 'input 28x28x1\nconv 32 3x3 strides=2 relu\nconv 64 3 x 3 pading=same\nconv 64 (3,3) padding="same"\n'
                 'flatten\ndense 10 sofmax\n',
    "res16.cnn": "input 32x32x16\nresidual { conv 16 3x3 relu; conv 16 3x3 padding=same }\n",
    "use.cnn": "input 8x8x3\ndef blk f k=3 {\n  conv f k padding=same\n  dense 4\n}\nconv 3 1\nblk 4 k=1\n",
    "seven.cnn": 'input 28x28x1\nconv 32 3x3 strides=2 relu\nconv 64 3 x 3 pading=same\npool 2 @\n'
                 'conv 64 (3,3) activation="relu"\ndense 10 sofmax\n',
}


@pytest.mark.parametrize("name", ["keras.cnn", "seven.cnn"])
def test_programs_quoted_in_the_docs_are_current(name):
    """The programs behind those messages appear in docs/language.md as they are here."""
    from conftest import ROOT

    doc = (ROOT / "docs" / "language.md").read_text()
    assert "```\n" + DOC_PROGRAMS[name] + "```" in doc


@pytest.mark.parametrize("name", sorted(DOC_PROGRAMS))
def test_messages_quoted_in_the_docs_are_current(name):
    from conftest import ROOT

    doc = (ROOT / "docs" / "language.md").read_text()
    try:
        lines = [w.format() for w in cnnc.parse(DOC_PROGRAMS[name], filename=name).warnings]
    except cnnc.CnncError as e:
        lines = str(e).splitlines()
    assert lines and all(line in doc for line in lines), lines
