"""`cnnc from-onnx` for what the language's newer kinds say: ConvNeXt's channels-last
LayerNorm, Linear layers and layer scale (`layernorm`, `conv N 1x1`, `layerscale`), a
ConvTranspose whose padding is a `crop`, negative pads and slices (`crop`), and activations
with their own parameters (`leaky_relu slope=`, `elu alpha=`)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

from test_from_onnx_ops import Fn, body, converted  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402


class ConvNeXtBlock(nn.Module):
    """ConvNeXt's block as torchvision writes it: a 7x7 depthwise conv, then channels-last
    LayerNorm, Linear, GELU, Linear, a learned per-channel scale, back to NCHW, residual."""

    def __init__(self, c):
        super().__init__()
        self.dwconv = nn.Conv2d(c, c, 7, padding=3, groups=c)
        self.norm = nn.LayerNorm(c, eps=1e-6)
        self.pwconv1, self.pwconv2 = nn.Linear(c, 4 * c), nn.Linear(4 * c, c)
        self.gamma = nn.Parameter(torch.linspace(0.5, 1.5, c))

    def forward(self, x):
        y = self.dwconv(x).permute(0, 2, 3, 1)
        y = self.gamma * self.pwconv2(F.gelu(self.pwconv1(self.norm(y))))
        return x + y.permute(0, 3, 1, 2)


def convnext(c=8):
    return nn.Sequential(nn.Conv2d(3, c, 2, stride=2), ConvNeXtBlock(c), ConvNeXtBlock(c))


@pytest.mark.parametrize("dynamo", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_convnext_blocks(dynamo, tmp_path):
    text = body(converted(convnext(), (3, 12, 12), tmp_path, dynamo=dynamo))
    flat = " ".join(text.split())
    block = "dwconv 7x7 padding=same; layernorm eps=1e-06 conv 32 1x1 gelu conv 8 1x1; layerscale"
    # the block written out twice, once in a repeat, or as a definition used in a repeat
    written = flat.count("residual { " + block) == 2 or (flat.count("residual { " + block) == 1
                                                          and "repeat 2 {" in flat)
    defined = flat.startswith("def ") and flat.count(block) == 1 and "repeat 2 { residual { " in flat
    assert "conv 8 2x2 stride=2 " in flat and (written or defined), text


def test_convnext_block_from_the_dynamo_exporter(tmp_path):
    """The dynamo exporter's LayerNormalization and Gelu nodes (one block: its exports are slow)."""
    text = body(converted(nn.Sequential(nn.Conv2d(3, 8, 1), ConvNeXtBlock(8)), (3, 8, 8), tmp_path, dynamo=True))
    assert "layernorm eps=1e-06 conv 32 1x1 gelu conv 8 1x1; layerscale" in " ".join(text.split()), text


def test_a_transposed_conv_whose_padding_is_a_crop(tmp_path):
    module = nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1)
    assert body(converted(module, (4, 5, 6), tmp_path)) == "deconv 3 3x3 stride=2; crop top=1 left=1"


def test_a_transposed_conv_with_more_padding_than_same(tmp_path):
    module = nn.ConvTranspose2d(4, 3, 3, padding=2)
    assert body(converted(module, (4, 7, 6), tmp_path)) == "deconv 3 3x3; crop 2"


def test_negative_pads_and_slices_are_crops(tmp_path):
    module = Fn(lambda s, x: F.pad(s.c(x), (-1, 0, 0, -2))[:, :, 1:, :-1], c=nn.Conv2d(3, 4, 1))
    assert body(converted(module, (3, 8, 9), tmp_path)) == "conv 4 1x1; crop bottom=2 left=1; crop top=1; crop right=1"


def test_activations_with_their_own_parameters(tmp_path):
    module = nn.Sequential(nn.Conv2d(3, 4, 3), nn.LeakyReLU(0.1), nn.Conv2d(4, 4, 1), nn.ELU(0.5),
                           nn.Conv2d(4, 4, 1), nn.LeakyReLU(0.2))
    assert body(converted(module, (3, 6, 6), tmp_path)) == \
        "conv 4 3x3; leaky_relu slope=0.1\nconv 4 1x1; elu alpha=0.5\nconv 4 1x1 leaky_relu"
