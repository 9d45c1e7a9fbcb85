"""`load_torch(model, m)`: PyTorch weights back into cnnc's params (Keras layouts).

`m` is one of
  - the module from `to_torch(model)` (trained or not): its weights are read back exactly;
  - any other `nn.Module`, or a `state_dict`, of the equivalent plain network, e.g.
        nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), ...,
                      nn.Flatten(), nn.Linear(1600, 64), nn.ReLU(), nn.Linear(64, 10))

Plain state dicts are matched by order within each family of torch layers (PLAIN):
the 4-d weights (Conv2d, ConvTranspose2d) go, in network order, to conv, dwconv,
sepconv (two: its depthwise and its 1x1 part) and deconv; the Linear ones to dense;
the BatchNorm ones to batchnorm. Layouts are converted:
  Conv2d weight (F, Cin/G, KH, KW)         -> conv kernel (KH, KW, Cin/G, F)
  Conv2d(groups=C) weight (C*M, 1, KH, KW) -> dwconv kernel (KH, KW, C, M)
  ConvTranspose2d weight (Cin, F, KH, KW)  -> deconv kernel (KH, KW, F, Cin)
  Linear weight (out, in)                  -> kernel (in, out)
  BatchNorm weight/bias/running_mean/running_var -> gamma/beta/mean/var
A torch array that the cnnc layer does not hold (a bias under `bias=false`, a
BatchNorm weight under `scale=false`) must be the identity (zeros, ones).
and the classic trap is handled: PyTorch's Flatten on NCHW gives C, H, W order,
cnnc's flatten H, W, C (Keras), so the rows of the first dense after a flatten
of an HxWxC image are permuted. Any mismatch (count or shape) is a ValueError
that names the layer and both shapes.
"""

from __future__ import annotations

import numpy as np

from .. import layers as L

def load_torch(model, module_or_state_dict) -> None:
    """Set `model`'s params from a torch module or state_dict (see the module doc)."""
    from .torch_module import CnncModule

    m = module_or_state_dict
    if isinstance(m, CnncModule):
        _check_same_network(model.network, m.network)
        _check_real(m.state_dict())
        params = m.keras_params()
    else:
        module = None
        if hasattr(m, "state_dict") and callable(m.state_dict):
            module, m = m, m.state_dict()
        if not hasattr(m, "items"):
            raise TypeError(f"load_torch takes an nn.Module or a state_dict, got {type(m).__name__}")
        _check_real(m)
        if _is_cnnc_state_dict(model.network, m):
            params = params_from_cnnc_state_dict(model.network, m, model.params)
        else:
            pairing: list = []
            params = params_from_state_dict(model.network, m, pairing)
            if module is not None:   # its layers' configuration must be the program's (torch_meaning.py)
                from .torch_meaning import check_modules

                check_modules(model.network, module, pairing)
    _check_variances(model.network, params)
    model.set_params(params)


def _check_real(state_dict) -> None:
    """Weights are real numbers: a complex tensor would lose its imaginary part on the way
    to float32 without a word, so it is refused, named."""
    for key, value in state_dict.items():
        complex_ = value.is_complex() if hasattr(value, "is_complex") else np.iscomplexobj(value)
        if complex_:
            raise ValueError(f"'{key}' holds complex numbers ({getattr(value, 'dtype', '')}): "
                             f"weights must be real")


def _check_variances(net, params) -> None:
    """A batchnorm's running variance is never negative (its square root would be NaN)."""
    for node in net.layers:
        var = params.get(f"{node.name}.var")
        if var is not None and (np.asarray(var) < 0).any():
            raise ValueError(f"{node.name}.var (the BatchNorm's running_var) has negative values "
                             f"(the smallest is {float(np.min(var)):.6g}): a variance is never negative")


def _is_cnnc_state_dict(net, state_dict) -> bool:
    """A state_dict saved from `to_torch(model)`: keys `layers.NAME.*` for this network's layers.

    Its dense kernels are already in cnnc's flatten order, so they must not be permuted.
    """
    keys = [k for k in state_dict if not k.endswith("num_batches_tracked")]
    return bool(keys) and all(k.startswith("layers.") for k in keys)


