"""The triton backend against the numpy backend (the reference), under Triton's
interpreter on the CPU when there is no GPU: every statement and option, every
fusion pattern, random small networks. Tolerance: 1e-4 relative (ieee precision).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import cnnc
from cnnc.errors import CnncError

torch = pytest.importorskip("torch")
pytest.importorskip("triton")
from numeric import another, assert_close as close_to, calibrated_params, sensitivity  # noqa: E402
from torch_reference import assert_close, random_params, reference  # noqa: E402


def check(text: str, batch: int = 2, seed: int = 0, input=None, calibrate=False, only_sensitive=False,
          whole=False, rel=1e-4):
    """Triton output and every fusion group's output equal the numpy backend's, each shown to
    be a comparison that can fail (the answer for another input is far from it).
    calibrate: batchnorm statistics from a calibration batch (a deep network's output
    otherwise hardly depends on its input). only_sensitive: a drawn program whose output
    cannot tell inputs apart is discarded (hypothesis's assume) rather than compared.
    whole, rel: errors relative to each whole tensor, to rel (torch_reference.assert_close)."""
    net = cnnc.parse(text, input=input)
    x = np.random.default_rng(seed + 1).standard_normal((batch, *net.input_shape)).astype(np.float32)
    if calibrate:
        params = calibrated_params(net, np.random.default_rng(seed + 2).standard_normal(
            (4, *net.input_shape)).astype(np.float32), seed)
    else:
        params = random_params(net, seed)
    ref = cnnc.compile(net, backend="numpy", weights=params)
    if only_sensitive:
        want, other = ref.trace(x), ref.trace(another(x))
        assume(all(sensitivity(v, other[k], tol=1e-4 * np.maximum(1.0, np.abs(v))) >= 100 for k, v in want.items()))
    tri = cnnc.compile(net, backend="triton", weights=params, precision="ieee")
    got = tri(x)
    assert isinstance(got, np.ndarray) and got.dtype == np.float32
    assert got.shape == (batch, *net.output_shape)
    xo = another(x)   # what a wrong input would give: far from the answer
    assert_close(got, np.asarray(ref(x), np.float64), text, other=ref(xo), whole=whole, rel=rel)
    trace, ref_trace, other_trace = tri.trace(x), ref.trace(x), ref.trace(xo)
    from cnnc.backends.triton.policy import TRITON
    from cnnc.passes.fusion import plan

    p = plan(net, TRITON)
    expected = {g.last.name for g in p.groups if g.copy_into is None} | {j.name for j in p.joins}
    assert set(trace) == expected, text
    # a value the numpy backend keeps inside one of its own groups comes from the torch reference
    every, every_other = {}, {}
    reference(net, params, x, every)
    reference(net, params, xo, every_other)
    for name, value in trace.items():
        want, other = (ref_trace[name], other_trace[name]) if name in ref_trace else (every[name], every_other[name])
        assert_close(value, np.asarray(want, np.float64), f"{text} @ {name}", other=other, whole=whole, rel=rel)
    return tri


STATEMENTS = [
    # conv: paddings (TF same asymmetric, integer), strides, non-square kernels, activations
    "input 8x8x1; conv 4 3x3",
    "input 9x7x2; conv 4 3x3 stride=2 padding=same relu",
    "input 11x13x3; conv 4 4x4 stride=2 padding=same",
    "input 10x11x2; conv 3 5x5 stride=3 padding=same tanh",
    "input 9x9x2; conv 4 3x3 stride=2 padding=2 sigmoid",
    "input 9x11x3; conv 4 3x5 stride=2x1",
    "input 9x9x6; conv 4 1x1 stride=2",
    "input 8x8x20; conv 18 1x3 padding=same",           # K and C past one 16-wide block
    "input 6x6x3; conv 7 3x3 softmax",
    "input 6x6x3; conv 7 3x3 activation=linear",
    # pooling (max never picks padding; avg: same counts real pixels, an integer pad counts zeros)
    "input 11x11x3; pool 2",
    "input 9x9x2; pool 3 stride=2 padding=same",
    "input 9x9x2; pool 3 stride=2 padding=1",
    "input 9x11x2; pool 2x3 stride=1x2",
    "input 10x7x2; avgpool 2 padding=same",
    "input 9x9x2; avgpool 3 stride=1 padding=same",
    "input 9x9x2; avgpool 3 stride=2 padding=1",
    "input 8x8x3; avgpool 2",
    # vectors, globalpool, batchnorm, activations, dropout
    "input 6x5x3; flatten; dense 7 relu; dense 3 softmax",
    "input 6x5x3; globalpool; dense 4 sigmoid",
    "input 6x5x3; globalpool; dense 4 tanh; flatten",
    "input 8x8x3; batchnorm",
    "input 8x8x3; flatten; dense 5; batchnorm; softmax",
    "input 8x8x3; globalpool; batchnorm eps=0.01",
    "input 5x5x4; relu; sigmoid",
    "input 5x5x4; tanh",
    "input 5x5x4; softmax",
    "input 5x5x4; dropout 0.5; flatten; dropout 0.25; dense 3",
    "input 6x6x2; flatten; dense 40 tanh",                # tanh near 0 and in the tails
]

FUSION_PATTERNS = [
    # conv + bias + folded batchnorm + activation + pool, one kernel
    "input 12x12x1; conv 4 3x3; batchnorm; relu; pool 2",
    "input 12x12x3; conv 4 3x3 sigmoid; pool 3 stride=2 padding=same",
    "input 12x12x3; conv 4 3x3 softmax; pool 2",
    "input 12x12x3; conv 4 3x3 padding=1; avgpool 3 stride=2 padding=same",
    "input 12x12x3; conv 4 3x3 padding=1; avgpool 2 padding=1",
    # batchnorm that cannot fold (after an activation) runs in the epilogue
    "input 8x8x3; conv 4 3x3 relu; batchnorm; tanh",
    # ops after the pool, on the pooled tile
    "input 12x12x3; conv 4 3x3; pool 2; batchnorm; relu",
    # residual: identity and shortcut, add in the epilogue, then relu; after the pool too
    "input 8x8x4; residual { conv 4 3x3 padding=same; batchnorm; relu; conv 4 3x3 padding=same; batchnorm }; relu",
    "input 8x8x4; residual { conv 8 3x3 stride=2 padding=same relu; conv 8 3x3 padding=same } "
    "shortcut { conv 8 1x1 stride=2; batchnorm }; relu",
    "input 8x8x4; conv 4 3 padding=same; residual { conv 8 3 padding=same; pool 2 } shortcut { conv 8 2 stride=2 }",
    "input 8x8x4; residual { relu } shortcut { }",
    "input 8x8x4; residual { }",
    "input 5x5x2; flatten; dense 6 relu; residual { dense 6 tanh; dense 6 }; softmax",
    # globalpool fused into the conv group (one program per image), with a pool before it
    "input 8x8x3; conv 16 3x3 padding=same; batchnorm eps=1e-5; relu; globalpool; dense 5 softmax",
    "input 10x10x3; conv 4 3x3 relu; pool 2; globalpool",
    # concat: branches in place, nested concat, a copied branch, vectors
    "input 9x9x3; concat { branch { conv 2 1x1 relu } branch { conv 3 3x3 padding=same } "
    "branch { pool 3 stride=1 padding=same; conv 2 1x1 } }; globalpool; dense 3",
    "input 6x6x3; concat { branch { } branch { conv 2 1 } branch { concat { branch { conv 1 1 } branch { conv 3 1 } } } }",
    "input 6x6x2; c: conv 3 1x1; concat { branch { } branch { relu } }; residual { conv 6 1x1 } shortcut { }",
    "input 6x6x2; flatten; concat { branch { dense 3 } branch { dense 4 relu } }; dense 2",
    # repeat
    "input 8x8x3; repeat 2 { residual { conv 3 3x3 padding=same; batchnorm; relu } }",
    # globalpool groups writing into a vector concat; flattened views as concat branches (copied)
    "input 6x6x3; conv 4 3 padding=same; concat { branch { globalpool } branch { conv 2 1; globalpool } }; dense 3 softmax",
    "input 6x6x4; concat { branch { flatten } branch { conv 2 1; flatten } }; dense 4",
    # a concat inside a residual, a residual reading a concat's buffer
    "input 6x6x4; residual { concat { branch { conv 2 3 padding=same relu } branch { conv 2 1 } } }; relu",
    "input 6x6x4; concat { branch { conv 2 1 } branch { conv 3 1 } }; residual { conv 5 3 padding=same }; avgpool 2 padding=same",
    # the same value in several slices: identity branches twice, three times, inside a residual
    "input 8x8x1; conv 4 3x3 padding=same relu; concat { branch { } branch { } }",
    "input 8x8x1; conv 4 3x3 padding=same relu; concat { branch { } branch { } branch { } }",
    "input 8x8x1; conv 4 3x3 padding=same relu; residual { concat { branch { } branch { } }; conv 4 1x1 }",
    "input 6x6x2; concat { branch { } branch { } }; conv 3 1x1",
]


@pytest.mark.parametrize("text", STATEMENTS)
def test_statement_matches_numpy(text):
    check(text)


@pytest.mark.parametrize("text", FUSION_PATTERNS)
def test_fusion_pattern_matches_numpy(text):
    check(text)


@pytest.mark.parametrize("text", [
    "input 4x4x2; relu; pool 2",
    "input 6x6x2; conv 3 3x3 padding=same relu; pool 2; flatten; dense 4 softmax",
    "input 6x6x2; pool 2 padding=same; globalpool",
    "input 6x6x2; conv 3 1x1 tanh; avgpool 2; conv 2 1x1 sigmoid",
])
def test_nan_and_inf_propagate_as_in_numpy(text):
    # relu and max pooling once dropped NaN (finite probabilities from a NaN pixel)
    net = cnnc.parse(text)
    params = random_params(net, 0)
    tri = cnnc.compile(net, backend="triton", weights=params)
    ref = cnnc.compile(net, backend="numpy", weights=params)
    x = np.random.default_rng(1).standard_normal((3, *net.input_shape)).astype(np.float32)
    x[0, 0, 0, 0] = np.nan
    x[1, 1, 1, 0] = np.inf
    x[2, 0, 1, 1] = -np.inf
    got, want = tri(x), ref(x)
    assert np.array_equal(np.isnan(got), np.isnan(want)), text
    assert np.array_equal(np.isposinf(got), np.isposinf(want)) and np.array_equal(np.isneginf(got), np.isneginf(want))
    fin = np.isfinite(want)
    if fin.any():   # (a softmax over a NaN or infinite logit leaves none)
        other = ref(another(x))    # the finite values for another input: far from these
        close_to(got[fin], want[fin], other=other[fin], rtol=1e-4, atol=1e-5)


def test_lenet_and_cifar_resnet_examples():
    check(open("examples/lenet.cnn").read(), batch=2)
    check(open("examples/cifar_resnet.cnn").read(), batch=1, input=(8, 8, 3))


def test_inception_example_small():
    check(open("examples/inception.cnn").read(), batch=1, input=(5, 5, 12))


def test_batch_of_one_and_of_many_rows():
    # 67 images of 1x1 output: rows span two 64-row tiles
    check("input 3x3x2; conv 5 3x3 relu; flatten; dense 3", batch=67)
    check("input 6x6x1; conv 3 3x3; globalpool", batch=1)


def test_torch_tensors_in_and_out():
    net = cnnc.parse("input 6x6x2; conv 3 3x3 relu; globalpool")
    m = cnnc.compile(net, backend="triton", seed=1)
    x = torch.randn(2, 6, 6, 2, dtype=torch.float64)
    y = m(x)
    assert isinstance(y, torch.Tensor) and y.dtype == torch.float32 and y.shape == (2, 3)
    close_to(y.numpy(), m(x.numpy()), other=m(another(x.numpy())), rtol=1e-6)
    # integer input is computed in float32
    xi = np.arange(2 * 36 * 2).reshape(2, 6, 6, 2) % 5
    close_to(m(xi), m(xi.astype(np.float32)), other=m(another(xi).astype(np.float32)), rtol=1e-6)


def test_wrong_input_shape_is_a_value_error():
    m = cnnc.compile(cnnc.parse("input 6x6x2; conv 3 3x3"), backend="triton")
    with pytest.raises(ValueError, match=r"\(N, 6, 6, 2\)"):
        m(np.zeros((6, 6, 2), np.float32))
    with pytest.raises(ValueError, match=r"\(N, 6, 6, 2\)"):
        m.module.forward(m._state, np.zeros((1, 6, 5, 2), np.float32))


def test_generated_source_is_deterministic_and_commented():
    from cnnc.backends.triton import generate

    net = cnnc.parse_file("examples/cifar_resnet.cnn")
    a, b = generate(net), generate(cnnc.parse_file("examples/cifar_resnet.cnn"))
    assert a == b
    # 22 groups, launched in order; their kernels are 6 distinct functions (the same code, with
    # other constexprs, is one @triton.jit function)
    launches = a.split("\nLAUNCHES = ")[1].split('\n""")')[0]
    assert launches.count('\n["k') == 22
    assert a.count("\n@triton.jit\ndef k") == 6
    assert "    # line 3: conv_1 = conv 16 3x3 padding=same" in a
    assert 'input_precision="ieee"' in a and "tf32" not in a.split("def prepare")[0].split("import triton")[1]
    tf = generate(net, precision="tf32")
    assert 'input_precision="tf32"' in tf and 'input_precision="ieee"' not in tf
    # the module imports only numpy, torch and triton (plus the standard library; safetensors when it reads weights)
    imports = {line.split()[1].split(".")[0] for line in a.splitlines() if line.startswith(("import ", "from "))}
    assert imports == {"json", "os", "time", "warnings", "numpy", "torch", "triton"}
    # tiles are set at launch from the chosen config, never numbers in the launch
    assert "BM=c" not in a and "num_warps=4" not in a and "BLOCK_M" not in a


