"""Named inputs and joins -- `from=NAME`, `add NAME NAME…`, `concat NAME NAME…`,
`multiply NAME NAME`, the `add { branch … }` block, `residual scale=S` -- in the graph (names,
shapes, scopes, every diagnostic) and in numbers: numpy against an independent float64
PyTorch reference (tests/torch_reference.py), Triton's interpreter under two tile configs,
`to_torch` and the ONNX export against numpy. Every numeric comparison also shows that
another input moves the output by at least 100 times the comparison's tolerance, so that
it can fail."""

from __future__ import annotations

import numpy as np
import pytest

import cnnc
from conftest import errors_of

# --- the graph ---------------------------------------------------------------------------------


def test_from_reads_an_earlier_layer_and_joins_name_their_inputs():
    net = cnnc.parse("input 8x8x3\na: conv 4 3 padding=same\nb: conv 4 1 from=input\nc: relu from=a\n"
                     "add a b c\nconcat a b add_1\nmultiply a b\n")
    assert [i.name for i in net["b"].inputs] == ["input"] and [i.name for i in net["c"].inputs] == ["a"]
    assert [i.name for i in net["add_1"].inputs] == ["a", "b", "c"] and net["add_1"].out == net["a"].out
    assert [i.name for i in net["concat_1"].inputs] == ["a", "b", "add_1"] and net["concat_1"].out.c == 12
    assert net["multiply_1"].kind == "multiply" and net.output is net["multiply_1"]


def test_unnamed_joins_share_a_count_with_their_blocks():
    net = cnnc.parse("input 8x8x3\nadd { branch { } branch { relu } }\nx: relu\nadd x input\n"
                     "concat { branch { } }\nconcat x input\n")
    assert [n.name for n in net.layers if n.kind in ("add", "concat")] == ["add_1", "add_2", "concat_1", "concat_2"]


def test_multiply_by_a_gate_puts_the_image_first():
    net = cnnc.parse("input 8x8x3\nx: conv 4 1\ng: globalpool\nd: dense 4 sigmoid\nmultiply d x\n")
    node = net["multiply_1"]
    assert [i.name for i in node.inputs] == ["x", "d"] and node.out == net["x"].out


def test_a_scaled_residual_and_its_attrs():
    net = cnnc.parse("input 8x8x3\nresidual scale=0.17 { conv 3 1 }\nresidual { relu }\n"
                     "r: residual scale=-2 from=input { relu } shortcut { conv 3 1 }\n")
    assert [n.attrs for n in net.layers if n.kind == "residual"] == [{"scale": 0.17}, {"scale": 1.0},
                                                                      {"scale": -2.0}]
    assert net["r"].inputs[1].inputs[0].name == "input"


def test_names_are_seen_in_their_block_and_the_blocks_inside_it():
    net = cnnc.parse("input 8x8x3\na: relu\nresidual { b: relu; concat { branch { c: relu from=a } "
                     "branch { relu from=b } } ; conv 3 1 }\n")
    assert net.output_shape == (8, 8, 3)
    e = errors_of("input 8x8x3\nresidual { b: relu }\nadd b input\n")
    assert (e.line, e.col) == (3, 5) and "'b' is not visible here: it is inside a block (line 2)" in e.message
    # each copy of a repeat reads its own
    net = cnnc.parse("input 8x8x3\nrepeat 2 { a: conv 3 1; b: relu; add a b }\n")
    assert [i.name for i in net["add_2"].inputs] == ["a_2", "b_2"]


