"""What an ONNX value is while a model is converted, and what converters share.

An ONNX graph computes on NCHW tensors with a batch axis; the IR (importers/ir.py) on
images HxWxC and vectors, the batch left out. Each ONNX value is one of:

  Tensor   something the network computes: an IR node, and how ONNX lays it out:
           `layout` "nchw" (PyTorch's), "nhwc" (after a Transpose to channels last, as
           ConvNeXt's LayerNorm and Linear read it) or "vec" (a rank-2 (N, C) vector). A
           pooled image kept as (N, C, 1, 1) is an IR vector with layout "nchw": a 1x1 Conv on
           it is a dense layer (squeeze-and-excitation). A vector made by flattening an
           image in PyTorch's C, H, W order carries `perm` (cnnc's element j is PyTorch's
           element perm[j]), which a dense layer reading it folds into its kernel's rows.
           `fresh` is True when the IR node was made for exactly this value (so a following
           constant Add may fold into its bias); `nonneg` when every value is >= 0.
  Const    a constant (an initializer, a Constant node, or shape arithmetic folded): a numpy
           array; `batch` marks the entries that stand for the (free) batch size.

`Context` is what a converter gets: the IR network under construction, the exported batch
size, how many nodes read each ONNX value, and helpers that turn a ShapeError into
`Unsayable`.
"""

from __future__ import annotations

import re

import numpy as np

from .... import layers as L
from ..statement import Malformed, Op, Unsayable


class Tensor:
    __slots__ = ("node", "layout", "perm", "fresh", "nonneg")

    def __init__(self, node, layout, perm=None, fresh=False, nonneg=False):
        self.node, self.layout, self.perm, self.fresh, self.nonneg = node, layout, perm, fresh, nonneg

    @property
    def type(self):
        return self.node.out

    @property
    def is_image(self) -> bool:
        return isinstance(self.node.out, L.Image)

    @property
    def dims(self) -> tuple:
        """The ONNX shape without the batch axis."""
        t = self.node.out
        if self.layout == "vec":
            return (t.n,) if isinstance(t, L.Vector) else (t.h * t.w * t.c,)
        h, w, c = (t.h, t.w, t.c) if isinstance(t, L.Image) else (1, 1, t.n)
        return (c, h, w) if self.layout == "nchw" else (h, w, c)

    @property
    def rank(self) -> int:
        return len(self.dims) + 1

    @property
    def channels(self) -> int:
        t = self.node.out
        return t.c if isinstance(t, L.Image) else t.n

    @property
    def channel_axis(self) -> int:
        """The ONNX axis (batch counted) that holds the channels."""
        return 1 if self.layout in ("nchw", "vec") else 3

    def like(self, node, fresh=False, nonneg=None, **kw) -> "Tensor":
        """A tensor laid out as this one, computed by `node`."""
        args = {"layout": self.layout, "perm": self.perm}
        args.update(kw)
        return Tensor(node, args["layout"], args["perm"], fresh, self.nonneg if nonneg is None else nonneg)

    def alias(self, **kw) -> "Tensor":
        """The same IR node, seen differently (a no-op Reshape, an Identity)."""
        args = {"layout": self.layout, "perm": self.perm}
        args.update(kw)
        return Tensor(self.node, args["layout"], args["perm"], False, self.nonneg)


class Const:
    __slots__ = ("array", "batch")

    def __init__(self, array, batch=None):
        self.array = np.asarray(array)
        self.batch = batch   # bool array of array's shape, or None: entries that are the batch size

    def has_batch(self) -> bool:
        return self.batch is not None and bool(np.any(self.batch))


def f32(v) -> float:
    """A float32 attribute as the shortest decimal that is that float32 (1e-05, not
    9.999999747378752e-06), so programs read as written."""
    return float(str(np.float32(v)))


class Origin:
    """What an IR node came from: the ONNX node, and a name that labels and definitions in
    the program can be made of: the last two module scopes of PyTorch's legacy names
    ('/features/features.4/layers.0/conv2/Conv' -> 'layers_0_conv2', '/features/features.3/MaxPool'
    -> 'features_3'), the dynamo exporter's
    name without its 'node_' prefix ('node_conv2d_3' -> 'conv2d_3')."""

    __slots__ = ("node", "name")

    def __init__(self, node):
        self.node = node
        parts = [p for p in node.name.split("/") if p]
        if len(parts) > 1 and parts[-1].split("_")[0] == node.op_type:
            parts = parts[:-1]
        words = parts[-2:] if len(parts) > 1 else [parts[0].removeprefix("node_")] if parts else [node.op_type]
        if len(words) == 2 and words[1].startswith(words[0] + "."):   # '/features/features.3' -> 'features.3'
            words = words[1:]
        self.name = re.sub(r"_+", "_", re.sub(r"\W", "_", "_".join(words))).strip("_") or node.op_type

    def __str__(self) -> str:
        return self.node.describe()


