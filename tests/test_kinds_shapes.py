"""The second edition's kinds and options in the front end: shapes, parameters (Keras
layouts), trainable counts, MACs, receptive fields, the smallest input, read-back.

Oracles: torch's own output sizes (empty batches), torch's FLOP counter, gradient
support for receptive fields, re-parsing at every size for the smallest input, and
sizes and weight shapes measured with Keras 3.15.1 (Conv2DTranspose, SeparableConv2D, ...)
where torch has no equivalent rule.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

import cnnc
from cnnc.layers import statement
from test_shapes import _brute_min

FUZZ = settings(derandomize=True, max_examples=100, deadline=None)
torch = pytest.importorskip("torch")
F = torch.nn.functional


@FUZZ
@given(st.integers(1, 40), st.integers(1, 5), st.integers(1, 4), st.integers(0, 3), st.sampled_from(["conv", "dwconv"]))
def test_dilation_widens_the_kernel_as_torch_does(n, k, d, p, kind):
    """valid and integer padding: torch's size; same: ceil(n / 1) with the widened kernel."""
    head = f"input {n}x40x1\n{kind} " + ("2 " if kind == "conv" else "")
    expect = F.conv2d(torch.empty(0, 1, n, 1), torch.empty(1, 1, k, 1), padding=(p, 0), dilation=(d, 1)).shape[2] \
        if n + 2 * p >= (k - 1) * d + 1 else 0
    for pad, want in (("valid" if p == 0 else p, expect), ("same", n)):
        src = head + f"{k}x1 dilation={d}x1 padding={pad}\n"
        if want <= 0:
            with pytest.raises(cnnc.CnncError, match="collapses"):
                cnnc.parse(src)
        else:
            assert cnnc.parse(src).output_shape[0] == want
    if d > 1:
        # same padding is split as for a (k - 1)*d + 1 kernel: the widened window is what pads
        net = cnnc.parse(head + f"{k}x1 dilation={d}x1 padding=same\n")
        t, b, _, _ = net.layers[-1].spec.pads(net.input.out, net.layers[-1].attrs)
        assert t + b == max((k - 1) * d + 1 - 1, 0)


# Conv2DTranspose(5, k, strides=s, padding=p) on a 9x9 input, measured with Keras 3.15.1
KERAS_DECONV_9 = {
    (1, 1): (9, 9), (1, 2): (18, 18), (1, 3): (27, 27), (2, 1): (10, 9), (2, 2): (18, 18), (2, 3): (27, 27),
    (3, 1): (11, 9), (3, 2): (19, 18), (3, 3): (27, 27), (4, 1): (12, 9), (4, 2): (20, 18), (4, 3): (28, 27),
    (5, 1): (13, 9), (5, 2): (21, 18), (5, 3): (29, 27),
}


@pytest.mark.parametrize("ks", sorted(KERAS_DECONV_9))
def test_deconv_sizes_are_keras(ks):
    k, s = ks
    valid, same = KERAS_DECONV_9[ks]
    for pad, want in (("valid", valid), ("same", same)):
        net = cnnc.parse(f"input 9x9x4\ndeconv 5 {k} stride={s} padding={pad}")
        assert net.output_shape == (want, want, 5)


@FUZZ
@given(st.integers(1, 30), st.integers(1, 6), st.integers(1, 4))
def test_deconv_valid_is_torchs_full_transposed_conv(n, k, s):
    """valid keeps the whole transposed convolution, plus zeros when the kernel is smaller
    than the stride (torch's output_padding)."""
    full = F.conv_transpose2d(torch.empty(0, 1, n, 1), torch.empty(1, 1, k, 1), stride=(s, 1),
                              output_padding=(max(s - k, 0), 0) if s > 1 else 0).shape[2]
    assert cnnc.parse(f"input {n}x3x1\ndeconv 2 {k}x1 stride={s}x1").output_shape[0] == full


