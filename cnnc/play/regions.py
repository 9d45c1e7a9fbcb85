"""Which input pixels one unit of a layer sees: the box the playground outlines on the input.

A unit (one pixel of a layer's output, all its channels) is computed from some set of input
pixels; its box is that set's bounding box, (top, bottom, left, right) inclusive, in input
rows and columns. The box follows the layers exactly: each kind says which input rows and
columns an output row and column read (`LayerKind.reads`: a window's padding, stride and
dilation, zeropad's and crop's offsets, upsample's and deconv's many-to-one maps), and a
join's unit sees what each of its inputs' units sees. So the unit at (0, 0) of a 3x3
`padding=same` conv sees rows 0..1 and columns 0..1 (its window starts one row above the
image, in the padding), and a unit of a zeropad's border sees nothing (None).

A vector's value (flatten, globalpool, dense) sees the union of what every unit before it
sees; a scale block's gate is a vector, so every unit of the scaled image sees that too.
The box is what a value is computed from: a weight that is exactly zero, or a max pool's
choice, can leave a pixel in the box without effect on one particular image.

Boxes are computed for every unit of every layer at once (numpy, a few arrays per layer of
the layer's height x width), under MAX_UNITS.
"""

from __future__ import annotations

import numpy as np

MAX_UNITS = 4_000_000    # pixels of every layer's output together (ResNet-50 at 224x224: 237,944)
# Coordinates are int32: under MAX_UNITS no axis reaches 2^30. A unit that sees nothing holds
# _NONE in each of its four numbers.
_NONE = 2**30


class TooLarge(ValueError):
    pass


def units(net) -> int:
    """How many boxes `boxes(net)` computes: every image layer's H x W."""
    from ..layers import Image

    return sum(n.out.h * n.out.w for n in net.nodes if isinstance(n.out, Image))


def boxes(net) -> dict:
    """name -> the boxes of the layer's units: for an image layer an (H, W, 4) int32 array,
    for a vector layer one (4,) array (what all its values together see). The four numbers
    are stored as (top, -bottom, left, -right), so that the box of a union is an elementwise
    minimum; a unit that sees nothing holds _NONE in all four. `box` reads one out."""
    from ..layers import Image

    if units(net) > MAX_UNITS:
        raise TooLarge(f"the receptive-field boxes of this network cover {units(net):,} output pixels; "
                       f"the playground works them out for at most {MAX_UNITS:,} (try a smaller input)")
    out: dict = {}
    for n in net.nodes:
        if not n.inputs:
            h, w = n.out.h, n.out.w
            rows, cols = np.arange(h)[:, None], np.arange(w)[None, :]
            out[n.name] = np.stack(np.broadcast_arrays(rows, -rows, cols, -cols), axis=-1).astype(np.int32)
            continue
        if not isinstance(n.out, Image):
            seen = np.full(4, _NONE, np.int32)
            for i in n.inputs:
                seen = np.minimum(seen, out[i.name].reshape(-1, 4).min(axis=0))
            out[n.name] = seen
            continue
        acc = np.full((n.out.h, n.out.w, 4), _NONE, np.int32)
        for i in n.inputs:
            if isinstance(i.out, Image):
                acc = np.minimum(acc, _read(out[i.name], n, i.out))
        for i in n.inputs:   # a gate (a vector) reaches every unit that reads the image
            if not isinstance(i.out, Image):
                alive = acc[..., 0] != _NONE
                acc[alive] = np.minimum(acc[alive], out[i.name])
        out[n.name] = acc
    return out


def _read(b, node, inp) -> np.ndarray:
    """The boxes of `node`'s units from those of its input `inp` (H_in, W_in, 4): per axis,
    the union (minimum) over the input indices each output index reads, one tap at a time
    (so that no more than two layers' boxes are held at once)."""
    for axis, n_in, n_out in ((0, inp.h, node.out.h), (1, inp.w, node.out.w)):
        lists = node.spec.reads(axis, n_in, n_out, node.attrs)
        width = max(1, max(len(r) for r in lists))
        index = np.full((n_out, width), n_in, np.intp)   # n_in: an added slice that sees nothing
        for u, r in enumerate(lists):
            index[u, :len(r)] = r
        pad = [(0, 0)] * 3
        pad[axis] = (0, 1)
        b = np.pad(b, pad, constant_values=_NONE)
        acc = np.take(b, index[:, 0], axis=axis)
        for j in range(1, width):
            np.minimum(acc, np.take(b, index[:, j], axis=axis), out=acc)
        b = acc
    return b


def box(stored) -> "list | None":
    """[top, bottom, left, right] of one stored box, None for a unit that sees nothing."""
    if stored[0] == _NONE:
        return None
    t, nb, l, nr = (int(v) for v in stored)
    return [t, -nb, l, -nr]


def nearest(layer_boxes, row: float, col: float) -> "tuple | None":
    """The unit (r, c) whose box's centre is nearest the input pixel (row, col), the first in
    reading order on a tie; None when no unit sees anything."""
    b = layer_boxes.astype(np.float64)
    seen = layer_boxes[..., 0] != _NONE
    if not seen.any():
        return None
    d = ((b[..., 0] - b[..., 1]) / 2 - row) ** 2 + ((b[..., 2] - b[..., 3]) / 2 - col) ** 2
    d[~seen] = np.inf
    r, c = np.unravel_index(int(np.argmin(d)), d.shape)
    return int(r), int(c)


def answer(net, stored: dict, layer: str, unit=None, pointer=None) -> dict:
    """What the page draws for one unit of `layer`: {layer, input: [H, W], output: [H, W] (None
    for a vector), unit: [r, c] (None for a vector, or when no unit sees anything), box:
    [top, bottom, left, right] (None: the unit sees no input pixel)}. The unit is `unit`, or
    else the one nearest `pointer` (an input pixel; by default the input's centre)."""
    h, w = net.input_shape[:2]
    b = stored[layer]
    base = {"layer": layer, "input": [h, w]}
    if b.ndim == 1:
        return {**base, "output": None, "unit": None, "box": box(b)}
    if unit is None:
        row, col = pointer if pointer is not None else ((h - 1) / 2, (w - 1) / 2)
        unit = nearest(b, row, col)
        if unit is None:
            return {**base, "output": list(b.shape[:2]), "unit": None, "box": None}
    return {**base, "output": list(b.shape[:2]), "unit": list(unit), "box": box(b[tuple(unit)])}