def test_bad_precision_and_unknown_options_are_rejected():
    with pytest.raises(ValueError, match="precision"):
        cnnc.compile(cnnc.parse("input 4x4x1; relu"), backend="triton", precision="fp8")
    with pytest.raises(CnncError, match="no option 'device'"):
        cnnc.compile(cnnc.parse("input 4x4x1; relu"), backend="triton", device="cuda")


def test_names_that_look_like_code_stay_identifiers():
    # layer names are validated identifiers; they appear in code only as identifiers or repr()
    text = "input 6x6x2; tl: conv 3 3x3; torch: relu; x: pool 2; os: flatten; state: dense 2"
    check(text)
    # names a fused epilogue shares with the kernel's own arguments (x_ptr, out_ptr, CIN_T),
    # or with each other once upper-cased
    check("input 5x5x2; conv 2 1; x: residual { conv 2 1 }; out: residual { conv 2 1 }; "
          "cin: residual { conv 2 1 }; r: residual { conv 2 1 }; R: residual { conv 2 1 }; "
          "conv 2 1; b: batchnorm; w: batchnorm")


def test_a_hostile_file_name_stays_in_a_comment():
    from cnnc.backends.triton import generate

    name = 'evil"""\nimport os; os.system("echo pwned")\n#.cnn'
    src = generate(cnnc.parse("input 4x4x1; relu", filename=name))
    compile(src, "<test>", "exec")          # still valid Python
    assert "\nimport os; os.system" not in src