def test_upsample_zeropad_globalmaxpool_rescale_shapes():
    net = cnnc.parse("input 5x7x3\nupsample 2\nupsample 3x1 mode=bilinear\nzeropad 1\nzeropad 2x0\n"
                     "zeropad top=1 right=3\nzeropad 0\nrescale 0.5 offset=-1\nglobalmaxpool")
    assert [n.out.dims for n in net.layers] == [(10, 14, 3), (30, 14, 3), (32, 16, 3), (36, 16, 3), (37, 19, 3),
                                                (37, 19, 3), (37, 19, 3), (3,)]
    assert [n.attrs.get("sides") for n in net.layers[2:6]] == [(1, 1, 1, 1), (2, 2, 0, 0), (1, 0, 0, 3), (0, 0, 0, 0)]
    assert net.total_params == 0 and net.total_macs == 0


# weight shapes of each layer on a 9x9x4 input, as Keras 3.15.1 builds them (layer.weights)
KERAS_WEIGHTS = [
    ("conv 8 3 groups=2", {"kernel": (3, 3, 2, 8), "bias": (8,)}),
    ("conv 8 3 bias=false dilation=2", {"kernel": (3, 3, 4, 8)}),
    ("dwconv 3 multiplier=2", {"kernel": (3, 3, 4, 2), "bias": (8,)}),
    ("dwconv 3 bias=false", {"kernel": (3, 3, 4, 1)}),
    ("sepconv 5 3 multiplier=2", {"depthwise": (3, 3, 4, 2), "pointwise": (1, 1, 8, 5), "bias": (5,)}),
    ("sepconv 5 3 bias=false", {"depthwise": (3, 3, 4, 1), "pointwise": (1, 1, 4, 5)}),
    ("deconv 5 3 stride=2", {"kernel": (3, 3, 5, 4), "bias": (5,)}),
    ("deconv 5 2x3 bias=false", {"kernel": (2, 3, 5, 4)}),
    ("batchnorm", {"gamma": (4,), "beta": (4,), "mean": (4,), "var": (4,)}),
    ("batchnorm scale=false", {"beta": (4,), "mean": (4,), "var": (4,)}),
    ("batchnorm center=false", {"gamma": (4,), "mean": (4,), "var": (4,)}),
    ("batchnorm scale=false center=false", {"mean": (4,), "var": (4,)}),
]


@pytest.mark.parametrize("stmt,shapes", KERAS_WEIGHTS, ids=[s for s, _ in KERAS_WEIGHTS])
def test_parameters_in_keras_layouts(stmt, shapes):
    n = cnnc.parse(f"input 9x9x4\n{stmt}").layers[-1]
    assert n.params == shapes
    assert list(n.params) == list(shapes)  # Keras's order of the arrays too


def test_trainable_parameters():
    """Keras's trainable_weights: everything but batchnorm's mean and var."""
    net = cnnc.parse("input 9x9x4\nconv 8 3 bias=false\nbatchnorm scale=false\nsepconv 6 3\nbatchnorm center=false\n"
                     "dwconv 3 multiplier=2\ndeconv 3 2 stride=2\nbatchnorm scale=false center=false")
    conv, sep, dw, de = 3 * 3 * 4 * 8, 3 * 3 * 8 + 8 * 6 + 6, 3 * 3 * 6 * 2 + 12, 2 * 2 * 3 * 12 + 3
    assert net.trainable_params == conv + 8 + sep + 6 + dw + de
    assert net.total_params == conv + 3 * 8 + sep + 3 * 6 + dw + de + 2 * 3


