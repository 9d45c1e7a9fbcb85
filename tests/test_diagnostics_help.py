"""Diagnostics that help: Keras habits named and corrected, did-you-mean for options, values
and activations, the residual hint that names padding=same, recovery that finds later
mistakes, and diagnostics as data (message and hint apart, --json even with errors)."""

from __future__ import annotations

import json

import pytest

import cnnc
from conftest import errors_of, run_cnnc

# (what a Keras user writes, line, col, the message)
HABITS = [
    ("conv 16 3x3 strides=2", 2, 13,
     "conv_1: unknown option 'strides' for conv; write stride=2 (Keras's strides= is stride= here)"),
    ("conv 16 3x3 pading=same", 2, 13, "conv_1: unknown option 'pading' for conv; did you mean padding=same?"),
    ("flatten; dense 10 sofmax", 2, 19, "dense_1: unknown activation 'sofmax'; did you mean 'softmax'?"),
    ('conv 16 3x3 padding="same"', 2, 21, "write padding=same without quotes; values are plain words and numbers here"),
    ("conv 16 3x3 activation='relu'", 2, 24,
     "write activation=relu without quotes; values are plain words and numbers here"),
    ("conv 16 3 x 3", 2, 9, "conv_1: write 3x3 without spaces, not '3 x 3'; a size is one word, its numbers joined by x"),
    ("conv 16 3 x3", 2, 9, "conv_1: write 3x3 without spaces, not '3 x3'"),
    ("conv 16 (3,3)", 2, 9, "write 3x3 instead of (3,3); a size is one word, its numbers joined by x"),
    ("conv 16 (3, 5)", 2, 9, "write 3x5 instead of (3, 5)"),
    ("conv 16 3x3 padding=sme", 2, 13,
     "conv_1: padding must be valid, same or a number of pixels >= 0, got 'sme'; did you mean 'same'?"),
    ("conv 16 3x3 same", 2, 13, "conv_1: 'same' alone is not an argument of conv; did you mean padding=same?"),
    ("conv 16 kernel_size=3", 2, 9, "conv_1: unknown option 'kernel_size' for conv; conv takes its kernel as an "
                                    "argument, not as an option (usage: conv FILTERS KERNEL"),
    ("batchnorm epsilon=1e-5", 2, 11,
     "batchnorm_1: unknown option 'epsilon' for batchnorm; write eps=1e-5 (Keras's epsilon= is eps= here)"),
    ("conv 16 3x3 Relu", 2, 13, "conv_1: unknown activation 'Relu'; did you mean 'relu'?"),
    ("conv 16 3x3 selu", 2, 13, "conv_1: unknown activation 'selu'; the activations are linear, relu"),
    ("Conv2D 16 3x3", 2, 1, "unknown statement 'Conv2D'; did you mean 'conv'?"),
]


@pytest.mark.parametrize("stmt,line,col,message", HABITS, ids=[h[0] for h in HABITS])
def test_keras_habits_are_named_with_their_fix(stmt, line, col, message):
    e = errors_of(f"input 28x28x1\n{stmt}\n", filename="k.cnn")
    assert len(e.diagnostics) == 1, str(e)
    assert str(e).startswith(f"k.cnn:{line}:{col}: error: {message}"), str(e)


@pytest.mark.parametrize("stmt,meant", [
    ("conv 16 3x3 strides=2", "conv 16 3x3 stride=2"),
    ("conv 16 3x3 pading=same", "conv 16 3x3 padding=same"),
    ('conv 16 3x3 padding="same" activation="relu"', "conv 16 3x3 padding=same relu"),
    ("conv 16 3 x 3 relu", "conv 16 3x3 relu"),
    ("conv 16 3x3 same", "conv 16 3x3 padding=same"),
    ("conv filters=16 kernel_size=5", "conv 16 5"),
    ("conv 16 3x3 padding=sme", "conv 16 3x3 padding=same"),
    ("covn 16 3x3", "conv 16 3x3"),
    ("MaxPooling2D (3, 3) strides=1", "pool 3 stride=1"),
])
def test_a_habit_is_read_as_meant_so_later_mistakes_are_found(stmt, meant):
    """After the habit, the shapes are those of the corrected program: a later dense on an
    image is reported with the shape the fixed program would give it."""
    good = cnnc.parse(f"input 28x28x1\n{meant}\n")
    e = errors_of(f"input 28x28x1\n{stmt}\ndense 10\n")
    assert f"dense needs a vector but gets an image {good.output.out}" in str(e), str(e)


