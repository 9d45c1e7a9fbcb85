"""`cnnc from-onnx`'s files: where it writes, what it never replaces, how it says so."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

import cnnc  # noqa: E402
from conftest import run_cnnc  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402

W = np.linspace(-1, 1, 2 * 3 * 3 * 3, dtype=np.float32).reshape(2, 3, 3, 3)
B = np.array([0.5, -0.25], np.float32)


def write_model(path, flip=False):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 6, 6])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["y"], name="relu")]
    inits = [helper.make_tensor("w", TensorProto.FLOAT, W.shape, W.ravel()),
             helper.make_tensor("b", TensorProto.FLOAT, B.shape, B)]
    if flip:
        nodes[1] = helper.make_node("Flip", ["c"], ["y"], name="flip")
    m = helper.make_model(helper.make_graph(nodes, "g", [x], [y], inits), opset_imports=[helper.make_opsetid("", 17)])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(m.SerializeToString())
    return path


def test_the_default_output_is_the_models_stem_beside_it(tmp_path):
    model = write_model(tmp_path / "models" / "tiny.onnx")
    code, out, err = run_cnnc("from-onnx", str(model), cwd=tmp_path)
    assert code == 0, err
    assert out == f"wrote {tmp_path / 'models' / 'tiny.cnn'} (2 lines) and {tmp_path / 'models' / 'tiny.npz'} " \
                  f"(2 arrays, 56 parameters)\n"
    assert (tmp_path / "models" / "tiny.cnn").read_text() == \
        "# tiny: converted from tiny.onnx by cnnc from-onnx\ninput 6x6x3\nconv 2 3x3 padding=same relu\n"
    net = cnnc.compile(str(tmp_path / "models" / "tiny.cnn"))
    np.testing.assert_array_equal(net.params["conv_1.kernel"], W.transpose(2, 3, 1, 0))
    np.testing.assert_array_equal(net.params["conv_1.bias"], B)


def test_o_names_the_program_and_its_weights_go_beside_it(tmp_path):
    model = write_model(tmp_path / "tiny.onnx")
    (tmp_path / "out").mkdir()
    code, out, err = run_cnnc("from-onnx", str(model), "-o", str(tmp_path / "out" / "net.cnn"))
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["net.cnn", "net.npz"]


def test_an_existing_output_is_replaced_only_with_force(tmp_path):
    model = write_model(tmp_path / "tiny.onnx")
    (tmp_path / "tiny.cnn").write_text("input 2x2x1\n")
    code, out, err = run_cnnc("from-onnx", str(model))
    assert code == 2 and "tiny.cnn exists; refusing to replace it (give --force" in err
    assert (tmp_path / "tiny.cnn").read_text() == "input 2x2x1\n" and not (tmp_path / "tiny.npz").exists()
    (tmp_path / "tiny.cnn").unlink()
    (tmp_path / "tiny.npz").write_bytes(b"old")
    code, out, err = run_cnnc("from-onnx", str(model))
    assert code == 2 and "tiny.npz exists" in err and (tmp_path / "tiny.npz").read_bytes() == b"old"
    code, out, err = run_cnnc("from-onnx", str(model), "--force")
    assert code == 0, err
    assert "conv 2 3x3" in (tmp_path / "tiny.cnn").read_text() and (tmp_path / "tiny.npz").read_bytes() != b"old"


def test_the_model_is_never_an_output_even_with_force(tmp_path):
    """A model file named net.npz: its program's weights would replace it."""
    model = write_model(tmp_path / "net.npz")
    before = model.read_bytes()
    code, out, err = run_cnnc("from-onnx", str(model), "--force")
    assert code == 2 and "is the model; refusing to overwrite it" in err
    assert model.read_bytes() == before and not (tmp_path / "net.cnn").exists()


def test_a_refused_model_writes_nothing_and_keeps_what_was_there(tmp_path):
    model = write_model(tmp_path / "tiny.onnx", flip=True)
    (tmp_path / "tiny.cnn").write_text("input 2x2x1\n")
    code, out, err = run_cnnc("from-onnx", str(model), "--force")
    assert code == 1 and "node 'flip' (Flip): cnnc would need a statement for the ONNX op Flip" in err
    assert (tmp_path / "tiny.cnn").read_text() == "input 2x2x1\n" and not (tmp_path / "tiny.npz").exists()


@pytest.mark.parametrize("args, words", [
    (["missing.onnx"], "missing.onnx: no such file"),
    (["tiny.onnx", "-o", "net.txt"], "-o net.txt: the program's name ends in .cnn"),
    ([], "the following arguments are required: MODEL.onnx"),
])
def test_bad_usage_is_exit_2(args, words, tmp_path):
    write_model(tmp_path / "tiny.onnx")
    code, out, err = run_cnnc("from-onnx", *args, cwd=tmp_path)
    assert code == 2 and words in err, err


def test_the_command_is_listed():
    code, out, err = run_cnnc("--help")
    assert code == 0 and "from-onnx" in out