def test_initializers_are_keras_defaults():
    from cnnc.runtime.weights import init_params

    net = cnnc.parse("input 6x6x4\nsepconv 5 3 multiplier=2\ndwconv 3\ndeconv 2 2 stride=2\nbatchnorm center=false")
    spec = {n.name: n.spec for n in net.layers}
    assert [spec["sepconv_1"].initializer(s) for s in ("depthwise", "pointwise", "bias")] == \
        ["glorot_uniform", "glorot_uniform", "zeros"]
    assert spec["dwconv_1"].initializer("kernel") == spec["deconv_1"].initializer("kernel") == "glorot_uniform"
    p = init_params(net, seed=1)
    # glorot_uniform limit sqrt(6 / (fan_in + fan_out)), fans from the array's own shape as Keras computes them
    for name, (fan_in, fan_out) in {"sepconv_1.depthwise": (36, 18), "sepconv_1.pointwise": (8, 5),
                                    "dwconv_1.kernel": (45, 9), "deconv_1.kernel": (8, 20)}.items():
        limit = (6 / (fan_in + fan_out)) ** 0.5
        assert 0.5 * limit < abs(p[name]).max() <= limit, name
    assert (p["batchnorm_1.gamma"] == 1).all() and (p["batchnorm_1.var"] == 1).all()
    assert "batchnorm_1.beta" not in p and not p["sepconv_1.bias"].any()


def test_macs_against_torch_flop_counter():
    from torch.utils.flop_counter import FlopCounterMode

    net = cnnc.parse("input 12x10x6\nconv 8 3 groups=2 dilation=2 bias=false\ndwconv 3x2 stride=2 multiplier=3\n"
                     "sepconv 5 3 padding=same multiplier=2\ndeconv 4 3x2 stride=2x3 padding=same\n"
                     "upsample 2\nzeropad 1\nglobalmaxpool\nrescale 2\ndense 3")
    x = torch.zeros(1, 6, 12, 10)
    with FlopCounterMode(display=False) as fc:
        y = F.conv2d(x, torch.zeros(8, 3, 3, 3), groups=2, dilation=2)
        y = F.conv2d(y, torch.zeros(24, 1, 3, 2), stride=2, groups=8)
        y = F.conv2d(F.pad(y, (1, 1, 1, 1)), torch.zeros(48, 1, 3, 3), groups=24)
        y = F.conv2d(y, torch.zeros(5, 48, 1, 1))
        y = F.conv_transpose2d(y, torch.zeros(5, 4, 3, 2), stride=(2, 3))
        F.linear(torch.zeros(1, 4), torch.zeros(3, 4))
    assert 2 * net.total_macs == fc.get_total_flops()
    assert [n.macs for n in net.layers][4:] == [0, 0, 0, 0, 12]


MIN_CASES = [
    ("dilated", "input 30x30x1\nconv 2 3 dilation=3\ndwconv 3x2 dilation=2x4 stride=2\n"),
    ("sepconv", "input 30x30x1\nsepconv 2 5 stride=2\nsepconv 2 3 dilation=2\n"),
    ("unet", "input 20x20x1\nconcat { branch { } branch { pool 2; conv 2 3 padding=same; deconv 1 2 stride=2 } }\n"),
    ("upsample", "input 12x12x1\nconcat { branch { pool 3 } branch { pool 2; pool 3; upsample 2 } }\n"),
    ("zeropad", "input 12x12x1\nconv 1 5\nzeropad top=1 right=3\nconv 1 3\n"),
    ("scale", "input 12x12x2\nconv 2 3\nscale { globalmaxpool; dense 2 sigmoid }\nconv 1 3 stride=2\n"),
    # a square input: one search serves both axes only when every layer treats them alike
    ("square", "input 20x20x1\nzeropad top=2 left=2\nconv 1 5 stride=2\npool 3\n"),
    ("square, one side padded", "input 20x20x1\nzeropad top=3\nconv 1 5 stride=2\npool 3\n"),
    ("square, a wide kernel", "input 20x20x1\nconv 1 7x3 stride=2\npool 2\n"),
    ("square, a tall upsample", "input 20x20x1\nupsample 2x1\nconv 1 7\npool 3\n"),
]


