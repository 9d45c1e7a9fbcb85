"""Shape rules against independent computations, naming, smallest input.

Oracles: torch's own output sizes for conv/pool (on empty batches), a brute-force
search for TensorFlow's `same` padding, a brute-force walk of the windows for the
rows a layer drops, and re-parsing at every size for the smallest input.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

import cnnc
from cnnc.layers import dropped, window
from conftest import EXAMPLES, errors_of

FUZZ = settings(derandomize=True, max_examples=150, deadline=None)


def _torch_out(kind, n, k, s, p):
    import torch
    import torch.nn.functional as F

    x = torch.empty(0, 1, n, 1)
    if kind == "conv":
        return F.conv2d(x, torch.empty(1, 1, k, 1), stride=(s, 1), padding=(p, 0)).shape[2]
    if kind == "pool":
        return F.max_pool2d(x, (k, 1), (s, 1), padding=(p, 0)).shape[2]
    return F.avg_pool2d(x, (k, 1), (s, 1), padding=(p, 0)).shape[2]


axis = st.tuples(st.integers(1, 40), st.integers(1, 7), st.integers(1, 5))


@FUZZ
@given(axis, st.integers(0, 4), st.sampled_from(["conv", "pool", "avgpool"]))
def test_valid_and_integer_padding_match_torch(nks, p, kind):
    n, k, s = nks
    if kind != "conv":
        p = min(p, k // 2)  # torch pools take at most half the window as padding
    for pad in ("valid", p):
        torch_p = 0 if pad == "valid" else p
        expect = _torch_out(kind, n, k, s, torch_p) if n + 2 * torch_p >= k else 0
        # a square window on a wide input: only H can collapse (and a max pool's padding
        # stays below its window on both axes)
        src = f"input {n}x40x1\n{kind} {'2 ' if kind == 'conv' else ''}{k}x{k} stride={s}x1 padding={pad}\n"
        if expect <= 0:
            e = errors_of(src)
            assert "collapses" in e.message and (e.line, e.col) == (2, 1)
        else:
            assert cnnc.parse(src).output_shape[0] == expect
            assert window(n, k, s, pad)[0] == expect


def _brute_same(n, k, s):
    """TensorFlow `same`: ceil(n/s) outputs, the least total padding that fits them, top = floor(half)."""
    want = -(-n // s)
    total = 0
    while True:
        windows = len(range(0, n + total - k + 1, s)) if n + total >= k else 0
        if windows >= want:
            return want, total // 2, total - total // 2
        total += 1


@FUZZ
@given(axis)
def test_same_padding_brute_force(nks):
    n, k, s = nks
    assert window(n, k, s, "same") == _brute_same(n, k, s)
    net = cnnc.parse(f"input {n}x3x1\nconv 2 {k}x1 stride={s}x1 padding=same\n")
    assert net.output_shape[:2] == (-(-n // s), 3)


def _brute_dropped(n, k, s, top, bottom):
    """Real rows past the last one any window touches (windows over the padded axis)."""
    covered = set()
    start = -top
    while start + k <= n + bottom:
        covered.update(range(start, start + k))
        start += s
    real = [r for r in covered if 0 <= r < n]
    return n - 1 - max(real) if real else n


@FUZZ
@given(axis, st.sampled_from(["valid", "same", 0, 1, 2]))
def test_dropped_rows_brute_force_and_warning(nks, pad):
    n, k, s = nks
    out, top, bottom = window(n, k, s, pad)
    if out <= 0 or k < s:
        return  # collapse is an error; k < s skips rows by design (documented, no warning)
    expect = _brute_dropped(n, k, s, top, bottom)
    assert dropped(n, k, s, pad) == expect
    net = cnnc.parse(f"input {n}x3x1\navgpool {k}x1 stride={s}x1 padding={pad}\n")
    warned = [w for w in net.warnings if "drops" in w.message]
    assert bool(warned) == (expect > 0)
    if expect:
        w = warned[0]
        assert (w.line, w.col, w.severity) == (2, 1, "warning")
        assert f"on {n}x3" in w.message and ("last row" if expect == 1 else f"last {expect} rows") in w.message


def test_spec_shape_examples():
    net = cnnc.parse("input 32x32x3; conv 64 3x3 padding=same relu; pool 3 stride=2 padding=1; "
                     "avgpool 2x1; conv 8 3x5 stride=2x1 padding=2; globalpool; dense 10 softmax")
    assert [n.out.dims for n in net.layers] == [(32, 32, 64), (16, 16, 64), (8, 16, 64), (5, 16, 8), (8,), (10,)]
    net = cnnc.parse("input 10x10x1; batchnorm; dropout 0.5; flatten; batchnorm eps=1e-5; dense 3; sigmoid")
    assert [n.out.dims for n in net.layers] == [(10, 10, 1), (10, 10, 1), (100,), (100,), (3,), (3,)]
    assert net["batchnorm_1"].params == {k: (1,) for k in ("gamma", "beta", "mean", "var")}
    assert net["batchnorm_2"].n_params == 400 and net["batchnorm_2"].attrs["eps"] == 1e-5
    assert net["batchnorm_1"].attrs["eps"] == 0.001


def test_blocks_shapes_and_structure():
    net = cnnc.parse("""input 16x16x8
