"""The kinds of the language, one class per statement holding every fact about it
(arguments, shape rule, parameter shapes in Keras layouts, MACs, fusion role), by family:

    convolution.py   conv, dwconv, sepconv, deconv
    here             pool, avgpool, globalpool, globalmaxpool; zeropad, crop, upsample;
                     flatten, dense; batchnorm, layernorm, layerscale, normalize, rescale,
                     dropout, the activations alone; input and the joins (residual, concat,
                     scale of blocks; add, concat, multiply of named layers)

ALL lists one instance of each. (The families share this module rather than one module
each: every module more is one more import at each `cnnc shapes` start-up; BENCHMARKS.md.)
"""

from __future__ import annotations

from . import args as A
from .activations import ACTIVATIONS
from .activations import NAMES as ACTIVATION_NAMES
from .base import LayerKind, Window, per_axis
from .convolution import Conv, DepthwiseConv, SeparableConv, TransposedConv
from .roles import Epilogue, Prologue, Role
from .types import Image, ShapeError, Vector


# --- Pooling: `pool`, `avgpool` (windows) and `globalpool`, `globalmaxpool` (every pixel).

class Pool(Window):
    """Max and average pooling; `reduce` says which."""
    role = Role.EPILOGUE
    epilogue = Epilogue.POOL
    reduce = ""   # "max" | "avg"
    positional = (A.Param("kernel", A.pair("the pool size")),)
    options = {"stride": A.Param("stride", A.pair("the stride"), False, None),  # None: the pool size
               "padding": A.Param("padding", A.padding, False, "valid")}

    def defaults(self, attrs) -> None:
        if attrs["stride"] is None:
            attrs["stride"] = attrs["kernel"]


class MaxPool(Pool):
    keyword = "pool"
    reduce = "max"
    usage = "pool SIZE [stride=S] [padding=valid|same|P]"

    def infer(self, inp, attrs):
        # max pooling never picks a padded pixel, so every window needs a real one:
        # integer padding p must stay below the pool size (PyTorch asks p <= k/2)
        p, k = attrs["padding"], attrs["kernel"]
        if not isinstance(p, str) and p >= min(k):
            raise ShapeError(f"pool padding {p} is not smaller than the pool size {k[0]}x{k[1]}: "
                             f"windows at the border would hold only padding; use "
                             + (f"padding={min(k) - 1} or less, or padding=same" if min(k) > 1
                                else "padding=valid or padding=same"))
        return super().infer(inp, attrs)


class AvgPool(Pool):
    keyword = "avgpool"
    reduce = "avg"
    usage = "avgpool SIZE [stride=S] [padding=valid|same|P]"


class GlobalPool(LayerKind):
    """GlobalAveragePooling2D: image HxWxC -> vector C."""
    keyword = "globalpool"
    role = Role.EPILOGUE
    epilogue = Epilogue.REDUCE
    reduce = "avg"
    on = "image"
    makes_vector = True

    def infer(self, inp, attrs):
        super().infer(inp, attrs)
        return Vector(inp.c)

    def arithmetic(self, inp, out, attrs):
        return [f"{out.n} = C: each channel's {inp.h}x{inp.w} values pooled to one"]


class GlobalMaxPool(GlobalPool):
    """GlobalMaxPooling2D: the largest value of each channel, image HxWxC -> vector C."""
    keyword = "globalmaxpool"
    reduce = "max"


# --- Kinds that move pixels without weights: `zeropad` (ZeroPadding2D) and `upsample`
# (UpSampling2D). Both are prologues: what they make is the input of what reads them.

_SIDES = ("top", "bottom", "left", "right")


class _Border(LayerKind):
    """What zeropad and crop share: an amount `P` or `PHxPW` (the positional `amount`), or
    the sides one by one (unset sides 0), resolved into attrs["sides"] = (top, bottom,
    left, right); `sign` says whether they add rows and columns (+1) or remove them (-1)."""
    amount = ""
    sign = 1
    on = "image"

    def check(self, attrs):
        given = [s for s in _SIDES if attrs[s] is not None]
        if attrs[self.amount] is not None and given:
            raise A.ArgError(f"give the {self.amount} once: {self.keyword} P, or {given[0]}= and the other sides, "
                             f"not both", option=given[0])
        if attrs[self.amount] is None and not given:
            raise A.ArgError(f"{self.keyword} needs its {self.amount} (usage: {self.usage})")

    def defaults(self, attrs):
        if attrs[self.amount] is not None:
            ph, pw = attrs[self.amount]
            attrs["sides"] = (ph, ph, pw, pw)
        else:
            attrs["sides"] = tuple(attrs[s] or 0 for s in _SIDES)

    def spatial(self, n, axis, attrs):
        t, b, l, r = attrs["sides"]
        return n + self.sign * (t + b if axis == 0 else l + r)

    def same_on_both_axes(self, attrs):
        t, b, l, r = attrs["sides"]
        return (t, b) == (l, r)

    def reads(self, axis, n_in, n_out, attrs):
        # output u is input u - (rows added on top) or u + (rows removed): none in the padding
        shift = self.sign * attrs["sides"][2 * axis]
        return [[u - shift] if 0 <= u - shift < n_in else [] for u in range(n_out)]

    def gather_only(self, attrs):
        return True


