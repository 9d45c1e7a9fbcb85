"""Compiling what `cnnc shapes` accepts: a repeated network's module holds each distinct
function or kernel once, grows by a few hundred bytes of table rows per layer, and compiles
in bounded memory (timings are benchmarks/compile_scaling.py's, never a test's)."""

from __future__ import annotations

import re
import tracemalloc

import numpy as np
import pytest

import cnnc
from cnnc.backends import numpy as numpy_backend

triton_backend = pytest.importorskip("cnnc.backends.triton", reason="the triton backend needs torch and triton")


def repeat(n: int) -> str:
    return f"input 4x4x2\nrepeat {n} {{ conv 2 1 tanh }}\n"


def weights(net, seed: int) -> dict:
    """Random kernels and biases (every layer's matter: tanh keeps them away from 0)."""
    rng = np.random.default_rng(seed)
    return {k: rng.standard_normal(s).astype(np.float32) for k, s in net.param_shapes().items()}


def branches(n: int) -> str:
    return "input 4x4x2\nconcat {\n" + "  branch { }\n" * n + "}\n"


def _kernels(src: str) -> int:
    return src.count("\n@triton.jit\ndef k")


def _launches(src: str) -> int:
    return src.split("\nLAUNCHES = ")[1].split('\n""")')[0].count('\n["k')


def test_a_repeat_is_one_numpy_function_that_reads_each_layers_own_weights():
    net = cnnc.parse(repeat(12))
    src = numpy_backend.generate(net)
    assert src.count("\ndef layer_") == 1 and src.count("\ndef prepare_conv_") == 1
    # the one comment naming every step that shares it, and its source line
    assert "# shared by 12 steps (conv_1, conv_2, conv_3, …, conv_12): source lines 2" in src
    params = weights(net, 3)
    model = cnnc.compile(net, weights=params)
    x = np.random.default_rng(0).standard_normal((2, 4, 4, 2)).astype(np.float32)

    def by_hand(p):
        y = x.astype(np.float64)
        for i in range(1, 13):
            y = np.tanh(y @ p[f"conv_{i}.kernel"][0, 0] + p[f"conv_{i}.bias"])
        return y

    np.testing.assert_allclose(model(x), by_hand(params), rtol=1e-4, atol=1e-5)
    # each step reads its own weights: changing the 10th layer's alone moves the output
    other = dict(params)
    other["conv_10.kernel"] = -params["conv_10.kernel"]
    assert np.abs(by_hand(other) - by_hand(params)).max() > 1e-2
    model.set_params(other)
    np.testing.assert_allclose(model(x), by_hand(other), rtol=1e-4, atol=1e-5)
    assert set(model.trace(x)) == {"input", *(f"conv_{i}" for i in range(1, 13))}


def test_a_repeat_is_one_triton_kernel_launched_once_per_group():
    net = cnnc.parse(repeat(12))
    src = triton_backend.generate(net)
    assert _kernels(src) == 1 and _launches(src) == 12
    assert "# shared by 12 launches (k1_conv_1, k2_conv_2, k3_conv_3, …, k12_conv_12): source lines 2" in src
    params = weights(net, 1)
    tri, ref = cnnc.compile(net, backend="triton", weights=params), cnnc.compile(net, weights=params)
    x = np.random.default_rng(1).standard_normal((2, 4, 4, 2)).astype(np.float32)
    np.testing.assert_allclose(tri(x), ref(x), rtol=1e-4, atol=1e-5)
    # the twelve launches read their own weights: the output moves with the 7th layer's
    other = dict(params)
    other["conv_7.kernel"] = -params["conv_7.kernel"]
    ref2 = cnnc.compile(net, weights=other)
    assert np.abs(ref2(x) - ref(x)).max() > 1e-2
    tri.set_params(other)
    np.testing.assert_allclose(tri(x), ref2(x), rtol=1e-4, atol=1e-5)
    assert set(tri.module.KERNELS) == {f"k{i}_conv_{i}" for i in range(1, 13)}


def test_identical_branches_share_one_kernel():
    net = cnnc.parse(branches(40))
    src = triton_backend.generate(net)
    assert _kernels(src) == 1 and _launches(src) == 40
    # an empty branch's copy belongs to the concat's line
    assert "# shared by 40 launches (k1_copy_input, k2_copy_input, k3_copy_input, …, k40_copy_input): " \
           "source lines 2" in src
    relus = triton_backend.generate(cnnc.parse(branches(40).replace("{ }", "{ relu }")))
    assert _kernels(relus) == 1 and "source lines 3-42" in relus   # the branches' own lines, as one range
    x = np.random.default_rng(2).standard_normal((1, 4, 4, 2)).astype(np.float32)
    y = cnnc.compile(net, backend="triton")(x)
    np.testing.assert_array_equal(y, np.concatenate([x] * 40, axis=-1))


