"""`to_torch(model)`: the network as a PyTorch `nn.Module`, NHWC in and out.

The module is a drop-in for the cnnc model (same input and output layout, same
weights) and trains with any torch optimizer: conv and dense weights are real
`nn.Parameter`s (torch layouts inside, converted exactly from and to the Keras
layouts of SPEC §3), batchnorm is `nn.BatchNorm1d/2d` (inference form in
`.eval()`, batch statistics and running-stat updates in `.train()`), dropout is
active in `.train()` only. The module is returned in eval mode.

Inside, images travel as NCHW (what F.conv2d wants). Padding follows SPEC §1
exactly, always as an explicit F.pad so that TensorFlow's asymmetric `same` and
PyTorch-style integer padding take the same path:
  conv      zeros
  pool      -inf (a padded pixel is never the maximum)
  avgpool   `same`: the average counts real pixels only; integer p: zeros that count
`flatten` turns NCHW back into H, W, C order first, so dense kernels keep the
Keras row order and the weights map one to one.
"""

from __future__ import annotations

from .. import layers as L
from ..backends.pending import Pending, require_lowerings
from ..optional import require

torch = require("torch", "torch")
nn = torch.nn
F = torch.nn.functional


def to_torch(model) -> "CnncModule":
    """A trainable `nn.Module` equal to `model` (its `.network` and `.params`)."""
    return CnncModule(model.network, model.params).eval()


def window_pads(node) -> tuple:
    """(left, right, top, bottom) padding of a conv/pool node (F.pad order)."""
    top, bottom, left, right = node.spec.pads(node.input.out, node.attrs)
    return (left, right, top, bottom)


def activate(x, name: str):
    """An activation on a tensor whose axis 1 is channels/units (softmax over it, as Keras's last axis)."""
    return _ACTIVATION_MODULES[name](x)


_ACTIVATION_MODULES = {name: a.torch(nn) for name, a in L.ACTIVATIONS.items()}


def _tensor(array):
    import numpy as np

    return torch.from_numpy(np.array(array, dtype=np.float32, copy=True))


class Conv(nn.Module):
    """conv: weight (Cout, Cin, KH, KW) as nn.Conv2d, explicit padding."""

    def __init__(self, node, kernel, bias):
        super().__init__()
        self.weight = nn.Parameter(_tensor(kernel).permute(3, 2, 0, 1).contiguous())
        self.bias = nn.Parameter(_tensor(bias))
        self.pads = window_pads(node)
        self.stride = tuple(node.attrs["stride"])
        self.activation = node.activation

    def forward(self, x, skip_softmax: bool = False):
        if any(self.pads):
            x = F.pad(x, self.pads)
        y = F.conv2d(x, self.weight, self.bias, stride=self.stride)
        return y if skip_softmax and self.activation == "softmax" else activate(y, self.activation)

    def keras(self) -> dict:
        return {"kernel": self.weight.detach().permute(2, 3, 1, 0), "bias": self.bias.detach()}


class Dense(nn.Module):
    """dense: weight (out, in) as nn.Linear; `in` is in cnnc's (H, W, C) flatten order."""

    def __init__(self, node, kernel, bias):
        super().__init__()
        self.weight = nn.Parameter(_tensor(kernel).t().contiguous())
        self.bias = nn.Parameter(_tensor(bias))
        self.activation = node.activation

    def forward(self, x, skip_softmax: bool = False):
        y = F.linear(x, self.weight, self.bias)
        return y if skip_softmax and self.activation == "softmax" else activate(y, self.activation)

    def keras(self) -> dict:
        return {"kernel": self.weight.detach().t(), "bias": self.bias.detach()}