class ZeroPad(_Border):
    """ZeroPadding2D: `zeropad P` (P rows and columns on every side), `zeropad PHxPW` (PH rows
    above and below, PW columns left and right), or `zeropad top=T bottom=B left=L right=R`
    (unset sides 0). attrs["sides"] is the resolved (top, bottom, left, right)."""
    keyword = "zeropad"
    role = Role.PROLOGUE
    prologue = Prologue.PAD
    amount = "padding"
    positional = (A.Param("padding", A.pixels("the padding"), False, None),)
    options = {side: A.Param(side, A.at_least_zero(f"the {side} padding"), False, None) for side in _SIDES}
    usage = "zeropad P | zeropad PHxPW | zeropad top=T bottom=B left=L right=R"

    def padding_added(self, attrs):
        return attrs["sides"]

    def arithmetic(self, inp, out, attrs):
        t, b, l, r = attrs["sides"]
        return per_axis(inp, out, lambda a, n, o: f"{o} = {n} + {(t, l)[a]} + {(b, r)[a]}")


class Crop(_Border):
    """Cropping2D: `crop P` (P rows and columns off every side), `crop PHxPW` (PH rows off the
    top and the bottom, PW columns off the left and the right), or `crop top=T bottom=B
    left=L right=R` (unset sides 0), as zeropad adds them. attrs["sides"] is the resolved
    (top, bottom, left, right)."""
    keyword = "crop"
    role = Role.PROLOGUE
    prologue = Prologue.CROP
    amount = "cropping"
    sign = -1
    positional = (A.Param("cropping", A.pixels("the cropping"), False, None),)
    options = {side: A.Param(side, A.at_least_zero(f"the {side} cropping"), False, None) for side in _SIDES}
    usage = "crop P | crop PHxPW | crop top=T bottom=B left=L right=R"

    def collapse_message(self, inp, h, w, attrs):
        t, b, l, r = attrs["sides"]
        return (f"the image collapses: crop removes {t + b} rows and {l + r} columns from {inp}, which leaves "
                f"{max(h, 0)}x{max(w, 0)}x{inp.c}; crop less, or use a larger input")

    def cropped(self, attrs) -> tuple:
        return attrs["sides"]