def test_compiled_module_loads_and_matches_numpy(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "lenet_gpu.py"
    r = subprocess.run([sys.executable, "-m", "cnnc", "compile", "examples/lenet.cnn", "--backend", "triton",
                        "-o", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "lenet_gpu.safetensors").exists()
    code = (f"import sys; sys.path.insert(0, {str(tmp_path)!r}); import numpy as np, lenet_gpu, cnnc; "
            "m = lenet_gpu.load(); x = np.random.default_rng(0).standard_normal((2, 28, 28, 1)).astype('float32'); "
            "numpy = cnnc.compile('examples/lenet.cnn', backend='numpy', seed=0); ref = numpy(x); "
            "other = numpy(np.random.default_rng(1).standard_normal((2, 28, 28, 1)).astype('float32')); "
            "print(float(np.abs(m(x) - ref).max()), float(np.abs(other - ref).max())); "
            "print(m.state['tiles'].files[0])")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={**os.environ, "CNNC_CACHE_DIR": str(tmp_path / "cache")})
    assert r.returncode == 0, r.stderr
    err, moved, record = r.stdout.split()
    assert float(err) < 1e-5 and float(moved) >= 100 * 1e-5     # another input moves the answer
    # the tuning record it reads first is the one `cnnc tune lenet_gpu.py` writes beside it
    assert record == str(tmp_path / "lenet_gpu.tuning.json")


def test_softmax_wider_than_a_block_is_fused_and_correct():
    check("input 2x2x1; flatten; dense 300 softmax", batch=2)


# --- random small networks -------------------------------------------------------

ACT = st.sampled_from(["relu", "sigmoid", "tanh", "softmax", "linear"])
PAD = st.sampled_from(["valid", "same", "1"])


@st.composite
def stmt(draw, depth=0):
    kind = draw(st.sampled_from(["conv", "conv", "pool", "avgpool", "batchnorm", "act"]
                                + (["residual", "concat"] if depth < 1 else [])))
    if kind == "conv":
        k = draw(st.sampled_from(["1", "2", "3", "3x2"]))
        s = draw(st.sampled_from(["1", "2", "2x1"]))
        return f"conv {draw(st.integers(1, 5))} {k} stride={s} padding={draw(PAD)} {draw(ACT)}"
    if kind in ("pool", "avgpool"):
        k = draw(st.sampled_from(["2", "3", "2x3"]))
        return f"{kind} {k} stride={draw(st.sampled_from(['1', '2']))} padding={draw(PAD)}"
    if kind == "batchnorm":
        return "batchnorm"
    if kind == "act":
        return draw(ACT)
    body = draw(st.lists(stmt(depth + 1), max_size=2))
    if kind == "residual":
        c = draw(st.integers(1, 4))
        block = "; ".join(body + [f"conv {c} 3x3 padding=same"])
        shortcut = f" shortcut {{ conv {c} 1x1 }}" if draw(st.booleans()) else ""
        return f"residual {{ {block} }}{shortcut}"
    branches = draw(st.lists(st.lists(stmt(depth + 1), max_size=1), min_size=1, max_size=3))
    return "concat { " + " ".join("branch { " + "; ".join(b + ["conv 2 1x1"]) + " }" for b in branches) + " }"


@st.composite
def program(draw):
    h, w, c = draw(st.integers(4, 9)), draw(st.integers(4, 9)), draw(st.integers(1, 3))
    body = draw(st.lists(stmt(), min_size=1, max_size=3))
    tail = draw(st.sampled_from(["", "flatten; dense 3", "globalpool; dense 4 softmax"]))
    return "; ".join([f"input {h}x{w}x{c}"] + body + ([tail] if tail else []))


@settings(max_examples=40, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(program())
def test_random_networks_match_numpy(text):
    try:
        cnnc.parse(text)
    except CnncError:
        assume(False)
    check(text, batch=1, only_sensitive=True)
