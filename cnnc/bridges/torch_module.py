"""`to_torch(model)`: the network as a PyTorch `nn.Module`, NHWC in and out.

Every layer is a real torch module, registered under the layer's own name in
`module.layers` (an `nn.ModuleDict`), so `print(module)`, torchinfo, forward hooks
and optimizer parameter groups see what a PyTorch user would have written:

  conv        nn.Conv2d (subclass: an asymmetric `same` pad and the activation are children;
              dilation, groups and bias=false are nn.Conv2d's own)
  dwconv      nn.Conv2d with groups=C;  sepconv  depthwise + 1x1 nn.Conv2d children
  deconv      nn.ConvTranspose2d, cropped to Keras's `same`
  dense       nn.Linear (subclass: the activation is a child)
  batchnorm   nn.BatchNorm2d on images, nn.BatchNorm1d on vectors (weight/bias None without them)
  pool        nn.MaxPool2d;  avgpool  nn.AvgPool2d (subclasses, for explicit padding)
  upsample    nn.Upsample;   zeropad  nn.ZeroPad2d;  dropout  nn.Dropout
  ACT         the activation's module from the one table (nn.ReLU, nn.GELU, ...)
  globalpool, globalmaxpool  GlobalPool2d;  flatten  FlattenHWC;  rescale  Rescale
  residual    Add;  concat  Concat;  scale  Multiply (the image times its gate)
  layernorm   nn.LayerNorm over the channels (an image channels-last, as Keras)
  layerscale  LayerScale (a learned `gamma` per channel);  normalize  Normalize (buffers)
  crop        Crop2d (a slice)

Each kind's module comes from LOWERINGS (keyword -> Lowering); weights are real
`nn.Parameter`s in torch layouts, converted exactly from and to the Keras layouts
of cnnc's params. batchnorm trains like torch's own (batch statistics and
running-stat updates in `.train()`), dropout is active in `.train()` only. The
module is returned in eval mode.

Inside, images travel as NCHW. Padding follows cnnc's rules exactly: symmetric
padding is the torch module's own `padding=`; TensorFlow's `same` with an odd
total (the smaller half on top/left) and padding wider than torch allows are an
explicit pad module before the window:
  conv      zeros
  pool      -inf (a padded pixel is never the maximum)
  avgpool   `same`: the average counts real pixels only; integer p: zeros that count
`flatten` turns NCHW back into H, W, C order first, so dense kernels keep the
Keras row order and the weights map one to one.
"""

from __future__ import annotations

import numpy as np

from .. import layers as L
from ..backends.pending import require_lowerings
from ..optional import require

torch = require("torch", "torch")
nn = torch.nn
F = torch.nn.functional


def to_torch(model) -> "CnncModule":
    """A trainable `nn.Module` equal to `model` (its `.network` and `.params`)."""
    return CnncModule(model.network, model.params).eval()


def _tensor(array):
    return torch.from_numpy(np.array(array, dtype=np.float32, copy=True))


def _parameter(t):
    """A parameter laid out row-major with the standard strides. `.contiguous()` keeps the
    strides of a permuted tensor whose permuted axes have size 1 (torch counts it as
    contiguous), and DDP then warns that the gradients' strides do not match its buckets."""
    return nn.Parameter(torch.empty(t.shape, dtype=t.dtype).copy_(t))


def _activation(name):
    """The activation's torch module (None for linear: nothing to show or run)."""
    return None if name in (None, "linear") else L.ACTIVATIONS[name].torch(nn)


def _padding(node, limit, fill: float = 0.0):
    """(the torch module's own `padding=`, an explicit pad module or None) for a window node.

    Symmetric padding up to `limit` per axis (what torch's module accepts) is the module's
    own; anything else (TF `same` with an odd total, wider padding) is an explicit pad.
    """
    t, b, left, r = node.spec.pads(node.input.out, node.attrs)
    if t == b and left == r and t <= limit[0] and left <= limit[1]:
        return (t, left), None
    sides = (left, r, t, b)
    return (0, 0), (nn.ZeroPad2d(sides) if fill == 0 else nn.ConstantPad2d(sides, fill))


