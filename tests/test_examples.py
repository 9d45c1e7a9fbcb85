"""The examples parse, and their totals are the published Keras numbers."""

from __future__ import annotations

import pytest

import cnnc
from conftest import EXAMPLES

PUBLISHED = {  # Keras model.count_params()
    "lenet.cnn": 121_930,
    "keras/vgg16.cnn": 138_357_544,
    "keras/resnet50.cnn": 25_636_712,
}


@pytest.mark.parametrize("name,total", sorted(PUBLISHED.items()))
def test_published_parameter_totals(name, total):
    assert cnnc.parse_file(EXAMPLES / name).total_params == total


@pytest.mark.parametrize("path", sorted(EXAMPLES.rglob("*.cnn")), ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_every_example_parses(path):
    net = cnnc.parse_file(path)
    assert net.layers and net.output_shape


def test_lenet_shapes_as_in_the_course_notes():
    net = cnnc.parse_file(EXAMPLES / "lenet.cnn")
    assert net.input_shape == (28, 28, 1)
    assert [(n.name, n.out.dims) for n in net.layers] == [
        ("conv_1", (26, 26, 32)), ("pool_1", (13, 13, 32)), ("conv_2", (11, 11, 64)),
        ("pool_2", (5, 5, 64)), ("flatten_1", (1600,)), ("dense_1", (64,)), ("dense_2", (10,))]
    assert net.output_shape == (10,)
    # Keras layouts, network order
    assert net.param_shapes() == {
        "conv_1.kernel": (3, 3, 1, 32), "conv_1.bias": (32,),
        "conv_2.kernel": (3, 3, 32, 64), "conv_2.bias": (64,),
        "dense_1.kernel": (1600, 64), "dense_1.bias": (64,),
        "dense_2.kernel": (64, 10), "dense_2.bias": (10,)}
    # MACs: conv OH*OW*Cout*KH*KW*Cin, dense in*out
    assert [n.macs for n in net.layers] == [26 * 26 * 32 * 9, 0, 11 * 11 * 64 * 9 * 32, 0, 0, 1600 * 64, 640]
    # pool 2 on 11x11 drops the last row and column (SPEC's own example)
    assert [w.message.split(":")[0] for w in net.warnings] == ["pool_2"]
    assert "11x11" in net.warnings[0].message and "last row and column" in net.warnings[0].message


def test_vgg16_and_resnet50_shapes():
    vgg = cnnc.parse_file(EXAMPLES / "keras" / "vgg16.cnn")
    assert vgg["flatten_1"].out.dims == (25088,) and vgg.output_shape == (1000,)
    r50 = cnnc.parse_file(EXAMPLES / "keras" / "resnet50.cnn")
    assert r50.output_shape == (1000,)
    assert [n.out.dims for n in r50.layers if n.kind == "globalpool"] == [(2048,)]
    assert sum(n.kind == "residual" for n in r50.layers) == 16
    assert sum(n.kind == "batchnorm" for n in r50.layers) == 53
