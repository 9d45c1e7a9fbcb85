"""Converters of the ONNX ops that move axes: Flatten, Reshape, Transpose, Squeeze,
Unsqueeze, Slice; and the shape arithmetic exporters write around them (Constant, Shape,
Gather, ConstantOfShape, Concat of constants), folded to constants.

The batch axis stays free. `Shape` marks the entries that are the batch size, so
`x.view(x.size(0), -1)` reshapes to (batch, -1) whatever the exported batch was; a Reshape
whose constant holds the exported batch size itself (torch writes [1, 512] for a model
exported with one image) keeps the batch free too.

A flatten of an N, C, H, W image orders its values C, H, W; cnnc's `flatten` orders them H,
W, C. The vector carries the permutation (values.py `perm`) and the dense layer that reads it
permutes its kernel's rows, so the program stays a plain `flatten; dense`.
"""

from __future__ import annotations

import numpy as np

from ..statement import Malformed, Unsayable
from .layers import sides_op
from .registry import converter
from .values import Const, Tensor, attr_int, attr_ints, described, need_const, need_tensor


@converter("Constant", since=1)
def constant(ctx, node, ins):
    a = node.attrs
    if "value" in a and hasattr(a["value"], "array"):
        return Const(a["value"].array())
    for name, dtype in (("value_float", np.float32), ("value_floats", np.float32), ("value_int", np.int64),
                        ("value_ints", np.int64)):
        if name in a:
            return Const(np.asarray(a[name], dtype))
    raise Unsayable("a Constant that is not a tensor of numbers")


@converter("Shape", since=1)
def shape(ctx, node, ins):
    x = ins[0]
    if isinstance(x, Tensor):
        dims = np.asarray((ctx.batch or 1, *x.dims), np.int64)
        batch = np.zeros(dims.shape, bool)
        batch[0] = True
    else:
        dims = np.asarray(x.array.shape, np.int64)
        batch = None
    start, end = attr_int(node, "start", 0), node.attrs.get("end")
    end = len(dims) if end is None else attr_int(node, "end")
    sl = slice(start, end)
    return Const(dims[sl], None if batch is None else batch[sl])


@converter("Gather", since=1)
def gather(ctx, node, ins):
    data = ins[0]
    if isinstance(data, Tensor):
        raise Unsayable("a Gather of values computed from the image")
    idx = need_const(ins[1], "indices")
    axis = attr_int(node, "axis", 0)
    try:
        out = np.take(data.array, idx.astype(np.int64), axis=axis)
        marks = None if data.batch is None else np.take(data.batch, idx.astype(np.int64), axis=axis)
    except (IndexError, ValueError, np.exceptions.AxisError) as e:
        raise Malformed(f"its indices do not index its data ({e})") from None
    return Const(out, marks)


@converter("ConstantOfShape", since=9)
def constant_of_shape(ctx, node, ins):
    dims = [int(d) for d in need_const(ins[0], "a shape").reshape(-1)]
    from ....limits import MAX_VALUES, count_of

    if any(d < 0 for d in dims) or count_of(dims) > MAX_VALUES:
        raise Malformed(f"it makes a constant of shape {dims}")
    v = node.attrs.get("value")
    value = v.array().reshape(-1)[0] if hasattr(v, "array") else np.float32(0)
    return Const(np.full(dims, value))


@converter("Expand", since=8)
def expand(ctx, node, ins):
    """Of constants only (an LSTM's initial state, say): the image is never broadcast."""
    x = ins[0]
    if isinstance(x, Tensor):
        raise Unsayable("an Expand of the image (cnnc does not broadcast an image)")
    dims = [int(d) for d in need_const(ins[1], "a shape").reshape(-1)]
    from ....limits import MAX_VALUES, count_of

    try:
        shape = np.broadcast_shapes(x.array.shape, tuple(dims))
    except ValueError as e:
        raise Malformed(f"it expands a constant of shape {x.array.shape} to {dims} ({e})") from None
    if count_of(shape) > MAX_VALUES:
        raise Malformed(f"it makes a constant of shape {list(shape)}")
    return Const(np.broadcast_to(x.array, shape).copy())


def _axes(node, ins, i) -> "list | None":
    """Axes from the attribute (older opsets) or input i (opset 13 on)."""
    if "axes" in node.attrs:
        return attr_ints(node, "axes")
    if len(ins) > i and ins[i] is not None:
        return [int(a) for a in need_const(ins[i], "axes").reshape(-1)]
    return None