def params_from_cnnc_state_dict(net, state_dict, params) -> dict:
    """cnnc params from the state_dict of a `to_torch` module of the same network.

    The state_dict is loaded into a fresh module of this network (built on `params`), after
    every key and shape is checked, so each kind reads its weights back its own way.
    """
    from .torch_module import CnncModule

    module = CnncModule(net, params)
    want = module.state_dict()
    layer_of = {key: name for name, key in module.keys.items()}

    def layer(key):   # layers.KEY.weight, layers.KEY.depthwise.weight -> the layer's name
        return layer_of.get(key.split(".")[1], key)

    given = {k: v for k, v in state_dict.items() if not k.endswith("num_batches_tracked")}
    for key, value in want.items():
        if key.endswith("num_batches_tracked"):
            continue
        if key not in given:
            prefix = key.rsplit(".", 1)[0]
            has = sorted({k.rsplit(".", 1)[0] for k in given})
            raise ValueError(f"{layer(key)}: the state_dict has no '{key}' (it has entries for "
                             f"{', '.join(has[:6]) or 'nothing'}{', ...' if len(has) > 6 else ''})"
                             if prefix not in has else f"{layer(key)}: the state_dict has no '{key}'")
        got = tuple(np.shape(given[key]))
        if got != tuple(value.shape):
            raise ValueError(f"{layer(key)}: '{key}' has shape {got}, but {layer(key)} needs {tuple(value.shape)}")
    extra = [k for k in given if k not in want]
    if extra:
        raise ValueError(f"the state_dict has '{extra[0]}', which no layer of this network holds")
    import torch

    # every weight was checked above; num_batches_tracked may be left out (it is not a weight)
    module.load_state_dict({k: v if torch.is_tensor(v) else torch.as_tensor(np.asarray(v))
                            for k, v in state_dict.items()}, strict=False)
    return module.keras_params()


def _groups(state_dict) -> dict:
    """prefix -> {suffix: value}: `a.b.weight` goes to groups["a.b"]["weight"], in state_dict order."""
    groups: dict = {}
    for key, value in state_dict.items():
        prefix, _, suffix = key.rpartition(".")
        groups.setdefault(prefix, {})[suffix] = value
    return groups


def _check_same_network(net, other) -> None:
    """Same layers, names, shapes and statements (a stride or an activation too), input included."""
    mine = [(n.name, n.kind, tuple(sorted(n.params.items())), L.statement(n)) for n in net.nodes]
    theirs = [(n.name, n.kind, tuple(sorted(n.params.items())), L.statement(n)) for n in other.nodes]
    if mine != theirs:
        for a, b in zip(mine + [None] * len(theirs), theirs + [None] * len(mine)):
            if a != b:
                raise ValueError(f"the torch module was made from another network: layer {a[0] if a else '(none)'} "
                                 f"is `{a[3] if a else '-'}` {dict(a[2]) if a else ''}, the module's "
                                 f"{b[0] if b else '(none)'} is `{b[3] if b else '-'}` {dict(b[2]) if b else ''}")


def _numpy(t) -> np.ndarray:
    if hasattr(t, "detach"):
        t = t.detach().cpu().numpy()
    return np.asarray(t, dtype=np.float32)


def _ndim(a) -> int:
    return getattr(a, "ndim", len(np.shape(a)))


def torch_layers(state_dict) -> list:
    """[(kind, prefix, {suffix: array})] in state_dict order; kind is Conv2d, Linear, BatchNorm,
    LayerNorm (a 1-d weight), LayerScale (a `gamma` or `layer_scale` alone) or Normalize (`mean`
    and `var` buffers)."""
    out = []
    for prefix, g in _groups(state_dict).items():
        if "running_mean" in g or "running_var" in g:
            out.append(("BatchNorm", prefix, g))
        elif "weight" in g and _ndim(g["weight"]) == 1:
            out.append(("LayerNorm", prefix, g))
        elif set(g) in ({"gamma"}, {"layer_scale"}):
            out.append(("LayerScale", prefix, g))
        elif "mean" in g and "var" in g:
            out.append(("Normalize", prefix, g))
        elif "weight" in g and getattr(g["weight"], "ndim", len(np.shape(g["weight"]))) == 4:
            out.append(("Conv2d", prefix, g))
        elif "weight" in g and getattr(g["weight"], "ndim", len(np.shape(g["weight"]))) == 2:
            out.append(("Linear", prefix, g))
        elif "weight" in g:
            raise ValueError(f"cannot map torch layer '{prefix}': weight of shape "
                             f"{tuple(np.shape(g['weight']))} is neither a Conv2d, a Linear nor a BatchNorm")
    return out


