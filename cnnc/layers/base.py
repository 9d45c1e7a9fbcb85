"""What every layer kind declares (`LayerKind`), and the sliding-window arithmetic that
convolution and pooling share."""

from __future__ import annotations

from .roles import Role
from .types import CollapseError, Image, ShapeError, Vector


def window(n: int, k: int, s: int, padding) -> tuple[int, int, int]:
    """Output size and (top/left, bottom/right) padding of a window along one axis.

    `padding` is "valid", "same" (TensorFlow: out = ceil(n/s), the smaller half of
    the padding on top/left) or an int p (p on both sides, as in PyTorch).
    """
    if padding == "valid":
        return (n - k) // s + 1, 0, 0
    if padding == "same":
        out = -(-n // s)
        total = max((out - 1) * s + k - n, 0)
        return out, total // 2, total - total // 2
    p = int(padding)
    return (n + 2 * p - k) // s + 1, p, p


def transposed(n: int, k: int, s: int, padding) -> tuple[int, int, int]:
    """Output size of a transposed convolution along one axis, and what it keeps of the
    full result: (out, top, bottom) where the full transposed convolution has
    (n - 1)*s + k values, `top` of them are dropped at the top/left, and `bottom` at the
    bottom/right -- negative when zeros are added there instead (a kernel smaller than
    its stride). As Keras 3 computes it: `valid` keeps all, n*s + max(k - s, 0) out;
    `same` gives n*s, dropping max((k - s) // 2, 0) at the top.
    """
    full = (n - 1) * s + k
    if padding == "valid":
        out, top = n * s + max(k - s, 0), 0
    else:
        out, top = n * s, max((k - s) // 2, 0)
    return out, top, full - top - out


def dropped(n: int, k: int, s: int, padding) -> int:
    """Real rows (or columns) at the bottom/right that no window reaches.

    Only when windows touch or overlap (k >= s): a 1x1 stride-2 conv skips every
    other row by design, which is not "dropping the edge". Padding rows that no
    window reaches are not real pixels and are not counted.
    """
    if padding == "same" or k < s:
        return 0
    p = 0 if padding == "valid" else int(padding)
    span = n + 2 * p - k
    return max(span % s - p, 0) if span >= 0 else 0


def window_arithmetic(n: int, k: int, s: int, padding, out: int) -> str:
    """`window()`'s output size worked out: `26 = (28 − 3) / 1 + 1`; ⌊ ⌋ where the division
    leaves a remainder (the rows no window reaches), ⌈ ⌉ for `same`."""
    if padding == "same":
        return f"{out} = ⌈{n} / {s}⌉"
    span = f"{n} − {k}" if padding == "valid" else f"{n} + 2 × {int(padding)} − {k}"
    whole = ((n - k) if padding == "valid" else (n + 2 * int(padding) - k)) % s == 0
    return f"{out} = ({span}) / {s} + 1" if whole else f"{out} = ⌊({span}) / {s}⌋ + 1"


def per_axis_text(texts, prefix: str = "") -> str:
    """One text for H and W when they read alike, else `H: … · W: …`."""
    if texts[0] == texts[1]:
        return prefix + texts[0]
    return f"{prefix}H: {texts[0]} · W: {texts[1]}"


def per_axis(inp, out, rule) -> list:
    """[the arithmetic of both axes] from rule(axis, n_in, n_out) -> text, or [] unless both
    sides are images."""
    if not (isinstance(inp, Image) and isinstance(out, Image)):
        return []
    return [per_axis_text([rule(0, inp.h, out.h), rule(1, inp.w, out.w)])]


_DEFAULT_INIT = {"kernel": "glorot_uniform", "bias": "zeros", "gamma": "ones", "beta": "zeros",
                 "mean": "zeros", "var": "ones"}


class LayerKind:
    """One kind of layer. Subclasses declare, as class attributes and methods:

    keyword      the statement word (`conv`)
    role         fusion role (roles.Role); `epilogue` its flavour (roles.Epilogue) when EPILOGUE,
                 `prologue` (roles.Prologue) when PROLOGUE
    positional   Params in written order; `options` key=value Params by name
    takes_activation   a bare ACT word or activation=ACT sets attrs["activation"]
    on           "image", "vector" or "any": what input it needs
    makes_vector image in, vector out (flatten, globalpool)
    joins        a join node (of a block, or of named layers): its shape rule is `join`, not `infer`
    named        a join that is also written as a statement of names (`add a b`, `concat a b`), of
                 `arity` (least, most or None) names, put in the order `arrange` gives
    usage        the statement's synopsis, for error hints
    foldable     an affine epilogue that folds into the weights of an anchor before it (batchnorm)
    folds_affine an anchor that is linear per output channel (its bias, when it has one, too), so
                 that a per-channel affine map after it folds into its weights and a bias (conv,
                 dense, dwconv, sepconv, deconv). Which array carries the output channels, and
                 along which axes, is the kind's layout (`params`); each backend folds in its own
                 prepared layout. An anchor without a bias (`bias=false`) gains one by folding.
    non_trainable  suffixes of `params` that training does not change (batchnorm's mean, var)
    initializers   suffix -> Keras initializer name, for fresh weights (see `initializer`)
    and the rules: `check` (arguments that contradict each other), shape (`spatial` per axis +
    `channels`, or `infer`; a join's `join` and `join_axis`), `params` (shapes in Keras
    layouts), `macs`, `geometry` and `growth` (receptive field), `dropped_edges`, `gather_only`.
    """
    keyword: str = ""
    role: Role = Role.EPILOGUE
    epilogue = None
    prologue = None
    positional: tuple = ()
    options: dict = {}
    takes_activation = False
    on = "any"
    makes_vector = False
    joins = False
    named = False
    arity = (2, None)
    usage: "str | None" = None
    foldable = False
    folds_affine = False
    non_trainable: tuple = ()
    initializers: dict = {}

    def unset(self, attrs: dict) -> None:
        """Give every argument `attrs` leaves out its declared default (an activation: linear)."""
        for p in self.positional:
            attrs.setdefault(p.name, p.default)
        for name, p in self.options.items():
            attrs.setdefault(name, p.default)
        if self.takes_activation:
            attrs.setdefault("activation", "linear")

    def defaults(self, attrs: dict) -> None:
        """Fill in defaults that depend on other arguments (a pool's stride is its size)."""

    def check(self, attrs: dict) -> None:
        """Raise ArgError (args.py) when arguments contradict each other; `option` of the
        error names the option to point at."""

    # Shape rule. Image kinds override `spatial` (one axis) and `channels`.
    def spatial(self, n: int, axis: int, attrs: dict) -> int:
        return n

    def spatial_many(self, ns: list, axis: int, attrs: dict) -> list:
        """`spatial` of each size of `ns` (the input-size proof simulates many sizes at once)."""
        spatial = self.spatial
        return [spatial(n, axis, attrs) for n in ns]

    def channels(self, c: int, attrs: dict) -> int:
        return c

    def infer(self, inp, attrs):
        if self.on == "image" and not isinstance(inp, Image):
            raise ShapeError(f"{self.keyword} needs an image HxWxC but gets {inp.describe()}; "
                             f"it must come before flatten, globalpool and dense")
        if self.on == "vector" and not isinstance(inp, Vector):
            raise ShapeError(f"{self.keyword} needs a vector but gets {inp.describe()}; "
                             f"add flatten or globalpool before it")
        if isinstance(inp, Image):
            h, w = self.spatial(inp.h, 0, attrs), self.spatial(inp.w, 1, attrs)
            if h <= 0 or w <= 0:
                raise CollapseError(self.collapse_message(inp, h, w, attrs))
            return Image(h, w, self.channels(inp.c, attrs))
        return inp

    def collapse_message(self, inp, h, w, attrs) -> str:
        return f"the image collapses: {inp} in gives {max(h, 0)}x{max(w, 0)} out"

    def join(self, types: list, sides=None):
        """The output type of a join node (residual, concat) from its inputs' types."""
        raise NotImplementedError(self.keyword)

    def arrange(self, types: list) -> list:
        """The order a named join takes its inputs in, from their types: as written."""
        return list(range(len(types)))

    def join_axis(self, sizes: list, relaxed: bool):
        """One axis of a join's output from its inputs' sizes along it (None for a vector),
        for the smallest-input search (summary.py); ShapeError when they cannot join.
        Inputs must agree (all vectors, or images of one size); `relaxed` takes the
        smallest instead, which keeps acceptance monotone in the input size."""
        if all(s is None for s in sizes):
            return None
        if any(s is None for s in sizes):
            raise ShapeError("images and vectors do not join")
        if relaxed:
            return min(sizes)
        if any(s != sizes[0] for s in sizes):
            raise ShapeError("sizes differ")
        return sizes[0]

    def params(self, inp, out, attrs) -> dict:
        """Parameter shapes, by suffix (`kernel`, `bias`, ...), in Keras layouts."""
        return {}

    def initializer(self, suffix: str) -> str:
        """Keras's default initializer of a parameter: "glorot_uniform", "zeros" or "ones"."""
        return self.initializers.get(suffix) or _DEFAULT_INIT.get(suffix, "glorot_uniform")

    def initial_value(self, suffix: str, attrs) -> "float | None":
        """A constant every element of the parameter starts at, set by the program (layerscale's
        V), or None for the `initializer`."""
        return None

    def macs(self, inp, out, attrs) -> int:
        return 0

    def geometry(self, attrs):
        """(kernel, stride) per axis for receptive-field arithmetic, in input pixels: an
        output pixel sees `kernel` neighbouring input pixels, and neighbouring outputs are
        `stride` input pixels apart (divided by `growth`)."""
        return (1, 1), (1, 1)

    def reads(self, axis: int, n_in: int, n_out: int, attrs) -> list:
        """For each output index along `axis` (0: rows, 1: columns), the input indices its
        value is computed from: real pixels only (padding reads none). Every kind's output
        pixel reads a rectangle (these rows times these columns), which is what the
        playground's receptive-field box follows. Here: the same index (a pixel-wise kind or
        a join, whose output is as large as its input)."""
        return [[u] for u in range(n_out)]

    def growth(self, attrs) -> tuple:
        """Output pixels per input pixel along each axis, for kinds that grow the image
        (deconv's stride, upsample's size): the cumulative stride divides by it."""
        return 1, 1

    def same_on_both_axes(self, attrs) -> bool:
        """Whether the shape rule treats H and W alike (then a square input's smallest H is
        its smallest W). Here: every (height, width) argument is square; a kind whose rule
        reads its arguments otherwise says so itself."""
        return all(v[0] == v[1] for v in attrs.values() if isinstance(v, tuple) and len(v) == 2)

    def padding_added(self, attrs) -> tuple:
        """(top, bottom, left, right) rows and columns of zeros this layer puts around the
        image (zeropad): a window after it that drops only those drops nothing real."""
        return 0, 0, 0, 0

    def cropped(self, attrs) -> tuple:
        """(top, bottom, left, right) rows and columns this layer removes from the image (crop)."""
        return 0, 0, 0, 0

    def gather_only(self, attrs) -> bool:
        """A prologue whose every output pixel is one input pixel or a zero (zeropad,
        upsample nearest): an index map that the input gather of an anchor can follow."""
        return False

    def dropped_edges(self, inp, attrs) -> tuple[int, int]:
        """Rows and columns this layer silently drops (for the warning)."""
        return 0, 0

    def arithmetic(self, inp, out, attrs) -> list:
        """How the output's size follows from the input's, as worked arithmetic for a learner
        (`26 = (28 − 3) / 1 + 1`; one line for H and W when they read alike, else `H: …` and
        `W: …`); [] where there is nothing to work out (the size passes through, or the
        statement writes it)."""
        return []


def extent(attrs) -> tuple[int, int]:
    """The window a kernel covers: (k - 1)*d + 1 per axis with dilation d (k without one)."""
    (kh, kw), (dh, dw) = attrs["kernel"], attrs.get("dilation") or (1, 1)
    return (kh - 1) * dh + 1, (kw - 1) * dw + 1


class Window(LayerKind):
    """Conv and pooling share the sliding-window rule. A dilated kernel (`dilation=D`)
    covers (k - 1)*d + 1 pixels per axis, and every rule here uses that extent."""
    on = "image"

    def spatial(self, n, axis, attrs):
        return window(n, extent(attrs)[axis], attrs["stride"][axis], attrs["padding"])[0]

    def spatial_many(self, ns, axis, attrs):
        k, s, p = extent(attrs)[axis], attrs["stride"][axis], attrs["padding"]
        if s == 1 and (p == "same" or 2 * (0 if p == "valid" else int(p)) == k - 1):
            return ns   # window(): ceil(n / 1), or n + 2p - k + 1 with 2p = k - 1: the size passes through
        return [window(n, k, s, p)[0] for n in ns]

    def geometry(self, attrs):
        return extent(attrs), attrs["stride"]

    def reads(self, axis, n_in, n_out, attrs):
        # output u's window starts at u*s - (the padding before), taps d apart
        k, s = attrs["kernel"][axis], attrs["stride"][axis]
        d = (attrs.get("dilation") or (1, 1))[axis]
        before = window(n_in, extent(attrs)[axis], s, attrs["padding"])[1]
        return [[i for i in range(u * s - before, u * s - before + (k - 1) * d + 1, d) if 0 <= i < n_in]
                for u in range(n_out)]

    def pads(self, inp, attrs) -> tuple[int, int, int, int]:
        """(top, bottom, left, right) padding on the image `inp`, per `window()`."""
        k, s, p = extent(attrs), attrs["stride"], attrs["padding"]
        _, top, bottom = window(inp.h, k[0], s[0], p)
        _, left, right = window(inp.w, k[1], s[1], p)
        return top, bottom, left, right

    def dropped_edges(self, inp, attrs):
        k, s, p = extent(attrs), attrs["stride"], attrs["padding"]
        return dropped(inp.h, k[0], s[0], p), dropped(inp.w, k[1], s[1], p)

    def arithmetic(self, inp, out, attrs):
        k, s, p = extent(attrs), attrs["stride"], attrs["padding"]
        lines = per_axis(inp, out, lambda a, n, o: window_arithmetic(n, k[a], s[a], p, o))
        d = attrs.get("dilation") or (1, 1)
        if d != (1, 1):
            kernel = attrs["kernel"]
            lines.append(per_axis_text([f"({kernel[a]} − 1) × {d[a]} + 1 = {k[a]}" for a in (0, 1)],
                                       "the dilated kernel spans "))
        return lines

    def collapse_message(self, inp, h, w, attrs):
        k, s, p = attrs["kernel"], attrs["stride"], attrs["padding"]
        stride = s[0] if s[0] == s[1] else f"{s[0]}x{s[1]}"
        d = attrs.get("dilation") or (1, 1)
        dilated = ""
        if d != (1, 1):
            e = extent(attrs)
            dilated = f", dilation {d[0] if d[0] == d[1] else f'{d[0]}x{d[1]}'}: {e[0]}x{e[1]} wide"
        return (f"the image collapses: {self.keyword} {k[0]}x{k[1]} (stride {stride}, padding {p}{dilated}) "
                f"turns {inp} into {max(h, 0)}x{max(w, 0)}x{self.channels(inp.c, attrs)}; "
                f"use padding=same or a smaller kernel or stride, or a larger input")
