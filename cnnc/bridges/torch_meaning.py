"""`load_torch`'s check that a module's layers mean what the program's do, not only fit
their shapes.

A plain torch network is matched to the program by order within each family of weighted
layers (torch_import.PLAIN), so two same-shaped layers swapped, or a stride, a padding, a
dilation, a group count or an epsilon that differs, would load silently. Here each weighted
torch module is turned into cnnc statements by its converter (MODULES, keyed by the torch
class) and compared, in the canonical steps of importers/meaning.py, with the program layer it
fills; for an `nn.Sequential` (whose order is its forward order) and a program without joins,
the whole run of modules is compared, activations and pooling included. A difference names
both sides. A state_dict alone holds no configuration: only its shapes are checked.
"""

from __future__ import annotations

from .. import layers as L
from .importers import meaning as M
from .importers.statement import Op, Unsayable, infer


def _pair(v) -> tuple:
    return tuple(v) if isinstance(v, (tuple, list)) else (int(v), int(v))


def _torch_pads(m, t) -> tuple:
    """(top, bottom, left, right) zeros a torch conv or pool adds."""
    p = m.padding
    if p == "valid":
        return (0, 0, 0, 0)
    k, d = _pair(m.kernel_size), _pair(getattr(m, "dilation", 1))
    if p == "same":   # stride 1; the odd zero goes to the bottom/right, as TensorFlow's
        th, tw = d[0] * (k[0] - 1), d[1] * (k[1] - 1)
        return (th // 2, th - th // 2, tw // 2, tw - tw // 2)
    ph, pw = _pair(p)
    return (ph, ph, pw, pw)


def _padded(m, t, attrs) -> list:
    """The Ops of a window with explicit zeros: integer padding when even, else zeropad + valid."""
    top, bottom, left, right = _torch_pads(m, t)
    if top == bottom == left == right:
        return [Op(attrs.pop("kind"), {**attrs, "padding": top})]
    kind = attrs.pop("kind")
    return [Op("zeropad", {"top": top, "bottom": bottom, "left": left, "right": right}), Op(kind, attrs)]


def _conv(m, t):
    if m.padding_mode != "zeros":
        raise Unsayable(f"padding_mode='{m.padding_mode}' (cnnc pads with zeros)")
    a = {"kernel": _pair(m.kernel_size), "stride": _pair(m.stride), "dilation": _pair(m.dilation),
         "bias": m.bias is not None}
    cin, cout, g = m.in_channels, m.out_channels, m.groups
    if g > 1 and g == cin and cout % cin == 0:
        return _padded(m, t, {"kind": "dwconv", **a, "multiplier": cout // cin})
    return _padded(m, t, {"kind": "conv", **a, "filters": cout, "groups": g})


def _transposed(m, t):
    k, s, p, op = _pair(m.kernel_size), _pair(m.stride), _pair(m.padding), _pair(m.output_padding)
    if _pair(m.dilation) != (1, 1) or m.groups != 1:
        raise Unsayable("a dilated or grouped ConvTranspose2d")
    n = (t.h, t.w) if isinstance(t, L.Image) else None
    for padding in ("valid", "same"):
        if n is not None and all(
                L.base.transposed(n[i], k[i], s[i], padding)[:2] == ((n[i] - 1) * s[i] + k[i] - 2 * p[i] + op[i], p[i])
                for i in range(2)):
            return [Op("deconv", {"filters": m.out_channels, "kernel": k, "stride": s, "padding": padding,
                                  "bias": m.bias is not None})]
    raise Unsayable(f"ConvTranspose2d(padding={p}, output_padding={op}) (cnnc's deconv is valid or same)")


def _linear(m, t):
    return [Op("dense", {"units": m.out_features} if m.bias is not None else {"units": m.out_features, "bias": False})]


def _batchnorm(m, t):
    return [Op("batchnorm", {"eps": float(m.eps), "scale": bool(m.affine), "center": bool(m.affine)})]


def _layernorm(m, t):
    """nn.LayerNorm over the last axis: a vector's values (an image's channels, channels-last)."""
    shape = tuple(m.normalized_shape)
    if isinstance(t, L.Image):   # torch's images are NCHW: its last axis is the width
        raise Unsayable("LayerNorm on an NCHW image (it normalises each row over its width; cnnc's layernorm "
                        "is over the channels: permute to channels-last around it, as ConvNeXt does)")
    n = t.n if isinstance(t, L.Vector) else None
    if len(shape) != 1 or (n is not None and shape[0] != n):
        raise Unsayable(f"LayerNorm over {shape} (cnnc's layernorm is over the last axis: the channels)")
    if not m.elementwise_affine:
        raise Unsayable("LayerNorm without its learned gamma and beta (elementwise_affine=False)")
    return [Op("layernorm", {"eps": float(m.eps)})]


def _window(m) -> tuple:
    if getattr(m, "ceil_mode", False) or _pair(getattr(m, "dilation", 1)) != (1, 1):
        raise Unsayable(f"{type(m).__name__} with ceil_mode or dilation")
    k = _pair(m.kernel_size)
    return k, (k if m.stride in (None, ()) else _pair(m.stride))


def _maxpool(m, t):
    """Max pooling's padding is never picked: it stays the pool's own (one number on both axes)."""
    k, s = _window(m)
    ph, pw = _pair(m.padding)
    if ph != pw:
        raise Unsayable("MaxPool2d with different paddings on the two axes")
    return [Op("pool", {"kernel": k, "stride": s, "padding": ph})]


def _avgpool(m, t):
    k, s = _window(m)
    if not m.count_include_pad and _pair(m.padding) != (0, 0):
        raise Unsayable("AvgPool2d(count_include_pad=False) with padding")
    return _padded(m, t, {"kind": "avgpool", "kernel": k, "stride": s})


def _global(kind):
    def convert(m, t):
        if _pair(m.output_size) != (1, 1):
            raise Unsayable(f"{type(m).__name__}({m.output_size}) (cnnc pools globally to one pixel)")
        return [Op(kind)]
    return convert


def _act(kind, **attrs):
    return lambda m, t: [Op(kind, attrs)]


def _softmax(m, t):
    if m.dim not in (1, -1, None):
        raise Unsayable(f"Softmax(dim={m.dim}) (cnnc's softmax is over the channels)")
    return [Op("softmax")]


def _leaky(m, t):
    slope = float(m.negative_slope)
    return [Op("leaky_relu")] if slope == 0.2 else [Op("leaky_relu", {"slope": slope})]


def _elu(m, t):
    return [Op("elu")] if float(m.alpha) == 1.0 else [Op("elu", {"alpha": float(m.alpha)})]


def _gelu(m, t):
    if m.approximate != "none":
        raise Unsayable("GELU(approximate='tanh') (cnnc's gelu is exact)")
    return [Op("gelu")]


def _zeropad(m, t):
    left, right, top, bottom = m.padding
    return [Op("zeropad", {"top": top, "bottom": bottom, "left": left, "right": right})]


def _upsample(m, t):
    if m.size is not None or m.mode not in ("nearest", "bilinear") or m.align_corners:
        raise Unsayable("Upsample with a size, align_corners or another mode (cnnc: scale_factor, nearest or "
                        "bilinear with half-pixel centres)")
    return [Op("upsample", {"size": tuple(int(v) for v in _pair(m.scale_factor)), "mode": m.mode})]


def _flatten(m, t):
    return [Op("flatten")] if isinstance(t, L.Image) else []


def _nothing(m, t):
    return []


MODULES: dict = {
    "Conv2d": _conv, "ConvTranspose2d": _transposed, "Linear": _linear,
    "BatchNorm1d": _batchnorm, "BatchNorm2d": _batchnorm, "LayerNorm": _layernorm,
    "MaxPool2d": _maxpool, "AvgPool2d": _avgpool,
    "AdaptiveAvgPool2d": _global("globalpool"), "AdaptiveMaxPool2d": _global("globalmaxpool"),
    "ReLU": _act("relu"), "ReLU6": _act("relu6"), "Sigmoid": _act("sigmoid"), "Tanh": _act("tanh"),
    "Softmax": _softmax, "LeakyReLU": _leaky, "ELU": _elu, "GELU": _gelu, "SiLU": _act("silu"),
    "Hardsigmoid": _act("hard_sigmoid"), "Hardswish": _act("hard_swish"),
    "ZeroPad2d": _zeropad, "Upsample": _upsample, "Flatten": _flatten,
    "Dropout": _nothing, "Dropout2d": _nothing, "Identity": _nothing,
}


def _convert(prefix, m, t) -> list:
    fn = MODULES.get(type(m).__name__)
    if fn is None:
        raise ValueError(f"torch layer '{prefix}' ({type(m).__name__}) cannot be compared with the program: cnnc "
                         f"has no statement for it")
    try:
        return fn(m, t)
    except Unsayable as e:
        raise ValueError(f"torch layer '{prefix}' ({_shown(m)}) cannot be compared with the program: cnnc would "
                         f"need {e.needed}") from None


def _shown(m) -> str:
    return f"{type(m).__name__}({m.extra_repr()})"


def _items(prefix, m, t, whole=True):
    items = []
    for op in _convert(prefix, m, t):
        pre, core, post = M.steps(op.kind, op.attrs, t)
        items += [(s, (prefix, m)) for s in pre + core + (post if whole else [])]
        t = infer(op.kind, op.attrs, t)
    return items, t


def check_modules(net, module, pairing) -> None:
    """ValueError naming both sides where a weighted torch layer, or (for an nn.Sequential and a
    program without joins) any layer, computes something else than the program's.
    `pairing`: [(cnnc node, [torch prefixes])] as the weights were matched."""
    named = dict(module.named_modules())
    if _sequential(module) and not any(n.spec.joins for n in net.nodes):
        leaves = [(name, m) for name, m in module.named_modules() if not list(m.children())]
        theirs, t = [], net.input.out
        for prefix, m in leaves:
            items, t = _items(prefix, m, t)
            theirs += items
        mine = [(s, n) for n in net.nodes if n.inputs for s in _steps(n)]
        _compare(M.canonical(mine), M.canonical(theirs))
        return   # the whole run agrees, each weighted layer's padding and options included
    for node, prefixes in pairing:
        t = node.input.out
        theirs = []
        for prefix in prefixes:
            if prefix not in named:
                return   # a state_dict's names that are not this module's: nothing to compare
            items, t = _items(prefix, named[prefix], t, whole=False)
            theirs += items
        pre, core, _ = M.steps(node.kind, node.attrs, node.input.out)
        _compare(M.canonical([(s, node) for s in pre + core]), M.canonical(theirs))


def _steps(n) -> list:
    pre, core, post = M.steps(n.kind, n.attrs, n.input.out)
    return pre + core + post


def _sequential(module) -> bool:
    import torch.nn as nn

    return isinstance(module, nn.Sequential) and all(
        isinstance(m, nn.Sequential) for m in module.modules() if list(m.children()))


def _compare(mine, theirs) -> None:
    at = M.first_difference(mine, theirs)
    if at is None:
        return
    a = mine[at] if at < len(mine) else None
    b = theirs[at] if at < len(theirs) else None
    a, b = M.extra_step(mine, theirs, at, a, b)   # one side has a step more, then they agree again
    if a is None:
        prefix, m = b[1]
        raise ValueError(f"torch layer '{prefix}' ({_shown(m)}: {M.describe(b[0])}) has no counterpart in the "
                         f"program")
    node = a[1]
    if b is None:
        raise ValueError(f"{node.name}: the program has {M.describe(a[0])} ({L.statement(node)}), the torch module "
                         f"has nothing there")
    prefix, m = b[1]
    raise ValueError(f"{node.name}: the program has {M.describe(a[0])} ({L.statement(node)}), the torch layer "
                     f"'{prefix}' ({_shown(m)}) has {M.describe(b[0])}")
