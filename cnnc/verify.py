"""A backend against the numpy reference, value by value (what `cnnc check` prints).

Weights are random but seeded (biases and batchnorm statistics too, so every
epilogue matters) and the input is seeded noise unless given. Every value the
backend materialises is compared with the numpy backend's value of the same node.
"""

from __future__ import annotations

# relative to the largest magnitude of the reference tensor
TOLERANCE = {"ieee": 1e-4, "tf32": 1e-2}


class Compared:
    """One value compared: a fusion group's output (a copy group: its slice of the concat
    buffer), a concat's whole buffer, or the network's output."""

    def __init__(self, name: str, describe: str, lines, err_abs: float, err_rel: float):
        self.name, self.describe, self.lines = name, describe, lines
        self.err_abs, self.err_rel = err_abs, err_rel


def _errors(got, ref) -> tuple:
    """(max abs, max rel to the reference's largest magnitude); inf when the shapes differ or
    one side has a NaN/inf where the other has not (NaN in both places agrees)."""
    import numpy as np

    a, b = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    if a.shape != b.shape:
        return float("inf"), float("inf")
    if not a.size:
        return 0.0, 0.0
    same_special = (np.isnan(a) & np.isnan(b)) | (np.isinf(a) & (a == b))
    if (~np.isfinite(a) & ~same_special).any() or (~np.isfinite(b) & ~same_special).any():
        return float("inf"), float("inf")
    fin = np.isfinite(b)
    if not fin.any():
        return 0.0, 0.0
    err_abs = float(np.max(np.abs(a[fin] - b[fin])))
    scale = float(np.max(np.abs(b[fin])))
    return err_abs, (err_abs / max(scale, 1e-30) if err_abs else 0.0)


def compare(net, backend: str = "triton", seed: int = 0, batch: int = 2, precision: str = "ieee", x=None) -> dict:
    """Every value the backend materialises against the numpy backend's, in execution order:
    each fusion group (copies included), each concat, then the network's output.

    {"rows": [Compared], "groups": number of fusion groups, "first_bad": index or None,
    "tolerance": t, "skipped": [groups whose value numpy keeps inside one of its own kernels]}.
    """
    import numpy as np

    from . import compile as cnnc_compile
    from .backends.triton.policy import TRITON
    from .passes.fusion import plan
    from .runtime.weights import random_params

    params = random_params(net, seed)
    if x is None:
        x = np.random.default_rng(seed + 2).standard_normal((batch,) + tuple(net.input_shape)).astype(np.float32)
    ref_model = cnnc_compile(net, backend="numpy", weights=params)
    got_model = cnnc_compile(net, backend=backend, weights=params, precision=precision)
    ref, got = ref_model.trace(x), got_model.trace(x)
    tol = TOLERANCE[precision]
    rows, skipped = [], []
    p = plan(net, TRITON)
    for g in p.groups:
        lines = sorted({n.line for n in g.nodes} or {g.copy_into.line})
        if g.copy_into is not None:
            j, c = g.copy_into.name, g.source.out.dims[-1]
            if j not in got or g.source.name not in ref:
                skipped.append(g)
                continue
            value = np.asarray(got[j])[..., g.copy_offset:g.copy_offset + c]
            rows.append(Compared(g.name, g.describe(), lines, *_errors(value, ref[g.source.name])))
            continue
        name = g.last.name
        if name not in got or name not in ref:
            skipped.append(g)
            continue
        rows.append(Compared(g.name, g.describe(), lines, *_errors(got[name], ref[name])))
    for j in p.joins:
        if j.name in got and j.name in ref:
            rows.append(Compared(j.name, f"concat {j.name}", [j.line], *_errors(got[j.name], ref[j.name])))
    out = net.output
    rows.append(Compared("output", f"the network's output ({out.name})", [out.line],
                         *_errors(got_model(x), ref_model(x))))
    first_bad = next((i for i, r in enumerate(rows) if not r.err_rel <= tol), None)
    return {"rows": rows, "groups": len(p.groups), "first_bad": first_bad, "tolerance": tol, "skipped": skipped}
