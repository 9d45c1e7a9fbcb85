"""Memory worked out without running anything (cnnc/memory.py), checked against what runs.

The numpy figure (`peak_bytes`) is what tracemalloc measures as the peak of a repeated
`model(x)`: the whole networks of the examples, and a small program for every kind and
activation (a new kind adds one to PROGRAMS: the coverage test says so). The Triton figure
follows the fusion plan; on a GPU it is checked against PyTorch's allocator.
"""

from __future__ import annotations

import os
import tracemalloc

import numpy as np
import pytest

import cnnc
from cnnc.layers import ACTIVATIONS, KINDS
from cnnc.memory import device_bytes, max_batch, numpy_peak_bytes, params_bytes, parse_size, triton_peak_bytes
from cnnc.summary import human_bytes
from conftest import ROOT, run_cnnc


def measured_peak(model, x) -> int:
    """tracemalloc's peak during one `model(x)`, beyond what was allocated before it. The
    model runs once first (on one image: its caches do not depend on the batch)."""
    model(x[:1])
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        y = model(x)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert y.shape[0] == x.shape[0]
    return peak


def _check(net, batch, slack=0):
    model = cnnc.compile(net, backend="numpy", seed=0)
    x = np.random.default_rng(0).standard_normal((batch,) + tuple(net.input_shape)).astype(np.float32)
    got = measured_peak(model, x)
    est = numpy_peak_bytes(net, batch)
    assert abs(est - got) <= 0.10 * got + slack, (est, got)
    return est, got


# The goal: within 10 % for LeNet, the CIFAR ResNet and ResNet-50 at batch 1 and 64. ResNet-50 at
# 224x224 and batch 64 runs ~40 s on 2 cores (and holds ~0.5 GB): CI runs it on 48x48 images (the
# same layers and code paths, smaller maps); CNNC_SLOW=1 runs the full size too.
NETS = [
    ("lenet", None, 1), ("lenet", None, 64),
    ("cifar_resnet", None, 1), ("cifar_resnet", None, 64),
    ("keras/resnet50", None, 1), ("keras/resnet50", (48, 48, 3), 64),
    pytest.param("keras/resnet50", None, 64, marks=[
        pytest.mark.slow, pytest.mark.skipif(not os.environ.get("CNNC_SLOW"), reason="set CNNC_SLOW=1")]),
]


@pytest.mark.parametrize("name,input,batch", NETS)
def test_numpy_peak_of_the_examples_matches_tracemalloc(name, input, batch):
    _check(cnnc.parse_file(ROOT / "examples" / f"{name}.cnn", input=input), batch)


