"""Messages a Keras user meets first: each mistake is one error, in cnnc's own spelling.

Keras call syntax (`Dense(10)`), Python values (`use_bias=False`, `activation=None`), a
weights file given as a program or a Keras 3 `.weights.h5` as a model, several files to
`cnnc shapes`, and `summary()` printing as Keras's does."""

from __future__ import annotations

import json

import pytest

import cnnc
from conftest import ROOT, run_cnnc

LENET = ROOT / "examples" / "lenet.cnn"


def _errors(text: str) -> list:
    with pytest.raises(cnnc.CnncError) as e:
        cnnc.parse(text)
    return [d.text for d in e.value.diagnostics]


CALLS = [
    ("MaxPooling2D(2)", "pool 2"),
    ("Dense(10)", "dense 10"),
    ("BatchNormalization()", "batchnorm"),
    ("Flatten()", "flatten"),
    ("Dropout(0.5)", "dropout 0.5"),
    ('Conv2D(32, (3,3), activation="relu")', "conv 32 3x3 relu"),
    ('layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False)', "conv 8 3 stride=2 padding=same bias=false"),
    ('Activation("relu")', "relu"),
    ("GlobalAveragePooling2D()", "globalpool"),
    ('Dense(10, activation="softmax", name="out"),', "out: dense 10 softmax"),
    ("UpSampling2D(2)(x)", "upsample 2"),
]


@pytest.mark.parametrize("call,meant", CALLS, ids=[c for c, _ in CALLS])
def test_a_keras_call_is_one_error_with_the_cnnc_spelling(call, meant):
    # before: 'MaxPooling2D2', 'Dense10', or only "unexpected character '('"
    vector = meant.split(": ")[-1].startswith("dense")
    text = f"input 8x8x4\n{'flatten' if vector else 'relu'}\n{call}\n"
    errors = _errors(text)
    assert errors == [f"'{call.rstrip(',')}' is Keras's call syntax; did you mean '{meant}'?"], errors
    cnnc.parse(text.replace(call, meant))   # what it suggests is a program


def test_a_call_is_read_as_meant_so_later_mistakes_are_found():
    errors = _errors("input 28x28x1\nConv2D(8, (3, 3))\nflatten\nconv 4 3\n")
    assert len(errors) == 2 and "did you mean 'conv 8 3x3'?" in errors[0]
    assert "conv needs an image HxWxC but gets a vector of 5408" in errors[1]   # 26*26*8: the conv was read


def test_calls_that_are_not_statements():
    assert _errors("input 8x8x1\nAdd()\n") == [
        "'Add()' is Keras's call syntax; a join names what it joins here: write add NAME NAME... (the labels of "
        "earlier layers), or add { branch { ... } branch { ... } }"]
    (only,) = _errors("input 8x8x1\nFoo(3)\nrelu\n")
    assert only.startswith("'Foo(3)' is Keras's call syntax; statements are written without parentheses")
    (only,) = _errors('input 8x8x1\nConv2D(8, 3, padding="causal")\n')   # causal has no counterpart: its usage
    assert "write it as `conv FILTERS KERNEL" in only
    (only,) = _errors('input 8x8x1\nConv2D(8, 3, kernel_initializer="he_normal")\n')
    assert only.endswith("did you mean 'conv 8 3'? (kernel_initializer= has no counterpart here)")


def test_a_size_in_parentheses_is_still_a_habit_not_a_call():
    (only,) = _errors("input 8x8x1\npool (2, 2) stride=1\ndense\n")[:1]
    assert only == "write 2x2 instead of (2, 2); a size is one word, its numbers joined by x"


def test_python_booleans_and_none():
    # before: two errors, the second contradicting the first (bias=False, then "got 'False'")
    assert _errors("input 8x8x1\nconv 8 3 use_bias=False\n") == [
        "conv_1: unknown option 'use_bias' for conv; write bias=false (Keras's use_bias= is bias= here)"]
    assert _errors("input 8x8x1\nconv 8 3 activation=None\n") == [
        "conv_1: unknown activation 'None'; did you mean 'linear'? (no activation is written linear here)"]