def new_kinds(n: int) -> str:
    """Each kind of the third edition repeated n times, where it lowers in each of its ways: a
    layerscale and a normalize folded into a conv, a layernorm fused after it, a normalize and a
    layerscale alone, a scaled residual, an add of three, a multiply of two images and by a gate."""
    return (f"input 6x6x4\n"
            f"repeat {n} {{ conv 4 3 padding=same; layerscale; layernorm; leaky_relu slope=0.1 }}\n"
            f"repeat {n} {{ normalize; elu alpha=0.7; conv 4 1; normalize }}\n"
            f"repeat {n} {{ residual scale=0.5 {{ conv 4 1 relu; layerscale }} }}\n"
            f"repeat {n} {{ p: conv 4 1; q: conv 4 1 relu; r: conv 4 1 tanh; add p q r }}\n"
            f"repeat {n} {{ a: conv 4 1 relu; b: conv 4 1; multiply a b }}\n"
            f"repeat {n} {{ x: conv 4 1; v: globalpool; g: dense 4 sigmoid; multiply x g }}\n"
            "crop 1x0\nconv 4 3\nglobalpool\ndense 3\n")


def varied(net, seed: int) -> dict:
    """Random weights with positive variances, so every layer's own values matter."""
    rng = np.random.default_rng(seed)
    return {k: (np.abs(rng.standard_normal(s)) + 0.5 if k.endswith(".var") else 0.7 * rng.standard_normal(s))
            .astype(np.float32) for k, s in net.param_shapes().items()}


@pytest.mark.parametrize("backend", ["numpy", "triton"])
def test_the_new_kinds_share_functions_and_kernels_too(backend):
    gen = numpy_backend.generate if backend == "numpy" else triton_backend.generate
    defs = re.compile(r"^def |^@triton\.jit", re.M)
    two, five = gen(cnnc.parse(new_kinds(2))), gen(cnnc.parse(new_kinds(5)))
    assert len(defs.findall(two)) == len(defs.findall(five))   # three more of each: rows, no code
    if backend == "numpy":
        assert "# shared by 5 steps (leaky_relu_1, leaky_relu_2, leaky_relu_3, …, leaky_relu_5)" in five
    else:
        # conv, layerscale folded, layernorm, leaky_relu (the fifth also takes the normalize after it)
        assert "# shared by 4 launches (k1_conv_1, k2_conv_2, k3_conv_3, k4_conv_4): source lines 2" in five
    net = cnnc.parse(new_kinds(2))
    params = varied(net, 4)
    model = cnnc.compile(net, backend=backend, weights=params)
    ref = cnnc.compile(net, weights=params) if backend != "numpy" else model
    x = np.random.default_rng(5).standard_normal((2, 6, 6, 4)).astype(np.float32)
    want = ref(x)
    np.testing.assert_allclose(model(x), want, rtol=1e-4, atol=1e-5)
    # each launch reads its own layers' weights: the second of each shared group moves the output
    for name in ("layerscale_2.gamma", "layernorm_2.beta", "normalize_4.mean", "layerscale_4.gamma"):
        other = dict(params)
        other[name] = -2.0 * params[name] - 0.5
        ref.set_params(other)
        moved = ref(x)
        assert np.abs(moved - want).max() > 1e-2, name
        model.set_params(other)
        np.testing.assert_allclose(model(x), moved, rtol=1e-4, atol=1e-5, err_msg=name)
        ref.set_params(params)


@pytest.mark.parametrize("backend", ["numpy", "triton"])
def test_the_module_grows_by_table_rows_not_code(backend):
    gen = numpy_backend.generate if backend == "numpy" else triton_backend.generate
    small, large = gen(cnnc.parse(repeat(100))), gen(cnnc.parse(repeat(1000)))
    defs = re.compile(r"^def |^@triton\.jit", re.M)
    assert len(defs.findall(small)) == len(defs.findall(large))     # no more code for more layers
    per_layer = (len(large) - len(small)) / 900
    assert per_layer < (300 if backend == "numpy" else 500), per_layer   # a few table rows each
    # a straight-line module (a function, or a kernel and its launch, per layer) took 900 and 3,000


def _compile_peak(text: str, backend: str) -> int:
    net = cnnc.parse(text)
    tracemalloc.start()
    try:
        cnnc.compile(net, backend=backend)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("backend,layers,bound", [
    ("numpy", 2_000, 64e6), ("triton", 2_000, 64e6),
    pytest.param("numpy", 10_000, 200e6, marks=pytest.mark.slow),
    pytest.param("triton", 10_000, 200e6, marks=pytest.mark.slow)])
def test_compiling_many_layers_takes_bounded_memory(backend, layers, bound):
    # measured: 16 MB (numpy) and 12 MB (triton) for 2,000 layers; before the tables, Python
    # compiling the straight-line module took 175 MB (numpy, 2,000 layers) and 924 MB (10,000)
    peak = _compile_peak(f"input 8x8x2\nrepeat {layers} {{ conv 2 1 }}\n", backend)
    assert peak < bound, f"{peak / 1e6:.0f} MB"