def test_stride_written_positionally_in_parentheses():
    # conv 16 (3,5) (2,1): the second tuple is a third argument, which conv does not take
    e = errors_of("input 28x28x1\nconv 16 (3,5) (2,1)\n")
    assert "conv takes no more arguments, got '2x1'" in str(e)


def test_globalmaxpool_is_not_corrected_to_globalpool():
    """globalpool averages: suggesting it for a max pool would silently change the network."""
    for word in ("globalmaxpool", "GlobalMaxPooling2D", "global_max_pool"):
        text = f"input 8x8x3\n{word}\n"
        if word in cnnc.layers.KINDS:   # once it is a statement of its own, it just works
            assert cnnc.parse(text).output_shape == (3,)
            continue
        e = errors_of(text)
        assert f"unknown statement '{word}'" in e.message and "globalpool'?" not in e.message
    assert "did you mean 'pool'" in errors_of("input 8x8x3\nMaxPooling2D 2\n").message
    assert "did you mean 'avgpool'" in errors_of("input 8x8x3\nAveragePooling2D 2\n").message


@pytest.mark.parametrize("text,fix", [
    ("residual { conv 16 3x3 }", "give conv_1 padding=same (with valid padding conv_1 turns 32x32 into 30x30; "
                                 "the block must end in 32x32, as its input does)"),
    ("residual { conv 16 3x3 relu; conv 16 3x3 }", "give conv_1 and conv_2 padding=same"),
    ("residual { conv 32 3x3 }", "give conv_1 padding=same and add `shortcut { conv 32 1x1 }` after the block"),
    ("residual { conv 16 3x3 stride=2 } shortcut { conv 16 1x1 stride=2 }",
     "give conv_1 padding=same (with valid padding conv_1 turns 32x32 into 15x15; the block must end in 16x16, "
     "as the shortcut does)"),
    # not a padding problem: the shortcut hint as before
    ("residual { conv 16 3x3 stride=2 padding=same }", "add `shortcut { conv 16 1x1 stride=2 }` after the block"),
])
def test_the_residual_hint_names_padding_same_when_that_is_the_fix(text, fix):
    e = errors_of(f"input 32x32x16\n{text}\n")
    assert len(e.diagnostics) == 1 and e.diagnostics[0].hint.startswith(fix), e.diagnostics[0].hint


SEVEN = """input 28x28x1
conv 32 3x3 strides=2 relu
conv 64 3 x 3 pading=same
pool 2 @
conv 64 (3,3) activation="relu"
dense 10 sofmax
"""


def test_seven_mistakes_seven_errors():
    e = errors_of(SEVEN, filename="seven.cnn")
    assert [(d.line, d.col) for d in e.diagnostics] == [(2, 13), (3, 9), (3, 15), (4, 8), (5, 9), (5, 26), (6, 10)]
    assert "syntax error: unexpected character '@'" in e.diagnostics[3].message


def test_independent_errors_after_syntax_errors_and_unknown_statements():
    text = ("input 32x32x3\n"
            "covn 16 3x3 relu\n"                  # read as conv: the shapes go on
            "residual { conv 16 3x3 }\n"          # padding=same forgotten
            "conv 8 3 = 2\n"                      # a syntax error: this statement is skipped ...
            "repet 2 { relu }\n"                  # a misspelt block
            "flatten\n"
            "dense 10 sofmax\n")                  # ... but its later mistakes are not
    e = errors_of(text)
    got = [(d.line, d.message.split(";")[0]) for d in e.diagnostics]
    assert [line for line, _ in got] == [2, 3, 4, 5, 7], got
    assert "residual_1: shapes do not agree" in got[1][1] and "padding=same" in e.diagnostics[1].hint


def test_a_statement_skipped_for_a_syntax_error_is_not_blamed_downstream():
    # the broken statement's shape is unknown: the dense after it is not said to get an image
    e = errors_of("input 8x8x1\nconv 4 3x3 = 2\nflatten\ndense 3 sofmax\n")
    assert [d.line for d in e.diagnostics] == [2, 4] and "sofmax" in e.diagnostics[1].message
    e = errors_of("input 8x8x1\nconcat { brnch { relu } }\ndense 3\n}\ndense 2 relu6x\n")
    assert [d.line for d in e.diagnostics] == [2, 4, 5]
    e = errors_of("inptu 8x8x1 @\nconv 2 3\n")        # the first statement: no "missing input" too
    assert len(e.diagnostics) == 1