class Context:
    """What converters share while one model is converted."""

    def __init__(self, net, batch, readers, static):
        self.net = net
        self.batch = batch          # the exported batch size (None: free)
        self.readers = readers      # ONNX value name -> number of nodes reading it
        self.static = static        # the input's H and W are known: `same` can be decided

    def statement(self, op: Op, x: Tensor):
        """The IR node of `op` reading x (Unsayable when it cannot read x's type)."""
        try:
            return self.net.statement(op, x.node)
        except L.ShapeError as e:
            raise Unsayable(f"`{op.kind}` on {x.type.describe()} ({e})") from None

    def op(self, kind, attrs=None, weights=None, origin=None) -> Op:
        """An Op made for the ONNX node `origin`."""
        return Op(kind, attrs, weights, Origin(origin) if origin is not None else None)

    def join(self, kind, xs, origin=None):
        try:
            return self.net.join(kind, [x.node for x in xs], origin=Origin(origin) if origin is not None else None)
        except L.ShapeError as e:
            raise Unsayable(f"inputs that join ({e})") from None


# --- reading a node's attributes ------------------------------------------------------------

def attr_int(node, name, default=None) -> int:
    v = node.attrs.get(name, default)
    if not isinstance(v, int) or isinstance(v, bool):
        raise Malformed(f"its attribute {name} is {_shown(v)}, not an integer")
    return v


def attr_float(node, name, default=None) -> float:
    v = node.attrs.get(name, default)
    if isinstance(v, int) and not isinstance(v, bool):
        v = float(v)
    if not isinstance(v, float) or not np.isfinite(v):
        raise Malformed(f"its attribute {name} is {_shown(v)}, not a finite number")
    return v


def attr_ints(node, name, default=None, length=None) -> "list | None":
    v = node.attrs.get(name, default)
    if v is None:
        return None
    if not isinstance(v, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in v):
        raise Malformed(f"its attribute {name} is {_shown(v)}, not a list of integers")
    if length is not None and len(v) != length:
        raise Malformed(f"its attribute {name} has {len(v)} values where {length} are needed")
    return v


def attr_str(node, name, default=None) -> str:
    v = node.attrs.get(name, default)
    if not isinstance(v, str):
        raise Malformed(f"its attribute {name} is {_shown(v)}, not a word")
    return v


def _shown(v) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def need_tensor(x, what="its input") -> Tensor:
    if not isinstance(x, Tensor):
        raise Unsayable(f"{what} computed from the image (it is a constant here)")
    return x


def need_const(x, what) -> np.ndarray:
    if isinstance(x, Tensor):
        raise Unsayable(f"{what} as a constant (here it is computed from the image)")
    if x is None:
        raise Malformed(f"it has no {what}")
    if x.has_batch():
        raise Unsayable(f"{what} that does not depend on the batch size")
    return x.array


def need_image(x: Tensor, op: str, layout="nchw") -> Tensor:
    if not x.is_image or x.layout != layout:
        where = {"nchw": "an image in PyTorch's N, C, H, W order",
                 "nhwc": "an image in channels-last order"}[layout]
        raise Unsayable(f"{op} on {where} (here it reads {_described(x)})")
    return x


def _described(x: Tensor) -> str:
    return f"a tensor of shape (N, {', '.join(str(d) for d in x.dims)})"


def described(x) -> str:
    return _described(x) if isinstance(x, Tensor) else f"a constant of shape {tuple(x.array.shape)}"


def weight(array, shape=None) -> np.ndarray:
    """A weight as the IR holds it: float32, C-contiguous (its values are checked when the
    weights are named: importers/weights.py)."""
    a = np.asarray(array)
    if a.dtype.kind not in "fiub":
        raise Malformed(f"holds weights of type {a.dtype}, not numbers")
    a = np.ascontiguousarray(a, dtype=np.float32)
    if shape is not None:
        a = a.reshape(shape)
    return a