class Pool(nn.Module):
    """pool / avgpool with the padding rules of SPEC §1."""

    def __init__(self, node):
        super().__init__()
        inp = node.input.out
        self.is_max = node.spec.reduce == "max"
        self.kernel = tuple(node.attrs["kernel"])
        self.stride = tuple(node.attrs["stride"])
        self.pads = window_pads(node)
        self.count_real_only = node.attrs["padding"] == "same"
        if not self.is_max and self.count_real_only and any(self.pads):
            # how many real pixels each window covers (a constant of the shapes)
            ones = F.pad(torch.ones(1, 1, inp.h, inp.w), self.pads)
            area = self.kernel[0] * self.kernel[1]
            count = F.avg_pool2d(ones, self.kernel, self.stride) * area
            self.register_buffer("scale", area / count, persistent=False)
        else:
            self.scale = None

    def forward(self, x):
        if self.is_max:
            if any(self.pads):
                x = F.pad(x, self.pads, value=float("-inf"))
            return F.max_pool2d(x, self.kernel, self.stride)
        if any(self.pads):
            x = F.pad(x, self.pads)
        y = F.avg_pool2d(x, self.kernel, self.stride)
        return y * self.scale if self.scale is not None else y


_PROBE = nn.ModuleDict()  # instance attributes (`training`) count too


def _batchnorm(node, p):
    c = node.params["gamma"][0]
    bn = (nn.BatchNorm2d if isinstance(node.out, L.Image) else nn.BatchNorm1d)(c, eps=node.attrs["eps"])
    with torch.no_grad():
        bn.weight.copy_(_tensor(p["gamma"]))
        bn.bias.copy_(_tensor(p["beta"]))
        bn.running_mean.copy_(_tensor(p["mean"]))
        bn.running_var.copy_(_tensor(p["var"]))
    return bn


def _call(module, args, skip_softmax):
    return module(args[0])


def _call_anchor(module, args, skip_softmax):
    return module(args[0], skip_softmax)


def _flatten(args):
    x = args[0]
    return x.permute(0, 2, 3, 1).reshape(x.shape[0], -1) if x.dim() == 4 else x


def _activation(node):
    def apply(args, skip_softmax):
        return args[0] if skip_softmax else activate(args[0], node.kind)
    return apply


class Lowering:
    """How a kind runs in torch: `make(node, params)` builds its nn.Module (None for kinds
    without one); `run(module, args, skip_softmax)` applies it, or `plain(node)` gives a
    function (args, skip_softmax) for kinds without a module."""

    def __init__(self, make=None, run=_call, plain=None):
        self.make, self.run, self.plain = make, run, plain


LOWERINGS: dict = {
    "conv": Lowering(lambda node, p: Conv(node, p["kernel"], p["bias"]), _call_anchor),
    "dense": Lowering(lambda node, p: Dense(node, p["kernel"], p["bias"]), _call_anchor),
    "pool": Lowering(lambda node, p: Pool(node)),
    "avgpool": Lowering(lambda node, p: Pool(node)),
    "batchnorm": Lowering(_batchnorm),
    "dropout": Lowering(lambda node, p: nn.Dropout(node.attrs["rate"])),
    "globalpool": Lowering(plain=lambda node: lambda args, skip: args[0].mean(dim=(2, 3))),
    "flatten": Lowering(plain=lambda node: lambda args, skip: _flatten(args)),
    "residual": Lowering(plain=lambda node: lambda args, skip: args[0] + args[1]),
    "concat": Lowering(plain=lambda node: lambda args, skip: torch.cat(args, dim=1)),
    "input": Lowering(),
    **{name: Lowering(plain=_activation) for name in L.ACTIVATIONS},
    **{kind: Pending("PyTorch bridge") for kind in ("dwconv", "sepconv", "deconv", "upsample", "zeropad", "globalmaxpool", "rescale", "scale")},
}


def _module_key(name: str, taken: set) -> str:
    """The ModuleDict key of a layer: its name, unless that clashes with a torch attribute."""
    key = name
    while key in taken or hasattr(_PROBE, key):
        key += "_"
    taken.add(key)
    return key