def _feature_wise(node) -> bool:
    """A layer that keeps each feature where it is (dropout, batchnorm, activations, a
    flatten of what is already a vector): on a vector it keeps PyTorch's C, H, W order."""
    spec = node.spec
    if spec.role is L.Role.VIEW:
        return not spec.makes_vector or isinstance(node.input.out, L.Vector)
    return spec.epilogue in (L.Epilogue.AFFINE, L.Epilogue.ACTIVATION)


def _flatten_source(node):
    """The image whose flatten `node` reads, features still in PyTorch's C, H, W order; or None.

    Looks back through any chain of feature-wise layers (dropout, batchnorm, activations,
    more flattens), so a batchnorm between flatten and dense is permuted too.
    """
    x = node.input
    while _feature_wise(x) and isinstance(x.out, L.Vector) and isinstance(x.input.out, L.Vector):
        x = x.input
    if x.spec.role is L.Role.VIEW and x.spec.makes_vector and isinstance(x.input.out, L.Image):
        return x.input.out
    return None


def _chw_to_hwc(a, img, axis: int = -1):
    """Reorder an axis of length C*H*W from PyTorch's C, H, W order to cnnc's H, W, C."""
    a = np.moveaxis(a, axis, -1)
    lead = a.shape[:-1]
    a = a.reshape(*lead, img.c, img.h, img.w)
    a = np.moveaxis(a, -3, -1).reshape(*lead, img.h * img.w * img.c)
    return np.ascontiguousarray(np.moveaxis(a, -1, axis))


def params_from_state_dict(net, state_dict, pairing: "list | None" = None) -> dict:
    """cnnc params (Keras layouts, network order) from a plain network's state_dict; `pairing`,
    when given, gets (cnnc node, [torch prefixes]) for each layer as matched."""
    theirs: dict = {family: [] for family in ("Conv2d", "Linear", "BatchNorm", "LayerNorm", "LayerScale",
                                              "Normalize")}
    for family, prefix, g in torch_layers(state_dict):
        theirs[family].append((prefix, g))
    params: dict = {}
    for family, entries in theirs.items():
        nodes = [n for n in net.layers if n.params and n.kind in PLAIN and PLAIN[n.kind].family == family]
        needed = sum(PLAIN[n.kind].count for n in nodes)
        if needed != len(entries):
            kinds = "/".join(dict.fromkeys(n.kind for n in nodes)) or _FAMILY_WORD[family]
            names = ", ".join(n.name for n in nodes) or "none"
            two = f", {needed} {family} layers in all: a sepconv reads two" if needed != len(nodes) else ""
            got = ", ".join(p for p, _ in entries) or "none"
            raise ValueError(f"the network has {len(nodes)} {kinds} layer(s) ({names}{two}) but the state_dict has "
                             f"{len(entries)} {family} layer(s) ({got})")
        at = 0
        for node in nodes:
            plain = PLAIN[node.kind]
            params.update(plain.convert(node, entries[at:at + plain.count]))
            if pairing is not None:
                pairing.append((node, [prefix for prefix, _ in entries[at:at + plain.count]]))
            at += plain.count
    return {name: params[name] for name in net.param_shapes()}


_FAMILY_WORD = {"Conv2d": "conv", "Linear": "dense", "BatchNorm": "batchnorm", "LayerNorm": "layernorm",
                "LayerScale": "layerscale", "Normalize": "normalize"}