JOIN_ERRORS = [
    ("read before it exists", "input 8x8x3\nrelu from=later\nlater: relu\n", 2, 11,
     ["'later' is read before it exists: it is defined at line 3"]),
    ("unknown name", "input 8x8x3\nfirst: relu\nadd frist input\n", 3, 5,
     ["unknown name 'frist'", "did you mean 'first'?"]),
    ("a number for a name", "input 8x8x3\nadd input 3\n", 2, 11, ["expected the name of an earlier layer, got '3'"]),
    ("add of mismatched shapes", "input 8x8x3\na: conv 4 1\nadd a input\n", 3, 1,
     ["add_1: shapes do not agree: 'a' gives an image 8x8x4 but 'input' gives an image 8x8x3"]),
    ("concat of mismatched sizes", "input 8x8x3\na: pool 2\nconcat a input\n", 3, 1,
     ["concat_1: shapes do not agree", "'a' gives 4x4x3 and 'input' gives 8x8x3"]),
    ("multiply of mismatched shapes", "input 8x8x3\na: conv 4 1\nmultiply a input\n", 3, 1,
     ["multiply_1: shapes do not agree: 'a' gives an image 8x8x4 but 'input' gives an image 8x8x3"]),
    ("multiply by a vector of other channels", "input 8x8x3\ng: globalpool\nd: dense 5\nmultiply input d\n", 4, 1,
     ["'input' gives an image 8x8x3 but 'd' gives a vector of 5"]),
    ("add of one", "input 8x8x3\nadd input\n", 2, 1, ["add joins at least 2 earlier layers by name, got 1"]),
    ("multiply of three", "input 8x8x3\nmultiply input input input\n", 2, 1,
     ["multiply joins exactly 2 earlier layers by name, got 3"]),
    ("a join takes no options", "input 8x8x3\nadd input input scale=2\n", 2, 17, ["add joins earlier layers by name and "
                                                                                "takes no options"]),
    ("from twice", "input 8x8x3\na: relu\nrelu from=a from=input\n", 3, 13, ["option 'from' is given twice"]),
    ("a block option it does not take", "input 8x8x3\nconcat stride=2 { branch { } }\n", 2, 8,
     ["concat { } takes no option 'stride'"]),
    ("a scale that is not a number", "input 8x8x3\nresidual scale=big { relu }\n", 2, 10,
     ["residual's scale must be a decimal number, got 'big'"]),
    ("an add block of mismatched branches", "input 8x8x3\nadd { branch { } branch { conv 2 1 } }\n", 2, 1,
     ["add_1: shapes do not agree: branch 1 gives an image 8x8x3 but branch 2 gives an image 8x8x2"]),
    ("an add block without branches", "input 8x8x3\nadd { relu }\n", 2, 1,
     ["add needs at least one branch { ... }"]),
    ("a name made inside a use", "input 8x8x3\ndef d { conv 3 1; relu }\nd\nadd conv_1 input\n", 4, 5,
     ["'conv_1' is made inside the use of 'd' at line 3", "reached through its own label"]),
]


@pytest.mark.parametrize("name,text,line,col,fragments", JOIN_ERRORS, ids=[e[0] for e in JOIN_ERRORS])
def test_join_error(name, text, line, col, fragments):
    e = errors_of(text)
    assert (e.line, e.col) == (line, col), str(e)
    for f in fragments:
        assert f in e.message, (f, str(e))


def test_later_layers_are_checked_after_a_bad_name():
    e = errors_of("input 8x8x3\nadd nowhere input\nflatten\nconv 0 1\n")
    assert len(e.diagnostics) == 2 and "conv_1: the number of filters must be" in e.diagnostics[1].message


# --- numbers ---------------------------------------------------------------------------------

torch = pytest.importorskip("torch")
from torch_reference import assert_close, random_params, reference  # noqa: E402

