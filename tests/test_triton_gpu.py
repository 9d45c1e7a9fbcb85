"""The triton backend on a CUDA GPU: compiled kernels (not the interpreter), CUDA
graphs, TF32. Skipped on machines without CUDA (the interpreter tests cover the
same kernels there)."""

from __future__ import annotations

import numpy as np
import pytest

import cnnc

torch = pytest.importorskip("torch")
pytest.importorskip("triton")
from numeric import another, assert_sensitive, calibrated_params  # noqa: E402

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]

# TF32 keeps 10 mantissa bits: per-product relative error ~5e-4, growing with sqrt(K)
TF32_TOLERANCE = 1e-2

NETS = [
    ("examples/lenet.cnn", None),
    ("examples/cifar_resnet.cnn", None),
    ("examples/inception.cnn", (14, 14, 192)),
    ("examples/keras/resnet50.cnn", (64, 64, 3)),   # its dense 1000 softmax runs on 8 warps
    ("examples/keras/mobilenet_v2.cnn", (32, 32, 3)),      # depthwise kernels, zero padding folded
    ("examples/keras/efficientnet_b0.cnn", (32, 32, 3)),   # the excitation in the project conv's gather
    ("examples/unet.cnn", (32, 32, 3)),                    # transposed convs, concat, per-pixel softmax
]


def _models(path, input, precision):
    # He-normal kernels and batchnorms calibrated on a batch: the output depends on the input
    net = cnnc.parse_file(path, input=input)
    calibration = np.random.default_rng(99).standard_normal((8, *net.input_shape)).astype(np.float32)
    params = calibrated_params(net, calibration, 0)
    return (net, cnnc.compile(net, backend="triton", weights=params, precision=precision),
            cnnc.compile(net, backend="numpy", weights=params))


def _numpy(a):
    return a.detach().cpu().numpy() if hasattr(a, "detach") else np.asarray(a)


def _rel(a, b):
    a, b = np.asarray(_numpy(a), np.float64), np.asarray(_numpy(b), np.float64)
    return np.abs(a - b).max() / max(np.abs(b).max(), 1e-30)


def _close(got, ref, x, rtol=1e-4, what=""):
    """got agrees with the numpy reference on x within rtol of its largest value, and the
    reference on another input differs by at least 100 times that: the check can fail."""
    x = _numpy(x)
    want = ref(x)
    assert _rel(got, want) <= rtol, what
    assert_sensitive(want, ref(another(x)), tol=rtol * np.abs(want).max(), what=what)


@pytest.mark.parametrize("path,input", NETS)
def test_ieee_matches_numpy_on_the_gpu(path, input):
    net, tri, ref = _models(path, input, "ieee")
    assert tri.module.DEVICE == "cuda"
    x = np.random.default_rng(1).standard_normal((3, *net.input_shape)).astype(np.float32)
    _close(tri(x), ref, x)
    t, r = tri.trace(x), ref.trace(x)
    for name in t:
        assert _rel(t[name], r[name]) <= 1e-4, name


@pytest.mark.parametrize("path,input", NETS)
def test_tf32_within_its_documented_tolerance_group_by_group(path, input):
    # each group is fed the numpy reference's values of its inputs, so its error is its own
    # TF32 rounding, not ~50 layers of it compounded. A loose bound: another input moves some
    # groups by less than 100 times it (measured with the numpy reference: 0.2 to 73 times,
    # the squeeze-and-excitation gates least), so this test bounds TF32's error and
    # test_ieee_matches_numpy_on_the_gpu, whose comparison can fail, checks the kernels' answers
    net, tri, ref = _models(path, input, "tf32")
    x = np.random.default_rng(2).standard_normal((4, *net.input_shape)).astype(np.float32)
    r = ref.trace(x)
    t = {}
    tri.module.forward(tri._state, x, trace=t, feed=r)
    assert t
    for name in t:
        if name in r:
            assert _rel(t[name], r[name]) <= TF32_TOLERANCE, name


