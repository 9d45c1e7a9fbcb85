"""Damaged and hostile ONNX files: `cnnc from-onnx` exits 2 with a message, writes nothing,
and refuses before any array is decoded. Each file is a small valid model (a 3x3 conv) with
one thing made wrong, built with onnx.helper."""

from __future__ import annotations

import os

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from cnnc.bridges.importers.onnx import reader, tensors  # noqa: E402
from cnnc.bridges.importers.onnx.model import convert  # noqa: E402
from cnnc.errors import WeightsError  # noqa: E402
from conftest import run_cnnc  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402

W = np.arange(2 * 3 * 3 * 3, dtype=np.float32).reshape(2, 3, 3, 3) / 50


def model(nodes=None, inits=None, dims=(1, 3, 6, 6)):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, list(dims))
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    nodes = nodes if nodes is not None else [helper.make_node("Conv", ["x", "w"], ["y"], name="conv")]
    inits = inits if inits is not None else [helper.make_tensor("w", TensorProto.FLOAT, W.shape, W.ravel())]
    return helper.make_model(helper.make_graph(nodes, "g", [x], [y], inits), opset_imports=[helper.make_opsetid("", 17)])


def external(proto_tensor, location, offset=None, length=None):
    proto_tensor.ClearField("raw_data")
    proto_tensor.ClearField("float_data")
    proto_tensor.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", offset), ("length", length)):
        if v is not None:
            e = proto_tensor.external_data.add()
            e.key, e.value = k, str(v)
    return proto_tensor


def save(m, folder, name="m.onnx"):
    path = folder / name
    path.write_bytes(m.SerializeToString())
    return path


def hostile(path, tmp_path, *words):
    """Exit 2, the words in the message, nothing written, no array decoded."""
    code, out, err = run_cnnc("from-onnx", str(path))
    assert code == 2, (code, err)
    assert err.startswith("cnnc: error: ") and "Traceback" not in err
    for w in words:
        assert w in err, err
    assert not [p for p in os.listdir(path.parent) if p.endswith((".cnn", ".npz"))]
    return err


@pytest.fixture
def no_arrays(monkeypatch):
    """Decoding any array fails the test: refusals come from headers alone."""
    def boom(self):
        raise AssertionError(f"the array '{self.name}' was read")
    monkeypatch.setattr(tensors.TensorRef, "array", boom)


def test_the_valid_model_converts(tmp_path):
    """The base every file below damages: it converts, so each refusal is the damage's."""
    text, params = convert(save(model(), tmp_path))
    assert "conv 2 3x3 bias=false" in text
    np.testing.assert_array_equal(params["conv_1.kernel"], W.transpose(2, 3, 1, 0))


@pytest.mark.parametrize("location", ["../outside.bin", "/etc/passwd", "sub/../../outside.bin"])
def test_external_data_outside_the_models_folder(location, tmp_path, no_arrays):
    inside = tmp_path / "model"
    inside.mkdir()
    (tmp_path / "outside.bin").write_bytes(W.tobytes())
    m = model(inits=[external(helper.make_tensor("w", TensorProto.FLOAT, W.shape, W.ravel()), location)])
    path = save(m, inside)
    with pytest.raises(WeightsError) as e:
        convert(path)
    assert e.value.unreadable
    hostile(path, tmp_path, "the tensor 'w' is stored in", "only files inside the model's folder"
            if location.startswith("/") else "leads out of the model's folder")


def test_external_data_through_a_symlink_out_of_the_folder(tmp_path):
    inside = tmp_path / "model"
    inside.mkdir()
    (tmp_path / "outside.bin").write_bytes(W.tobytes())
    os.symlink(tmp_path / "outside.bin", inside / "w.bin")
    m = model(inits=[external(helper.make_tensor("w", TensorProto.FLOAT, W.shape, W.ravel()), "w.bin")])
    hostile(save(m, inside), tmp_path, "'w.bin' leads out of the model's folder")


def test_external_data_that_is_a_fifo(tmp_path):
    os.mkfifo(tmp_path / "w.bin")
    m = model(inits=[external(helper.make_tensor("w", TensorProto.FLOAT, W.shape, W.ravel()), "w.bin")])
    hostile(save(m, tmp_path), tmp_path, "'w.bin' is not a regular file")


def test_external_data_inside_the_folder_is_read(tmp_path):
    (tmp_path / "w.bin").write_bytes(b"\0" * 16 + W.tobytes())
    m = model(inits=[external(helper.make_tensor("w", TensorProto.FLOAT, W.shape, W.ravel()), "w.bin", 16,
                              W.nbytes)])
    text, params = convert(save(m, tmp_path))
    np.testing.assert_array_equal(params["conv_1.kernel"], W.transpose(2, 3, 1, 0))


