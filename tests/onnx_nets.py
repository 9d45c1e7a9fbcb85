"""PyTorch CNNs written out for the ONNX importer's tests (torchvision is not used): the
families `cnnc from-onnx` must read, at small widths, and the helpers that export them.

Each builder returns (module, input shape (C, H, W)). Weights are He-normal, biases small,
batchnorms calibrated on a batch (tests/numeric.py torch_calibrate), so that no layer turns
its input into a constant and another input moves the output.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


def conv_bn(cin, cout, k, stride=1, groups=1, act=nn.ReLU):
    layers = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    return nn.Sequential(*layers, act()) if act else nn.Sequential(*layers)


# --- ResNet-18 ----------------------------------------------------------------------------

class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (x if self.downsample is None else self.downsample(x)))


class ResNet18(nn.Module):
    """torchvision's resnet18: a 7x7 stem, max pool, four stages of two basic blocks."""

    def __init__(self, width=64, classes=1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        stages, cin = [], width
        for i, cout in enumerate((width, width * 2, width * 4, width * 8)):
            stages.append(nn.Sequential(BasicBlock(cin, cout, 1 if i == 0 else 2), BasicBlock(cout, cout, 1)))
            cin = cout
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet18(width=16, size=32):
    return ResNet18(width, 10), (3, size, size)


# --- MobileNetV2 ---------------------------------------------------------------------------

class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        mid = cin * expand
        layers = [conv_bn(cin, mid, 1, act=nn.ReLU6)] if expand != 1 else []
        layers += [conv_bn(mid, mid, 3, stride, groups=mid, act=nn.ReLU6), conv_bn(mid, cout, 1, act=None)]
        self.conv = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        return x + self.conv(x) if self.residual else self.conv(x)


class MobileNetV2(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        layers, cin = [conv_bn(3, 16, 3, 2, act=nn.ReLU6)], 16
        for t, c, n, s in ((1, 8, 1, 1), (6, 12, 2, 2), (6, 16, 2, 2), (6, 24, 1, 1)):
            for i in range(n):
                layers.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        layers.append(conv_bn(cin, 64, 1, act=nn.ReLU6))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(64, classes))

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), 1)
        return self.classifier(torch.flatten(x, 1))


def mobilenet_v2(size=32):
    return MobileNetV2(), (3, size, size)


# --- VGG with batchnorm -------------------------------------------------------------------------

class VGG(nn.Module):
    """vgg11_bn's layout at small widths: the classifier reads a flattened 4x4 image, so its
    first kernel's rows must be reordered from PyTorch's C, H, W to cnnc's H, W, C."""

    def __init__(self, cfg=(8, "M", 16, "M", 32, 32, "M"), classes=10):
        super().__init__()
        layers, cin = [], 3
        for v in cfg:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(cin, v, 3, padding=1), nn.BatchNorm2d(v), nn.ReLU(inplace=True)]
                cin = v
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Linear(cin * 4 * 4, 32), nn.ReLU(True), nn.Dropout(), nn.Linear(32, classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


def vgg_bn(size=32):
    return VGG(), (3, size, size)


# --- SqueezeNet 1.1 --------------------------------------------------------------------------

class Fire(nn.Module):
    def __init__(self, cin, squeeze, e1, e3):
        super().__init__()
        self.squeeze = nn.Conv2d(cin, squeeze, 1)
        self.expand1x1 = nn.Conv2d(squeeze, e1, 1)
        self.expand3x3 = nn.Conv2d(squeeze, e3, 3, padding=1)

    def forward(self, x):
        x = F.relu(self.squeeze(x))
        return torch.cat([F.relu(self.expand1x1(x)), F.relu(self.expand3x3(x))], 1)


class SqueezeNet(nn.Module):
    """squeezenet1_1: max pools with ceil_mode=True (after a ReLU: exact as zeros added at
    the bottom and right), fire modules, a conv classifier and a global average pool."""

    def __init__(self, classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, 2), nn.ReLU(True), nn.MaxPool2d(3, 2, ceil_mode=True),
            Fire(16, 4, 8, 8), Fire(16, 4, 8, 8), nn.MaxPool2d(3, 2, ceil_mode=True),
            Fire(16, 8, 16, 16), Fire(32, 8, 16, 16))
        self.classifier = nn.Sequential(nn.Dropout(0.5), nn.Conv2d(32, classes, 1), nn.ReLU(True),
                                        nn.AdaptiveAvgPool2d(1))

    def forward(self, x):
        return torch.flatten(self.classifier(self.features(x)), 1)


