"""The Model API (SPEC §3): calling, input checks, params, tracing, compile() arguments."""

from __future__ import annotations

import os

import numpy as np
import pytest

import cnnc
from numeric import another, assert_close, assert_equal

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LENET = os.path.join(ROOT, "examples", "lenet.cnn")


@pytest.fixture(scope="module")
def lenet():
    return cnnc.compile(LENET, seed=0)


def test_compile_from_path_and_network(lenet):
    net = cnnc.parse_file(LENET)
    other = cnnc.compile(net, seed=0)
    x = np.random.default_rng(0).random((4, 28, 28, 1), dtype=np.float32)
    assert_equal(lenet(x), other(x), other=other(another(x)))
    assert lenet.backend == "numpy" and lenet.network.output_shape == (10,)
    assert "def forward(" in lenet.source
    assert lenet(x).shape == (4, 10)


def test_compile_with_input_override():
    model = cnnc.compile(cnnc.parse("conv 2 3x3; globalpool", input=(5, 5, 1)), input=(9, 7, 3))
    assert model.network.input_shape == (9, 7, 3)
    assert model(np.zeros((1, 9, 7, 3))).shape == (1, 2)


def test_single_image_without_batch_axis(lenet):
    with pytest.raises(ValueError, match=r"expected an array of shape \(N, 28, 28, 1\), got \(28, 28, 1\): "
                                         r"add the batch axis \(x\[None\]\)"):
        lenet(np.zeros((28, 28, 1), np.float32))


@pytest.mark.parametrize("shape", [(2, 28, 28), (2, 28, 28, 3), (2, 1, 28, 28), (28, 28), (), (1, 2, 28, 28, 1)])
def test_wrong_shapes(lenet, shape):
    with pytest.raises(ValueError, match=r"\(N, 28, 28, 1\)"):
        lenet(np.zeros(shape, np.float32))


@pytest.mark.parametrize("bad", [np.full((1, 28, 28, 1), "a"), np.full((1, 28, 28, 1), None, dtype=object),
                                 np.zeros((1, 28, 28, 1), np.complex64), "hello", [[1, 2], [3]]])
def test_non_numeric(lenet, bad):
    with pytest.raises(ValueError, match=r"\(N, 28, 28, 1\)"):
        lenet(bad)


@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.int64, np.bool_, np.float16, np.float64])
def test_any_real_dtype_is_float32(lenet, dtype):
    x = (np.random.default_rng(1).random((2, 28, 28, 1)) * 3).astype(dtype)
    y = lenet(x)
    assert y.dtype == np.float32
    assert_equal(y, lenet(x.astype(np.float32)), other=lenet(another(x).astype(np.float32)))


def test_lists_and_noncontiguous(lenet):
    x = np.random.default_rng(2).random((3, 28, 56, 1), dtype=np.float32)[:, :, ::2]
    want, other = lenet(np.ascontiguousarray(x)), lenet(another(np.ascontiguousarray(x)))
    assert_equal(lenet(x), want, other=other)
    assert_equal(lenet(x.tolist()), want, other=other)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16", "float64", "uint8"])
def test_torch_tensors_of_any_real_dtype_are_float32(lenet, dtype):
    """As the Triton model does: a torch tensor of any real dtype, bfloat16 included (numpy
    has no such dtype), computed in float32; in the generated module's own input check too."""
    torch = pytest.importorskip("torch")
    from numeric import another, assert_equal

    x = np.random.default_rng(1).random((2, 28, 28, 1), dtype=np.float32) * 3
    t = torch.from_numpy(x).to(getattr(torch, dtype))
    exact = t.float().numpy()                      # the values the tensor holds
    y = lenet(t.requires_grad_(t.is_floating_point()))
    assert y.dtype == np.float32
    assert_equal(y, lenet(exact), other=lenet(another(exact)))
    assert_equal(lenet.module.check_input(t, (28, 28, 1)), exact, other=another(exact))


