"""One converter per Keras class: a Keras layer as cnnc statements.

CONVERTERS maps a Keras layer class to a `Converter`; OPERATIONS does the same for the
operation nodes a functional model records for Python arithmetic on tensors
(`x + 3.0`, `x * (1 / 6)`: classes of `keras.src.ops`). A converter gets the layer (a
KLayer: `.name`, `.cls`, `.config`, `.vars`, `.consts`), its settings (settings.py) and the
cnnc type of what it reads (Image, Vector, or None when unknown), and returns the `Op`s that
compute the same, their weights taken from the layer's arrays (in Keras's order, which is
cnnc's; a Dense on an image reshapes its kernel to a 1x1 conv's). It raises Unsayable with
what the language would need, or Malformed for a configuration of the wrong type.

The joins (Add, Concatenate, Multiply, InceptionResNetV2's CustomScaleLayer) are not here:
they are edges of the graph, which the graph reader handles; so are models nested in models.
`names` maps a cnnc argument to the Keras configuration key it comes from, for messages.
"""

from __future__ import annotations

from .... import layers as L
from ..statement import Malformed, Op, Unsayable
from .settings import Settings

# Keras's activation names -> cnnc's (the registry's `keras` spellings)
KERAS_ACTIVATIONS = {k: a.name for a in L.ACTIVATIONS.values() for k in a.keras}


class Converter:
    __slots__ = ("convert", "names")

    def __init__(self, convert, names: "dict | None" = None):
        self.convert, self.names = convert, dict(names or {})


def activation_of(value, where: str = "activation") -> str:
    """A Keras `activation` setting (a name, None, or a serialised built-in) as cnnc's name."""
    if value is None:
        return "linear"
    if isinstance(value, dict) and isinstance(value.get("config"), str):
        value = value["config"]   # {"module": "keras.activations", "class_name": "function", "config": "relu"}
    if not isinstance(value, str):
        raise Malformed(f"its '{where}' is not an activation's name")
    if value not in KERAS_ACTIVATIONS:
        raise Unsayable(f"the activation '{value}' (cnnc has {', '.join(L.ACTIVATION_NAMES)})")
    return KERAS_ACTIVATIONS[value]


def arrays(k, suffixes, shapes=None) -> dict:
    """suffix -> (dataset, shape to read it as) for the layer's arrays, in Keras's order."""
    if len(k.vars) != len(suffixes):
        raise Malformed(f"holds {len(k.vars)} arrays where a {k.cls} with this configuration holds "
                        f"{len(suffixes)}")
    shapes = shapes or [None] * len(suffixes)
    return {s: (ds, shape) for s, (_, ds), shape in zip(suffixes, k.vars, shapes)}


def _window(s: Settings, kernel_key: str) -> dict:
    s.channels_last()
    return {"kernel": s.pair(kernel_key), "stride": s.pair("strides", (1, 1)),
            "padding": s.word("padding", ("valid", "same"), "valid")}


def _conv2d(k, s, t):
    a = _window(s, "kernel_size")
    a.update(filters=s.integer("filters"), dilation=s.pair("dilation_rate", (1, 1)),
             groups=s.integer("groups", 1), bias=s.flag("use_bias", True),
             activation=activation_of(s.raw("activation", "linear")))
    names = ["kernel", "bias"] if a["bias"] else ["kernel"]
    if isinstance(t, L.Vector) and a["kernel"] == (1, 1) and a["groups"] == 1:
        # a 1x1 conv of the pooled 1x1 image (squeeze-and-excitation): a dense layer of the vector
        if not a["bias"]:
            raise Unsayable("a dense layer without bias (a 1x1 Conv2D with use_bias=False on a pooled image)")
        shapes = [(t.n, a["filters"]), None]
        return [Op("dense", {"units": a["filters"], "activation": a["activation"]}, arrays(k, names, shapes), k)]
    return [Op("conv", a, arrays(k, names), k)]


def _depthwise(k, s, t):
    a = _window(s, "kernel_size")
    a.update(multiplier=s.integer("depth_multiplier", 1), dilation=s.pair("dilation_rate", (1, 1)),
             bias=s.flag("use_bias", True), activation=activation_of(s.raw("activation", "linear")))
    return [Op("dwconv", a, arrays(k, ["kernel", "bias"] if a["bias"] else ["kernel"]), k)]


def _separable(k, s, t):
    a = _window(s, "kernel_size")
    a.update(filters=s.integer("filters"), multiplier=s.integer("depth_multiplier", 1),
             dilation=s.pair("dilation_rate", (1, 1)), bias=s.flag("use_bias", True),
             activation=activation_of(s.raw("activation", "linear")))
    names = ["depthwise", "pointwise", "bias"] if a["bias"] else ["depthwise", "pointwise"]
    return [Op("sepconv", a, arrays(k, names), k)]