_UNLIMITED = (1 << 30, 1 << 30)   # nn.Conv2d takes any symmetric padding


def _pair(attrs, name, default=(1, 1)):
    return tuple(attrs.get(name, default))


class Conv2d(nn.Conv2d):
    """A cnnc `conv`: nn.Conv2d, weight (F, Cin/G, KH, KW) <-> Keras kernel (KH, KW, Cin/G, F), with
    the program's stride, dilation, groups and bias. Children where needed: `pad` (an asymmetric
    `same`) runs before, `activation` after."""

    def __init__(self, node, kernel, bias=None, groups=None):
        weight = self.from_keras(_tensor(kernel))
        filters, cin_g, kh, kw = weight.shape
        groups = node.attrs.get("groups", 1) if groups is None else groups
        padding, pad = _padding(node, _UNLIMITED)
        super().__init__(cin_g * groups, filters, (kh, kw), stride=_pair(node.attrs, "stride"), padding=padding,
                         dilation=_pair(node.attrs, "dilation"), groups=groups, bias=bias is not None, device="meta")
        self.weight = _parameter(weight)
        if bias is not None:
            self.bias = _parameter(_tensor(bias))
        self.pad = pad
        self.activation = _activation(node.activation)

    @staticmethod
    def from_keras(kernel):
        return kernel.permute(3, 2, 0, 1)

    @staticmethod
    def to_keras(weight):
        return weight.permute(2, 3, 1, 0)

    def forward(self, x, activate: bool = True):
        if self.pad is not None:
            x = self.pad(x)
        y = super().forward(x)
        return self.activation(y) if activate and self.activation is not None else y

    def keras(self) -> dict:
        out = {"kernel": self.to_keras(self.weight.detach())}
        if self.bias is not None:
            out["bias"] = self.bias.detach()
        return out


class DepthwiseConv2d(Conv2d):
    """A cnnc `dwconv`: nn.Conv2d with groups=C, weight (C*M, 1, KH, KW) <-> Keras (KH, KW, C, M)
    (output channel c*M + m is input channel c through kernel[:, :, c, m], in both)."""

    def __init__(self, node, kernel, bias=None):
        super().__init__(node, kernel, bias, groups=np.shape(kernel)[2])

    @staticmethod
    def from_keras(kernel):
        kh, kw, c, m = kernel.shape
        return kernel.permute(2, 3, 0, 1).reshape(c * m, 1, kh, kw)

    def to_keras(self, weight):
        c = self.groups
        return weight.reshape(c, -1, *weight.shape[2:]).permute(2, 3, 0, 1)


class SeparableConv2d(nn.Module):
    """A cnnc `sepconv`: `depthwise` (a DepthwiseConv2d without bias: the stride, padding and
    dilation) then `pointwise` (a 1x1 nn.Conv2d with the bias), then `activation`."""

    def __init__(self, node, depthwise, pointwise, bias=None):
        super().__init__()
        self.depthwise = DepthwiseConv2d(_Linear(node), depthwise)
        self.pointwise = nn.Conv2d(*np.shape(pointwise)[2:], 1, bias=bias is not None, device="meta")
        self.pointwise.weight = _parameter(Conv2d.from_keras(_tensor(pointwise)))
        if bias is not None:
            self.pointwise.bias = _parameter(_tensor(bias))
        self.activation = _activation(node.activation)

    def forward(self, x, activate: bool = True):
        y = self.pointwise(self.depthwise(x))
        return self.activation(y) if activate and self.activation is not None else y

    def keras(self) -> dict:
        out = {"depthwise": self.depthwise.keras()["kernel"],
               "pointwise": Conv2d.to_keras(self.pointwise.weight.detach())}
        if self.pointwise.bias is not None:
            out["bias"] = self.pointwise.bias.detach()
        return out


