"""`cnnc from-onnx`, op by op: each PyTorch construct becomes the statement the docs say
(docs/bridges.md, "From ONNX"), and computes what PyTorch computes.

Each case is a small module, exported by the test (the legacy exporter unless the case is
about the dynamo one), converted, compiled with the numpy backend and compared with PyTorch
at another batch than the exported one.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

import cnnc  # noqa: E402
import onnx_nets as N  # noqa: E402
from cnnc.bridges.importers.onnx.model import convert  # noqa: E402
from numeric import another, assert_close  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

RTOL = 1e-4


class Fn(nn.Module):
    """A module whose forward is `fn(self, x)`, holding `layers` as attributes."""

    def __init__(self, fn, **layers):
        super().__init__()
        self.fn = fn
        for k, v in layers.items():
            setattr(self, k, v)

    def forward(self, x):
        return self.fn(self, x)


def nhwc(x):
    return np.ascontiguousarray(np.asarray(x).transpose(0, 2, 3, 1))


def converted(module, shape, tmp_path, dynamo=False, seed=0, **export):
    """(program text, compiled model, module, test input): `module` exported at a batch of
    2 and checked against PyTorch at a batch of 3."""
    x = np.random.default_rng(seed).standard_normal((5, *shape)).astype(np.float32)
    N.initialise(module, x, seed)
    path = N.export(module, x[:2], tmp_path / "m.onnx", dynamo, **export)
    text, params = convert(path)
    free = "\ninput " not in text
    model = cnnc.compile(cnnc.parse(text, input=(shape[1], shape[2], shape[0]) if free else None))
    model.set_params(params)
    x3 = x[2:]
    want = N.run_torch(module, x3)
    tol = RTOL * float(np.abs(want).max())
    assert_close(model(nhwc(x3)), want, other=N.run_torch(module, another(x3)), rtol=RTOL, atol=tol, what=text)
    return text


def body(text) -> str:
    """The program without its header comment and input line."""
    return "\n".join(line for line in text.splitlines() if not line.startswith(("#", "input ")))


# --- convolutions and their padding -----------------------------------------------------------

CONVS = {
    # symmetric pads at stride 1 are TensorFlow's `same` too: the familiar word
    "padding 1 at stride 1": (nn.Conv2d(3, 4, 3, padding=1), "conv 4 3x3 padding=same"),
    # at stride 2 on an even image `same` would pad (0, 1): PyTorch's 1 on every side stays 1
    "padding 1 at stride 2": (nn.Conv2d(3, 4, 3, stride=2, padding=1), "conv 4 3x3 stride=2 padding=1"),
    "even kernel same": (nn.Conv2d(3, 4, 4, padding="same"), "conv 4 4x4 padding=same"),
    "per-axis padding": (nn.Conv2d(3, 4, (3, 5), stride=2, padding=(1, 2)),
                         "zeropad 1x2\nconv 4 3x5 stride=2"),
    "groups and dilation": (nn.Conv2d(3, 6, 3, groups=3, dilation=2, padding=2),
                            "dwconv 3x3 padding=same dilation=2 multiplier=2"),
    "groups": (nn.Sequential(nn.Conv2d(3, 4, 1), nn.Conv2d(4, 6, 3, groups=2)), "conv 4 1x1\nconv 6 3x3 groups=2"),
    "no bias": (nn.Conv2d(3, 4, 3, bias=False), "conv 4 3x3 bias=false"),
    "F.pad then conv: same": (Fn(lambda s, x: s.c(F.pad(x, (0, 1, 0, 1))), c=nn.Conv2d(3, 4, 3, stride=2)),
                              "conv 4 3x3 stride=2 padding=same"),
    "F.pad then conv: zeropad": (Fn(lambda s, x: s.c(F.pad(x, (2, 0, 1, 0))), c=nn.Conv2d(3, 4, 3)),
                                 "zeropad top=1 left=2\nconv 4 3x3"),
    "bias added after": (Fn(lambda s, x: s.c(x) + s.b, c=nn.Conv2d(3, 4, 3, bias=False),
                            b=nn.Parameter(torch.linspace(-1, 1, 4).reshape(1, 4, 1, 1))), "conv 4 3x3"),
}


@pytest.mark.parametrize("case", sorted(CONVS))
def test_convolutions(case, tmp_path):
    module, want = CONVS[case]
    assert body(converted(module, (3, 8, 8), tmp_path)) == want


DECONVS = {
    "k4 s2 p1 is same": (nn.ConvTranspose2d(4, 3, 4, stride=2, padding=1), "deconv 3 4x4 stride=2 padding=same"),
    "k2 s2 is valid": (nn.ConvTranspose2d(4, 3, 2, stride=2), "deconv 3 2x2 stride=2"),
    "k1 s2 output_padding 1 is valid": (nn.ConvTranspose2d(4, 3, 1, stride=2, output_padding=1),
                                        "deconv 3 1x1 stride=2"),
    "k3 s1 p1 is same": (nn.ConvTranspose2d(4, 3, 3, padding=1), "deconv 3 3x3 padding=same"),
}


@pytest.mark.parametrize("case", sorted(DECONVS))
def test_transposed_convolutions(case, tmp_path):
    module, want = DECONVS[case]
    assert body(converted(module, (4, 5, 6), tmp_path)) == want


# --- pooling -----------------------------------------------------------------------------

POOLS = {
    "max, padding 1": (nn.MaxPool2d(3, 2, 1), (3, 8, 8), "pool 3 stride=2 padding=1"),
    "average, zeros counted": (nn.AvgPool2d(3, 2, 1), (3, 8, 8), "avgpool 3 stride=2 padding=1"),
    "average, real pixels only": (nn.AvgPool2d(3, 1, 1, count_include_pad=False), (3, 8, 8),
                                  "avgpool 3 stride=1 padding=same"),
    "ceil_mode that is same": (nn.MaxPool2d(3, 2, ceil_mode=True), (3, 8, 8), "pool 3 stride=2 padding=same"),
    # after a relu the extra window's padding is zeros that never win: zeropad + a valid pool
    "ceil_mode after relu": (nn.Sequential(nn.ReLU(), nn.MaxPool2d(3, 3, ceil_mode=True)), (3, 10, 10),
                             "relu; zeropad bottom=2 right=2; pool 3"),
    "ceil_mode with no extra window": (nn.MaxPool2d(3, 2, ceil_mode=True), (3, 9, 9), "pool 3 stride=2"),
    "global average": (nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()), (3, 8, 8), "globalpool"),
    "global max": (nn.Sequential(nn.AdaptiveMaxPool2d(1), nn.Flatten()), (3, 8, 8), "globalmaxpool"),
    "mean over H and W": (Fn(lambda s, x: x.mean((2, 3))), (3, 8, 8), "globalpool"),
}


@pytest.mark.parametrize("case", sorted(POOLS))
def test_pools(case, tmp_path):
    module, shape, want = POOLS[case]
    assert body(converted(module, shape, tmp_path)) == want


def test_reduce_mean_with_its_axes_as_an_input(tmp_path):
    """The dynamo exporter (opset 18) gives ReduceMean its axes as a second input."""
    module = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), Fn(lambda s, x: x.mean((2, 3), keepdim=True)),
                           nn.Conv2d(4, 2, 1), nn.Flatten())
    assert body(converted(module, (3, 8, 8), tmp_path, dynamo=True)) == "conv 4 3x3 relu; globalpool\ndense 2"


# --- activations ---------------------------------------------------------------------------

ACTIVATIONS = {
    "relu6": nn.ReLU6(), "hard_swish": nn.Hardswish(), "hard_sigmoid": nn.Hardsigmoid(), "elu": nn.ELU(),
    "tanh": nn.Tanh(), "sigmoid": nn.Sigmoid(), "silu": nn.SiLU(), "gelu": nn.GELU(), "softmax": nn.Softmax(1),
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activations(name, tmp_path):
    module = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), ACTIVATIONS[name])
    assert body(converted(module, (3, 6, 6), tmp_path)) == f"conv 4 3x3 padding=same {name}"


@pytest.mark.parametrize("grouping", ["torch", "half first", "half last"])
def test_the_erf_gelu_in_every_grouping(grouping, tmp_path):
    f = {"torch": lambda x: x * 0.5 * (1.0 + torch.erf(x / 1.4142135623730951)),
         "half first": lambda x: (0.5 * x) * (1.0 + torch.erf(x * 0.7071067811865476)),
         "half last": lambda x: x * ((1.0 + torch.erf(x / 1.4142135623730951)) * 0.5)}[grouping]
    module = Fn(lambda s, x: f(s.c(x)), c=nn.Conv2d(3, 4, 3))
    assert body(converted(module, (3, 6, 6), tmp_path)) == "conv 4 3x3 gelu"


def test_gelu_from_the_dynamo_exporter(tmp_path):
    module = nn.Sequential(nn.Conv2d(3, 4, 3), nn.GELU())
    assert body(converted(module, (3, 6, 6), tmp_path, dynamo=True)) == "conv 4 3x3 gelu"


def test_softmax_of_a_vector(tmp_path):
    module = nn.Sequential(nn.Flatten(), nn.Linear(48, 5), nn.Softmax(-1))
    assert body(converted(module, (3, 4, 4), tmp_path)) == "flatten\ndense 5 softmax"


# --- arithmetic, dense layers, shapes ---------------------------------------------------------

def test_scalar_arithmetic_is_rescale(tmp_path):
    module = Fn(lambda s, x: (s.c(x) * 0.5 + 1.0 - 3.0) / 4.0, c=nn.Conv2d(3, 4, 3))
    text = body(converted(module, (3, 6, 6), tmp_path))
    assert text == "conv 4 3x3; rescale 0.125 offset=-0.5"


def test_a_flatten_then_linear_reorders_the_kernel_rows(tmp_path):
    """PyTorch flattens C, H, W; cnnc H, W, C: the dense kernel's rows are permuted."""
    module = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 4 * 4, 6))
    assert body(converted(module, (3, 6, 6), tmp_path)) == "conv 4 3x3 relu; flatten\ndense 6"