def _transposed(k, s, t):
    a = _window(s, "kernel_size")
    if s.raw("output_padding") is not None:
        raise Unsayable("output_padding (cnnc's deconv has none: add zeropad after it)")
    if s.pair("dilation_rate", (1, 1)) != (1, 1):
        raise Unsayable("a dilated Conv2DTranspose (cnnc's deconv has no dilation)")
    a.update(filters=s.integer("filters"), bias=s.flag("use_bias", True),
             activation=activation_of(s.raw("activation", "linear")))
    return [Op("deconv", a, arrays(k, ["kernel", "bias"] if a["bias"] else ["kernel"]), k)]


def _dense(k, s, t):
    units, bias = s.integer("units"), s.flag("use_bias", True)
    act = activation_of(s.raw("activation", "linear"))
    # a Dense on an image acts on each pixel, a 1x1 image too (ConvNeXt's last stage at a small
    # input: its residual adds the image); a pooled vector (keepdims or not) reads as a Vector here
    if isinstance(t, L.Image):
        n_in = t.c
        return [Op("conv", {"filters": units, "kernel": (1, 1), "bias": bias, "activation": act},
                   arrays(k, ["kernel", "bias"] if bias else ["kernel"], [(1, 1, n_in, units), None]), k)]
    if not bias:
        return [Op("dense", {"units": units, "activation": act, "bias": False}, arrays(k, ["kernel"]), k)]
    return [Op("dense", {"units": units, "activation": act}, arrays(k, ["kernel", "bias"]), k)]


def _batchnorm(k, s, t):
    s.last_axis(rank=_rank(t))
    center, scale = s.flag("center", True), s.flag("scale", True)
    if s.flag("renorm", False):
        raise Unsayable("batch renormalisation (renorm=True)")
    names = (["gamma"] if scale else []) + (["beta"] if center else []) + ["mean", "var"]
    return [Op("batchnorm", {"eps": s.real("epsilon", 0.001, positive=True), "scale": scale, "center": center},
               arrays(k, names), k)]


def _rank(t) -> int:
    return 2 if isinstance(t, L.Vector) else 4


def _activation(k, s, t):
    name = activation_of(s.raw("activation"))
    return [] if name == "linear" else [Op(name, {}, None, k)]


def _relu(k, s, t):
    top = s.raw("max_value")
    top = None if top is None else s.real("max_value")
    slope, threshold = s.real("negative_slope", 0.0), s.real("threshold", 0.0)
    if threshold != 0:
        raise Unsayable(f"ReLU(threshold={threshold:g}) (cnnc's relu cuts at 0)")
    if top is None and slope == 0:
        return [Op("relu", {}, None, k)]
    if top == 6 and slope == 0:
        return [Op("relu6", {}, None, k)]
    if top is None:
        return _leaky(k, slope)
    raise Unsayable(f"ReLU(max_value={top:g}{f', negative_slope={slope:g}' if slope else ''}) "
                    f"(cnnc has relu and relu6)")


def _leaky(k, slope: float) -> list:
    if slope == 0.2:   # the statement's default, which every edition says
        return [Op("leaky_relu", {}, None, k)]
    return [Op("leaky_relu", {"slope": slope}, None, k)]


def _leaky_relu(k, s, t):
    # Keras 3 calls it negative_slope (default 0.3); Keras 2 files said alpha
    key = "negative_slope" if "negative_slope" in s.cfg or "alpha" not in s.cfg else "alpha"
    return _leaky(k, s.real(key, 0.3))


def _elu(k, s, t):
    alpha = s.real("alpha", 1.0)
    return [Op("elu", {} if alpha == 1.0 else {"alpha": alpha}, None, k)]


def _softmax(k, s, t):
    s.last_axis(rank=_rank(t))
    return [Op("softmax", {}, None, k)]


def _zeropad(k, s, t):
    s.channels_last()
    top, bottom, left, right = s.sides("padding")
    if top == bottom == left == right:
        return [Op("zeropad", {"padding": (top, top)}, None, k)]
    return [Op("zeropad", {"top": top, "bottom": bottom, "left": left, "right": right}, None, k)]


def _crop(k, s, t):
    s.channels_last()
    top, bottom, left, right = s.sides("cropping")
    if top == bottom == left == right:
        return [Op("crop", {_positional("crop"): (top, top)}, None, k)]
    return [Op("crop", {"top": top, "bottom": bottom, "left": left, "right": right}, None, k)]


def _positional(kind: str) -> str:
    spec = L.KINDS.get(kind)
    if spec is None or not spec.positional:
        raise Unsayable(f"a `{kind}` statement")
    return spec.positional[0].name


