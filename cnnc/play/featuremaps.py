"""Feature maps for the playground: an image from the page, checked, and every layer's output
for it, computed by the numpy backend (the same values as `cnnc featuremaps`).

The browser decodes, resizes and scales the image (values in [0, 1]; gray is the mean of
R, G and B when the network takes one channel, as `cnnc featuremaps` reads a PNG) and
sends float32 values, little-endian, base64-encoded, with their shape. What arrives is
checked here: the shape is the network's input, the byte count matches, every value is
finite. Nothing else about the image is trusted.

Bounds: one forward pass computes every layer (`observed`: nothing is fused away), so it
costs the network's multiply-adds and holds every layer's output at once; both are bounded
before anything runs (MAX_MACS, MAX_VALUES), and so is what one answer sends (MAX_SENT), so
a giant network or image is an error on the page, not a server that stops answering.
"""

from __future__ import annotations

import base64

MAX_IMAGE_VALUES = 1 << 22     # 4,194,304 numbers: a 1024x1024 RGB image fits
MAX_MACS = 4 * 10**9           # multiply-adds of one request (LeNet: 2.6 million per pass)
MAX_VALUES = 1 << 25           # layer outputs held at once for one request (floats: 128 MiB)
MAX_CHANNELS = 64              # channels sent per layer (the page shows a grid of them)
MAX_SENT = 1 << 24             # bytes of maps in one answer (uint8 per value)
MAX_VECTOR = 4096              # values sent of a vector layer


class ImageError(ValueError):
    """An image from the page that is not a float32 image of the network's input shape."""


def decode_image(image, shape) -> "object":
    """{"shape": [H, W, C], "data": base64 float32} -> float32 array (1, H, W, C), checked
    against the network's input `shape`; ImageError says what is wrong."""
    import numpy as np

    if not isinstance(image, dict):
        raise ImageError("the image is an object with 'shape' and 'data'")
    dims = image.get("shape")
    if not (isinstance(dims, list) and len(dims) == 3 and all(type(d) is int and d > 0 for d in dims)):
        raise ImageError("the image's shape is [H, W, C] with positive integers")
    want = [int(d) for d in shape]
    count = dims[0] * dims[1] * dims[2]
    if count > MAX_IMAGE_VALUES:
        raise ImageError(f"the image holds {count:,} values; at most {MAX_IMAGE_VALUES:,} are taken")
    if dims != want:
        raise ImageError(f"the image is {'x'.join(map(str, dims))}, but the network takes {'x'.join(map(str, want))}")
    data = image.get("data")
    if not isinstance(data, str):
        raise ImageError("the image's data is base64 text")
    try:
        raw = base64.b64decode(data.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        raise ImageError("the image's data is not base64") from None
    if len(raw) != 4 * count:
        raise ImageError(f"the image's data holds {len(raw):,} bytes; {'x'.join(map(str, dims))} float32 "
                         f"values are {4 * count:,}")
    x = np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape([1] + dims)
    if not np.isfinite(x).all():
        raise ImageError("the image holds values that are not finite numbers (NaN or infinity)")
    return x


def cost(net) -> "tuple[int, int]":
    """(multiply-adds, values) of one forward pass that keeps every layer's output."""
    return sum(n.macs for n in net.nodes), sum(_count(n.out.dims) for n in net.nodes)


def _count(dims) -> int:
    n = 1
    for d in dims:
        n *= d
    return n


def observed(net):
    """A copy of `net` whose every layer's output is kept by the numpy backend.

    A backend fuses a layer into the next when the next is its only reader (a conv and its
    pool are one function, and the conv's own output never exists). Here each layer gets
    one more reader: a `dropout` (a view, identity at inference) that nothing reads, so no
    group runs past a layer, and one forward pass traces every output. The weights are the
    same arrays under the same names."""
    from ..graph import Network, Node
    from ..layers import KINDS

    taken = {n.name for n in net.nodes}
    extra = []
    for i, n in enumerate(net.layers):
        name = f"_kept_{i}"
        while name in taken:
            name += "_"
        attrs = {"rate": 0.0}
        keep = Node(name, KINDS["dropout"], attrs, [n], n.line, n.col, n.depth)
        keep.out = keep.spec.infer(n.out, attrs)
        extra.append(keep)
    return Network(net.nodes + extra, net.output, [], net.filename, net.program)


def compute(model, x, names) -> list:
    """Each layer of `names` (in network order) for the image x (1, H, W, C), from one forward
    pass of `model` (compiled from `observed(net)`): the maps of an image layer
    (encode_image), the values of a vector layer (encode_vector)."""
    trace = model.trace(x)
    net = model.network
    out = []
    for name in names:
        y = trace[name]
        node = net[name]
        out.append({"name": name, "kind": node.kind, "shape": list(node.out.dims),
                    **(encode_image(y[0]) if y.ndim == 4 else encode_vector(y[0]))})
    return out


def encode_image(maps) -> dict:
    """(H, W, C) -> each of the first MAX_CHANNELS channels scaled on its own to 0..255 (as
    `cnnc featuremaps` draws each channel), channel after channel, base64; with each
    channel's min and max so the page can say what the colours mean."""
    import numpy as np

    h, w, c = maps.shape
    k = min(c, MAX_CHANNELS)
    m = np.ascontiguousarray(np.moveaxis(maps[..., :k], -1, 0), dtype=np.float64)   # (k, H, W)
    m = np.where(np.isfinite(m), m, 0.0)
    lo, hi = m.min(axis=(1, 2)), m.max(axis=(1, 2))
    span = np.where(hi > lo, hi - lo, 1.0)
    q = np.round((m - lo[:, None, None]) / span[:, None, None] * 255.0).astype(np.uint8)
    return {"channels": k, "min": [float(v) for v in lo], "max": [float(v) for v in hi],
            "data": base64.b64encode(q.tobytes()).decode("ascii")}


def encode_vector(v) -> dict:
    """A vector layer's values (the first MAX_VECTOR), as numbers; non-finite ones as None."""
    import numpy as np

    v = np.asarray(v, dtype=np.float64)[:MAX_VECTOR]
    return {"values": [float(a) if np.isfinite(a) else None for a in v], "argmax": int(np.nanargmax(v))
            if np.isfinite(v).any() else None}


def sent_bytes(net, names) -> int:
    """Bytes of maps an answer for `names` would hold (before base64)."""
    from ..layers import Image

    total = 0
    for name in names:
        out = net[name].out
        total += out.h * out.w * min(out.c, MAX_CHANNELS) if isinstance(out, Image) else 0
    return total