residual { conv 8 3x3 padding=same relu; conv 8 3x3 padding=same }
residual { conv 16 3x3 stride=2 padding=same } shortcut { conv 16 1x1 stride=2 }
concat { branch { conv 4 1x1 }  branch { pool 3 stride=1 padding=same } }
repeat 2 { conv 4 1x1 }
""")
    r1, r2, c = net["residual_1"], net["residual_2"], net["concat_1"]
    assert r1.out.dims == (16, 16, 8) and [i.name for i in r1.inputs] == ["conv_2", "input"]
    assert r2.out.dims == (8, 8, 16) and [i.name for i in r2.inputs] == ["conv_3", "conv_4"]
    assert c.out.dims == (8, 8, 20) and [i.name for i in c.inputs] == ["conv_5", "pool_1"]
    assert net.output_shape == (8, 8, 4)
    # execution order: every node after its inputs
    seen = set()
    for n in net.nodes:
        assert all(i.name in seen for i in n.inputs)
        seen.add(n.name)


def test_naming_rules():
    net = cnnc.parse("""input 8x8x1
conv_1: conv 2 1x1
conv 2 1x1
residual { conv 2 1x1 }
repeat 2 { c: conv 2 1x1; relu; repeat 2 { d: relu } }
r: residual { conv 2 1x1 }
concat { branch { relu } branch { relu } }
""")
    names = [n.name for n in net.layers]
    assert names == ["conv_1", "conv_2", "conv_3", "residual_1",
                     "c_1", "relu_1", "d_1_1", "d_1_2", "c_2", "relu_2", "d_2_1", "d_2_2",
                     "conv_4", "r", "relu_3", "relu_4", "concat_1"]
    # a named layer in repeat takes NAME_i; auto names skip every name a user took
    net = cnnc.parse("input 8x8x1\nrepeat 2 { conv: conv 2 1x1 }\nconv 2 1x1\n")
    assert [n.name for n in net.layers] == ["conv_1", "conv_2", "conv_3"]
    # joins are numbered when their keyword is met, before the layers inside
    net = cnnc.parse("input 8x8x1\nresidual { residual { relu } }\n")
    assert [(n.name, [i.name for i in n.inputs]) for n in net.layers] == [
        ("relu_1", ["input"]), ("residual_2", ["relu_1", "input"]),
        ("residual_1", ["residual_2", "input"])]


def test_input_override_and_missing_input():
    assert cnnc.parse("conv 4 3x3", input=(5, 6, 2)).output_shape == (3, 4, 4)
    assert cnnc.parse("input 28x28x1; conv 4 3x3", input=(5, 6, 2)).output_shape == (3, 4, 4)
    e = errors_of("conv 4 3x3")
    assert (e.line, e.col) == (1, 1) and "missing input shape" in e.message
    with pytest.raises(cnnc.CnncError):
        cnnc.parse("conv 4 3x3", input=(5, 0, 2))


def _brute_min(text, shape):
    """The least H (W as given) and least W (H as given) at which `text` parses."""
    out = []
    for axis in (0, 1):
        for n in range(1, shape[axis] + 1):
            s = list(shape)
            s[axis] = n
            try:
                cnnc.parse(text, input=tuple(s))
            except cnnc.CnncError:
                continue
            out.append(n)
            break
    return tuple(out)


MIN_CASES = [
    ("lenet.cnn", None),
    ("oneliner.cnn", None),
    ("inception.cnn", None),
    ("odd", "input 12x12x1\nresidual { conv 4 3x3 stride=2 padding=same } shortcut { pool 2; conv 4 1x1 }\n"),
    ("vector join", "input 4x4x1\nflatten\nresidual { dense 16 }\n"),
    ("chain", "input 30x30x1\nrepeat 5 { conv 8 3x3 }\npool 2 stride=3\nconv 2 2x4\n"),
]


@pytest.mark.parametrize("name,text", MIN_CASES, ids=[c[0] for c in MIN_CASES])
def test_min_input_brute_force(name, text):
    if text is None:
        text = (EXAMPLES / name).read_text()
    net = cnnc.parse(text)
    assert net.min_input() == _brute_min(text, net.input_shape)


def test_min_input_vgg16():
    # the five pools each need an even-or-not input > 0: 32 is the least, not 224
    assert cnnc.parse_file(EXAMPLES / "keras" / "vgg16.cnn").min_input() == (32, 32)


layer = st.one_of(
    st.builds(lambda f, k, s, p: f"conv {f} {k} stride={s} padding={p}", st.integers(1, 3), st.integers(1, 4),
              st.integers(1, 3), st.sampled_from(["valid", "same", "1"])),
    st.builds(lambda k, s: f"pool {k} stride={s}", st.integers(1, 3), st.integers(1, 3)),
    st.builds(lambda k: f"residual {{ conv 2 {k} padding=same; relu }} shortcut {{ conv 2 1 }}",
              st.integers(1, 3)),
    st.builds(lambda s: f"residual {{ conv 2 3 stride={s} padding=same }} shortcut {{ pool {s} }}",
              st.integers(1, 3)),
)


@settings(derandomize=True, max_examples=40, deadline=None)
@given(st.lists(layer, min_size=1, max_size=5), st.integers(8, 24), st.integers(8, 24))
def test_min_input_random_programs(layers, h, w):
    text = "\n".join(layers) + "\n"
    try:
        net = cnnc.parse(text, input=(h, w, 1))
    except cnnc.CnncError as e:
        if "collapses" in e.message and "smallest input" in e.message:
            best = tuple(int(x) for x in e.message.rsplit("accepts is ", 1)[1].rstrip(")").split("x"))
            cnnc.parse(text, input=(*best, 1))  # the size the error names does work
        return
    assert net.min_input() == _brute_min(text, (h, w, 1))


def _torch_chain(net):
    """The network's conv/pool chain as torch ops with all-ones weights (geometry only)."""
    import torch
    import torch.nn.functional as F

    def run(x):
        for n in net.layers:
            (kh, kw), (sh, sw), p = n.attrs["kernel"], n.attrs["stride"], n.attrs["padding"]
            assert p == "valid"
            if n.kind == "conv":
                x = F.conv2d(x, torch.ones(1, 1, kh, kw, dtype=x.dtype), stride=(sh, sw))
            else:  # avg pooling: the same window as max pooling, and every tap gets gradient
                x = F.avg_pool2d(x, (kh, kw), (sh, sw))
        return x
    return run