@converter("Unsqueeze", since=1)
def unsqueeze(ctx, node, ins):
    axes = _axes(node, ins, 1)
    if axes is None:
        raise Malformed("it has no axes")
    x = ins[0]
    if isinstance(x, Const):
        out_rank = x.array.ndim + len(axes)
        axes = sorted(a % out_rank for a in axes)
        a, b = x.array, x.batch
        for ax in axes:
            a = np.expand_dims(a, ax)
            b = None if b is None else np.expand_dims(b, ax)
        return Const(a, b)
    x = need_tensor(x)
    axes = sorted(a % (x.rank + len(axes)) for a in axes)
    if x.layout == "vec" and axes == [2, 3]:
        return x.alias(layout="nchw") if x.perm is None else _refuse_order(x)
    if x.layout == "vec" and axes == [1, 2]:
        return x.alias(layout="nhwc") if x.perm is None else _refuse_order(x)
    raise Unsayable(f"an Unsqueeze of {described(x)} on axes {axes}")


def _refuse_order(x):
    raise Unsayable("a flattened image (C, H, W order) seen as an image again")


@converter("Squeeze", since=1)
def squeeze(ctx, node, ins):
    axes = _axes(node, ins, 1)
    x = ins[0]
    if isinstance(x, Const):
        try:
            a = np.squeeze(x.array, axis=None if axes is None else tuple(axes))
            b = None if x.batch is None else np.squeeze(x.batch, axis=None if axes is None else tuple(axes))
        except ValueError as e:
            raise Malformed(f"it squeezes an axis that is not 1 ({e})") from None
        return Const(a, b)
    x = need_tensor(x)
    if axes is None:
        raise Unsayable("a Squeeze of the image without axes (it would squeeze a batch of one)")
    axes = sorted(a % x.rank for a in axes)
    if not x.is_image and ((x.layout == "nchw" and axes == [2, 3]) or (x.layout == "nhwc" and axes == [1, 2])):
        return x.alias(layout="vec")
    raise Unsayable(f"a Squeeze of {described(x)} on axes {axes}")


def flatten_tensor(ctx, node, x: Tensor) -> Tensor:
    """x as an (N, values) vector, in ONNX's order."""
    if x.layout == "vec":
        return x.alias()
    if not x.is_image:   # a pooled (N, C, 1, 1) image
        return x.alias(layout="vec")
    t = x.type
    y = ctx.statement(ctx.op("flatten", origin=node), x)
    perm = None
    if x.layout == "nchw" and t.c > 1 and t.h * t.w > 1:
        perm = np.arange(t.c * t.h * t.w).reshape(t.c, t.h, t.w).transpose(1, 2, 0).reshape(-1)
    return Tensor(y, "vec", perm, nonneg=x.nonneg)


@converter("Flatten", since=1)
def flatten(ctx, node, ins):
    axis = attr_int(node, "axis", 1)
    x = ins[0]
    if isinstance(x, Const):
        a = x.array
        axis %= max(a.ndim, 1)
        return Const(a.reshape(int(np.prod(a.shape[:axis])), -1))
    x = need_tensor(x)
    if axis != 1:
        raise Unsayable(f"a Flatten from axis {axis} (cnnc flattens everything but the batch)")
    return flatten_tensor(ctx, node, x)


def _resolve(target, dims, allowzero) -> "list | None":
    """The target shape with 0s (copy) and one -1 (the rest) resolved; None if impossible."""
    out = []
    for i, d in enumerate(target):
        if d == 0 and not allowzero:
            if i >= len(dims):
                return None
            out.append(dims[i])
        else:
            out.append(int(d))
    if out.count(-1) > 1 or any(d < -1 for d in out):
        return None
    total = int(np.prod(dims)) if dims else 1
    if -1 in out:
        known = int(np.prod([d for d in out if d != -1])) if len(out) > 1 else 1
        if known == 0 or total % known:
            return None
        out[out.index(-1)] = total // known
    return out if int(np.prod(out)) == total else None