def _pool(kind):
    def convert(k, s, t):
        s.channels_last()
        size = s.pair("pool_size", (2, 2))
        stride = s.raw("strides")
        stride = size if stride is None else s.pair("strides")
        return [Op(kind, {"kernel": size, "stride": stride,
                          "padding": s.word("padding", ("valid", "same"), "valid")}, None, k)]
    return convert


def _global(kind):
    def convert(k, s, t):
        s.channels_last()
        s.flag("keepdims", False)   # a 1x1 image or a vector: one thing to cnnc (statement.infer)
        return [Op(kind, {}, None, k)]
    return convert


def _upsampling(k, s, t):
    s.channels_last()
    return [Op("upsample", {"size": s.pair("size", (2, 2)),
                            "mode": s.word("interpolation", ("nearest", "bilinear"), "nearest")}, None, k)]


def _flatten(k, s, t):
    return [Op("flatten", {}, None, k)] if isinstance(t, L.Image) else []


def _dropout(k, s, t):
    """`dropout R` drops single values. A noise_shape with a 1 in it drops whole samples or
    channels (EfficientNet's stochastic depth: (None, 1, 1, 1)), which the language cannot
    say: like SpatialDropout2D it is left out, an identity at inference as every dropout is."""
    shape = s.raw("noise_shape")
    if isinstance(shape, list) and any(d is not None for d in shape):
        return []
    return [Op("dropout", {"rate": s.real("rate", 0.5)}, None, k)]


def _identity(k, s, t):
    return []


def _reshape(k, s, t):
    """Only between a vector and a 1x1 image, which cnnc does not tell apart."""
    shape = s.raw("target_shape")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) for d in shape):
        raise Malformed("its 'target_shape' is not a list of integers")
    n = t.n if isinstance(t, L.Vector) else (t.h * t.w * t.c if isinstance(t, L.Image) else None)
    if n is not None and shape in ([1, 1, n], [n], [-1]) and (isinstance(t, L.Vector) or (t.h, t.w) == (1, 1)):
        return []
    raise Unsayable(f"Reshape to {tuple(shape)} (cnnc reshapes only a vector of C values to a 1x1xC image "
                    f"and back; an image to a vector is `flatten`)")


def _rescaling(k, s, t):
    scale, offset = s.reals("scale", 1.0), s.reals("offset", 0.0)
    if isinstance(scale, float) and isinstance(offset, float):
        return [Op("rescale", {"scale": scale, "offset": offset}, None, k)]
    c = t.dims[-1] if t is not None else None
    scale = scale if isinstance(scale, list) else [scale] * (c or 1)
    offset = offset if isinstance(offset, list) else [offset] * len(scale)
    if len(scale) != len(offset) or (c is not None and len(scale) != c):
        raise Unsayable(f"a Rescaling with {len(scale)} scales and {len(offset)} offsets on {c} channels")
    if any(x <= 0 or x > 1e7 for x in scale):
        raise Unsayable("a per-channel Rescaling with a scale <= 0 (cnnc says one per channel as `normalize`, "
                        "which divides by a positive deviation)")
    # x * s + o is (x - mean) / sqrt(var) with mean = -o / s, var = 1 / s^2
    return [Op("normalize", {"mean": tuple(-o / x for x, o in zip(scale, offset)),
                             "var": tuple(1 / (x * x) for x in scale)}, None, k)]


def _normalization(k, s, t):
    s.last_axis(rank=_rank(t))
    if s.flag("invert", False):
        raise Unsayable("Normalization(invert=True) (cnnc's normalize does not invert)")
    mean, var = s.raw("mean"), s.raw("variance")
    if mean is None and var is None:   # adapted: its statistics are weights
        return [Op("normalize", {}, arrays(k, ["mean", "var", "count"]), k)]
    mean, var = s.reals("mean"), s.reals("variance")
    c = t.dims[-1] if t is not None else None
    means = mean if isinstance(mean, list) else [mean]
    variances = var if isinstance(var, list) else [var]
    if any(v < 0 for v in variances):
        raise Malformed("its 'variance' is negative")
    for values in (means, variances):
        if len(values) not in (1, c or len(values)):
            raise Malformed(f"has {len(values)} values for {c} channels")
    return [Op("normalize", {"mean": tuple(means), "var": tuple(variances)}, None, k)]


def _layernorm(k, s, t):
    s.last_axis(rank=_rank(t))
    if s.flag("rms_scaling", False):
        raise Unsayable("LayerNormalization(rms_scaling=True)")
    center, scale = s.flag("center", True), s.flag("scale", True)
    if not (center and scale):
        raise Unsayable("LayerNormalization without center or scale (cnnc's layernorm has both)")
    return [Op("layernorm", {"eps": s.real("epsilon", 0.001, positive=True)}, arrays(k, ["gamma", "beta"]), k)]


def _layerscale(k, s, t):
    init = s.real("init_values", 1e-6)
    return [Op("layerscale", {} if init == 1e-6 else {_positional("layerscale"): init}, arrays(k, ["gamma"]), k)]