@pytest.mark.parametrize("name,text", MIN_CASES, ids=[c[0] for c in MIN_CASES])
def test_min_input_brute_force(name, text):
    net = cnnc.parse(text)
    assert net.min_input() == _brute_min(text, net.input_shape)


def _support(run, shape, i, j):
    x = torch.zeros(1, shape[2], shape[0], shape[1], dtype=torch.float64, requires_grad=True)
    run(x)[0, 0, i, j].backward()
    rows = torch.nonzero(x.grad[0].abs().sum((0, 2))).flatten()
    cols = torch.nonzero(x.grad[0].abs().sum((0, 1))).flatten()
    return int(rows.min()), int(rows.max()), int(cols.min()), int(cols.max())


def test_receptive_field_of_dilated_kernels_by_gradient():
    from cnnc.summary import receptive_fields

    net = cnnc.parse("input 40x40x1\nconv 1 3 dilation=2\ndwconv 3x2 stride=2\nsepconv 1 2x3 dilation=3x1\n")

    def run(x):
        x = F.conv2d(x, torch.ones(1, 1, 3, 3, dtype=x.dtype), dilation=2)
        x = F.conv2d(x, torch.ones(1, 1, 3, 2, dtype=x.dtype), stride=2)
        return F.conv2d(x, torch.ones(1, 1, 2, 3, dtype=x.dtype), dilation=(3, 1))
    r0, r1, c0, c1 = _support(run, (40, 40, 1), 0, 0)
    rf, jump = receptive_fields(net)[net.layers[-1].name]
    assert rf == (r1 - r0 + 1, c1 - c0 + 1) == (5 + 2 + 2 * 3, 5 + 1 + 2 * 2)
    assert jump == (_support(run, (40, 40, 1), 1, 0)[0] - r0, _support(run, (40, 40, 1), 0, 1)[2] - c0) == (2, 2)


def test_receptive_field_bounds_what_grown_images_see():
    """After deconv and upsample the cumulative stride is a fraction; the receptive field
    (rounded up) bounds every output pixel's support and is reached by some pixel."""
    from cnnc.summary import receptive_fields

    net = cnnc.parse("input 9x9x1\ndeconv 1 3 stride=2\nconv 1 3\nupsample 2 mode=bilinear\nconv 1 3\n")
    rf, jump = receptive_fields(net)[net.layers[-1].name]
    assert jump == ((1, 4), (1, 4))

    def run(x):
        x = F.conv_transpose2d(x, torch.ones(1, 1, 3, 3, dtype=x.dtype), stride=2)
        x = F.conv2d(x, torch.ones(1, 1, 3, 3, dtype=x.dtype))
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        return F.conv2d(x, torch.ones(1, 1, 3, 3, dtype=x.dtype))
    h = net.output_shape[0]
    widths = [_support(run, (9, 9, 1), i, i) for i in range(2, h - 2)]
    assert max(r1 - r0 + 1 for r0, r1, _, _ in widths) == rf[0]


STATEMENTS = [
    "conv 8 3x3 dilation=2 groups=2 bias=false relu", "conv 8 3x5 padding=same dilation=2x1",
    "dwconv 3x3 stride=2 padding=same multiplier=2 bias=false relu6", "dwconv 5x5 dilation=2 hard_swish",
    "sepconv 8 3x3 padding=same multiplier=2 silu", "sepconv 8 3x3 dilation=2 bias=false",
    "deconv 8 3x3 stride=2 padding=same relu", "deconv 8 2x3 stride=2x1 bias=false",
    "upsample 2", "upsample 2x3 mode=bilinear", "zeropad 1", "zeropad 1x2", "zeropad top=1 right=2",
    "globalmaxpool", "rescale 0.00392156862745098", "rescale -2.0 offset=0.5",
    "batchnorm scale=false", "batchnorm eps=1.001e-05 center=false", "batchnorm scale=false center=false",
]