@converter("Reshape", since=5)
def reshape(ctx, node, ins):
    x, s = ins[0], ins[1]
    if isinstance(s, Tensor):
        raise Unsayable("a Reshape to a shape computed from the image")
    target = s.array.reshape(-1).astype(np.int64)
    marks = s.batch.reshape(-1) if s.batch is not None else np.zeros(target.shape, bool)
    allowzero = attr_int(node, "allowzero", 0)
    if isinstance(x, Const):
        if s.has_batch():
            raise Unsayable("a constant reshaped by the batch size")
        shape = _resolve(list(target), list(x.array.shape), allowzero)
        if shape is None:
            raise Malformed(f"it reshapes a constant of shape {x.array.shape} to {list(target)}")
        return Const(x.array.reshape(shape))
    x = need_tensor(x)
    if marks[1:].any() or len(target) < 1:
        raise Unsayable(f"a Reshape to {list(target)} that moves the batch axis")
    first = int(target[0])
    # the batch stays first: its entry is the batch mark, 0 (copy), -1 (when the rest is
    # given) or the exported batch size itself
    if not (marks[0] or (first == 0 and not allowzero) or (ctx.batch is not None and first == ctx.batch)
            or (first == -1 and -1 not in target[1:])):
        raise Unsayable(f"a Reshape to {list(target)} that changes the batch axis")
    rest = _resolve([int(d) if d != 0 or allowzero else 0 for d in target[1:]], list(x.dims), allowzero)
    if rest is None:
        raise Unsayable(f"a Reshape of {described(x)} to {list(target)}")
    if tuple(rest) == x.dims:
        return x.alias()
    if len(rest) == 1:
        return flatten_tensor(ctx, node, x)
    if not x.is_image and x.perm is None:   # a vector (N, C) <-> a pooled (N, C, 1, 1) image
        if rest == [x.channels, 1, 1]:
            return x.alias(layout="nchw")
        if rest == [1, 1, x.channels]:
            return x.alias(layout="nhwc")
    raise Unsayable(f"a Reshape of {described(x)} to (N, {', '.join(str(d) for d in rest)}) (cnnc reshapes only "
                    f"by flattening)")


@converter("Transpose", since=1)
def transpose(ctx, node, ins):
    x = ins[0]
    perm = attr_ints(node, "perm")
    if isinstance(x, Const):
        try:
            return Const(np.transpose(x.array, perm), None if x.batch is None else np.transpose(x.batch, perm))
        except ValueError as e:
            raise Malformed(f"its perm {perm} does not fit a constant of shape {x.array.shape} ({e})") from None
    x = need_tensor(x)
    if perm is None:
        perm = list(range(x.rank))[::-1]
    if perm == list(range(x.rank)):
        return x.alias()
    if x.layout == "nchw" and perm == [0, 2, 3, 1]:
        return x.alias(layout="nhwc")
    if x.layout == "nhwc" and perm == [0, 3, 1, 2]:
        return x.alias(layout="nchw")
    raise Unsayable(f"a Transpose {perm} of {described(x)} (cnnc moves the channels last and back only)")


@converter("Slice", since=13)
def slice_(ctx, node, ins):
    """On the image: a crop (steps of 1 over H and W). A step of -1 is a flip."""
    x = ins[0]
    starts = need_const(ins[1], "starts").reshape(-1).astype(np.int64)
    ends = need_const(ins[2], "ends").reshape(-1).astype(np.int64)
    axes = need_const(ins[3], "axes").reshape(-1).astype(np.int64) if len(ins) > 3 and ins[3] is not None \
        else np.arange(len(starts))
    steps = need_const(ins[4], "steps").reshape(-1).astype(np.int64) if len(ins) > 4 and ins[4] is not None \
        else np.ones(len(starts), np.int64)
    if not len(starts) == len(ends) == len(axes) == len(steps) or np.any(steps == 0):
        raise Malformed("its starts, ends, axes and steps do not agree")
    if isinstance(x, Const):
        index = [slice(None)] * x.array.ndim
        for s, e, a, st in zip(starts, ends, axes, steps):
            index[int(a)] = slice(int(s), int(e), int(st))
        return Const(x.array[tuple(index)], None if x.batch is None else x.batch[tuple(index)])
    x = need_tensor(x)
    if np.any(steps < 0):
        e = Unsayable("a statement that flips the image (this Slice has a negative step)")
        full = (x.rank - 1) * [0]
        try:
            dims = (None, *x.dims)
            full = [len(range(*slice(int(a), int(b), int(st)).indices(dims[int(ax)]))) == dims[int(ax)]
                    for a, b, ax, st in zip(starts, ends, axes, steps)]
        except (IndexError, TypeError, ValueError):
            pass
        e.keeps_shape = all(full)   # a whole flip: the nodes after it are still checked
        raise e
    if not x.is_image or x.layout != "nchw":
        raise Unsayable(f"a Slice of {described(x)}")
    t = x.type
    crop = {2: [0, 0], 3: [0, 0]}
    for s, e, a, st in zip(starts, ends, axes, steps):
        a = int(a) % 4
        if a not in crop or st != 1:
            raise Unsayable(f"a Slice of axis {a} with step {st} (cnnc crops rows and columns only)")
        n = t.h if a == 2 else t.w
        lo, hi, _ = slice(int(s), int(e), 1).indices(n)
        if hi <= lo:
            raise Unsayable("a Slice that leaves nothing")
        crop[a] = [lo, n - hi]
    (top, bottom), (left, right) = crop[2], crop[3]
    if not any((top, bottom, left, right)):
        return x.alias()
    op = sides_op(ctx, "crop", (top, bottom, left, right), node)
    return x.like(ctx.statement(op, x))