PROGRAMS = [
    # an n-ary add whose first input is not the group's; a value read by two joins
    "input 6x6x3; a: conv 4 3 padding=same; b: conv 4 1 from=input relu; c: tanh from=a; add b a c; conv 2 1",
    # InceptionResNetV2's scaled residual, with and without a shortcut, after an anchor and alone
    "input 6x6x3; conv 4 3 padding=same; residual scale=0.17 { conv 4 3 padding=same relu; conv 4 1 }; "
    "residual scale=-0.5 { relu } shortcut { conv 4 1 }; residual scale=2 { }",
    # multiply: two images of one shape, an image by a gate (either order), two vectors
    "input 6x6x3; a: conv 4 3 padding=same; b: conv 4 1 from=input sigmoid; m: multiply a b; "
    "g: globalpool; d: dense 4 sigmoid; multiply d m; conv 3 1",
    "input 5x5x2; f: flatten; a: dense 4; b: dense 4 tanh from=f; multiply a b; c: dense 4 from=f; add a b c; "
    "residual scale=0.5 { dense 4 relu }",
    # add { branch } with an identity, a concat by name that reads a value twice, a U-Net skip
    "input 8x8x2; s: conv 4 3 padding=same relu; pool 2; conv 4 3 padding=same; upsample 2; u: conv 4 1; "
    "concat u s u; add { branch { } branch { conv 12 1 } branch { relu } }",
]


def _other(ref_fn, x):
    """The reference output for another input: assert_close checks it moves by 100x the tolerance."""
    return np.asarray(ref_fn(x[::-1] * 1.5 + 0.25), np.float64)


def _setup(text):
    net = cnnc.parse(text)
    params = random_params(net, 0)
    x = np.random.default_rng(1).standard_normal((3, *net.input_shape)).astype(np.float32)
    return net, params, x


@pytest.mark.parametrize("text", PROGRAMS)
def test_numpy_matches_the_float64_reference(text):
    net, params, x = _setup(text)
    got = cnnc.compile(net, backend="numpy", weights=params)(x)
    want = reference(net, params, x)
    assert_close(got, want, text, other=_other(lambda v: reference(net, params, v), x))


@pytest.mark.parametrize("text", PROGRAMS)
def test_torch_and_onnx_match_numpy(text, tmp_path):
    net, params, x = _setup(text)
    model = cnnc.compile(net, backend="numpy", weights=params)
    want = np.asarray(model(x), np.float64)
    other = _other(model, x)
    with torch.no_grad():
        assert_close(model.to_torch()(torch.from_numpy(x)).numpy(), want, f"torch: {text}", other=other)
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    path = tmp_path / "m.onnx"
    model.to_onnx(path)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    assert_close(got, want, f"onnx: {text}", other=other)


@pytest.mark.parametrize("text", PROGRAMS)
def test_triton_matches_numpy_under_two_tile_configs(text, monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    pytest.importorskip("triton")
    from cnnc.backends.triton.carried import triton_tiles as T

    net, params, x = _setup(text)
    ref = cnnc.compile(net, backend="numpy", weights=params)
    want = np.asarray(ref(x), np.float64)
    other = _other(ref, x)
    tri = cnnc.compile(net, backend="triton", weights=params, precision="ieee")
    for i in range(2):
        configs = {}
        for name, geom in tri.module.KERNELS.items():
            cands = T.candidates(geom)
            configs[name] = cands[0] if i == 0 else cands[-1]
        tri.module.use_tiles(tri._state, configs)
        assert_close(tri(x), want, f"{text} under config {i}", other=other)


def test_triton_folds_the_scaled_residual_and_the_gate():
    """A scaled residual after an anchor is its kernel's epilogue; multiply by a gate is done
    by the gather of the conv that reads it; an image times an image is a kernel of its own."""
    from cnnc.backends.triton.policy import TRITON
    from cnnc.passes.fusion import plan

    net = cnnc.parse("input 6x6x3; conv 4 3 padding=same; residual scale=0.17 { conv 4 1 }; "
                     "x: relu; g: globalpool; d: dense 4 sigmoid; multiply x d; conv 2 1; "
                     "a: relu; b: sigmoid from=a; multiply a b")
    groups = [[n.name for n in g.nodes] for g in plan(net, TRITON).groups]
    assert ["conv_2", "residual_1", "x"] in groups
    assert ["multiply_1", "conv_3", "a"] in groups
    assert ["multiply_2"] in groups
