"""ONNX export: every statement of SPEC §1 agrees with the numpy reference under onnxruntime."""

import pytest
from hypothesis import given, settings, strategies as st

import cnnc

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("torch")  # PROGRAMS and random_model live beside the torch tests

from numeric import another, assert_close  # noqa: E402
from test_bridge_torch import PROGRAMS, batch, random_model  # noqa: E402


def check_onnx(path, model, x):
    """onnxruntime agrees with the numpy model; the model's answer for another input is far."""
    assert_close(run_onnx(path, x), model(x), other=model(another(x)), rtol=1e-4, atol=1e-4)


def run_onnx(path, x):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {"input": x})[0]


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_onnx_matches_numpy(name, tmp_path):
    model = random_model(PROGRAMS[name])
    path = tmp_path / f"{name}.onnx"
    assert model.to_onnx(path) == str(path)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    for n in (3, 1):  # the batch axis is symbolic
        x = batch(model, n)
        check_onnx(path, model, x)


def test_names_pads_and_counting(tmp_path):
    model = random_model("input 8x8x2; c1: conv 3 3 stride=2 padding=same relu; avgpool 3 stride=1 padding=same; "
                         "avgpool 2 padding=1; flatten; dense 4 softmax")
    path = tmp_path / "m.onnx"
    model.to_onnx(path)
    g = onnx.load(str(path)).graph
    nodes = {n.name: n for n in g.node}
    assert {"c1", "c1/relu", "avgpool_1", "avgpool_2", "flatten_1", "dense_1", "dense_1/softmax"} <= set(nodes)
    attr = {n.name: {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute} for n in g.node}
    assert attr["c1"]["pads"] == [0, 0, 1, 1]  # TF same on 8 with k3 s2: the extra row/col at the bottom/right
    assert attr["avgpool_1"]["count_include_pad"] == 0
    assert attr["avgpool_2"]["count_include_pad"] == 1
    assert {i.name for i in g.initializer} == set(model.params)
    assert [d.dim_param or d.dim_value for d in g.input[0].type.tensor_type.shape.dim] == ["N", 8, 8, 2]


@settings(max_examples=20, deadline=None, derandomize=True)
@given(kind=st.sampled_from(["conv", "pool", "avgpool"]), h=st.integers(3, 9), w=st.integers(3, 9),
       kh=st.integers(1, 3), kw=st.integers(1, 3), s=st.integers(1, 3), pad=st.sampled_from(["valid", "same", 1, 2]))
def test_onnx_windows_match_numpy(tmp_path_factory, kind, h, w, kh, kw, s, pad):
    head = "conv 3" if kind == "conv" else kind
    try:
        model = random_model(f"input {h}x{w}x2; {head} {kh}x{kw} stride={s} padding={pad}")
    except cnnc.CnncError:
        return
    path = tmp_path_factory.mktemp("w") / "m.onnx"
    model.to_onnx(path)
    x = batch(model, 2)
    check_onnx(path, model, x)


def test_layer_named_output(tmp_path):
    model = random_model("input 4x4x1; flatten; output: dense 3 softmax")
    model.to_onnx(tmp_path / "m.onnx")
    x = batch(model)
    check_onnx(tmp_path / "m.onnx", model, x)


@pytest.mark.parametrize("text", ["input 5x5x1; pool 1 padding=1", "input 5x5x2; avgpool 2 padding=2",
                                  "input 6x5x1; pool 2x3 stride=1 padding=3"])
def test_padding_as_wide_as_the_kernel(tmp_path, text):
    """onnxruntime refuses pads >= kernel in a pool; the export pads explicitly instead."""
    try:
        model = random_model(text)
    except cnnc.CnncError as e:  # should the language ever forbid such padding, there is nothing to export
        pytest.skip(str(e))
    model.to_onnx(tmp_path / "m.onnx")
    x = batch(model)
    check_onnx(tmp_path / "m.onnx", model, x)


def test_missing_onnx_is_a_clear_error(tmp_path, capsys, monkeypatch):
    from pathlib import Path

    from cnnc.cli import main

    monkeypatch.setitem(__import__("sys").modules, "onnx", None)
    lenet = Path(__file__).resolve().parents[1] / "examples" / "lenet.cnn"
    rc = main(["compile", str(lenet), "--emit", "onnx", "-o", str(tmp_path / "m.onnx")])
    assert rc == 2 and "pip install 'cnnc[onnx]'" in capsys.readouterr().err


def test_compile_emit_onnx(tmp_path, capsys):
    from pathlib import Path

    from cnnc.cli import main

    lenet = Path(__file__).resolve().parents[1] / "examples" / "lenet.cnn"
    model = random_model(lenet.read_text())
    model.save_weights(tmp_path / "w.npz")
    out = tmp_path / "lenet.onnx"
    assert main(["compile", str(lenet), "--emit", "onnx", "--weights", str(tmp_path / "w.npz"), "-o", str(out)]) == 0
    x = batch(model)
    check_onnx(out, model, x)