class Upsample(LayerKind):
    """UpSampling2D(size, interpolation): H·KH x W·KW. `nearest` repeats each pixel;
    `bilinear` interpolates with half-pixel centres (PyTorch's align_corners=False):
    output pixel o reads input (o + 0.5)/K - 0.5, clamped to the image."""
    keyword = "upsample"
    role = Role.PROLOGUE
    prologue = Prologue.RESAMPLE
    on = "image"
    positional = (A.Param("size", A.pair("the upsampling size")),)
    options = {"mode": A.Param("mode", A.choice("mode", ("nearest", "bilinear")), False, "nearest")}
    usage = "upsample SIZE [mode=nearest|bilinear]"

    def spatial(self, n, axis, attrs):
        return n * attrs["size"][axis]

    def geometry(self, attrs):
        if attrs["mode"] == "bilinear":   # two neighbours per axis, unless nothing grows
            return tuple(2 if k > 1 else 1 for k in attrs["size"]), (1, 1)
        return (1, 1), (1, 1)

    def growth(self, attrs):
        return attrs["size"]

    def reads(self, axis, n_in, n_out, attrs):
        k = attrs["size"][axis]
        if attrs["mode"] == "nearest":
            return [[u // k] for u in range(n_out)]
        # bilinear: output u samples input (2u + 1 - k) / 2k (clamped at 0), from its two
        # neighbours; one that falls on a pixel reads that pixel alone (the other's weight is 0)
        out = []
        for u in range(n_out):
            num, den = max(2 * u + 1 - k, 0), 2 * k
            lo = min(num // den, n_in - 1)
            out.append([lo] if num % den == 0 or lo == n_in - 1 else [lo, lo + 1])
        return out

    def arithmetic(self, inp, out, attrs):
        return per_axis(inp, out, lambda a, n, o: f"{o} = {n} × {attrs['size'][a]}")

    def gather_only(self, attrs):
        return attrs["mode"] == "nearest"


# --- From images to vectors and on: `flatten`, `dense`.

class Flatten(LayerKind):
    keyword = "flatten"
    role = Role.VIEW
    makes_vector = True

    def infer(self, inp, attrs):
        return Vector(inp.h * inp.w * inp.c) if isinstance(inp, Image) else inp

    def arithmetic(self, inp, out, attrs):
        return [f"{out.n} = {inp.h} × {inp.w} × {inp.c}"] if isinstance(inp, Image) else []


class Dense(LayerKind):
    keyword = "dense"
    role = Role.ANCHOR
    on = "vector"
    positional = (A.Param("units", A.count("the number of units")),)
    takes_activation = True
    folds_affine = True
    usage = "dense UNITS [ACT]"

    def infer(self, inp, attrs):
        super().infer(inp, attrs)
        return Vector(attrs["units"])

    def params(self, inp, out, attrs):
        return {"kernel": (inp.n, out.n), "bias": (out.n,)}

    def macs(self, inp, out, attrs):
        return inp.n * out.n


# --- Kinds that keep the shape and work value by value: `batchnorm`, `rescale`, `dropout`, the activations.

class BatchNorm(LayerKind):
    """BatchNormalization at inference, per channel (the last axis):
    (x - mean) / sqrt(var + eps) * gamma + beta. `scale=false` drops gamma (1),
    `center=false` drops beta (0), as Keras's scale/center do."""
    keyword = "batchnorm"
    role = Role.EPILOGUE
    epilogue = Epilogue.AFFINE
    options = {"eps": A.Param("eps", A.decimal("eps", 0.0, float("inf"), False, False), False, 0.001),
               "scale": A.Param("scale", A.boolean("scale"), False, True),
               "center": A.Param("center", A.boolean("center"), False, True)}
    usage = "batchnorm [eps=E] [scale=false] [center=false]"
    non_trainable = ("mean", "var")
    foldable = True

    def params(self, inp, out, attrs):
        c = (inp.dims[-1],)
        p = {"gamma": c} if attrs["scale"] else {}
        if attrs["center"]:
            p["beta"] = c
        p["mean"] = p["var"] = c
        return p


def _channels_of(inp) -> int:
    return inp.dims[-1]


class LayerNorm(LayerKind):
    """LayerNormalization(axis=-1) at inference and in training alike: each pixel's channels
    (a vector's values) normalised by their own mean and (biased) variance,
    (x - mean) / sqrt(var + eps) * gamma + beta, eps 0.001 as Keras's default."""
    keyword = "layernorm"
    role = Role.EPILOGUE
    epilogue = Epilogue.ROW
    options = {"eps": A.Param("eps", A.decimal("eps", 0.0, float("inf"), False, False), False, 0.001)}
    usage = "layernorm [eps=E]"

    def params(self, inp, out, attrs):
        c = (_channels_of(inp),)
        return {"gamma": c, "beta": c}


class LayerScale(LayerKind):
    """ConvNeXt's LayerScale: channel c times a learned gamma[c], which starts at V (1e-6 by
    default, as ConvNeXt's layer_scale_init_value)."""
    keyword = "layerscale"
    role = Role.EPILOGUE
    epilogue = Epilogue.AFFINE
    positional = (A.Param("init", A.real("the initial scale"), False, 1e-6),)
    usage = "layerscale [INITIAL]"
    foldable = True

    def params(self, inp, out, attrs):
        return {"gamma": (_channels_of(inp),)}

    def initial_value(self, suffix, attrs):
        return attrs["init"]


# Keras's backend.epsilon(): Normalization divides by max(sqrt(var), EPSILON)
NORMALIZE_EPSILON = 1e-7


class Normalize(LayerKind):
    """Normalization(axis=-1): (x - mean) / max(sqrt(var), 1e-7) per channel, nothing trainable.
    With `mean=` and `var=` written (one value for every channel, or one per channel) they are
    constants of the program (Keras's Normalization(mean=, variance=): no weights); without,
    the layer holds `mean`, `var` (C,) and `count` (), Keras's adapted state."""
    keyword = "normalize"
    role = Role.EPILOGUE
    epilogue = Epilogue.AFFINE
    options = {"mean": A.Param("mean", A.reals("the mean"), False, None),
               "var": A.Param("var", A.reals("the variance", 0.0), False, None)}
    usage = "normalize [mean=M[,M...] var=V[,V...]]"
    non_trainable = ("mean", "var", "count")
    initializers = {"count": "zeros"}
    foldable = True

    def check(self, attrs):
        given = [o for o in ("mean", "var") if attrs[o] is not None]
        if len(given) == 1:
            other = "var" if given[0] == "mean" else "mean"
            raise A.ArgError(f"give both mean= and var= (constants), or neither (the layer holds them as "
                             f"weights, as an adapted Keras Normalization); {other}= is missing", option=given[0])

    def infer(self, inp, attrs):
        c = _channels_of(inp)
        for o in ("mean", "var"):
            values = attrs[o]
            if values is not None and len(values) not in (1, c):
                raise ShapeError(f"{o}= has {len(values)} values, but {inp.describe()} has {c} channels: "
                                 f"give one value for all of them or one per channel")
        return inp

    def params(self, inp, out, attrs):
        if attrs["mean"] is not None:
            return {}
        c = (_channels_of(inp),)
        return {"mean": c, "var": c, "count": ()}

    def constants(self, attrs, c: int):
        """(mean, var) as tuples of C floats when written in the program, else None."""
        if attrs["mean"] is None:
            return None
        return tuple(tuple(v) * (c if len(v) == 1 else 1) for v in (attrs["mean"], attrs["var"]))


class Rescale(LayerKind):
    """Rescaling(scale, offset): x * S + O for every value, no parameters."""
    keyword = "rescale"
    role = Role.EPILOGUE
    epilogue = Epilogue.AFFINE
    positional = (A.Param("scale", A.real("the scale")),)
    options = {"offset": A.Param("offset", A.real("the offset"), False, 0.0)}
    usage = "rescale SCALE [offset=O]"


class Dropout(LayerKind):
    keyword = "dropout"
    role = Role.VIEW
    positional = (A.Param("rate", A.decimal("the dropout rate", 0.0, 1.0, True, False)),)
    usage = "dropout RATE"


class ActivationLayer(LayerKind):
    """`relu`, `softmax`, ... alone; attrs["activation"] is the keyword. An activation with a
    parameter takes it as an option here (`leaky_relu slope=0.01`, `elu alpha=0.5`)."""
    role = Role.EPILOGUE
    epilogue = Epilogue.ACTIVATION

    def __init__(self, name: str):
        self.keyword = name
        param = ACTIVATIONS[name].param
        if param is not None:
            option, default = param
            lo = 0.0 if name == "leaky_relu" else float("-inf")   # Keras's LeakyReLU refuses a negative slope
            self.options = {option: A.Param(option, A.decimal(option, lo, float("inf"), True, False), False,
                                            default)}
            self.usage = f"{name} [{option}=A]"

    def defaults(self, attrs) -> None:
        attrs["activation"] = self.keyword


# --- The graph's own nodes: the `input`, and the joins: those that blocks make (`residual`,
# `concat`, `add`, `scale`) and those written with the names of earlier layers (`add a b`,
# `concat a b`, `multiply a b`: `named`). A join's `separator` is how its statement reads its
# inputs (`residual: conv_2 + input`).

class Input(LayerKind):
    keyword = "input"
    role = Role.INPUT
    positional = (A.Param("shape", A.input_shape),)
    usage = "input HxWxC"


def _same_shapes(types, sides):
    """The one shape all `types` share; ShapeError naming the first two that differ."""
    first = types[0]
    for i, t in enumerate(types[1:], 1):
        if t != first:
            raise ShapeError(f"shapes do not agree: {sides[0]} gives {first.describe()} "
                             f"but {sides[i]} gives {t.describe()}")
    return first


class Residual(LayerKind):
    """The join of a residual block: out = shortcut(x) + scale · block(x) (InceptionResNetV2's
    scaled residual; scale 1 by default). Inputs: [block, shortcut]."""
    keyword = "residual"
    role = Role.EPILOGUE
    epilogue = Epilogue.ADD
    joins = True
    separator = " + "
    options = {"scale": A.Param("scale", A.real("the residual's scale"), False, 1.0)}
    usage = "residual [scale=S] { BLOCK } [shortcut { BLOCK }]"

    def join(self, types, sides=("the block", "the shortcut")):
        return _same_shapes(types, sides)

    def coefficients(self, node) -> tuple:
        """What each input is multiplied by before the sum."""
        return (node.attrs["scale"], 1.0) if node.attrs else (1.0, 1.0)


class Add(Residual):
    """The sum of two or more earlier outputs of one shape (`add a b c`), or of the branches
    of an `add { branch … }` block. Keras: Add."""
    keyword = "add"
    named = True
    options = {}
    usage = "add NAME NAME... | add { branch { ... } branch { ... } }"

    def join(self, types, sides=None):
        return _same_shapes(types, sides or [f"input {i}" for i in range(1, len(types) + 1)])

    def coefficients(self, node) -> tuple:
        return (1.0,) * len(node.inputs)


class Concat(LayerKind):
    """Images stacked on channels (vectors end to end): the branches of a concat block, or
    earlier outputs by name (`concat a b`)."""
    keyword = "concat"
    role = Role.JOIN
    joins = True
    named = True
    separator = ", "
    usage = "concat NAME NAME... | concat { branch { ... } branch { ... } }"

    def join(self, types, sides=None):
        what = "branches" if sides is None else "the inputs"
        sides = sides or [f"branch {i}" for i in range(1, len(types) + 1)]
        if all(isinstance(t, Image) for t in types):
            first = types[0]
            for i, t in enumerate(types[1:], 1):
                if (t.h, t.w) != (first.h, first.w):
                    raise ShapeError(f"shapes do not agree: {what} must match in height and width, but "
                                     f"{sides[0]} gives {first} and {sides[i]} gives {t}; give "
                                     f"{'the branches' if what == 'branches' else 'them'} "
                                     f"the same strides and padding=same")
            return Image(first.h, first.w, sum(t.c for t in types))
        if all(isinstance(t, Vector) for t in types):
            return Vector(sum(t.n for t in types))
        desc = ", ".join(f"{side} gives {t.describe()}" for side, t in zip(sides, types))
        raise ShapeError(f"shapes do not agree: cannot join images and vectors: {desc}")


class Scale(LayerKind):
    """The join of a scale block (squeeze-and-excitation): out = x · gate, where the block
    maps the image x (HxWxC) to a gate of C values that multiplies every pixel, channel by
    channel. Inputs: [x, gate]. Keras: Multiply([x, Reshape((1, 1, C))(gate)])."""
    keyword = "scale"
    role = Role.PROLOGUE
    prologue = Prologue.GATE
    joins = True
    separator = " * "

    def join(self, types, sides=None):
        x, gate = types
        if not isinstance(x, Image):
            raise ShapeError(f"scale {{ }} gates an image, but its input is {x.describe()}")
        if not isinstance(gate, Vector) or gate.n != x.c:
            got = gate.describe() + ("; end it with globalpool and dense layers"
                                     if isinstance(gate, Image) else "")
            raise ShapeError(f"the block must end in a vector of {x.c} values (one per channel of the "
                             f"{x} image it gates, e.g. `globalpool; dense 8 relu; dense {x.c} sigmoid`), "
                             f"but it gives {got}")
        return x

    def join_axis(self, sizes, relaxed):
        x, gate = sizes
        if x is None or gate is not None:
            raise ShapeError("the gate must be a vector of the image's channels")
        return x


class Multiply(Scale):
    """`multiply a b`: the elementwise product of two earlier outputs of one shape, or an
    image times a vector of its C channels, broadcast over the pixels (then a gate, as a
    scale block's: inputs [image, vector], whichever order they were written in). Keras:
    Multiply."""
    keyword = "multiply"
    named = True
    arity = (2, 2)
    usage = "multiply NAME NAME"

    def arrange(self, types):
        return [1, 0] if isinstance(types[0], Vector) and isinstance(types[1], Image) else [0, 1]

    def join(self, types, sides=None):
        sides = sides or ("input 1", "input 2")
        x, gate = types
        if x == gate or (isinstance(x, Image) and isinstance(gate, Vector) and gate.n == x.c):
            return x
        raise ShapeError(f"shapes do not agree: {sides[0]} gives {x.describe()} but {sides[1]} gives "
                         f"{gate.describe()}; multiply takes two outputs of one shape, or an image and a "
                         f"vector of its channels")

    def join_axis(self, sizes, relaxed):
        x, gate = sizes
        if gate is None and x is not None:
            return x          # an image times its gate
        return LayerKind.join_axis(self, sizes, relaxed)


ALL = (Conv(), DepthwiseConv(), SeparableConv(), TransposedConv(), MaxPool(), AvgPool(), GlobalPool(),
       GlobalMaxPool(), ZeroPad(), Upsample(), Flatten(), Dense(), BatchNorm(), Rescale(), Dropout(), Input(),
       Residual(), Concat(), Scale(), *(ActivationLayer(a) for a in ACTIVATION_NAMES),
       LayerNorm(), LayerScale(), Normalize(), Crop(), Add(), Multiply())