def test_view_with_the_batch_size_read_from_the_shape(tmp_path):
    """x.view(x.size(0), -1) with a free batch: Shape, Gather, Unsqueeze, Concat, Reshape."""
    module = Fn(lambda s, x: s.fc(F.relu(s.c(x)).view(x.size(0), -1)), c=nn.Conv2d(3, 4, 3), fc=nn.Linear(64, 3))
    text = converted(module, (3, 6, 6), tmp_path, input_names=["x"], dynamic_axes={"x": {0: "n"}})
    assert body(text) == "conv 4 3x3 relu; flatten\ndense 3"


def test_an_image_of_free_size_has_no_input_line(tmp_path):
    module = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                           nn.Flatten(), nn.Linear(4, 2))
    text = converted(module, (3, 10, 10), tmp_path, input_names=["x"], dynamic_axes={"x": {0: "n", 2: "h", 3: "w"}})
    assert "\ninput " not in text and body(text) == "conv 4 3x3 stride=2 padding=1 relu; globalpool\ndense 2"


def test_a_linear_on_channels_last_pixels_is_a_1x1_conv(tmp_path):
    module = Fn(lambda s, x: s.fc(s.c(x).permute(0, 2, 3, 1)).permute(0, 3, 1, 2), c=nn.Conv2d(3, 4, 3),
                fc=nn.Linear(4, 5))
    assert body(converted(module, (3, 6, 6), tmp_path)) == "conv 4 3x3\nconv 5 1x1"