class _Linear:
    """A view of a node without its activation (the depthwise half of a sepconv)."""

    def __init__(self, node):
        self.attrs, self.spec, self.input, self.activation = node.attrs, node.spec, node.input, "linear"


class ConvTranspose2d(nn.ConvTranspose2d):
    """A cnnc `deconv`: nn.ConvTranspose2d, weight (Cin, F, KH, KW) <-> Keras kernel (KH, KW, F, Cin).
    Keras's `same` keeps n*s of the full (n-1)*s + k values per axis, dropping max((k-s)//2, 0)
    at the top/left: the full result is cropped by `crop` (top, bottom, left, right); where the
    kernel is smaller than its stride, output_padding adds the missing rows at the bottom/right,
    which hold the bias alone, as in Keras."""

    def __init__(self, node, kernel, bias=None):
        weight = _tensor(kernel).permute(3, 2, 0, 1)
        cin, filters, kh, kw = weight.shape
        top, bottom, left, right = node.spec.crops(node.input.out, node.attrs)
        extra = (max(-bottom, 0), max(-right, 0))
        super().__init__(cin, filters, (kh, kw), stride=_pair(node.attrs, "stride"), output_padding=extra,
                         bias=bias is not None, device="meta")
        self.weight = _parameter(weight)
        if bias is not None:
            self.bias = _parameter(_tensor(bias))
        self.crop = (max(top, 0), max(bottom, 0), max(left, 0), max(right, 0))
        self.activation = _activation(node.activation)

    def forward(self, x, activate: bool = True):
        y = super().forward(x)
        t, b, left, r = self.crop
        if any(self.crop):
            y = y[:, :, t:y.shape[2] - b, left:y.shape[3] - r]
        return self.activation(y) if activate and self.activation is not None else y

    def extra_repr(self) -> str:
        return super().extra_repr() + (f", crop={self.crop}" if any(self.crop) else "")

    def keras(self) -> dict:
        out = {"kernel": self.weight.detach().permute(2, 3, 1, 0)}
        if self.bias is not None:
            out["bias"] = self.bias.detach()
        return out


class Linear(nn.Linear):
    """A cnnc `dense`: nn.Linear, weight (out, in) <-> Keras kernel (in, out); `in` in H, W, C order."""

    def __init__(self, node, kernel, bias=None):
        n_in, n_out = np.shape(kernel)
        super().__init__(n_in, n_out, bias=bias is not None, device="meta")
        self.weight = _parameter(_tensor(kernel).t())
        if bias is not None:
            self.bias = _parameter(_tensor(bias))
        self.activation = _activation(node.activation)

    def forward(self, x, activate: bool = True):
        y = super().forward(x)
        return self.activation(y) if activate and self.activation is not None else y

    def keras(self) -> dict:
        out = {"kernel": self.weight.detach().t()}
        if self.bias is not None:
            out["bias"] = self.bias.detach()
        return out