def test_recovery_has_limits():
    e = errors_of("input 8x8x1\nresidual {\n relu\n")     # the end of the text: nothing to skip to
    assert len(e.diagnostics) == 1 and "a '}' is missing" in e.message
    e = errors_of("input 8x8x1\n" + "conv @\n" * 30)
    assert len(e.diagnostics) == 21 and "more than 20 syntax errors" in e.diagnostics[-1].message


def test_diagnostics_are_data():
    d = cnnc.Diagnostic("error", "dense_1: dense needs a vector; add flatten", 3, 1, "a.cnn")
    assert (d.message, d.hint) == ("dense_1: dense needs a vector", "add flatten")
    assert d.format() == "a.cnn:3:1: error: dense_1: dense needs a vector; add flatten"
    assert d.to_dict() == {"file": "a.cnn", "line": 3, "col": 1, "severity": "error",
                           "message": "dense_1: dense needs a vector", "hint": "add flatten"}
    plain = cnnc.Diagnostic("warning", "no hint here", 1, 2)
    assert plain.hint is None and plain.format() == "<string>:1:2: warning: no hint here"
    e = errors_of("input 8x8x1\nconv 4 3\ndense 3\n")
    assert e.message == "dense_1: dense needs a vector but gets an image 6x6x4; add flatten or globalpool before it"


def test_json_is_printed_for_a_program_with_errors(tmp_path):
    f = tmp_path / "bad.cnn"
    f.write_text("input 11x11x1\npool 2\nconv 4 3x3 strides=2\nflatten\ndense 3 sofmax\n")
    rc, out, err = run_cnnc("shapes", str(f), "--json")
    assert rc == 1
    data = json.loads(out)
    assert data["ok"] is False and data["file"] == str(f)
    assert [(d["line"], d["col"], d["severity"]) for d in data["diagnostics"]] == [
        (2, 1, "warning"), (3, 12, "error"), (5, 9, "error")]
    assert data["diagnostics"][1] == {"file": str(f), "line": 3, "col": 12, "severity": "error",
                                      "message": "conv_1: unknown option 'strides' for conv",
                                      "hint": "write stride=2 (Keras's strides= is stride= here)"}
    assert err.count("error:") == 2 and err.count("warning:") == 1   # and on stderr, once each


def test_json_carries_every_column():
    rc, out, err = run_cnnc("shapes", "examples/cifar_resnet.cnn", "--json")
    assert rc == 0, err
    data = json.loads(out)
    assert data["ok"] is True and data["diagnostics"] == []
    assert data["trainable_params"] == 273_258 and data["non_trainable_params"] == 1_568
    residual = next(r for r in data["layers"] if r["name"] == "residual_4")
    assert residual["inputs"] == ["batchnorm_9", "batchnorm_10"] and residual["depth"] == 0
    conv = next(r for r in data["layers"] if r["name"] == "conv_10")   # the shortcut's conv
    assert conv["kernel"] == "k9" and conv["depth"] == 1 and conv["inputs"] == ["relu_7"]
    bn = next(r for r in data["layers"] if r["name"] == "batchnorm_1")
    assert (bn["params"], bn["trainable_params"]) == (64, 32)
    rc, out, _ = run_cnnc("shapes", "examples/lenet.cnn", "--json")
    warning = json.loads(out)["diagnostics"][0]
    assert warning["severity"] == "warning" and warning["hint"] == "use padding=same to keep them"


def test_the_table_shows_the_blocks():
    table = cnnc.parse_file("examples/cifar_resnet.cnn").summary_text()
    lines = table.splitlines()
    head = lines[0]
    assert head.split()[-2:] == ["connected", "to"]
    row = {line.split()[0]: line for line in lines[2:] if line.strip() and not line.startswith("-")}
    assert lines[[i for i, line in enumerate(lines) if "conv_10" in line][0]].startswith("  conv_10")
    assert row["residual_4"].rstrip().endswith("batchnorm_9, batchnorm_10")
    assert row["conv_10"].rstrip().endswith("relu_7")        # the shortcut reads the block's input
    assert row["conv_9"][head.index("connected"):].strip() == ""   # reads the row above: nothing to say
    assert "Trainable params: 273,258" in table and "Non-trainable params: 1,568" in table
    # a network that is a straight line has no such column
    assert "connected" not in cnnc.parse_file("examples/lenet.cnn").summary_text()


def test_the_json_diagnostic_in_the_docs_is_current():
    from conftest import ROOT

    e = errors_of("input 11x11x1\npool 2\nconv 4 3x3 strides=2\nflatten\ndense 3 sofmax\n", filename="bad.cnn")
    line = json.dumps(e.diagnostics[0].to_dict())
    assert line in (ROOT / "docs" / "language.md").read_text(), line