@pytest.mark.parametrize("text", STATEMENTS)
def test_statement_reads_back_as_written(text):
    net = cnnc.parse(f"input 12x12x4\n{text}")
    n = net.layers[-1]
    assert statement(n) == text
    back = cnnc.parse(f"input 12x12x4\n{statement(n)}").layers[-1]
    assert (back.kind, back.attrs) == (n.kind, n.attrs)


def test_scale_block_structure_and_naming():
    net = cnnc.parse("input 8x8x4\nconv 4 1\nscale { globalpool; dense 2 relu; dense 4 sigmoid }\n"
                     "se: scale { globalmaxpool; dense 4 hard_sigmoid }\nrepeat 2 { scale { globalpool; dense 4 } }")
    names = [n.name for n in net.layers]
    assert names == ["conv_1", "globalpool_1", "dense_1", "dense_2", "scale_1", "globalmaxpool_1", "dense_3", "se",
                     "globalpool_2", "dense_4", "scale_2", "globalpool_3", "dense_5", "scale_3"]
    s = net["scale_1"]
    assert [i.name for i in s.inputs] == ["conv_1", "dense_2"] and s.out.dims == (8, 8, 4)
    assert statement(s) == "scale: conv_1 * dense_2" and s.n_params == 0
    assert [i.name for i in net["se"].inputs] == ["scale_1", "dense_3"]
    # the gate's layers sit inside the block (the table indents them), the join outside
    assert [n.depth for n in net.layers[:5]] == [0, 1, 1, 1, 0]
    # the scale join is numbered when its keyword is met, before the layers inside
    net = cnnc.parse("input 8x8x4\nscale { scale { globalpool; dense 4 }; globalpool; dense 4 }")
    assert [n.name for n in net.layers] == ["globalpool_1", "dense_1", "scale_2", "globalpool_2", "dense_2", "scale_1"]


def test_identity_branches_everywhere():
    """An empty branch is the block's input (DenseNet's concat), in concat and residual alike."""
    net = cnnc.parse("input 6x6x4\nconcat { branch { } branch { conv 2 1 } }\nconcat { branch { conv 3 1 } branch { } "
                     "branch { } }\nresidual { } shortcut { relu }")
    c1, c2, r = net["concat_1"], net["concat_2"], net["residual_1"]
    assert [i.name for i in c1.inputs] == ["input", "conv_1"] and c1.out.dims == (6, 6, 6)
    assert [i.name for i in c2.inputs] == ["conv_2", "concat_1", "concat_1"] and c2.out.dims == (6, 6, 15)
    assert [i.name for i in r.inputs] == ["concat_2", "relu_1"]


def test_shapes_json_rows_for_new_kinds(tmp_path):
    import json

    from conftest import run_cnnc

    p = tmp_path / "n.cnn"
    p.write_text("input 8x8x3\ndeconv 4 2 stride=2\nupsample 2\nsepconv 6 3 padding=same\n"
                 "scale { globalpool; dense 6 sigmoid }\nglobalmaxpool\n")
    code, out, err = run_cnnc("shapes", str(p), "--json")
    assert code == 0, err
    data = json.loads(out)
    rows = {r["name"]: r for r in data["layers"]}
    assert rows["deconv_1"]["output"] == [16, 16, 4] and rows["deconv_1"]["macs"] == 8 * 8 * 3 * 4 * 4
    assert rows["deconv_1"]["stride"] == [0.5, 0.5] and rows["upsample_1"]["stride"] == [0.25, 0.25]
    assert rows["sepconv_1"]["params"] == 9 * 4 + 4 * 6 + 6
    assert rows["scale_1"]["inputs"] == ["sepconv_1", "dense_1"] and rows["scale_1"]["receptive_field"] == [2, 2]
    assert rows["globalmaxpool_1"]["output"] == [6]
    code, out, err = run_cnnc("shapes", str(p))
    assert code == 0 and "1/4x1/4" in out and "deconv" in out
