"""Run a program on both backends and report the first fusion group that disagrees.

The numpy backend is the reference. Weights are random but seeded (biases and
batchnorm statistics too, so every epilogue matters), the input is seeded noise;
each kernel's output is compared with the numpy backend's value of the same layer.
Exit 0 when every group agrees, 1 when one diverges (or the program has errors).
"""

from __future__ import annotations

import sys

from ..cli import input_shape_arg, load_network, print_warnings, seed_arg

# relative to the largest magnitude of the reference tensor
TOLERANCE = {"ieee": 1e-4, "tf32": 1e-2}


def add_arguments(p) -> None:
    p.add_argument("file", metavar="FILE", help="a .cnn program")
    p.add_argument("--backend", choices=("triton",), default="triton", help="the backend to check against numpy")
    p.add_argument("--input", type=input_shape_arg, metavar="HxWxC", help="the input shape (smaller runs faster)")
    p.add_argument("--seed", type=seed_arg, default=0, help="seed for the weights and the input (default 0)")
    p.add_argument("--batch", type=int, default=2, help="images per run (default 2)")
    p.add_argument("--precision", choices=tuple(TOLERANCE), default="ieee",
                   help="tl.dot precision (tf32 is compared with a looser tolerance)")


def random_params(net, seed: int) -> dict:
    """Keras-initialised kernels; biases and batchnorm statistics drawn too."""
    import numpy as np

    from ..runtime.weights import init_params

    params = init_params(net, seed)
    rng = np.random.default_rng(seed + 1)
    for name, a in params.items():
        suffix = name.rsplit(".", 1)[1]
        if suffix == "var":
            params[name] = rng.uniform(0.5, 1.5, a.shape).astype(np.float32)
        elif suffix == "gamma":
            params[name] = rng.uniform(0.5, 1.5, a.shape).astype(np.float32)
        elif suffix != "kernel":
            params[name] = (0.1 * rng.standard_normal(a.shape)).astype(np.float32)
    return params


def compare(net, backend: str = "triton", seed: int = 0, batch: int = 2, precision: str = "ieee") -> dict:
    """{"groups": [(group, max_abs, max_rel)], "first_bad": index or None, "tolerance": t,
    "skipped": [groups whose value the numpy backend keeps inside one of its own kernels]}."""
    import numpy as np

    from .. import compile as cnnc_compile
    from ..passes.fusion import plan

    params = random_params(net, seed)
    x = np.random.default_rng(seed + 2).standard_normal((batch,) + tuple(net.input_shape)).astype(np.float32)
    ref = cnnc_compile(net, backend="numpy", weights=params).trace(x)
    got = cnnc_compile(net, backend=backend, weights=params, precision=precision).trace(x)
    tol = TOLERANCE[precision]
    rows, first_bad, skipped = [], None, []
    for g in plan(net).groups:
        name = g.last.name
        if g.copy_into is not None:
            continue
        if name not in got or name not in ref:
            skipped.append(g)
            continue
        a, b = np.asarray(got[name], np.float64), np.asarray(ref[name], np.float64)
        if a.shape != b.shape:
            err_abs = err_rel = float("inf")
        else:
            err_abs = float(np.max(np.abs(a - b))) if a.size else 0.0
            scale = float(np.max(np.abs(b))) if b.size else 0.0
            err_rel = err_abs / max(scale, 1e-30) if err_abs else 0.0
            if not np.isfinite(a).all():
                err_abs = err_rel = float("inf")
        rows.append((g, err_abs, err_rel))
        if first_bad is None and not err_rel <= tol:
            first_bad = len(rows) - 1
    return {"groups": rows, "first_bad": first_bad, "tolerance": tol, "skipped": skipped}


def _has_cuda() -> bool:
    from ..bridges import require

    return require("torch", "triton").cuda.is_available()


def run(args) -> int:
    from ..cli import UsageError

    if args.batch <= 0:
        raise UsageError(f"--batch must be positive, got {args.batch}")
    net = load_network(args.file, args.input)
    print_warnings(net)
    shape = "x".join(str(d) for d in net.input_shape)
    if net.total_macs * args.batch > 50_000_000 and not _has_cuda():
        print(f"note: no CUDA GPU, so the triton kernels run in Triton's interpreter: "
              f"{net.total_macs * args.batch:,} multiply-adds will take a while; "
              f"--input with a smaller image (and --batch 1) checks the same kernels faster", file=sys.stderr)
    result = compare(net, args.backend, args.seed, args.batch, args.precision)
    rows, bad, tol = result["groups"], result["first_bad"], result["tolerance"]
    print(f"{args.file}: {args.backend} ({args.precision}) vs numpy on {args.batch}x{shape}, seed {args.seed}")
    if bad is not None:
        g, err_abs, err_rel = rows[bad]
        lines = ", ".join(str(n) for n in sorted({n.line for n in g.nodes}))
        print(f"group {g.name} ({g.describe()}, line {lines}) diverges: "
              f"max abs error {err_abs:.3g}, max rel error {err_rel:.3g} (tolerance {tol:g})")
        print(f"{bad} of {len(rows)} groups agree before it")
        return 1
    worst = max(rows, key=lambda r: r[2]) if rows else None
    tail = f" (largest relative error {worst[2]:.2g}, in {worst[0].name})" if worst else ""
    print(f"all {len(rows)} groups agree{tail}")
    if result["skipped"]:
        names = ", ".join(g.name for g in result["skipped"])
        print(f"not compared (numpy keeps these values inside its own kernels): {names}")
    return 0