def squeezenet(size=36):
    return SqueezeNet(), (3, size, size)


# --- DenseNet -----------------------------------------------------------------------------------

class DenseLayer(nn.Module):
    """torchvision's _DenseLayer: reads the concatenation of every earlier feature map."""

    def __init__(self, cin, growth, bn_size=2):
        super().__init__()
        self.norm1, self.conv1 = nn.BatchNorm2d(cin), nn.Conv2d(cin, bn_size * growth, 1, bias=False)
        self.norm2, self.conv2 = nn.BatchNorm2d(bn_size * growth), nn.Conv2d(bn_size * growth, growth, 3, 1, 1,
                                                                               bias=False)

    def forward(self, features):
        x = torch.cat(features, 1)
        return self.conv2(F.relu(self.norm2(self.conv1(F.relu(self.norm1(x))))))


class DenseBlock(nn.Module):
    def __init__(self, layers, cin, growth):
        super().__init__()
        self.layers = nn.ModuleList(DenseLayer(cin + i * growth, growth) for i in range(layers))

    def forward(self, x):
        features = [x]
        for layer in self.layers:
            features.append(layer(features))
        return torch.cat(features, 1)


class DenseNet(nn.Module):
    def __init__(self, growth=4, blocks=(3, 3), init=8, classes=10):
        super().__init__()
        layers = [nn.Conv2d(3, init, 7, 2, 3, bias=False), nn.BatchNorm2d(init), nn.ReLU(True),
                  nn.MaxPool2d(3, 2, 1)]
        c = init
        for i, n in enumerate(blocks):
            layers.append(DenseBlock(n, c, growth))
            c += n * growth
            if i != len(blocks) - 1:
                layers += [nn.BatchNorm2d(c), nn.ReLU(True), nn.Conv2d(c, c // 2, 1, bias=False), nn.AvgPool2d(2, 2)]
                c //= 2
        layers.append(nn.BatchNorm2d(c))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(c, classes)

    def forward(self, x):
        x = F.adaptive_avg_pool2d(F.relu(self.features(x)), (1, 1))
        return self.classifier(torch.flatten(x, 1))


def densenet(size=32):
    return DenseNet(), (3, size, size)


# --- U-Net --------------------------------------------------------------------------------------

def double_conv(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True),
                         nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True))


class UNet(nn.Module):
    """Three levels; the deepest goes up with a transposed conv, the next with bilinear
    upsampling and a 1x1 conv; skips are concatenated before the upsampled maps."""

    def __init__(self, cin=3, classes=2, w=8):
        super().__init__()
        self.inc, self.down1, self.down2 = double_conv(cin, w), double_conv(w, 2 * w), double_conv(2 * w, 4 * w)
        self.up2 = nn.ConvTranspose2d(4 * w, 2 * w, 2, stride=2)
        self.conv2 = double_conv(4 * w, 2 * w)
        self.up1 = nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                                 nn.Conv2d(2 * w, w, 1))
        self.conv1 = double_conv(2 * w, w)
        self.outc = nn.Conv2d(w, classes, 1)

    def forward(self, x):
        x1 = self.inc(x)
        x2 = self.down1(F.max_pool2d(x1, 2))
        x3 = self.down2(F.max_pool2d(x2, 2))
        y = self.conv2(torch.cat([x2, self.up2(x3)], 1))
        y = self.conv1(torch.cat([x1, self.up1(y)], 1))
        return self.outc(y)


