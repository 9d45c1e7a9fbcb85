"""The second edition's kinds on the triton backend (Triton's interpreter on the CPU)
against the numpy backend, exact in ieee to 1e-4, each kind of kernel under two tile
configs; and the fusion the issue asks for: depthwise conv + batchnorm + activation in
one kernel, a MobileNetV2 inverted-residual block in at most three, the
squeeze-and-excitation multiply inside the kernel that reads it, nearest upsampling and
zero padding inside the next conv's gather."""

from __future__ import annotations

import numpy as np
import pytest

import cnnc

torch = pytest.importorskip("torch")
pytest.importorskip("triton")
from test_triton_backend import check  # noqa: E402
from numeric import another  # noqa: E402
from torch_reference import assert_close, random_params  # noqa: E402

from cnnc.backends.triton.carried import triton_tiles as T  # noqa: E402

KINDS = [
    # depthwise: multiplier, stride, padding, dilation, bias=false, batchnorm and activation fused
    "input 7x7x5; dwconv 3x3 padding=same relu6",
    "input 9x8x4; dwconv 3x3 stride=2 padding=same multiplier=2 bias=false; batchnorm; relu6",
    "input 9x9x3; dwconv 3x3 dilation=2 padding=1; batchnorm scale=false center=false; swish",
    "input 8x8x4; dwconv 5x5 stride=2 padding=same; pool 2 padding=same",
    # grouped convs: fewer than 16 filters per group (direct), 16 per group (a GEMM per group)
    "input 6x6x8; conv 8 3x3 groups=4 padding=same relu",
    "input 6x6x4; conv 32 3x3 groups=2 padding=same; batchnorm",
    "input 6x6x32; conv 32 3x3 groups=2 padding=same; batchnorm; relu",
    "input 5x5x32; conv 32 1x1 groups=2 bias=false",
    # dilation on a window gather and on a flat one
    "input 10x10x16; conv 8 3x3 dilation=2 padding=same relu",
    "input 10x10x3; conv 5 3x3 dilation=2x1; leaky_relu",
    # transposed convs: stride, padding, a kernel smaller than its stride, a window gather
    "input 5x5x3; deconv 4 3x3 stride=2",
    "input 5x4x3; deconv 4 3x3 stride=2 padding=same relu",
    "input 4x4x2; deconv 3 1x1 stride=2",
    "input 4x4x16; deconv 8 2x2 stride=2 bias=false; batchnorm; relu",
    "input 5x5x3; deconv 4 4x4 stride=3 padding=same; sigmoid",
    # separable: depthwise then pointwise in one kernel
    "input 7x7x5; sepconv 8 3x3 padding=same relu",
    "input 8x8x3; sepconv 6 3x3 stride=2 multiplier=2 bias=false; batchnorm; relu",
    "input 9x9x4; sepconv 6 3x3 dilation=2 padding=same; gelu",
    # upsampling: nearest folded into the next conv's gather; bilinear and a lone nearest alone
    "input 4x5x3; upsample 2; conv 4 3x3 padding=same relu",
    "input 4x4x3; upsample 2x3; dwconv 3x3",
    "input 4x5x3; upsample 2 mode=bilinear",
    "input 3x4x2; upsample 3x2 mode=bilinear; conv 3 1x1",
    "input 4x4x3; upsample 2; relu",
    # zero padding folded into the next conv's padding (and into a depthwise one), or alone
    "input 6x6x3; zeropad 1; conv 4 3x3 stride=2",
    "input 6x7x4; zeropad top=1 bottom=2 left=0 right=1; dwconv 3x3 stride=2",
    "input 6x6x3; zeropad 2x1; sepconv 4 3x3",
    "input 6x6x3; zeropad 1; upsample 2; conv 2 3x3",
    "input 5x5x3; zeropad 1; avgpool 2",
    # globalmaxpool (fused into a conv, and alone), rescale, batchnorm without scale or center
    "input 6x6x3; conv 5 3x3 relu; globalmaxpool",
    "input 6x6x3; globalmaxpool; dense 3",
    "input 6x6x3; rescale 0.5 offset=-1; conv 4 3x3; rescale 2",
    "input 6x6x3; conv 4 3x3; batchnorm scale=false; relu; batchnorm center=false",
    # squeeze and excitation: the multiply happens in the gather of the conv that reads it
    "input 6x6x8; conv 8 1x1 swish; scale { globalpool; dense 2 swish; dense 8 sigmoid }; conv 4 1x1; batchnorm",
    "input 6x6x8; dwconv 3x3 padding=same; scale { globalpool; dense 2 relu; dense 8 hard_sigmoid }; conv 4 3x3",
    "input 6x6x8; scale { globalmaxpool; dense 8 sigmoid }; dwconv 3x3",
    "input 6x6x8; scale { globalpool; dense 8 sigmoid }; relu",
]