def test_squeeze_and_excitation_with_linear_layers_and_view(tmp_path):
    def se(s, x):
        y = s.c(x)
        g = torch.sigmoid(s.fc2(F.relu(s.fc1(y.mean((2, 3))))))
        return y * g.view(y.size(0), -1, 1, 1)

    module = Fn(se, c=nn.Conv2d(3, 8, 3), fc1=nn.Linear(8, 2), fc2=nn.Linear(2, 8))
    assert body(converted(module, (3, 6, 6), tmp_path)) == \
        "conv 8 3x3\nscale { globalpool; dense 2 relu; dense 8 sigmoid }"


def test_upsampling(tmp_path):
    module = nn.Sequential(nn.Conv2d(3, 4, 1), nn.Upsample(scale_factor=(2, 3)),
                           nn.Upsample(scale_factor=2, mode="bilinear"))
    assert body(converted(module, (3, 4, 5), tmp_path)) == "conv 4 1x1; upsample 2x3; upsample 2 mode=bilinear"


def test_concat_dropout_and_identity(tmp_path):
    module = Fn(lambda s, x: torch.cat([s.a(x), s.d(s.b(x)), s.i(x)], 1), a=nn.Conv2d(3, 2, 1),
                b=nn.Conv2d(3, 4, 3, padding=1), d=nn.Dropout(0.3), i=nn.Identity())
    assert body(converted(module, (3, 5, 5), tmp_path)) == \
        "concat { branch { conv 2 1x1 } branch { conv 4 3x3 padding=same } branch { } }"
