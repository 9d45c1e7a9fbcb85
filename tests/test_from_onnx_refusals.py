"""What `cnnc from-onnx` refuses with exit 1: every node the language cannot say is named,
with its op type and what would be needed, and nothing is written. Each refusal has its own
test; the models are PyTorch modules exported here, or ONNX graphs built with onnx.helper
where PyTorch never writes the construct."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

import onnx_nets as N  # noqa: E402
from cnnc.bridges.importers.onnx.model import Unconvertible, convert  # noqa: E402
from conftest import run_cnnc  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402


class Fn(nn.Module):
    def __init__(self, fn, **layers):
        super().__init__()
        self.fn = fn
        for k, v in layers.items():
            setattr(self, k, v)

    def forward(self, *x):
        return self.fn(self, *x)


def refused(module, tmp_path, shape=(3, 10, 10), inputs=1, **export) -> list:
    """The problems' texts for the exported module; checks that the command exits 1 and
    writes nothing."""
    xs = [torch.randn(1, *shape) for _ in range(inputs)]
    path = str(tmp_path / "m.onnx")
    with torch.no_grad():
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module.eval(), tuple(xs), path, dynamo=False, **export)
    return refused_file(path, tmp_path)


def refused_file(path, tmp_path) -> list:
    with pytest.raises(Unconvertible) as e:
        convert(path)
    code, out, err = run_cnnc("from-onnx", str(path))
    assert code == 1, err
    assert "nothing was written" in err and "Traceback" not in err
    assert not list(tmp_path.glob("*.cnn")) and not list(tmp_path.glob("*.npz"))
    return [str(p) for p in e.value.problems]


def test_a_flip(tmp_path):
    [p] = refused(Fn(lambda s, x: torch.flip(s.c(x), [3]), c=nn.Conv2d(3, 4, 3)), tmp_path)
    assert p.startswith("node '/Slice' (Slice): cnnc would need a statement that flips the image")


def test_an_lstm_and_the_reshape_before_it(tmp_path):
    module = Fn(lambda s, x: s.lstm(s.c(x).flatten(2).transpose(1, 2))[0], c=nn.Conv2d(3, 4, 3),
                lstm=nn.LSTM(4, 5, batch_first=True))
    problems = refused(module, tmp_path)
    assert problems == [
        "node '/Reshape' (Reshape): cnnc would need a Reshape of a tensor of shape (N, 4, 8, 8) to (N, 4, 64) "
        "(cnnc reshapes only by flattening)",
        "node '/lstm/LSTM' (LSTM): cnnc would need a statement for the ONNX op LSTM"]


def test_a_max_pool_with_ceil_mode_on_values_that_may_be_negative(tmp_path):
    """ceil_mode's extra window pads (0, 2) here, which is not `same`: zeros would win over
    negative values, and cnnc's pool pads every side alike."""
    [p] = refused(nn.Sequential(nn.Conv2d(3, 4, 1), nn.MaxPool2d(3, 3, ceil_mode=True)), tmp_path)
    assert "(MaxPool): cnnc would need a MaxPool padded unevenly (top 0 bottom 2 left 0 right 2) on values " \
           "that may be negative" in p


def test_an_average_pool_that_counts_real_pixels_only_but_is_not_same(tmp_path):
    [p] = refused(nn.AvgPool2d(3, 2, 1, count_include_pad=False), tmp_path)
    assert "(AveragePool): cnnc would need an AveragePool padded top 1 bottom 1 left 1 right 1 that counts " \
           "only real pixels" in p


def test_a_resize_by_a_fraction(tmp_path):
    [p] = refused(nn.Upsample(scale_factor=1.5), tmp_path)
    assert "(Resize): cnnc would need a Resize by 1.5" in p


def test_a_clip_that_is_not_relu6(tmp_path):
    [p] = refused(nn.Sequential(nn.Conv2d(3, 4, 3), nn.Hardtanh()), tmp_path)
    assert "(Clip): cnnc would need a Clip to [-1.0, 1.0]" in p


def test_a_layer_norm_over_channels_rows_and_columns(tmp_path):
    [p] = refused(nn.Sequential(nn.Conv2d(3, 4, 3), nn.LayerNorm([4, 8, 8])), tmp_path)
    assert "(LayerNormalization): cnnc would need a LayerNormalization from axis -3 of a 4-d tensor" in p


def test_an_opset_before_13(tmp_path):
    [p] = refused(nn.Conv2d(3, 4, 3), tmp_path, opset_version=12)
    assert p == "the model as a whole: cnnc would need opset 13 or later (this model is opset 12; export it " \
                "with opset_version=13 or later)"


def test_two_inputs(tmp_path):
    [p] = refused(Fn(lambda s, x, y: s.c(x) + s.c(y), c=nn.Conv2d(3, 4, 3)), tmp_path, inputs=2)
    assert p.startswith("the model as a whole: cnnc would need one input (this model has 2:")


