"""What a run of statements computes, as canonical steps, so that two ways of saying one
thing compare equal and a difference can be named.

`steps(kind, attrs, t)` gives a statement's steps on an input of type `t`, in three parts:
what it does before its own work (`pre`: the zeros a conv's padding adds), its work (`core`)
and after it (`post`: a fused activation). `canonical(items)` then merges a run of
(step, origin) items into one form. The equivalences this makes hold:

  - a fused activation is the activation alone after the layer (`conv 8 3x3 relu` is
    `conv 8 3x3; relu`, a Keras `Conv2D(activation="relu")` is `Conv2D` + `Activation`);
  - a conv's (or average pool's) padding is zeros added before it, so `zeropad 1` + a
    `valid` conv is `padding=1`, and `padding=same` is the padding it works out to;
  - max pooling's padding is never picked, so it stays with the pool; zeros added before a max
    pool to a non-negative image (after relu) are the same as the pool's own padding;
  - a 1x1 conv that sees one pixel at a time is a dense layer on each pixel, a conv with one
    input channel per group is a depthwise conv, and a separable conv is a depthwise conv
    without bias followed by a dense layer on each pixel;
  - identities (dropout, a flatten of one pixel, `rescale 1`, `linear`) are nothing;
  - consecutive paddings add up and consecutive rescales compose;
  - `rescale 1 offset=3; relu6; rescale 1/6` is `hard_sigmoid` (Keras 3's definition).

Values compare with a relative tolerance of 1e-6 (a decimal written in a program and the
float a JSON file holds).
"""

from __future__ import annotations

import math

from ... import layers as L
from ...layers.base import extent
from .statement import complete


def _hw(t) -> tuple:
    return (t.h, t.w) if isinstance(t, L.Image) else (1, 1)


def _zero_pads(attrs, t, k) -> tuple:
    """(top, bottom, left, right) of the zeros a window of extent k adds."""
    p = attrs["padding"]
    if p == "valid":
        return (0, 0, 0, 0)
    if p == "same":
        (h, w), (sh, sw) = _hw(t), attrs["stride"]
        _, top, bottom = L.window(h, k[0], sh, "same")
        _, left, right = L.window(w, k[1], sw, "same")
        return (top, bottom, left, right)
    return (p, p, p, p)


def _rest(attrs, *drop) -> tuple:
    return tuple(sorted((k, v) for k, v in attrs.items() if k not in ("activation", *drop)))


def activation_step(name: str, attrs: "dict | None" = None) -> list:
    """An activation, fused (`attrs` None: the kind's defaults) or alone; `linear` is nothing."""
    if name == "linear":
        return []
    own = complete(name, {}) if attrs is None else attrs
    return [("act", L.ACTIVATIONS[name].name, _rest(own))]   # `swish` is `silu`


def _post(attrs) -> list:
    return activation_step(attrs.get("activation", "linear"))


def _windowed(kind, attrs, t):
    """conv, dwconv, sepconv: the zeros first, then the kernel without padding."""
    pads = _zero_pads(attrs, t, extent(attrs))
    return ([("pad", pads)] if any(pads) else []), [(kind, _rest(attrs, "padding"))], _post(attrs)