def _need(node, prefix, g, suffix):
    if suffix not in g:
        raise ValueError(f"{node.name}: torch layer '{prefix}' has no '{suffix}' (it has {', '.join(g)})")
    return _numpy(g[suffix])


def _check(node, prefix, what, got, want) -> None:
    if tuple(got) != tuple(want):
        raise ValueError(f"{node.name}: {what} of torch layer '{prefix}' has shape {tuple(got)}, "
                         f"but {node.name} needs {tuple(want)}")


def _absent(node, prefix, g, theirs, suffix, identity) -> None:
    """A torch array the cnnc layer does not hold (`conv ... bias=false`, `batchnorm scale=false`)
    must be the identity it stands for, or the networks differ."""
    if theirs in g and not np.all(_numpy(g[theirs]) == identity):
        raise ValueError(f"{node.name} has no {suffix} ({node.kind} without it), but torch layer '{prefix}' has "
                         f"a {theirs} that is not all {identity:g}")


def _bias(node, prefix, g, n) -> dict:
    if "bias" not in node.params:
        _absent(node, prefix, g, "bias", "bias", 0.0)
        return {}
    b = _need(node, prefix, g, "bias")
    _check(node, prefix, "bias", b.shape, (n,))
    return {f"{node.name}.bias": b.copy()}


def _kernel(node, prefix, g, torch_shape) -> np.ndarray:
    """A weight of `torch_shape` (A, B, KH, KW) -> Keras's (KH, KW, B, A): Conv2d's (F, Cin/G,
    KH, KW) gives a conv kernel, ConvTranspose2d's (Cin, F, KH, KW) a deconv kernel."""
    w = _need(node, prefix, g, "weight")
    _check(node, prefix, "weight", w.shape, torch_shape)
    return np.ascontiguousarray(w.transpose(2, 3, 1, 0))


def _from_conv2d(node, entries, torch_flatten=True) -> dict:
    """Conv2d weight (F, Cin/G, KH, KW) -> kernel (KH, KW, Cin/G, F)."""
    (prefix, g), = entries
    kh, kw, cin_g, cout = node.params["kernel"]
    return {f"{node.name}.kernel": _kernel(node, prefix, g, (cout, cin_g, kh, kw)), **_bias(node, prefix, g, cout)}


def _depthwise(node, prefix, g, shape) -> np.ndarray:
    """Conv2d(groups=C) weight (C*M, 1, KH, KW) -> Keras's depthwise kernel (KH, KW, C, M)."""
    kh, kw, c, m = shape
    w = _need(node, prefix, g, "weight")
    _check(node, prefix, "weight", w.shape, (c * m, 1, kh, kw))
    return np.ascontiguousarray(w.reshape(c, m, kh, kw).transpose(2, 3, 0, 1))


def _from_depthwise(node, entries, torch_flatten=True) -> dict:
    (prefix, g), = entries
    k = _depthwise(node, prefix, g, node.params["kernel"])
    return {f"{node.name}.kernel": k, **_bias(node, prefix, g, k.shape[2] * k.shape[3])}


def _from_separable(node, entries, torch_flatten=True) -> dict:
    """Two Conv2d: the depthwise one (groups=Cin, no bias), then the 1x1 one (with the bias)."""
    (dprefix, dg), (pprefix, pg) = entries
    _absent(node, dprefix, dg, "bias", "bias on its depthwise part", 0.0)
    _, _, mid, f = node.params["pointwise"]
    return {f"{node.name}.depthwise": _depthwise(node, dprefix, dg, node.params["depthwise"]),
            f"{node.name}.pointwise": _kernel(node, pprefix, pg, (f, mid, 1, 1)), **_bias(node, pprefix, pg, f)}


def _from_transposed(node, entries, torch_flatten=True) -> dict:
    """ConvTranspose2d weight (Cin, F, KH, KW) -> kernel (KH, KW, F, Cin)."""
    (prefix, g), = entries
    kh, kw, f, cin = node.params["kernel"]
    return {f"{node.name}.kernel": _kernel(node, prefix, g, (cin, f, kh, kw)), **_bias(node, prefix, g, f)}