# Small programs that together hold every kind, every activation and each path of the
# lowerings' code: padded and chunked convolutions (batch 16 > the chunk of 9 images), a pool
# by tap, before and after the activations, 1x1 strided convolutions read as a view or copied,
# unfused batchnorm, residual and activations, concat, views.
PROGRAMS = [
    "input 32x32x3; conv 16 3x3 padding=same relu; pool 2",
    "input 32x32x3; conv 16 3x3 padding=same gelu; pool 2",
    "input 32x32x3; conv 16 3x3 padding=same relu; pool 3 stride=2 padding=same",
    "input 32x32x3; conv 16 3x3 padding=same softmax; pool 3 stride=2 padding=same",
    "input 32x32x3; conv 16 1x1 stride=2; conv 8 1x1; conv 8 1x1 stride=2 padding=1",
    "input 30x30x3; conv 8 3x3 stride=2 relu; residual { conv 8 3x3 padding=same } ; relu",
    "input 16x16x8; avgpool 3 stride=1 padding=same; batchnorm; silu; avgpool 3 stride=2 padding=1",
    "input 16x16x8; relu; batchnorm eps=0.01; residual { relu6 }; leaky_relu; elu",
    "input 16x16x8; concat { branch { conv 4 1x1 } branch { pool 3 stride=1 padding=same } branch { } }; tanh",
    "input 16x16x8; hard_sigmoid; hard_swish; swish; hard_silu; sigmoid; linear; gelu",
    "input 16x16x1; conv 4 3x3 tanh; pool 2; dropout 0.5; flatten; dense 20 gelu; dense 12 hard_swish; "
    "softmax; dense 5 silu",
    "input 16x16x4; globalpool; dense 8; batchnorm; relu",
    "input 8x8x3; flatten",
    # the second edition: dilated and grouped convolutions (by tap and not), depthwise and
    # separable ones with what folds into them, transposed ones with and without a crop,
    # resampling, the scale join, a global max, rescale, batchnorm without gamma and beta
    "input 16x16x8; conv 8 3x3 groups=2 dilation=2 relu; pool 2",
    "input 17x17x8; conv 8 3x3 groups=4 padding=same sigmoid; pool 3 stride=2 padding=same; conv 8 3 dilation=2",
    "input 16x16x8; dwconv 3x3 padding=same multiplier=2 relu6; dwconv 3 stride=2 bias=false; batchnorm; relu6",
    "input 16x16x8; residual { sepconv 8 3x3 padding=same multiplier=2; batchnorm; relu }; sepconv 12 3 silu",
    "input 8x8x8; deconv 6 3x3 stride=2 padding=same relu; deconv 6 2x2 stride=2 bias=false; batchnorm",
    "input 9x7x8; upsample 3x2 mode=bilinear; upsample 2; zeropad 1; zeropad 0; zeropad top=1 right=2",
    "input 16x16x8; scale { globalmaxpool; dense 4 relu; dense 8 hard_sigmoid }; rescale 0.5 offset=1; "
    "batchnorm scale=false center=false; globalmaxpool",
    # the third edition: layernorm on images and vectors, layerscale and normalize alone and folded,
    # normalize with constants, crop, activations with their own parameter
    "input 16x16x8; layernorm; layerscale 0.5; normalize; crop 1; leaky_relu slope=0.01; elu alpha=0.5; "
    "conv 8 1x1; layerscale; conv 6 3x3; normalize mean=0.5 var=2",
    "input 9x9x24; crop top=1 left=2; normalize; globalpool; layernorm eps=1e-5",
    # the third edition's joins: n-ary and scaled sums, products of one shape and by a gate
    "input 16x16x8; a: conv 8 3x3 padding=same; b: relu from=input; c: conv 8 1x1 from=input; add a b c; "
    "residual scale=0.17 { conv 8 1x1 }; residual scale=0.5 { relu } shortcut { conv 8 1x1 }; add { branch { } "
    "branch { relu } }",
    "input 16x16x8; a: conv 8 3x3 padding=same; b: sigmoid from=input; m: multiply a b; g: globalpool; dense 8; "
    "multiply m g; f: flatten; d: dense 6 from=f; e: dense 6 from=f; multiply d e",
]


@pytest.mark.parametrize("text", PROGRAMS)
@pytest.mark.parametrize("batch", [1, 16])
def test_numpy_peak_of_every_kind_matches_tracemalloc(text, batch):
    # 4 KiB of slack: the interpreter's own objects (frames, array headers) at these tiny sizes
    _check(cnnc.parse(text), batch, slack=4096)