def unet(size=16):
    return UNet(), (3, size, size)


# --- EfficientNet block with squeeze-and-excitation ---------------------------------------------

class SqueezeExcite(nn.Module):
    def __init__(self, c, squeezed):
        super().__init__()
        self.fc1, self.fc2 = nn.Conv2d(c, squeezed, 1), nn.Conv2d(squeezed, c, 1)

    def forward(self, x):
        s = F.adaptive_avg_pool2d(x, 1)
        return x * torch.sigmoid(self.fc2(F.silu(self.fc1(s))))


class MBConv(nn.Module):
    """EfficientNet's MBConv: expand 1x1, depthwise kxk, SE, project 1x1; a residual when the
    shape is kept (stochastic depth is the identity at inference)."""

    def __init__(self, cin, cout, k, stride, expand):
        super().__init__()
        mid = cin * expand
        layers = [conv_bn(cin, mid, 1, act=nn.SiLU)] if expand != 1 else []
        layers += [conv_bn(mid, mid, k, stride, groups=mid, act=nn.SiLU), SqueezeExcite(mid, max(1, cin // 4)),
                   conv_bn(mid, cout, 1, act=None)]
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        return x + self.block(x) if self.residual else self.block(x)


class EfficientNetBlocks(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stem = conv_bn(3, 16, 3, 2, act=nn.SiLU)
        self.blocks = nn.Sequential(MBConv(16, 8, 3, 1, 1), MBConv(8, 12, 3, 2, 6), MBConv(12, 12, 5, 1, 6))
        self.head = conv_bn(12, 48, 1, act=nn.SiLU)
        self.fc = nn.Linear(48, classes)

    def forward(self, x):
        x = self.head(self.blocks(self.stem(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def efficientnet_block(size=32):
    return EfficientNetBlocks(), (3, size, size)


NETS = {"resnet18": resnet18, "mobilenet_v2": mobilenet_v2, "vgg_bn": vgg_bn, "squeezenet": squeezenet,
        "densenet": densenet, "unet": unet, "efficientnet_block": efficientnet_block}


# --- weights and export -----------------------------------------------------------------------

def initialise(module, x, seed=0):
    """He-normal kernels, small random biases, batchnorms calibrated on x (with random gammas
    and betas first, so that no batchnorm is the identity). Returns the module in eval mode."""
    from numeric import he_normal, torch_calibrate

    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                w = m.weight
                fan_in = int(np.prod(w.shape[1:])) if not isinstance(m, nn.ConvTranspose2d) else \
                    int(w.shape[0] * np.prod(w.shape[2:]))
                w.copy_(torch.from_numpy(he_normal(rng, w.shape, fan_in)))
                if m.bias is not None:
                    m.bias.copy_(torch.from_numpy(rng.normal(0, 0.1, m.bias.shape).astype(np.float32)))
            elif isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.weight.copy_(torch.from_numpy(rng.uniform(0.5, 1.5, m.weight.shape).astype(np.float32)))
                m.bias.copy_(torch.from_numpy(rng.normal(0, 0.1, m.bias.shape).astype(np.float32)))
    return torch_calibrate(module, x)


def export(module, x, path, dynamo: bool, **kw) -> str:
    """torch.onnx.export of `module` at the input x (NCHW), quietly; returns the path."""
    path = os.fspath(path)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        if dynamo:
            import logging

            logging.getLogger("torch.onnx").setLevel(logging.ERROR)
            torch.onnx.export(module, (torch.as_tensor(x),), path, dynamo=True, verbose=False, **kw)
        else:
            torch.onnx.export(module, (torch.as_tensor(x),), path, dynamo=False, **kw)
    return path


def run_torch(module, x) -> np.ndarray:
    """The module's output for x (NCHW) as cnnc lays it out: an image NHWC."""
    with torch.no_grad():
        y = module(torch.as_tensor(np.asarray(x, np.float32))).numpy()
    return y.transpose(0, 2, 3, 1) if y.ndim == 4 else y