_CONV = {"filters": "filters", "kernel": "kernel_size", "stride": "strides", "padding": "padding",
         "dilation": "dilation_rate", "groups": "groups", "multiplier": "depth_multiplier", "bias": "use_bias",
         "activation": "activation", "units": "units"}
_POOL = {"kernel": "pool_size", "stride": "strides", "padding": "padding"}

CONVERTERS: dict = {
    "Conv2D": Converter(_conv2d, _CONV),
    "DepthwiseConv2D": Converter(_depthwise, _CONV),
    "SeparableConv2D": Converter(_separable, _CONV),
    "Conv2DTranspose": Converter(_transposed, _CONV),
    "Dense": Converter(_dense, {**_CONV, "filters": "units"}),
    "BatchNormalization": Converter(_batchnorm, {"eps": "epsilon", "scale": "scale", "center": "center"}),
    "Activation": Converter(_activation),
    "ReLU": Converter(_relu),
    "LeakyReLU": Converter(_leaky_relu, {"slope": "negative_slope"}),
    "ELU": Converter(_elu, {"alpha": "alpha"}),
    "Softmax": Converter(_softmax),
    "ZeroPadding2D": Converter(_zeropad),
    "Cropping2D": Converter(_crop),
    "MaxPooling2D": Converter(_pool("pool"), _POOL),
    "AveragePooling2D": Converter(_pool("avgpool"), _POOL),
    "GlobalAveragePooling2D": Converter(_global("globalpool")),
    "GlobalMaxPooling2D": Converter(_global("globalmaxpool")),
    "UpSampling2D": Converter(_upsampling, {"size": "size", "mode": "interpolation"}),
    "Flatten": Converter(_flatten),
    "Dropout": Converter(_dropout),
    "SpatialDropout2D": Converter(_identity),
    "GaussianDropout": Converter(_identity),
    "GaussianNoise": Converter(_identity),
    "AlphaDropout": Converter(_identity),
    "ActivityRegularization": Converter(_identity),
    "Identity": Converter(_identity),
    "StochasticDepth": Converter(_identity),
    "Reshape": Converter(_reshape),
    "Rescaling": Converter(_rescaling, {"scale": "scale", "offset": "offset"}),
    "Normalization": Converter(_normalization, {"mean": "mean", "var": "variance"}),
    "LayerNormalization": Converter(_layernorm, {"eps": "epsilon"}),
    "LayerScale": Converter(_layerscale),
}


# --- operation nodes: arithmetic with a constant -----------------------------------------------

def _constant(k) -> float:
    if len(k.consts) != 1:
        raise Unsayable(f"the operation {k.cls} on {len(k.consts)} constants and one tensor")
    c = k.consts[0]
    if isinstance(c, bool) or not isinstance(c, (int, float)) or c != c or c in (float("inf"), float("-inf")):
        raise Unsayable(f"the operation {k.cls} with the constant {c!r} (cnnc's rescale takes a number)")
    return float(c)


def _op_add(k, s, t):
    return [Op("rescale", {"scale": 1.0, "offset": _constant(k)}, None, k)]


def _op_multiply(k, s, t):
    return [Op("rescale", {"scale": _constant(k)}, None, k)]


def _op_subtract(k, s, t):
    c = _constant(k)
    if k.const_first:   # c - x
        return [Op("rescale", {"scale": -1.0, "offset": c}, None, k)]
    return [Op("rescale", {"scale": 1.0, "offset": -c}, None, k)]


def _op_divide(k, s, t):
    c = _constant(k)
    if k.const_first or c == 0:
        raise Unsayable("a division of a constant by a tensor" if k.const_first else "a division by zero")
    return [Op("rescale", {"scale": 1.0 / c}, None, k)]


OPERATIONS: dict = {
    "Add": Converter(_op_add),
    "Multiply": Converter(_op_multiply),
    "Subtract": Converter(_op_subtract),
    "TrueDivide": Converter(_op_divide),
    "Divide": Converter(_op_divide),
}


def converter_of(k) -> "Converter | None":
    return (OPERATIONS if k.op else CONVERTERS).get(k.cls)


def convert(k, t) -> list:
    """The Ops of one Keras layer or operation `k` on an input of type `t`; Unsayable or
    Malformed as its converter finds."""
    c = converter_of(k)
    if c is None:
        if k.op:
            raise Unsayable(f"a statement for the operation {k.cls}")
        why = " (a Lambda runs Python code: write it with keras.layers instead)" if k.cls == "Lambda" else ""
        raise Unsayable(f"a statement for the Keras layer class {k.cls}{why}")
    return c.convert(k, Settings(k), t)


__all__ = ["CONVERTERS", "OPERATIONS", "Converter", "activation_of", "convert", "converter_of"]