def _conv(kind, attrs, t):
    """A 1x1 conv that meets each pixel once is a dense layer on every pixel; a conv with one
    input channel per group is a depthwise conv."""
    pre, core, post = _windowed(kind, attrs, t)
    one_pixel = attrs["stride"] == (1, 1) or _hw(t) == (1, 1)
    if attrs["kernel"] == (1, 1) and attrs["groups"] == 1 and one_pixel and not pre:
        return [], [("dense", attrs["filters"], attrs["bias"])], post
    c = t.dims[-1] if t is not None else 0
    if attrs["groups"] > 1 and attrs["groups"] == c and attrs["filters"] % c == 0:
        return pre, [_depthwise_step(attrs, attrs["filters"] // c, attrs["bias"])], post
    return pre, core, post


def _depthwise_step(attrs, multiplier, bias) -> tuple:
    return ("dwconv", _rest({"bias": bias, "dilation": attrs["dilation"], "kernel": attrs["kernel"],
                             "multiplier": multiplier, "stride": attrs["stride"]}))


def _dwconv(kind, attrs, t):
    pre, _, post = _windowed(kind, attrs, t)
    return pre, [_depthwise_step(attrs, attrs["multiplier"], attrs["bias"])], post


def _sepconv(kind, attrs, t):
    """A depthwise conv without bias, then a dense layer on every pixel (PyTorch's two Conv2d)."""
    pre, _, post = _windowed(kind, attrs, t)
    return pre, [_depthwise_step(attrs, attrs["multiplier"], False), ("dense", attrs["filters"], attrs["bias"])], post


def _dense(kind, attrs, t):
    return [], [("dense", attrs["units"], attrs.get("bias", True))], _post(attrs)


def _maxpool(kind, attrs, t):
    pads = _zero_pads(attrs, t, attrs["kernel"])   # never picked, but they place the windows
    return [], [("pool", attrs["kernel"], attrs["stride"], pads)], []


def _avgpool(kind, attrs, t):
    if attrs["padding"] == "same":   # counts real pixels only: not zeros added before it
        pads = _zero_pads(attrs, t, attrs["kernel"])
        return [], [("avgpool", attrs["kernel"], attrs["stride"], ("same", pads) if any(pads) else "valid")], []
    pads = _zero_pads(attrs, t, attrs["kernel"])
    return ([("pad", pads)] if any(pads) else []), [("avgpool", attrs["kernel"], attrs["stride"], "valid")], []


def _zeropad(kind, attrs, t):
    return [], [("pad", tuple(attrs["sides"]))], []


def _crop(kind, attrs, t):
    """`crop 1x0` and `crop top=1 bottom=1` remove the same rows: compared by the sides."""
    return [], [("crop", tuple(attrs["sides"]))], []


def _rescale(kind, attrs, t):
    return [], [("rescale", float(attrs["scale"]), float(attrs["offset"]))], []


def _nothing(kind, attrs, t):
    return [], [], []


def _flatten(kind, attrs, t):
    return [], ([("flatten",)] if isinstance(t, L.Image) and (t.h, t.w) != (1, 1) else []), []


def _activation(kind, attrs, t):
    return [], activation_step(kind, attrs), []


def _generic(kind, attrs, t):
    return [], [(kind, _rest(attrs))], _post(attrs)


STEPS: dict = {
    "conv": _conv, "dwconv": _dwconv, "sepconv": _sepconv,
    "dense": _dense, "pool": _maxpool, "avgpool": _avgpool, "zeropad": _zeropad, "crop": _crop,
    "rescale": _rescale,
    "dropout": _nothing, "flatten": _flatten,
    **{name: _activation for name in L.ACTIVATION_NAMES},
}


def steps(kind: str, attrs: dict, t) -> tuple:
    """(pre, core, post) steps of one statement on an input of type `t`."""
    return STEPS.get(kind, _generic)(kind, attrs, t)


# --- a run of steps in one form ------------------------------------------------------------

_SIXTH = 1 / 6


def canonical(items: list) -> list:
    """[(step, origin)] merged: paddings added up, the hard-sigmoid spelling folded, rescales
    composed, identities dropped. A merged item keeps its first origin."""
    out: list = []
    for step, origin in items:
        if step[0] == "pad" and out and out[-1][0][0] == "pad":
            a = out[-1][0][1]
            out[-1] = (("pad", tuple(x + y for x, y in zip(a, step[1]))), out[-1][1])
        else:
            out.append((step, origin))
    out = [(s, o) for s, o in out if not (s[0] == "pad" and not any(s[1]))]
    out = _pads_into_max_pools(out)
    folded: list = []
    i = 0
    while i < len(out):
        window = [s for s, _ in out[i:i + 3]]
        if len(window) == 3 and window[0][0] == "rescale" and same(window[0][1:], (1.0, 3.0)) \
                and window[1][:2] == ("act", "relu6") and window[2][0] == "rescale" \
                and same(window[2][1:], (_SIXTH, 0.0)):
            folded.append((("act", "hard_sigmoid", ()), out[i][1]))
            i += 3
            continue
        folded.append(out[i])
        i += 1
    merged: list = []
    for step, origin in folded:
        if step[0] == "rescale" and merged and merged[-1][0][0] == "rescale":
            (_, a, b), first = merged[-1]
            merged[-1] = (("rescale", a * step[1], b * step[1] + step[2]), first)
        else:
            merged.append((step, origin))
    return [(s, o) for s, o in merged if not (s[0] == "rescale" and same(s[1:], (1.0, 0.0)))]


# activations whose every value is >= 0: a zero added after them is never above a real value
_NON_NEGATIVE = ("relu", "relu6", "sigmoid", "hard_sigmoid", "softmax")


def _pads_into_max_pools(items: list) -> list:
    """Zeros added to a non-negative image, then max pooling: the pool's own padding, which is
    never picked (a window's max is a real value >= 0 either way). ResNet's and DenseNet's
    ZeroPadding2D + MaxPooling2D after a relu are `pool 3 stride=2 padding=1`."""
    out: list = []
    for step, origin in items:
        if step[0] == "pool" and len(out) >= 2 and out[-1][0][0] == "pad" and out[-2][0][0] == "act" \
                and out[-2][0][1] in _NON_NEGATIVE:
            (_, pads), _ = out.pop()
            step = ("pool", step[1], step[2], tuple(a + b for a, b in zip(pads, step[3])))
        out.append((step, origin))
    return out


def same(a, b) -> bool:
    """Equal, floats within a relative 1e-6 (and 1e-12 absolute), through tuples and lists."""
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-12)
    return a == b


def first_difference(mine: list, theirs: list) -> "int | None":
    """The first position where two canonical runs differ (one may be shorter), or None."""
    for i in range(max(len(mine), len(theirs))):
        if i >= len(mine) or i >= len(theirs) or not same(mine[i][0], theirs[i][0]):
            return i
    return None


def extra_step(mine: list, theirs: list, at: int, a, b) -> tuple:
    """(a, b), the steps at `at` of two runs that first differ there, with the one that is
    merely a step more than the other side kept alone: if the runs agree again once
    theirs[at] is skipped, a is None (theirs has a step more); if once mine[at] is, b is."""
    if a is not None and b is not None:
        if first_difference(mine[at:], theirs[at + 1:]) is None:
            return None, b
        if first_difference(mine[at + 1:], theirs[at:]) is None:
            return a, None
    return a, b


def _words(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return str(value[0]) if value[0] == value[1] else f"{value[0]}x{value[1]}"
    if isinstance(value, float):
        return f"{value:.7g}"
    return str(value)


def describe(step) -> str:
    """A step in the program's words: `relu`, `zero padding 1,1,1,1`, `conv kernel=3 stride=2`."""
    name = step[0]
    if name == "act":
        extra = " ".join(f"{k}={_words(v)}" for k, v in step[2] if k != "activation")
        return f"{step[1]}{' ' + extra if extra else ''}"
    if name == "pad":
        return "zero padding " + ",".join(str(v) for v in step[1]) + " (top, bottom, left, right)"
    if name == "rescale":
        return f"rescale {_words(step[1])} offset={_words(step[2])}"
    if name == "dense":
        return f"a dense layer of {step[1]} units" + ("" if step[2] else " without bias")
    if name in ("pool", "avgpool"):
        return f"{name} {_words(step[1])} stride={_words(step[2])}" + \
            (f" padding={step[3]}" if not isinstance(step[3], str) else "")
    if len(step) == 2 and isinstance(step[1], tuple):
        return " ".join([name] + [f"{k}={_words(v)}" for k, v in step[1]])
    return " ".join(_words(v) for v in step)