def test_two_outputs(tmp_path):
    [p] = refused(Fn(lambda s, x: (s.c(x), F.relu(s.c(x))), c=nn.Conv2d(3, 4, 3)), tmp_path)
    assert p == "the model as a whole: cnnc would need one output (this model has 2)"


def test_every_problem_is_named_in_one_run(tmp_path):
    module = Fn(lambda s, x: F.hardtanh(torch.flip(s.c(x), [2])) + F.interpolate(s.c(x), scale_factor=1.0),
                c=nn.Conv2d(3, 4, 3))
    problems = refused(nn.Sequential(module, nn.Upsample(scale_factor=1.5)), tmp_path)
    assert [p.split(":")[0] for p in problems] == [
        "node '/0/Slice' (Slice)", "node '/0/Clip' (Clip)", "node '/1/Resize' (Resize)"]


# --- constructs PyTorch does not write, built with onnx.helper --------------------------------

def _graph(tmp_path, nodes, inits=(), opset=17, out_shape=None):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 6, 6])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)
    model = helper.make_model(helper.make_graph(nodes, "g", [x], [y], list(inits)),
                              opset_imports=[helper.make_opsetid("", opset)])
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    return path


def test_a_hard_sigmoid_with_onnx_default_slope(tmp_path):
    path = _graph(tmp_path, [helper.make_node("HardSigmoid", ["x"], ["y"], name="hs")])
    assert refused_file(path, tmp_path) == [
        "node 'hs' (HardSigmoid): cnnc would need a HardSigmoid max(0, min(1, 0.2·x + 0.5)) (cnnc's hard_sigmoid "
        "is max(0, min(1, x/6 + 1/2)), PyTorch's Hardsigmoid)"]


def test_the_tanh_gelu(tmp_path):
    path = _graph(tmp_path, [helper.make_node("Gelu", ["x"], ["y"], name="g", approximate="tanh")], opset=20)
    assert refused_file(path, tmp_path) == [
        "node 'g' (Gelu): cnnc would need the tanh approximation of GELU (cnnc's gelu is the exact one, with erf)"]


def test_a_softmax_over_rows(tmp_path):
    path = _graph(tmp_path, [helper.make_node("Softmax", ["x"], ["y"], name="s", axis=2)])
    assert refused_file(path, tmp_path) == [
        "node 's' (Softmax): cnnc would need a Softmax over axis 2 of a tensor laid out nchw (cnnc's softmax is "
        "over the channels)"]


def test_an_op_of_another_domain(tmp_path):
    path = _graph(tmp_path, [helper.make_node("FusedConv", ["x"], ["y"], name="f", domain="com.microsoft")])
    onnx_model = onnx.load(str(path))
    onnx_model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.save(onnx_model, str(path))
    assert refused_file(path, tmp_path) == [
        "node 'f' (FusedConv) of domain com.microsoft: cnnc would need a statement for the ONNX op FusedConv of "
        "domain com.microsoft"]


def test_a_reflect_pad(tmp_path):
    pads = helper.make_tensor("pads", TensorProto.INT64, [8], [0, 0, 1, 1, 0, 0, 1, 1])
    path = _graph(tmp_path, [helper.make_node("Pad", ["x", "pads"], ["y"], name="p", mode="reflect")], [pads])
    assert refused_file(path, tmp_path) == ["node 'p' (Pad): cnnc would need Pad mode=reflect (cnnc pads with zeros)"]


def test_a_grouped_transposed_conv(tmp_path):
    w = helper.make_tensor("w", TensorProto.FLOAT, [3, 1, 2, 2], np.ones(12, np.float32))
    path = _graph(tmp_path, [helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="t", group=3,
                                              strides=[2, 2])], [w])
    assert refused_file(path, tmp_path) == [
        "node 't' (ConvTranspose): cnnc would need a grouped ConvTranspose (cnnc's deconv has no groups)"]


def test_an_image_flattened_in_pytorch_order_as_the_output(tmp_path):
    module = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten())
    [p] = refused(module, tmp_path)
    assert p.startswith("the model as a whole: cnnc would need a flattened image (C, H, W order) as the output")


def test_the_refusal_is_read_as_one_message(tmp_path):
    """The command's own words, once: the file, how many nodes, each on its line."""
    module = Fn(lambda s, x: torch.flip(s.c(x), [3]), c=nn.Conv2d(3, 4, 3))
    path = tmp_path / "flip.onnx"
    N.export(module.eval(), torch.randn(1, 3, 6, 6), path, dynamo=False)
    code, out, err = run_cnnc("from-onnx", str(path))
    assert code == 1 and out == ""
    assert err.splitlines() == [
        f"cnnc: error: {path}: 1 ONNX node(s) cannot be written in cnnc's language (nothing was written):",
        "  node '/Slice' (Slice): cnnc would need a statement that flips the image (this Slice has a negative step)"]