@pytest.mark.parametrize("text", KINDS)
def test_new_kind_matches_numpy(text):
    check(text)


def _configs(geom):
    cands = T.candidates(geom)
    return [cands[0], cands[-1]]


@pytest.mark.parametrize("text", [
    "input 7x7x4; dwconv 3x3 padding=same multiplier=2; batchnorm; relu6; pool 2",
    "input 6x6x8; conv 8 3x3 groups=4 padding=same; conv 32 3x3 groups=2 padding=same relu",
    "input 5x5x16; deconv 8 3x3 stride=2 padding=same; deconv 4 2x2 stride=2",
    "input 6x6x5; sepconv 8 3x3 padding=same; upsample 2 mode=bilinear; upsample 2; conv 3 3x3 dilation=2",
    "input 6x6x8; zeropad 1; scale { globalmaxpool; dense 8 sigmoid }; conv 4 1x1; globalmaxpool",
], ids=["dwconv", "grouped", "deconv", "sepconv_upsample_dilation", "pad_gate_maxreduce"])
def test_every_new_kernel_kind_under_two_configs(text):
    net = cnnc.parse(text)
    params = random_params(net, 0)
    tri = cnnc.compile(net, backend="triton", weights=params, precision="ieee")
    ref = cnnc.compile(net, backend="numpy", weights=params)
    x = np.random.default_rng(1).standard_normal((3, *net.input_shape)).astype(np.float32)
    want, other = np.asarray(ref(x), np.float64), ref(another(x))
    configs = {name: _configs(g) for name, g in tri.module.KERNELS.items()}
    for i in range(2):
        tri.module.use_tiles(tri._state, {name: c[i] for name, c in configs.items()})
        assert_close(tri(x), want, f"{text} under config {i}", other=other)


def _plan(text):
    from cnnc.backends.triton.policy import TRITON
    from cnnc.passes.fusion import plan

    return plan(cnnc.parse(text), TRITON)


def test_a_depthwise_conv_its_batchnorm_and_activation_are_one_kernel():
    p = _plan("input 8x8x4; dwconv 3x3 padding=same bias=false; batchnorm; relu6")
    assert p.kernels == 1 and p.groups[0].describe() == "dwconv_1 > batchnorm_1 > relu6_1"


def test_mobilenet_v2_blocks_are_at_most_three_kernels():
    net = cnnc.parse_file("examples/keras/mobilenet_v2.cnn")
    p = _plan_net(net)
    for r in (n for n in net.nodes if n.kind == "residual"):
        inside = {g.index for g in p.groups if any(_inside(m, r) for m in g.nodes) or r in g.nodes}
        assert len(inside) <= 3, r.name
    # every depthwise conv carries its batchnorm and relu6
    for g in p.groups:
        if g.anchor is not None and g.anchor.kind == "dwconv":
            assert [n.kind for n in g.nodes] == ["dwconv", "batchnorm", "relu6"], g.describe()


def _plan_net(net):
    from cnnc.backends.triton.policy import TRITON
    from cnnc.passes.fusion import plan

    return plan(net, TRITON)


def _inside(node, residual) -> bool:
    """Is `node` in the residual block that `residual` joins (between its input and it)?"""
    block_input = residual.inputs[1]
    seen, stack = set(), [residual.inputs[0]]
    while stack:
        n = stack.pop()
        if n is block_input or n.name in seen:
            continue
        if n is node:
            return True
        seen.add(n.name)
        stack.extend(n.inputs)
    return False


