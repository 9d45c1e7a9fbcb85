"""The fusion planner (cnnc/passes/fusion.py): which layers share one triton kernel.

Pure Python: no torch, no triton. The plans of LeNet, a residual and a concat
network are asserted group by group; the rules are checked one at a time.
"""

from __future__ import annotations

import subprocess
import sys

import cnnc
from cnnc.backends.triton.policy import TRITON
from cnnc.passes import fusion


def plan(net):
    return fusion.plan(net, TRITON)


def format_plan(net):
    return fusion.format_plan(net, TRITON)


def kernel_column(net):
    return fusion.kernel_column(net, TRITON)


def groups(text: str, **kw) -> list:
    """Each kernel as the list of its layer names ('copy:X>J' for a concat copy)."""
    p = plan(cnnc.parse(text, **kw))
    return [[n.name for n in g.nodes] or [f"copy:{g.source.name}>{g.copy_into.name}"] for g in p.groups]


LENET = open("examples/lenet.cnn").read()


def test_lenet_is_four_kernels():
    assert groups(LENET) == [["conv_1", "pool_1"], ["conv_2", "pool_2"], ["dense_1"], ["dense_2"]]
    p = plan(cnnc.parse(LENET))
    assert [v.name for v in p.views] == ["flatten_1"]
    assert p.kernels == 4


def test_lenet_plan_text():
    text = format_plan(cnnc.parse(LENET))
    lines = text.splitlines()
    assert lines[0].split() == ["kernel", "layers", "lines", "output"]
    assert lines[2].split() == ["k1", "conv_1(relu)", ">", "pool_1", "3,", "4", "13x13x32"]
    assert lines[3].split() == ["k2", "conv_2(relu)", ">", "pool_2", "5,", "6", "5x5x64"]
    assert "flatten_1: flatten, a view (free)" in lines[4]
    assert lines[5].split() == ["k3", "dense_1(relu)", "8", "64"]
    assert lines[6].split() == ["k4", "dense_2(softmax)", "9", "10"]
    assert lines[-1] == "4 kernels for 7 layers"


RESNET = """input 8x8x4
conv 8 3x3 padding=same; batchnorm; relu
residual { conv 8 3x3 padding=same; batchnorm; relu; conv 8 3x3 padding=same; batchnorm }
relu
residual { conv 16 3x3 stride=2 padding=same; batchnorm; relu; conv 16 3x3 padding=same; batchnorm } shortcut { conv 16 1x1 stride=2; batchnorm }
relu
globalpool
dense 10 softmax
"""


def test_residual_plan():
    assert groups(RESNET) == [
        ["conv_1", "batchnorm_1", "relu_1"],
        ["conv_2", "batchnorm_2", "relu_2"],
        # the block's last conv absorbs the add (the identity is read in the epilogue) and the relu after it
        ["conv_3", "batchnorm_3", "residual_1", "relu_3"],
        ["conv_4", "batchnorm_4", "relu_4"],
        # the shortcut runs first: the group holding the add runs at the add's position
        ["conv_6", "batchnorm_6"],
        ["conv_5", "batchnorm_5", "residual_2", "relu_5", "globalpool_1"],
        ["dense_1"],
    ]


def test_cifar_resnet_example_fuses_every_add():
    net = cnnc.parse_file("examples/cifar_resnet.cnn")
    p = plan(net)
    adds = [n.name for n in net.layers if n.kind == "residual"]
    for name in adds:
        g = p.group_of[name]
        assert g.anchor is not None and g.anchor.kind == "conv", name
    assert p.kernels == 22  # 19 convs + 2 shortcut convs + dense: nothing else needs a kernel


CONCAT = """input 8x8x6
concat {
  branch { conv 4 1x1 relu }
  branch { conv 3 1x1 relu; conv 5 3x3 padding=same relu }
  branch { pool 3 stride=1 padding=same; conv 2 1x1 relu }
}
globalpool
dense 3
"""


def test_concat_branches_write_in_place():
    net = cnnc.parse(CONCAT)
    p = plan(net)
    assert groups(CONCAT) == [["conv_1"], ["conv_2"], ["conv_3"], ["pool_1"], ["conv_4"], ["globalpool_1"],
                              ["dense_1"]]
    assert {k: (j.name, off) for k, (j, off) in p.slices.items()} == {
        "conv_1": ("concat_1", 0), "conv_3": ("concat_1", 4), "conv_4": ("concat_1", 9)}
    assert p.storage(net["conv_3"]) == (net["concat_1"], 4)
    assert [j.name for j in p.joins] == ["concat_1"]
    text = format_plan(net)
    assert "conv_3(relu) -> concat_1[4:9]" in text
    assert "concat_1: concat, branches write in place" in text