class CnncModule(nn.Module):
    """The network as an nn.Module. `forward(x)`: x (N, H, W, C) -> the network's output (NHWC or (N, n))."""

    def __init__(self, network, params):
        super().__init__()
        require_lowerings(network, LOWERINGS, "PyTorch bridge")
        self.network = network
        self.layers = nn.ModuleDict()
        self.keys: dict = self.layer_keys(network)   # layer name -> key in self.layers
        for node in network.layers:
            if node.name in self.keys:
                self.layers[self.keys[node.name]] = self._make(node, params)
        self._softmax_node = _final_softmax(network)

    @staticmethod
    def layer_keys(network) -> dict:
        """Layer name -> its key in `.layers` (and in the state_dict, `layers.KEY.weight`)."""
        taken: set = set()
        return {n.name: _module_key(n.name, taken) for n in network.layers if LOWERINGS[n.kind].make is not None}

    @staticmethod
    def _make(node, params):
        return LOWERINGS[node.kind].make(node, {k: params[f"{node.name}.{k}"] for k in node.params})

    def module(self, name: str):
        """The submodule of layer `name` (None for layers without one)."""
        key = self.keys.get(name)
        return None if key is None else self.layers[key]

    def forward(self, x):
        return _to_nhwc(self.run(x)[self.network.output.name])

    def logits(self, x):
        """The output before a final softmax (what cross-entropy wants); = forward(x) without one."""
        return _to_nhwc(self.run(x, skip_softmax=self._softmax_node)[self.network.output.name])

    def activations(self, x, names=None) -> dict:
        """Every layer's output (or those in `names`), images as NHWC."""
        values = self.run(x, keep_all=True)
        names = list(values) if names is None else names
        return {n: _to_nhwc(values[n]) for n in names}

    def run(self, x, skip_softmax=None, keep_all: bool = False) -> dict:
        """Layer name -> output tensor (images NCHW); only the output unless keep_all."""
        net = self.network
        if not torch.is_tensor(x):
            x = torch.as_tensor(x)
        x = x.to(torch.float32)
        if x.dim() != 4 or tuple(x.shape[1:]) != net.input_shape:
            h, w, c = net.input_shape
            raise ValueError(f"expected input of shape (N, {h}, {w}, {c}), got {tuple(x.shape)}")
        values = {net.input.name: x.permute(0, 3, 1, 2)}
        consumers_left = {n.name: 0 for n in net.nodes}
        for n in net.layers:
            for i in n.inputs:
                consumers_left[i.name] += 1
        for node in net.layers:
            args = [values[i.name] for i in node.inputs]
            values[node.name] = self._apply(node, args, skip_softmax is node)
            if not keep_all:  # free what no later layer reads
                for i in node.inputs:
                    consumers_left[i.name] -= 1
                    if consumers_left[i.name] == 0:
                        del values[i.name]
        return values

    def _apply(self, node, args, skip_softmax: bool):
        lowering = LOWERINGS[node.kind]
        if lowering.make is not None:
            return lowering.run(self.module(node.name), args, skip_softmax)
        return lowering.plain(node)(args, skip_softmax)

    def keras_params(self) -> dict:
        """The weights in cnnc's names and Keras layouts (float32 numpy), network order."""
        out = {}
        for node in self.network.layers:
            if not node.params:
                continue
            mod = self.module(node.name)
            arrays = _keras_arrays(mod)
            for k in node.params:
                out[f"{node.name}.{k}"] = arrays[k].cpu().contiguous().numpy().astype("float32", copy=True)
        return out


def _keras_arrays(mod) -> dict:
    """A module's weights by Keras suffix (kernel, bias, gamma, ...)."""
    if isinstance(mod, nn.modules.batchnorm._BatchNorm):
        return {"gamma": mod.weight.detach(), "beta": mod.bias.detach(),
                "mean": mod.running_mean.detach(), "var": mod.running_var.detach()}
    return mod.keras()


def _final_softmax(network):
    """The node whose softmax makes the output (looking through trailing dropout/flatten), or None."""
    tail = network.output
    while tail.spec.role is L.Role.VIEW and tail.inputs:
        tail = tail.input
    return tail if tail.activation == "softmax" else None


def _to_nhwc(t):
    return t.permute(0, 2, 3, 1) if t.dim() == 4 else t
