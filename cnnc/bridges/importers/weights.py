"""The weights of an imported network, named for the program written from it.

The program writer (writer.py) writes one statement per IR node; parsed back, its network is
the IR's graph with cnnc's names. `name_weights` pairs the two graphs from the output back (a
statement with a statement of the same kind and arguments, a join with a join of the same
kind and coefficients; an `add`'s or `multiply`'s inputs in any order, a concat's in order),
then reads each array once: `{"conv_1.kernel": array, ...}` in the parsed network's order,
every shape checked, values finite float32.
"""

from __future__ import annotations

import itertools
import sys

import numpy as np

from ...errors import WeightsError
from .meaning import same

# the parsed network's join kinds -> the IR's (a residual and an `add {}` are sums; a scale
# block multiplies its input by the gate it computes)
JOIN_OF = {"residual": "add", "add": "add", "concat": "concat", "scale": "multiply", "multiply": "multiply"}


def array_of(source) -> np.ndarray:
    """An array source: an ndarray, or (an h5py dataset, the shape to read it as or None)."""
    if isinstance(source, np.ndarray):
        return source
    ds, shape = source
    a = _read(ds)
    if a.dtype.itemsize == 2 and str(ds.attrs.get("dtype", "")) in ("bfloat16", "b'bfloat16'"):
        a = (np.ascontiguousarray(a).view(np.uint16).astype(np.uint32) << 16).view(np.float32)
    if a.dtype.kind not in "fiu":
        raise WeightsError(f"{getattr(ds, 'name', 'an array')} is stored as {a.dtype}, not numbers")
    a = a.astype(np.float32, copy=False)
    return a.reshape(shape) if shape is not None else a


def _read(ds) -> np.ndarray:
    """All of the h5py dataset `ds`: numbers straight into a new array with the low-level read
    (h5py's `ds[()]` works out a selection first: a third of the time of a small array)."""
    from h5py import h5s

    if ds.shape is None or ds.dtype.kind not in "fiu":
        return np.asarray(ds[()])
    a = np.empty(ds.shape, dtype=ds.dtype)
    if a.size:
        ds.id.read(h5s.ALL, h5s.ALL, a)
    return a


class _Mismatch(Exception):
    pass


def pair_nodes(ir, net) -> dict:
    """{IR node id: parsed node}; _Mismatch... raised as WeightsError when the graphs differ."""
    memo: dict = {}

    def coefficients(n, c) -> tuple:
        own = n.coefficients or (1.0,) * len(n.inputs)
        theirs = c.spec.coefficients(c) if hasattr(c.spec, "coefficients") else (1.0,) * len(c.inputs)
        return own, tuple(theirs)

    def orders(n, c):
        if JOIN_OF.get(c.kind) == "concat":
            return [list(range(len(n.inputs)))]
        return [list(p) for p in itertools.islice(itertools.permutations(range(len(n.inputs))), 24)]

    def eq(n, c) -> bool:
        key = (n.id, c.name)
        if key not in memo:
            memo[key] = False   # a cycle cannot happen in a DAG; this only guards re-entry
            memo[key] = _eq(n, c)
        return memo[key]

    def _eq(n, c) -> bool:
        if not n.inputs or not c.inputs:
            return not n.inputs and not c.inputs
        if n.is_join:
            if not c.spec.joins or JOIN_OF.get(c.kind) != n.kind or len(c.inputs) != len(n.inputs):
                return False
            own, theirs = coefficients(n, c)
            return any(same([own[i] for i in order], list(theirs)) and
                       all(eq(n.inputs[i], ci) for i, ci in zip(order, c.inputs)) for order in orders(n, c))
        if c.spec.joins or c.kind != n.kind or not same(_plain(c.attrs), _plain(n.attrs)):
            return False
        return eq(n.inputs[0], c.inputs[0])

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20 * (len(ir.nodes) + len(net.nodes)) + 1000))
    try:
        if not eq(ir.output, net.output):
            raise WeightsError("the written program does not read back as the converted network (a bug in "
                               "the program writer)")
        pairs: dict = {}
        stack = [(ir.output, net.output)]
        while stack:
            n, c = stack.pop()
            if n.id in pairs:
                continue
            pairs[n.id] = c
            if n.is_join:
                own, theirs = coefficients(n, c)
                order = next(o for o in orders(n, c) if same([own[i] for i in o], list(theirs)) and
                             all(memo.get((n.inputs[i].id, ci.name)) for i, ci in zip(o, c.inputs)))
                stack.extend((n.inputs[i], ci) for i, ci in zip(order, c.inputs))
            elif n.inputs:
                stack.append((n.inputs[0], c.inputs[0]))
    finally:
        sys.setrecursionlimit(limit)
    return pairs


def _finite(a) -> bool:
    """Every value finite, checked a million at a time (no mask as large as the array)."""
    flat = a.reshape(-1)
    return all(np.isfinite(flat[i:i + (1 << 20)]).all() for i in range(0, flat.size, 1 << 20))


def _plain(attrs) -> list:
    return sorted((k, v) for k, v in attrs.items())


def name_weights(ir, net) -> dict:
    """{parsed param name: float32 array} for every weight of the IR, shapes checked."""
    pairs = pair_nodes(ir, net)
    want = net.param_shapes()
    params: dict = {}
    for n in ir.nodes:
        for suffix, source in n.weights.items():
            name = f"{pairs[n.id].name}.{suffix}"
            if name not in want:
                raise WeightsError(f"{name}: the written program has no such weight")
            a = array_of(source)
            shape = tuple(want[name])
            if a.size != int(np.prod(shape)) or (a.shape != shape and a.ndim == len(shape)):
                raise WeightsError(f"{name}: the model holds an array of shape {a.shape}, the program needs {shape}")
            a = a.reshape(shape)
            if not _finite(a):
                raise WeightsError(f"{name} holds NaN or infinite values")
            params[name] = a
    missing = [k for k in want if k not in params]
    if missing:
        raise WeightsError(f"the converted network gives no values for {', '.join(missing[:5])}")
    return {k: params[k] for k in want}