def test_the_programs_cover_every_kind_and_activation():
    seen = {n.kind for text in PROGRAMS for n in cnnc.parse(text).nodes}
    missing = sorted((set(KINDS) | set(ACTIVATIONS)) - seen)
    assert not missing, f"add a program with {missing} to PROGRAMS"


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_each_activations_declared_numpy_scratch(name):
    """`numpy_scratch` in the activations table is what its numpy lines hold beyond y."""
    from cnnc.backends import carried
    from cnnc.backends.numpy import carried as numpy_carried
    from cnnc.backends.numpy.scratch import activation_scratch

    ns: dict = {}
    exec("import numpy as np\nfrom numpy.lib.stride_tricks import as_strided\n" + carried.source("numpy_ops", numpy_carried), ns)
    lines = [line for line in ACTIVATIONS[name].numpy if not line.startswith("# ")]
    exec("def act(y):\n" + "".join(f"    {line}\n" for line in lines) + "    return y\n", ns)
    for shape in [(4, 32, 32, 16), (64, 10)]:
        y = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
        ns["act"](y.copy())
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
            ns["act"](y)
            got = tracemalloc.get_traced_memory()[1] - before
        finally:
            tracemalloc.stop()
        est = activation_scratch(name, y.size, y.size // shape[-1])
        assert abs(est - got) <= 0.10 * got + 2048, (shape, est, got)


def test_triton_peak_follows_the_plan_lenet():
    # k1 conv_1+pool_1 -> 13x13x32, k2 conv_2+pool_2 -> 5x5x64, k3 dense_1 (reads pool_2 through
    # flatten) -> 64, k4 dense_2 -> 10; each buffer rounded up to 512 bytes, freed after its reader
    net = cnnc.parse_file(ROOT / "examples" / "lenet.cnn")

    def block(floats):
        return -(-4 * floats // 512) * 512

    for n in (1, 64):
        p1, p2, d1, d2 = block(n * 13 * 13 * 32), block(n * 5 * 5 * 64), block(n * 64), block(n * 10)
        assert triton_peak_bytes(net, n) == max(p1 + p2, p2 + d1, d1 + d2)


def test_triton_concat_branches_share_one_buffer():
    net = cnnc.parse("input 8x8x4; concat { branch { conv 4 1x1 } branch { conv 6 1x1 } }; conv 2 1x1")
    # both branches write into concat_1's 8x8x10 buffer; conv_3's output comes while it lives
    assert triton_peak_bytes(net, 1) == 4 * 8 * 8 * 10 + 512


def test_max_batch_is_the_largest_that_fits():
    net = cnnc.parse_file(ROOT / "examples" / "cifar_resnet.cnn")
    memory = parse_size("80GB")
    b = max_batch(net, memory)
    assert b > 1 and device_bytes(net, b) <= memory < device_bytes(net, b + 1)
    assert device_bytes(net, 1) == params_bytes(net) + 2 * 12288 + triton_peak_bytes(net, 1) + 512
    assert max_batch(net, device_bytes(net, 1) - 1) == 0


@pytest.mark.parametrize("text,value", [
    ("80GB", 80 * 10**9), ("80 GB", 80 * 10**9), ("80gb", 80 * 10**9), ("40GiB", 40 * 2**30),
    ("512MB", 512 * 10**6), ("1.5TB", 1_500_000_000_000), ("4096", 4096), ("64K", 64_000), ("100MiB", 100 * 2**20),
    ("", None), ("GB", None), ("-1GB", None), ("0", None), ("8XB", None), ("inf", None), ("nan", None),
])
def test_sizes(text, value):
    assert parse_size(text) == value


def test_human_bytes():
    assert [human_bytes(n) for n in (0, 1023, 1024, 1536, 3 * 2**20, 5 * 2**30)] == [
        "0 B", "1023 B", "1.0 KiB", "1.5 KiB", "3.0 MiB", "5.0 GiB"]


def test_shapes_batch_json_and_table():
    import json

    rc, out, err = run_cnnc("shapes", "examples/lenet.cnn", "--batch", "64", "--json")
    assert rc == 0, err
    data = json.loads(out)
    net = cnnc.parse_file(ROOT / "examples" / "lenet.cnn")
    assert data["memory"] == {"batch": 64, "params_bytes": 121_930 * 4, "peak_bytes": numpy_peak_bytes(net, 64),
                              "triton_peak_bytes": triton_peak_bytes(net, 64)}
    assert [r["activation_bytes"] for r in data["layers"]][:2] == [64 * 26 * 26 * 32 * 4, 64 * 13 * 13 * 32 * 4]
    rc, out, err = run_cnnc("shapes", "examples/lenet.cnn", "--batch", "64")
    assert rc == 0, err
    head = out.splitlines()[0].split()
    assert head[:6] == ["layer", "kind", "output", "params", "MACs", "memory"]
    conv1 = next(line for line in out.splitlines() if line.startswith("conv_1"))
    assert "5.3 MiB" in conv1   # 64 x 26 x 26 x 32 floats
    assert f"peak of a forward pass {human_bytes(numpy_peak_bytes(net, 64))} (numpy)" in out


def test_the_3000x3000_photo_of_the_course_notes():
    """'an 8-Megapixel photo will instantly overflow your GPU RAM': said before anything runs."""
    rc, out, err = run_cnnc("shapes", "examples/lenet.cnn", "--input", "3000x3000x1", "--batch", "1",
                            "--device-memory", "8GB")
    assert rc == 0, err
    assert "On a GPU with 8 GB (7.5 GiB): batch 1 takes 9.0 GiB" in out and "not even one image fits" in out
    rc, out, err = run_cnnc("shapes", "examples/keras/resnet50.cnn", "--input", "3000x3000x3", "--batch", "64",
                            "--device-memory", "80GB", "--json")
    memory = __import__("json").loads(out)["memory"]
    assert memory["max_batch"] < 64 and memory["device_bytes"] > memory["device_memory_bytes"]
    rc, out, err = run_cnnc("shapes", "examples/keras/resnet50.cnn", "--input", "3000x3000x3", "--batch", "64",
                            "--device-memory", "80GB")
    assert f"does not fit; the largest batch that fits is {memory['max_batch']}" in out


@pytest.mark.parametrize("args,fragment", [
    (["--batch", "0"], "expected a positive integer"),
    (["--batch", "x"], "expected a positive integer"),
    (["--device-memory", "80GB"], "--device-memory needs --batch"),
    (["--batch", "2", "--device-memory", "lots"], "expected a size like 80GB"),
])
def test_memory_usage_errors(args, fragment):
    rc, out, err = run_cnnc("shapes", "examples/lenet.cnn", *args)
    assert rc == 2 and fragment in err and "Traceback" not in err


def test_device_memory_auto_without_a_gpu(tmp_path):
    import os
    import subprocess
    import sys

    env = dict(os.environ, PYTHONPATH=str(ROOT), PATH=str(tmp_path))   # no nvidia-smi on this PATH
    p = subprocess.run([sys.executable, "-m", "cnnc", "shapes", "examples/lenet.cnn", "--batch", "2",
                        "--device-memory", "auto"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "no GPU found" in p.stderr


def test_summary_from_python():
    net = cnnc.parse_file(ROOT / "examples" / "lenet.cnn")
    table = net.summary_text()
    assert str(net) == table and table.splitlines()[0].split()[:3] == ["layer", "kind", "output"]
    assert "Total params: 121,930 (476.3 KiB)" in table
    with_memory = net.summary_text(batch=64, device_memory="80GB")
    assert "Memory at batch 64" in with_memory and "On a GPU with 80 GB" in with_memory
    model = cnnc.compile(net, backend="numpy")
    assert model.summary_text(batch=2) == net.summary_text(batch=2)
    with pytest.raises(ValueError, match="batch"):
        net.summary_text(batch=0)
    with pytest.raises(ValueError, match="device_memory"):
        net.summary(batch=1, device_memory="lots")


def test_shapes_with_a_batch_imports_no_numpy():
    import subprocess
    import sys

    code = ("import sys, io, contextlib\n"
            "from cnnc.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    assert main(['shapes', 'examples/keras/resnet50.cnn', '--batch', '8', '--device-memory', '80GB']) == 0\n"
            "    assert main(['shapes', 'examples/inception.cnn', '--batch', '8', '--json']) == 0\n"
            "print(sorted(m for m in ('numpy', 'torch', 'triton') if m in sys.modules))\n")
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "[]"


# --- on a GPU: the Triton figure against PyTorch's allocator ---------------------------------

@pytest.mark.gpu
@pytest.mark.parametrize("name,input,batch", [
    ("lenet", None, 1), ("lenet", None, 64), ("cifar_resnet", None, 1), ("cifar_resnet", None, 64),
    ("keras/resnet50", None, 1), ("keras/resnet50", None, 64)])
def test_triton_peak_matches_the_cuda_allocator(name, input, batch):
    torch = pytest.importorskip("torch")
    pytest.importorskip("triton")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    net = cnnc.parse_file(ROOT / "examples" / f"{name}.cnn", input=input)
    model = cnnc.compile(net, backend="triton", seed=0)
    x = torch.randn((batch,) + tuple(net.input_shape), device="cuda")
    forward = model.module.forward
    forward(model._state, x, cuda_graphs=False)   # compiles the kernels
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    y = forward(model._state, x, cuda_graphs=False)
    torch.cuda.synchronize()
    got = torch.cuda.max_memory_allocated() - before
    est = triton_peak_bytes(net, batch)
    assert y.shape[0] == batch and abs(est - got) <= 0.10 * got, (est, got)