def test_efficientnet_b0_has_no_kernel_that_only_multiplies_by_the_excitation():
    net = cnnc.parse_file("examples/keras/efficientnet_b0.cnn")
    p = _plan_net(net)
    scales = [n for n in net.nodes if n.kind == "scale"]
    assert len(scales) == 16
    for s in scales:
        g = p.group_of[s.name]
        assert g.prologue == [s] and g.anchor is not None and g.anchor.kind == "conv", g.describe()


def test_the_plan_shows_folded_prologues(capsys, tmp_path):
    from cnnc.cli import main

    text = "input 8x8x3\nzeropad 1\nupsample 2\nconv 4 3x3 stride=2\nscale { globalpool; dense 4 sigmoid }\nconv 2 1x1\n"
    p = _plan(text)
    assert [g.describe() for g in p.groups] == ["zeropad_1 > upsample_1 > conv_1", "globalpool_1",
                                                "dense_1(sigmoid)", "scale_1 > conv_2"]
    prog = tmp_path / "net.cnn"
    prog.write_text(text)
    assert main(["compile", str(prog), "--backend", "triton", "--plan"]) == 0
    out = capsys.readouterr().out
    assert "k1      zeropad_1 > upsample_1 > conv_1" in out and "k4      scale_1 > conv_2" in out
    assert out.rstrip().endswith("4 kernels for 7 layers")


def test_prologues_that_cannot_fold_are_kernels_of_their_own():
    # bilinear mixes four pixels; a zeropad read by two layers is stored
    p = _plan("input 6x6x3; upsample 2 mode=bilinear; conv 4 3x3")
    assert [g.describe() for g in p.groups] == ["upsample_1", "conv_1"]
    p = _plan("input 6x6x3; zeropad 1; residual { conv 3 3x3 padding=same }")
    assert p.groups[0].describe() == "zeropad_1"


@pytest.mark.parametrize("text", ["input 6x6x4; dwconv 3x3 padding=same relu6; globalmaxpool",
                                  "input 3x3x4; upsample 2 mode=bilinear; globalmaxpool"])
def test_nan_and_inf_propagate_through_the_new_kinds(text):
    net = cnnc.parse(text)
    params = random_params(net, 0)
    tri = cnnc.compile(net, backend="triton", weights=params)
    ref = cnnc.compile(net, backend="numpy", weights=params)
    x = np.random.default_rng(1).standard_normal((2, *net.input_shape)).astype(np.float32)
    x[0, 2, 2, 1] = np.nan
    x[1, 2, 2, 2] = np.inf      # the last row and column: an infinite edge stays infinite
    got, want = tri(x), ref(x)
    assert np.array_equal(np.isnan(got), np.isnan(want)) and np.isnan(got[0, 1])
    assert np.array_equal(np.isposinf(got), np.isposinf(want))
    assert np.isposinf(got[1, 2]) == ("bilinear" in text)   # relu6 caps the infinity at 6


def test_mobilenet_v2_and_efficientnet_b0_match_numpy_small():
    # calibrated batchnorms (else the output hardly depends on the input): float32 against
    # float32, each up to 1.3e-4 of a tensor's scale from float64 (test_keras_examples), so
    # errors relative to each tensor, to 5e-4 (measured: 2.5e-4 at globalpool_1)
    check(open("examples/keras/mobilenet_v2.cnn").read(), batch=1, input=(32, 32, 3), calibrate=True, whole=True,
          rel=5e-4)


@pytest.mark.parametrize("size", ["2", "3", "2x3"])
def test_bilinear_is_exact_for_infinities(size):
    # as in numpy: a tap of weight exactly 0 contributes nothing, an infinite value stays infinite
    from test_numpy_kinds import assert_same_bilinear, exact_bilinear, infinite_images

    net = cnnc.parse(f"input 4x5x2; upsample {size} mode=bilinear")
    kh, kw = net.layers[-1].attrs["size"]
    x = infinite_images((2, 4, 5, 2))
    y = cnnc.compile(net, backend="triton")(x)
    assert_same_bilinear(y, exact_bilinear(x, kh, kw), exact_bilinear(infinite_images(x.shape, 7), kh, kw), size)