def test_a_weights_file_given_as_a_program(tmp_path):
    np = pytest.importorskip("numpy")
    path = tmp_path / "lenet.npz"
    np.savez(path, a=np.zeros(3))
    rc, out, err = run_cnnc("shapes", str(path))
    assert rc == 2 and "codec" not in err
    assert f"cannot read {path}: it is a zip archive (weights saved as .npz, or a .keras model?), " \
           f"not a cnnc program" in err
    with pytest.raises(cnnc.CnncError, match="it is a zip archive"):
        cnnc.parse_file(path)
    other = tmp_path / "latin1.cnn"
    other.write_bytes(b"input 8x8x1 # caf\xe9\n")
    rc, _, err = run_cnnc("shapes", str(other))
    assert rc == 2 and "it is a binary file (not UTF-8 text)" in err


def test_a_keras_3_weights_file_is_named_as_such(tmp_path):
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "model.weights.h5"
    with h5py.File(path, "w") as f:
        f.create_group("layers")
    model = cnnc.compile(LENET)
    with pytest.raises(cnnc.CnncError) as e:
        model.load_keras(path)
    assert "Keras 2" not in str(e.value)   # before: "a Keras 2 .h5 file?"
    assert "a Keras 3 weights file (model.save_weights)" in str(e.value)
    assert "pass the .keras file that model.save('NAME.keras') writes" in str(e.value)
    legacy = tmp_path / "model.h5"
    path.rename(legacy)
    with pytest.raises(cnnc.CnncError, match=r"a Keras 2 \.h5 model\?"):
        model.load_keras(legacy)


def test_shapes_takes_several_files(tmp_path):
    bad = tmp_path / "bad.cnn"
    bad.write_text("input 8x8x1\nconv 4 9\n")
    rc, out, err = run_cnnc("shapes", str(LENET), str(bad), str(tmp_path / "missing.cnn"))
    assert rc == 2   # the worst: a file that cannot be read
    assert out.startswith(f"==> {LENET} <==\n") and f"\n==> {bad} <==\n" in out
    assert out.count("Smallest input:") == 1
    assert "bad.cnn:2:1: error: conv_1: the image collapses" in err and "cannot read" in err
    rc, out, err = run_cnnc("shapes", str(LENET), str(bad))
    assert rc == 1
    rc, out, err = run_cnnc("shapes", str(LENET), str(LENET))
    assert rc == 0 and out.count("Total params: 121,930") == 2
    # --json: one object per line
    rc, out, err = run_cnnc("shapes", "--json", str(LENET), str(bad), str(tmp_path / "missing.cnn"))
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(d["file"], d["ok"]) for d in lines] == [(str(LENET), True), (str(bad), False),
                                                      (str(tmp_path / "missing.cnn"), False)]
    assert lines[0]["total_params"] == 121930 and "cannot read" in lines[2]["error"]
    assert run_cnnc("shapes", "-", "-")[0] == 2


def test_one_file_prints_as_before():
    rc, out, err = run_cnnc("shapes", str(LENET), "--json")
    assert rc == 0 and out.startswith("{\n  \"file\"")   # indented, as always
    rc, out, _ = run_cnnc("shapes", str(LENET))
    assert out.startswith("layer ") and "==>" not in out


def test_summary_prints_as_keras_does(capsys):
    net = cnnc.parse_file(LENET)
    assert net.summary() is None
    printed = capsys.readouterr().out
    assert printed == net.summary_text() + "\n" == str(net) + "\n"
    assert printed.splitlines()[0].split()[:3] == ["layer", "kind", "output"]
    lines = []
    net.summary(print_fn=lines.append)
    assert lines == net.summary_text().split("\n") and capsys.readouterr().out == ""
    model = cnnc.compile(net)
    assert model.summary() is None and capsys.readouterr().out == printed
    assert model.summary_text(batch=2) == net.summary_text(batch=2) != net.summary_text()


def test_the_docs_show_what_a_keras_call_prints(tmp_path):
    import re

    doc = (ROOT / "docs" / "language.md").read_text()
    section = doc[doc.index("A layer written as a Keras call"):]
    program, shown = re.findall(r"```\n(.*?)```", section, re.S)[:2]
    (tmp_path / "calls.cnn").write_text(program)
    rc, _, err = run_cnnc("shapes", "calls.cnn", cwd=tmp_path)
    assert rc == 1 and err == shown
