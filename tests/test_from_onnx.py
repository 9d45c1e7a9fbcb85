"""`cnnc from-onnx` on the CNN families PyTorch users export: each network is written in
PyTorch here (tests/onnx_nets.py), exported by the test, converted, compiled with the numpy
backend and compared with PyTorch and with onnxruntime on the same file.

Every network is exported with the batch of 2 and run at a batch of 3 (the batch stays
free, though the exporter bakes 2 into the flatten's Reshape). The legacy exporter
(`dynamo=False`, batchnorm folded into the convs) runs for all seven; the default `dynamo=True`
one (opset 18, ReduceMean with its axes as an input, batchnorm kept where no conv precedes it)
for four of them in CI and for all under --slow (its exports take seconds each).
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import cnnc  # noqa: E402
import onnx_nets as N  # noqa: E402
from cnnc.bridges.importers.onnx.model import convert  # noqa: E402
from conftest import run_cnnc  # noqa: E402
from numeric import another, assert_close  # noqa: E402

RTOL = 1e-4
DYNAMO_IN_CI = ("unet", "efficientnet_block")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """(name, dynamo) -> (module, x, path, text, params): each network exported and
    converted once for this module's tests."""
    cache: dict = {}

    def get(name, dynamo):
        if (name, dynamo) not in cache:
            module, (c, h, w) = N.NETS[name]()
            x = np.random.default_rng(0).standard_normal((8, c, h, w)).astype(np.float32)
            N.initialise(module, x)
            folder = tmp_path_factory.mktemp(f"{name}_{'dynamo' if dynamo else 'legacy'}")
            path = N.export(module, x[:2], folder / f"{name}.onnx", dynamo)
            cache[(name, dynamo)] = (module, x, path, *convert(path))
        return cache[(name, dynamo)]
    return get


def nhwc(x):
    return np.ascontiguousarray(np.asarray(x).transpose(0, 2, 3, 1))


def run_ort(path, x):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    y = sess.run(None, {sess.get_inputs()[0].name: np.asarray(x, np.float32)})[0]
    return y.transpose(0, 2, 3, 1) if y.ndim == 4 else y


def compiled(text, params):
    model = cnnc.compile(cnnc.parse(text))
    model.set_params(params)
    return model


def program_lines(text):
    return [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def check(exported, name, dynamo):
    module, x, path, text, params = exported(name, dynamo)
    lines = program_lines(text)
    assert len(lines) <= 80 and max(len(line) for line in lines) <= 200, text
    assert text.startswith(f"# {name}: converted from {name}.onnx")
    model = compiled(text, params)

    x3 = x[2:5]
    want = N.run_torch(module, x3)
    tol = RTOL * float(np.abs(want).max())
    assert_close(model(nhwc(x3)), want, other=N.run_torch(module, another(x3)), rtol=RTOL, atol=tol,
                 what=f"{name} against PyTorch")
    x2 = x[:2]
    want = run_ort(path, x2)
    assert_close(model(nhwc(x2)), want, other=run_ort(path, another(x2)), rtol=RTOL, atol=tol,
                 what=f"{name} against onnxruntime")
    return text


@pytest.mark.parametrize("name", sorted(N.NETS))
def test_legacy_export(name, exported):
    text = check(exported, name, dynamo=False)
    assert "batchnorm" not in text or name == "densenet"   # folded into the convs by the exporter


@pytest.mark.parametrize("name", [pytest.param(n, marks=() if n in DYNAMO_IN_CI else pytest.mark.slow)
                                  for n in sorted(N.NETS)])
def test_dynamo_export(name, exported):
    check(exported, name, dynamo=True)


def test_the_networks_read_as_their_families(exported):
    """The structure the writer recovers: residual blocks with shortcuts, squeeze-and-
    excitation as scale blocks, fire modules as concat blocks (repeated), DenseNet's
    concatenations of every earlier map by name, the U-Net's skips as nested concat blocks."""
    texts = {name: exported(name, False)[3] for name in ("resnet18", "efficientnet_block", "squeezenet",
                                                          "densenet", "unet")}
    assert texts["resnet18"].count("} shortcut {") == 3
    assert "pool 3 stride=2 padding=1" in texts["resnet18"] and "globalpool" in texts["resnet18"]
    assert texts["efficientnet_block"].count("scale {") == 3 and "sigmoid" in texts["efficientnet_block"]
    assert "silu" in texts["efficientnet_block"] and "dwconv 5x5 padding=same" in texts["efficientnet_block"]
    assert texts["squeezenet"].count("concat {") == 2 and texts["squeezenet"].count("repeat 2 {") == 2
    assert "pool 3 stride=2 padding=same" in texts["squeezenet"]   # ceil_mode=True: one more window
    assert len([line for line in texts["densenet"].splitlines() if line.startswith("concat ")]) == 6
    assert texts["unet"].count("branch { }") == 2 and "upsample 2 mode=bilinear" in texts["unet"]


def test_the_command_writes_a_program_that_compiles_with_its_weights(exported, tmp_path):
    """`cnnc from-onnx` then `cnnc.compile("NET.cnn")`: the weights beside the program are
    the ones compile uses."""
    import shutil

    module, x, path, _, _ = exported("vgg_bn", False)
    shutil.copy(path, tmp_path / "vgg.onnx")
    code, out, err = run_cnnc("from-onnx", str(tmp_path / "vgg.onnx"))
    assert code == 0, err
    assert out.startswith(f"wrote {tmp_path / 'vgg.cnn'}") and (tmp_path / "vgg.npz").exists()
    model = cnnc.compile(str(tmp_path / "vgg.cnn"))
    want = N.run_torch(module, x)
    tol = RTOL * float(np.abs(want).max())
    assert_close(model(nhwc(x)), want, other=N.run_torch(module, another(x)), rtol=RTOL, atol=tol)