def test_cuda_graph_per_batch_size_replays_the_same_result():
    net, tri, _ = _models("examples/cifar_resnet.cnn", None, "ieee")
    mod, state = tri.module, tri._state
    for n in (1, 5, 1):
        x = torch.randn(n, *net.input_shape, device="cuda")
        plain = mod.forward(state, x, cuda_graphs=False)
        graphed = mod.forward(state, x)
        assert graphed.device.type == "cuda"
        torch.testing.assert_close(graphed, plain, rtol=0, atol=0)
    assert sorted(state["graphs"]) == [1, 5]
    # a replay reads the new input, not the captured one
    x2 = torch.randn(5, *net.input_shape, device="cuda")
    torch.testing.assert_close(mod.forward(state, x2), mod.forward(state, x2, cuda_graphs=False), rtol=0, atol=0)


def test_a_result_is_the_callers_unless_asked_otherwise():
    net, tri, _ = _models("examples/lenet.cnn", None, "ieee")
    mod, state = tri.module, tri._state
    x1, x2 = (torch.randn(3, *net.input_shape, device="cuda") for _ in range(2))
    y1 = mod.forward(state, x1)
    keep = y1.clone()
    mod.forward(state, x2)
    torch.testing.assert_close(y1, keep, rtol=0, atol=0)         # a later call never changes it
    out = torch.empty_like(y1)
    assert mod.forward(state, x1, out=out) is out
    torch.testing.assert_close(out, keep, rtol=0, atol=0)
    view = mod.forward(state, x1, keep=True)                      # the graph's own buffer
    assert view.data_ptr() == state["graphs"][3][2].data_ptr()


def test_tuning_picks_measured_configs_that_compute_the_right_answer(tmp_path, monkeypatch):
    from cnnc.backends.triton.tuning import write_record

    monkeypatch.setenv("CNNC_CACHE_DIR", str(tmp_path))
    net, tri, ref = _models("examples/lenet.cnn", None, "ieee")
    x = torch.randn(8, *net.input_shape, device="cuda")
    entries = tri.module.tune(tri._state, x, limit=4, reps=3)
    assert len(entries) == len(tri.module.KERNELS)
    _close(tri(x), ref, x)
    write_record(tri.module.user_cache_path(), entries)
    # a fresh model reads the record from the per-user cache, checked, and uses it
    fresh = cnnc.compile(net, backend="triton", weights=tri.params, precision="ieee")
    where = {n: w for n, (_, w) in fresh._state["tiles"].describe(8).items()}
    assert all(w.startswith("record ") for w in where.values()), where
    _close(fresh(x), ref, x)


def test_tune_once_measures_before_the_graph_is_captured(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNC_CACHE_DIR", str(tmp_path))
    net, tri, ref = _models("examples/lenet.cnn", None, "ieee")
    state = tri._state
    state["tiles"].tune_missing = True
    x = torch.randn(4, *net.input_shape, device="cuda")
    with pytest.warns(UserWarning, match="measured tiles for 4 kernels at batch 4"):
        y = tri.module.forward(state, x)
    assert 4 in state["graphs"]
    where = {w for _, w in state["tiles"].describe(4).values()}
    assert where == {"measured in this process"}
    _close(y, ref, x)


def test_a_module_without_a_record_says_it_runs_the_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNC_CACHE_DIR", str(tmp_path))
    net, tri, _ = _models("examples/lenet.cnn", None, "ieee")
    with pytest.warns(UserWarning, match="run the default tiles"):
        tri(torch.randn(2, *net.input_shape, device="cuda"))


def test_cpu_tensor_in_cpu_tensor_out():
    net, tri, ref = _models("examples/lenet.cnn", None, "ieee")
    x = torch.randn(2, 28, 28, 1)
    y = tri(x)
    assert y.device.type == "cpu"
    _close(y, ref, x)


def test_large_batch_uses_64_bit_offsets():
    # 700 outputs of 224x224x64 floats exceed 2**31 elements: offsets must not wrap
    net = cnnc.parse("input 224x224x3; conv 64 3x3 padding=same relu")
    tri = cnnc.compile(net, backend="triton", seed=0)
    free = torch.cuda.mem_get_info()[0]
    if free < 14 * 2**30:
        pytest.skip("needs 14 GiB of free GPU memory")
    x = torch.randn(700, 224, 224, 3, device="cuda")
    y = tri(x)
    ref = cnnc.compile(net, backend="numpy", seed=0)
    _close(y[-2:], ref, x[-2:])
