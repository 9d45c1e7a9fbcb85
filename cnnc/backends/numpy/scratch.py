"""What the numpy backend's generated code allocates, as plain arithmetic on shapes (no
numpy: `cnnc shapes --batch` never imports it): the sizes the lowerings' `scratch` and
`apply_scratch` add up (lowering.py says what they cover; cnnc/memory.py adds up the
lifetimes)."""

from __future__ import annotations

from ...layers import ACTIVATIONS

# numpy runs an in-place ufunc with a broadcast operand (`_add_bias`, `_relu`'s zero row)
# through a buffer of this many elements (np.getbufsize()), plus its iterator's bookkeeping
UFUNC_BUFFER = 8192
UFUNC_OVERHEAD = 1104


def ufunc_buffer(elements: int) -> int:
    """Bytes numpy holds while an in-place float32 ufunc with a broadcast operand runs."""
    return 4 * min(elements, UFUNC_BUFFER) + UFUNC_OVERHEAD


def activation_entry(act):
    """An activation's table entry from its name (or the entry itself: a variant with its parameter)."""
    return ACTIVATIONS[act] if isinstance(act, str) else act


def activation_scratch(act, elements: int, rows: int) -> int:
    """Bytes an activation's numpy lines hold beyond y (its `numpy_scratch` in the table)."""
    per_element, per_row, buffered = activation_entry(act).numpy_scratch
    return per_element * elements + per_row * rows + (ufunc_buffer(elements) if buffered else 0)


def numel(t) -> int:
    """How many values the tensor type `t` holds per image."""
    size = 1
    for d in t.dims:
        size *= d
    return size


def pool_scratch(node, n: int) -> int:
    """What `_Gen.pool` holds besides its output: the padded copy of its input (or the
    window counts of an average over real pixels), and the ufunc buffer of its
    `np.maximum(out, tap, out=out)` / `out += tap` over the strided taps."""
    inp = node.inputs[0].out
    (kh, kw) = node.attrs["kernel"]
    t, b, l, r = node.spec.pads(inp, node.attrs)
    buffered = ufunc_buffer(n * numel(node.out))
    padded = 4 * n * (inp.h + t + b) * (inp.w + l + r) * inp.c if (t or b or l or r) else 0
    if node.spec.reduce == "avg" and node.attrs["padding"] == "same" and padded:
        padded = max(padded, 8 * node.out.h * node.out.w)
    return padded + (buffered if kh * kw > 1 else 0)