class MaxPool2d(nn.MaxPool2d):
    """A cnnc `pool`: nn.MaxPool2d; padding torch's module cannot take is a -inf `pad` child."""

    def __init__(self, node):
        k = tuple(node.attrs["kernel"])
        padding, pad = _padding(node, (k[0] // 2, k[1] // 2), fill=float("-inf"))
        super().__init__(k, tuple(node.attrs["stride"]), padding)
        self.pad = pad

    def forward(self, x):
        return super().forward(x if self.pad is None else self.pad(x))


class AvgPool2d(nn.AvgPool2d):
    """A cnnc `avgpool`: nn.AvgPool2d. `same` averages real pixels only (count_include_pad=False);
    integer padding counts its zeros, as in PyTorch. Where torch's module cannot take the padding
    (an asymmetric `same`), a zero `pad` child runs first and `scale` (a constant of the shapes,
    window area / real pixels) corrects the divisor."""

    def __init__(self, node):
        k, s = tuple(node.attrs["kernel"]), tuple(node.attrs["stride"])
        real_only = node.attrs["padding"] == "same"
        padding, pad = _padding(node, (k[0] // 2, k[1] // 2))
        super().__init__(k, s, padding, count_include_pad=not real_only)
        self.pad = pad
        scale = None
        if pad is not None and real_only:
            inp = node.input.out
            ones = pad(torch.ones(1, 1, inp.h, inp.w))
            scale = 1.0 / F.avg_pool2d(ones, k, s)   # area / real pixels of each window
        self.register_buffer("scale", scale, persistent=False)

    def forward(self, x):
        y = super().forward(x if self.pad is None else self.pad(x))
        return y if self.scale is None else y * self.scale


class GlobalPool2d(nn.Module):
    """A cnnc `globalpool`: (N, C, H, W) -> (N, C), the mean (or max) over every pixel."""

    def __init__(self, node):
        super().__init__()
        self.reduce = node.spec.reduce

    def forward(self, x):
        return x.amax(dim=(2, 3)) if self.reduce == "max" else x.mean(dim=(2, 3))

    def extra_repr(self) -> str:
        return f"reduce={self.reduce}"


class FlattenHWC(nn.Module):
    """A cnnc `flatten`: (N, C, H, W) -> (N, H*W*C) in H, W, C order (Keras's), not nn.Flatten's C, H, W."""

    def forward(self, x):
        return x.permute(0, 2, 3, 1).flatten(1) if x.dim() == 4 else x


class Add(nn.Module):
    """residual and add: the sum of the inputs, each times its coefficient (a scaled residual:
    shortcut(x) + scale * block(x)), left to right as Keras's Add sums."""

    def __init__(self, node):
        super().__init__()
        self.coefficients = tuple(float(c) for c in node.spec.coefficients(node))

    def forward(self, *xs):
        out = None
        for x, c in zip(xs, self.coefficients):
            term = x if c == 1.0 else x * c
            out = term if out is None else out + term
        return out


class Concat(nn.Module):
    """A concat block's join: the branches stacked on channels (axis 1 inside)."""

    def forward(self, *xs):
        return torch.cat(xs, dim=1)


class Multiply(nn.Module):
    """A scale block's join (squeeze-and-excitation) and multiply: the image times its gate,
    channel by channel -- or two values of one shape, elementwise."""

    def forward(self, x, gate):
        if x.dim() == 4 and gate.dim() == 2:
            return x * gate[:, :, None, None]
        return x * gate


class Rescale(nn.Module):
    """A cnnc `rescale`: x * scale + offset."""

    def __init__(self, node):
        super().__init__()
        self.scale, self.offset = float(node.attrs["scale"]), float(node.attrs["offset"])

    def forward(self, x):
        return x * self.scale + self.offset

    def extra_repr(self) -> str:
        return f"scale={self.scale}, offset={self.offset}"


class LayerNorm(nn.LayerNorm):
    """A cnnc `layernorm`: nn.LayerNorm over the channels (weight = gamma, bias = beta); an image
    (NCHW inside) is normalised channels-last, as Keras's LayerNormalization(axis=-1)."""

    def __init__(self, node, gamma, beta):
        super().__init__(np.shape(gamma)[0], eps=node.attrs["eps"])
        with torch.no_grad():
            self.weight.copy_(_tensor(gamma))
            self.bias.copy_(_tensor(beta))

    def forward(self, x):
        if x.dim() == 4:
            return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return super().forward(x)

    def keras(self) -> dict:
        return {"gamma": self.weight.detach(), "beta": self.bias.detach()}


def _per_channel(t, x):
    """A (C,) tensor shaped to broadcast over x's channels (axis 1 of an NCHW image, or a vector's)."""
    return t[:, None, None] if x.dim() == 4 else t


class LayerScale(nn.Module):
    """A cnnc `layerscale`: channel c times the learned `gamma`[c] (ConvNeXt's LayerScale)."""

    def __init__(self, node, gamma):
        super().__init__()
        self.gamma = nn.Parameter(_tensor(gamma))

    def forward(self, x):
        return x * _per_channel(self.gamma, x)

    def keras(self) -> dict:
        return {"gamma": self.gamma.detach()}


class Normalize(nn.Module):
    """A cnnc `normalize`: (x - mean) / max(sqrt(var), 1e-7) per channel, as Keras's Normalization.
    Buffers, never trained: `mean`, `var` and `count` (Keras's adapted state; in the state_dict) when
    the layer holds them, else the program's constants (not in the state_dict)."""

    def __init__(self, node, p):
        super().__init__()
        consts = node.spec.constants(node.attrs, node.out.dims[-1])
        held = consts is None
        mean, var = (p["mean"], p["var"]) if held else consts
        self.register_buffer("mean", _tensor(mean), persistent=held)
        self.register_buffer("var", _tensor(var), persistent=held)
        if held:
            self.register_buffer("count", _tensor(p["count"]))

    def forward(self, x):
        den = torch.sqrt(self.var).clamp_min(1e-7)
        return (x - _per_channel(self.mean, x)) / _per_channel(den, x)

    def keras(self) -> dict:
        return {"mean": self.mean, "var": self.var, "count": self.count}


class Crop2d(nn.Module):
    """A cnnc `crop`: rows and columns removed at the edges (Keras's Cropping2D)."""

    def __init__(self, node):
        super().__init__()
        self.sides = tuple(node.attrs["sides"])   # top, bottom, left, right

    def forward(self, x):
        t, b, left, r = self.sides
        return x[:, :, t:x.shape[2] - b, left:x.shape[3] - r]

    def extra_repr(self) -> str:
        return "top={}, bottom={}, left={}, right={}".format(*self.sides)


def _upsample(node):
    """nn.Upsample: nearest repeats pixels; bilinear has half-pixel centres (align_corners=False)."""
    mode = node.attrs["mode"]
    return nn.Upsample(scale_factor=tuple(float(k) for k in node.attrs["size"]), mode=mode,
                       **({"align_corners": False} if mode == "bilinear" else {}))


def _zeropad(node):
    t, b, left, r = node.attrs["sides"]
    return nn.ZeroPad2d((left, r, t, b))


def _batchnorm(node, p):
    c = node.out.dims[-1]
    bn = (nn.BatchNorm2d if isinstance(node.out, L.Image) else nn.BatchNorm1d)(c, eps=node.attrs["eps"])
    with torch.no_grad():
        bn.running_mean.copy_(_tensor(p["mean"]))
        bn.running_var.copy_(_tensor(p["var"]))
        for suffix, attr in (("gamma", "weight"), ("beta", "bias")):
            if suffix in p:
                getattr(bn, attr).copy_(_tensor(p[suffix]))
            else:   # Keras's scale=False / center=False: no such array, an identity that never trains
                setattr(bn, attr, None)
    return bn


def _batchnorm_keras(bn) -> dict:
    out = {"gamma": bn.weight, "beta": bn.bias, "mean": bn.running_mean, "var": bn.running_var}
    return {k: v.detach() for k, v in out.items() if v is not None}


class Lowering:
    """How a kind becomes torch: `make(node, params)` builds the layer's module (params by suffix,
    Keras layouts); `keras(module)` reads its weights back by suffix (kinds with weights)."""

    def __init__(self, make, keras=None):
        self.make, self.keras = make, keras


def _keras_method(module) -> dict:
    return module.keras()


LOWERINGS: dict = {
    "conv": Lowering(lambda node, p: Conv2d(node, p["kernel"], p.get("bias")), _keras_method),
    "dense": Lowering(lambda node, p: Linear(node, p["kernel"], p.get("bias")), _keras_method),
    "pool": Lowering(lambda node, p: MaxPool2d(node)),
    "avgpool": Lowering(lambda node, p: AvgPool2d(node)),
    "batchnorm": Lowering(_batchnorm, _batchnorm_keras),
    "dropout": Lowering(lambda node, p: nn.Dropout(node.attrs["rate"])),
    "globalpool": Lowering(lambda node, p: GlobalPool2d(node)),
    "flatten": Lowering(lambda node, p: FlattenHWC()),
    "residual": Lowering(lambda node, p: Add(node)),
    "add": Lowering(lambda node, p: Add(node)),
    "multiply": Lowering(lambda node, p: Multiply()),
    "concat": Lowering(lambda node, p: Concat()),
    "input": Lowering(None),   # the network's input: no module, forward() takes it
    **{name: Lowering(lambda node, p: L.activation_of(node).torch(nn)) for name in L.ACTIVATIONS},
    "dwconv": Lowering(lambda node, p: DepthwiseConv2d(node, p["kernel"], p.get("bias")), _keras_method),
    "sepconv": Lowering(lambda node, p: SeparableConv2d(node, p["depthwise"], p["pointwise"], p.get("bias")),
                        _keras_method),
    "deconv": Lowering(lambda node, p: ConvTranspose2d(node, p["kernel"], p.get("bias")), _keras_method),
    "upsample": Lowering(lambda node, p: _upsample(node)),
    "zeropad": Lowering(lambda node, p: _zeropad(node)),
    "globalmaxpool": Lowering(lambda node, p: GlobalPool2d(node)),
    "rescale": Lowering(lambda node, p: Rescale(node)),
    "scale": Lowering(lambda node, p: Multiply()),
    "layernorm": Lowering(lambda node, p: LayerNorm(node, p["gamma"], p["beta"]), _keras_method),
    "layerscale": Lowering(lambda node, p: LayerScale(node, p["gamma"]), _keras_method),
    "normalize": Lowering(lambda node, p: Normalize(node, p), _keras_method),
    "crop": Lowering(lambda node, p: Crop2d(node)),
}


_PROBE = nn.ModuleDict()  # instance attributes (`training`) count too


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
        self.keys: dict = self.layer_keys(network)   # layer name -> key in self.layers
        self.layers = nn.ModuleDict()
        for node in network.layers:
            weights = {k: params[f"{node.name}.{k}"] for k in node.params}
            self.layers[self.keys[node.name]] = LOWERINGS[node.kind].make(node, weights)
        self._softmax_node = _final_softmax(network)

    @staticmethod
    def layer_keys(network) -> dict:
        """Layer name -> its key in `.layers` (and in the state_dict, `layers.KEY.weight`)."""
        taken: set = set()
        return {n.name: _module_key(n.name, taken) for n in network.layers}

    def module(self, name: str):
        """The submodule of layer `name`."""
        return self.layers[self.keys[name]]

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
        # any real input computes in the module's dtype (float32 unless moved with .double() ...)
        weight = next(self.parameters(), None)
        x = x.to(weight.dtype if weight is not None else torch.float32)
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
            values[node.name] = self._run_layer(node, args, skip_softmax is node)
            if not keep_all:  # free what no later layer reads
                for i in node.inputs:
                    consumers_left[i.name] -= 1
                    if consumers_left[i.name] == 0:
                        del values[i.name]
        return values

    def _run_layer(self, node, args, skip_softmax: bool):
        mod = self.module(node.name)
        if not skip_softmax:
            return mod(*args)
        # the final softmax, left out for logits: an anchor runs without its activation,
        # a softmax layer of its own passes its input through
        return mod(*args, activate=False) if node.spec.takes_activation else args[0]

    def keras_params(self) -> dict:
        """The weights in cnnc's names and Keras layouts (float32 numpy), network order."""
        out = {}
        for node in self.network.layers:
            if not node.params:
                continue
            arrays = LOWERINGS[node.kind].keras(self.module(node.name))
            for k in node.params:
                out[f"{node.name}.{k}"] = arrays[k].cpu().contiguous().numpy().astype("float32", copy=True)
        return out


def _final_softmax(network):
    """The node whose softmax makes the output (looking through trailing dropout/flatten), or None."""
    tail = network.output
    while tail.spec.role is L.Role.VIEW and tail.inputs:
        tail = tail.input
    return tail if tail.activation == "softmax" else None


def _to_nhwc(t):
    return t.permute(0, 2, 3, 1) if t.dim() == 4 else t