def test_concat_copies_a_branch_that_others_read():
    # the input and a node read twice cannot live in the concat's buffer: they are copied
    text = "input 6x6x2; c: conv 3 1x1; concat { branch { } branch { relu } }; residual { conv 6 1x1 } shortcut { }"
    assert groups(text) == [["c"], ["relu_1"], ["copy:c>concat_1"], ["conv_1", "residual_1"]]
    p = plan(cnnc.parse(text))
    copies = [(g.source.name, g.copy_into.name, g.copy_offset) for g in p.groups if g.copy_into is not None]
    assert copies == [("c", "concat_1", 0)]
    assert p.slices["relu_1"][1] == 3


def test_nested_concat_offsets_compose():
    text = "input 6x6x2; concat { branch { conv 1 1 } branch { concat { branch { conv 2 1 } branch { conv 3 1 } } } }"
    net = cnnc.parse(text)
    p = plan(net)
    # the outer concat is named first (concat_1); the inner one lives in its slice [1:6]
    assert p.storage(net["concat_2"]) == (net["concat_1"], 1)
    assert p.storage(net["conv_3"]) == (net["concat_1"], 3)


def test_a_node_with_two_consumers_ends_its_group():
    # conv_1's output feeds the residual's body and its identity: nothing may absorb past it
    text = "input 6x6x3; conv 3 3x3 padding=same; residual { relu; conv 3 1x1 }"
    assert groups(text) == [["conv_1"], ["relu_1"], ["conv_2", "residual_1"]]


def test_one_pool_per_group_and_globalpool_ends_it():
    text = "input 12x12x2; conv 3 3x3 relu; pool 2; avgpool 2; globalpool; relu; sigmoid"
    assert groups(text) == [["conv_1", "pool_1"], ["avgpool_1", "globalpool_1"], ["relu_1", "sigmoid_1"]]


def test_ops_after_the_pool_stay_in_the_group():
    text = "input 12x12x2; conv 3 3x3; pool 2; batchnorm; relu"
    assert groups(text) == [["conv_1", "pool_1", "batchnorm_1", "relu_1"]]


def test_views_are_free_and_end_a_group():
    text = "input 6x6x2; conv 3 3x3 relu; flatten; dropout 0.5; dense 4; dropout 0.2; relu"
    p = plan(cnnc.parse(text))
    assert [v.name for v in p.views] == ["flatten_1", "dropout_1", "dropout_2"]
    assert groups(text) == [["conv_1"], ["dense_1"], ["relu_1"]]


def test_softmax_fuses_when_its_width_fits_one_block():
    assert groups("input 2x2x1; flatten; dense 1000 softmax") == [["dense_1"]]
    assert groups("input 2x2x1; flatten; dense 1024; softmax") == [["dense_1", "softmax_1"]]
    assert groups("input 2x2x1; flatten; dense 1025; softmax") == [["dense_1"], ["softmax_1"]]


def test_kernel_column_and_shapes_table():
    col = kernel_column(cnnc.parse(CONCAT))
    assert col["conv_1"] == "k1" and col["pool_1"] == "k4" and col["concat_1"] == "join"
    out = subprocess.run([sys.executable, "-m", "cnnc", "shapes", "examples/lenet.cnn"],
                         capture_output=True, text=True, check=True).stdout
    head = out.splitlines()[0].split()
    assert head[-1] == "kernel"
    rows = {line.split()[0]: line.split()[-1] for line in out.splitlines()[2:9]}
    assert rows == {"input": "1x1", "conv_1": "k1", "pool_1": "k1", "conv_2": "k2", "pool_2": "k2",
                    "flatten_1": "view", "dense_1": "k3"}


def test_compile_plan_flag():
    r = subprocess.run([sys.executable, "-m", "cnnc", "compile", "examples/lenet.cnn", "--backend", "triton",
                        "--plan"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().endswith("4 kernels for 7 layers")
    assert "k1      conv_1(relu) > pool_1" in r.stdout


def test_planner_imports_nothing_heavy():
    code = ("import sys, cnnc; from cnnc.passes.fusion import format_plan; "
            "from cnnc.backends.triton.policy import TRITON; "
            "format_plan(cnnc.parse_file('examples/keras/resnet50.cnn'), TRITON); "
            "print(any(m in sys.modules for m in ('torch', 'triton', 'numpy')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_the_same_branch_twice_fills_two_slices():
    # concat { branch { } branch { } } once gave both copies the last offset: a slice stayed unwritten
    p = plan(cnnc.parse("input 8x8x1; conv 4 3x3 padding=same relu; concat { branch { } branch { } branch { } }"))
    copies = [(g.source.name, g.copy_offset) for g in p.groups if g.copy_into is not None]
    assert copies == [("conv_1", 0), ("conv_1", 4), ("conv_1", 8)]