def test_external_data_shorter_than_declared(tmp_path, no_arrays):
    (tmp_path / "w.bin").write_bytes(W.tobytes()[:100])
    m = model(inits=[external(helper.make_tensor("w", TensorProto.FLOAT, W.shape, W.ravel()), "w.bin")])
    hostile(save(m, tmp_path), tmp_path, "the tensor 'w' needs bytes 0 to 216 of w.bin, which holds 100")


def test_an_external_length_that_lies(tmp_path, no_arrays):
    (tmp_path / "w.bin").write_bytes(W.tobytes() * 2)
    m = model(inits=[external(helper.make_tensor("w", TensorProto.FLOAT, W.shape, W.ravel()), "w.bin", 0,
                              W.nbytes * 2)])
    hostile(save(m, tmp_path), tmp_path, "declares 432 bytes of external data for [2, 3, 3, 3] values of float32, "
                                         "which take 216")


def test_raw_data_that_does_not_match_the_dims(tmp_path, no_arrays):
    t = helper.make_tensor("w", TensorProto.FLOAT, W.shape, W.ravel())
    t.ClearField("float_data")
    t.raw_data = W.tobytes()[:-4]
    hostile(save(model(inits=[t]), tmp_path), tmp_path,
            "the tensor 'w' declares [2, 3, 3, 3] values of float32 (216 bytes) but holds 212 bytes")


def test_absurd_dimensions_with_a_small_payload(tmp_path, no_arrays):
    t = helper.make_tensor("w", TensorProto.FLOAT, [2, 3, 3, 3], W.ravel())
    t.dims[:] = [10 ** 7, 10 ** 7, 3, 3]
    hostile(save(model(inits=[t]), tmp_path), tmp_path, "declares dimensions [10000000, 10000000, 3, 3]")


def test_a_negative_dimension(tmp_path, no_arrays):
    t = helper.make_tensor("w", TensorProto.FLOAT, [2, 3, 3, 3], W.ravel())
    t.dims[0] = -2
    hostile(save(model(inits=[t]), tmp_path), tmp_path, "declares a negative dimension")


def test_a_typed_field_that_does_not_match_the_dims(tmp_path, no_arrays):
    t = helper.make_tensor("w", TensorProto.FLOAT, [2, 3, 3, 3], W.ravel())
    t.dims[0] = 3
    hostile(save(model(inits=[t]), tmp_path), tmp_path, "declares [3, 3, 3, 3] (81 values) but holds 54")


def test_an_absurd_input_size(tmp_path):
    hostile(save(model(dims=(1, 3, 10 ** 9, 6)), tmp_path), tmp_path, "declares a dimension of 1,000,000,000")


def test_a_cycle(tmp_path, no_arrays):
    nodes = [helper.make_node("Relu", ["b"], ["a"], name="r1"), helper.make_node("Relu", ["a"], ["b"], name="r2"),
             helper.make_node("Add", ["x", "b"], ["y"], name="add")]
    hostile(save(model(nodes=nodes), tmp_path), tmp_path, "the graph has a cycle: node 'r1' (Relu)")


def test_a_value_made_twice(tmp_path, no_arrays):
    nodes = [helper.make_node("Relu", ["x"], ["y"], name="r1"), helper.make_node("Sigmoid", ["x"], ["y"], name="r2")]
    hostile(save(model(nodes=nodes), tmp_path), tmp_path, "the value 'y' is made twice")


def test_a_value_nothing_makes(tmp_path, no_arrays):
    nodes = [helper.make_node("Add", ["x", "ghost"], ["y"], name="add")]
    hostile(save(model(nodes=nodes), tmp_path), tmp_path, "node 'add' (Add) reads 'ghost', which nothing")


def test_bytes_that_are_not_a_model(tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"\x08\x07\x12\xff\xff\xff\xff\x0fgarbage")
    hostile(path, tmp_path, "it is not an ONNX model")


def test_an_empty_file(tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"")
    hostile(path, tmp_path, "it is not an ONNX model (it holds no graph)")


def test_a_file_larger_than_one_protobuf_can_be(tmp_path):
    """Refused from its size, before a byte is read (a sparse file: no disk is used)."""
    path = tmp_path / "m.onnx"
    with open(path, "wb") as f:
        f.truncate(reader.MAX_ONNX_BYTES + 1)
    hostile(path, tmp_path, f"larger than {reader.MAX_ONNX_BYTES:,} bytes")


def test_a_fifo_as_the_model(tmp_path):
    os.mkfifo(tmp_path / "m.onnx")
    hostile(tmp_path / "m.onnx", tmp_path, "FIFO")


def test_a_damaged_attribute(tmp_path, no_arrays):
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="conv", strides=[0, 1])]
    hostile(save(model(nodes=nodes), tmp_path), tmp_path, "node 'conv' (Conv): its strides [0, 1] is out of range")