def _from_linear(node, entries, torch_flatten=True) -> dict:
    (prefix, g), = entries
    name = node.name
    n_in, n_out = node.params["kernel"]
    w, b = _need(node, prefix, g, "weight"), _need(node, prefix, g, "bias")
    _check(node, prefix, "weight", w.shape, (n_out, n_in))
    _check(node, prefix, "bias", b.shape, (n_out,))
    img = _flatten_source(node) if torch_flatten else None
    if img is not None:  # torch's columns are in C, H, W order; cnnc's rows in H, W, C
        w = _chw_to_hwc(w, img, axis=1)
    return {f"{name}.kernel": np.ascontiguousarray(w.T), f"{name}.bias": b.copy()}


def _from_batchnorm(node, entries, torch_flatten=True) -> dict:
    (prefix, g), = entries
    name = node.name
    c = node.out.dims[-1]
    img = _flatten_source(node) if torch_flatten and isinstance(node.out, L.Vector) else None
    out = {}
    for suffix, theirs, identity in (("gamma", "weight", 1.0), ("beta", "bias", 0.0), ("mean", "running_mean", None),
                                     ("var", "running_var", None)):
        if suffix not in node.params:
            _absent(node, prefix, g, theirs, suffix, identity)
            continue
        a = _need(node, prefix, g, theirs)
        _check(node, prefix, theirs, a.shape, (c,))
        out[f"{name}.{suffix}"] = _chw_to_hwc(a, img) if img is not None else a.copy()
    return out


def _from_layernorm(node, entries, torch_flatten=True) -> dict:
    """nn.LayerNorm weight/bias -> gamma/beta (C,)."""
    (prefix, g), = entries
    c = node.out.dims[-1]
    out = {}
    for suffix, theirs in (("gamma", "weight"), ("beta", "bias")):
        a = _need(node, prefix, g, theirs)
        _check(node, prefix, theirs, a.shape, (c,))
        out[f"{node.name}.{suffix}"] = a.copy()
    return out


def _from_layerscale(node, entries, torch_flatten=True) -> dict:
    """A per-channel scale (`gamma` (C,), or torchvision's `layer_scale` (C, 1, 1)) -> gamma (C,)."""
    (prefix, g), = entries
    c = node.out.dims[-1]
    theirs = next(iter(g))
    a = _need(node, prefix, g, theirs)
    if a.shape == (c, 1, 1):
        a = a.reshape(c)
    _check(node, prefix, theirs, a.shape, (c,))
    return {f"{node.name}.gamma": a.copy()}


def _from_normalize(node, entries, torch_flatten=True) -> dict:
    """Buffers `mean`, `var` (C,) and `count` (a scalar, 0 when absent) -> mean, var, count."""
    (prefix, g), = entries
    c = node.out.dims[-1]
    out = {}
    for suffix in ("mean", "var"):
        a = _need(node, prefix, g, suffix)
        _check(node, prefix, suffix, a.shape, (c,))
        out[f"{node.name}.{suffix}"] = a.copy()
    out[f"{node.name}.count"] = _numpy(g["count"]).reshape(()) if "count" in g else np.zeros((), np.float32)
    return out


class Plain:
    """How a kind reads a plain torch network: `count` layers of `family` (what torch_layers
    calls them), in network order, through `convert(node, [(prefix, arrays), ...])`."""

    def __init__(self, family, convert, count=1):
        self.family, self.convert, self.count = family, convert, count


# every kind with weights -> how it reads them from a plain torch network's state_dict
PLAIN: dict = {
    "conv": Plain("Conv2d", _from_conv2d),
    "dwconv": Plain("Conv2d", _from_depthwise),
    "sepconv": Plain("Conv2d", _from_separable, count=2),
    "deconv": Plain("Conv2d", _from_transposed),   # a ConvTranspose2d: a 4-d weight too
    "dense": Plain("Linear", _from_linear),
    "batchnorm": Plain("BatchNorm", _from_batchnorm),
    "layernorm": Plain("LayerNorm", _from_layernorm),
    "layerscale": Plain("LayerScale", _from_layerscale),
    "normalize": Plain("Normalize", _from_normalize),
}