window_layer = st.builds(lambda kind, k, s: f"{kind} 1 {k} stride={s}" if kind == "conv" else f"avgpool {k} stride={s}",
                         st.sampled_from(["conv", "pool"]), st.sampled_from(["1", "2", "3", "2x3", "3x1"]),
                         st.sampled_from(["1", "2", "2x1", "1x3"]))


@settings(derandomize=True, max_examples=40, deadline=None)
@given(st.lists(window_layer, min_size=1, max_size=4))
def test_receptive_field_and_stride_by_gradient(layers):
    """RF = the input rows/columns one output pixel depends on (gradient support);
    cumulative stride = how far that support moves between neighbouring outputs."""
    import torch

    from cnnc.summary import receptive_fields

    text = "input 40x40x1\n" + "\n".join(layers) + "\n"
    net = cnnc.parse(text)
    if net.output_shape[0] < 2 or net.output_shape[1] < 2:
        return
    run = _torch_chain(net)

    def support(i, j):
        x = torch.zeros(1, 1, 40, 40, dtype=torch.float64, requires_grad=True)
        run(x)[0, 0, i, j].backward()
        rows = torch.nonzero(x.grad[0, 0].abs().sum(1)).flatten()
        cols = torch.nonzero(x.grad[0, 0].abs().sum(0)).flatten()
        return int(rows.min()), int(rows.max()), int(cols.min()), int(cols.max())

    r0, r1, c0, c1 = support(0, 0)
    (rf, jump) = receptive_fields(net)[net.layers[-1].name]
    assert rf == (r1 - r0 + 1, c1 - c0 + 1)
    assert jump == (support(1, 0)[0] - r0, support(0, 1)[2] - c0)


def test_macs_against_torch_flop_counter():
    import torch
    import torch.nn.functional as F
    from torch.utils.flop_counter import FlopCounterMode

    net = cnnc.parse("input 20x18x3\nconv 8 3x5 stride=2x1 padding=1\npool 2\nconv 4 1 padding=same\n"
                     "flatten\ndense 7\n")
    c1, c2, d = net["conv_1"], net["conv_2"], net["dense_1"]
    x = torch.zeros(1, 3, 20, 18)
    with FlopCounterMode(display=False) as fc:
        y = F.conv2d(x, torch.zeros(8, 3, 3, 5), stride=(2, 1), padding=1)
        y = F.max_pool2d(y, 2)
        y = F.conv2d(y, torch.zeros(4, 8, 1, 1))
        y = F.linear(y.flatten(1), torch.zeros(7, y[0].numel()))
    flops = fc.get_total_flops()
    assert 2 * (c1.macs + c2.macs + d.macs) == flops
    assert net.total_macs == c1.macs + c2.macs + d.macs


def test_statements_written_alike_are_checked_where_each_stands():
    """The builder works out a statement's shape once per input size for statements written
    alike; what depends on the layer before (a zeropad's rows) must still be said at each."""
    text = "input 7x7x1\nz: zeropad 1\npool 2\nrelu from=z\npool 2\npool 2\nrelu\npool 2\n"
    net = cnnc.parse(text)
    assert [n.out.dims for n in net.layers if n.kind == "pool"] == [(4, 4, 1), (4, 4, 1), (2, 2, 1), (1, 1, 1)]
    # the first pool drops only the zeropad's row; the second, on the same 9x9, drops the image's
    assert [w.line for w in net.warnings if "drops" in w.message] == [5]