def test_params_are_read_only_and_set_params_checks(lenet):
    model = cnnc.compile(LENET, seed=3)
    x = np.random.default_rng(3).random((2, 28, 28, 1), dtype=np.float32)
    with pytest.raises(ValueError, match="read-only"):
        model.params["dense_2.bias"][0] = 5.0
    y0 = model(x)
    new = model.params.copy()
    new["dense_2.bias"][:] = [10, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    model.set_params(new)
    assert (model(x).argmax(1) == 0).all() and not np.allclose(model(x), y0)
    model.params["dense_2.bias"] = np.zeros(10)            # assignment is checked and re-prepares
    assert_close(model(x), y0, other=model(another(x)), rtol=1e-6)
    with pytest.raises(ValueError, match=r"'dense_2.bias' has shape \(3,\)"):
        model.params["dense_2.bias"] = np.zeros(3)
    with pytest.raises(ValueError, match="no parameter 'dense_9.bias'"):
        model.params["dense_9.bias"] = np.zeros(3)
    model.params.update({"dense_2.bias": np.ones(10)})
    assert_close(model(x), y0, other=model(another(x)), rtol=1e-6)       # softmax is shift invariant
    assert model.params["dense_2.bias"][0] == 1
    with pytest.raises(TypeError):
        model.params.pop("dense_2.bias")


def test_weights_argument_mapping(lenet):
    model = cnnc.compile(LENET, weights=lenet.params.copy())
    x = np.random.default_rng(4).random((2, 28, 28, 1), dtype=np.float32)
    assert_equal(model(x), lenet(x), other=cnnc.compile(LENET, seed=1)(x))   # weights not taken
    with pytest.raises(ValueError, match="missing array"):
        cnnc.compile(LENET, weights={})


def test_trace_holds_every_materialized_node(lenet):
    x = np.random.default_rng(5).random((2, 28, 28, 1), dtype=np.float32)
    trace = lenet.trace(x)
    assert list(trace) == ["input", "pool_1", "pool_2", "flatten_1", "dense_1", "dense_2"]
    assert_equal(trace["dense_2"], lenet(x), other=lenet(another(x)))


def test_bad_compile_arguments():
    with pytest.raises(TypeError, match="a path to a .cnn file or a Network"):
        cnnc.compile(42)
    with pytest.raises(cnnc.CnncError, match="unknown backend 'cuda'"):
        cnnc.compile(cnnc.parse("input 2x2x1; relu"), backend="cuda")
    with pytest.raises(cnnc.CnncError):
        cnnc.compile(os.path.join(ROOT, "no_such_file.cnn"))
    with pytest.raises(TypeError, match="seed"):
        cnnc.compile(cnnc.parse("input 2x2x1; relu"), seed="x")


def test_empty_batch(lenet):
    assert lenet(np.zeros((0, 28, 28, 1), np.float32)).shape == (0, 10)
    resnet = cnnc.compile(os.path.join(ROOT, "examples", "cifar_resnet.cnn"))
    assert resnet(np.zeros((0, 32, 32, 3), np.float32)).shape == (0, 10)


@pytest.mark.parametrize("text", ["input 3x3x2", "input 3x3x2; dropout 0.5", "input 3x3x2; flatten",
                                  "input 3x3x2; linear"])
def test_output_never_aliases_the_input(text):
    model = cnnc.compile(cnnc.parse(text))
    x = np.random.default_rng(0).standard_normal((2, 3, 3, 2)).astype(np.float32)
    y = model(x)
    assert not np.shares_memory(x, y)
    assert_equal(y.reshape(x.shape), x, other=another(x))


def test_torch_tensor_into_the_numpy_backend(lenet):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(6).random((2, 28, 28, 1), dtype=np.float32)
    y = lenet(torch.from_numpy(x))
    assert isinstance(y, np.ndarray)
    assert_equal(y, lenet(x), other=lenet(another(x)))
    with pytest.raises(ValueError, match="add the batch axis"):
        lenet(torch.zeros(28, 28, 1))
