"""Run a program on both backends and report the first fusion group that disagrees.

The numpy backend is the reference. Weights are random but seeded (biases and
batchnorm statistics too, so every epilogue matters), the input is seeded noise;
each kernel's output is compared with the numpy backend's value of the same layer.
Exit 0 when every group agrees, 1 when one diverges (or the program has errors).

    cnnc check examples/lenet.cnn
    cnnc check examples/keras/resnet50.cnn --input 32x32x3 --batch 1    # smaller runs faster
"""

from __future__ import annotations

from ..verify import TOLERANCE, compare
from .common import input_shape_arg, load_network, note, print_warnings, seed_arg


def add_arguments(p) -> None:
    p.add_argument("file", metavar="FILE", help="a .cnn program (- reads standard input)")
    p.add_argument("--backend", choices=("triton",), default="triton", help="the backend to check against numpy")
    p.add_argument("--input", type=input_shape_arg, metavar="HxWxC", help="the input shape (smaller runs faster)")
    p.add_argument("--seed", type=seed_arg, default=0, help="seed for the weights and the input (default 0)")
    p.add_argument("--batch", type=int, default=2, help="images per run (default 2)")
    p.add_argument("--precision", choices=tuple(TOLERANCE), default="ieee",
                   help="tl.dot precision (tf32 is compared with a looser tolerance)")


def _has_cuda() -> bool:
    from ..optional import require

    return require("torch", "triton").cuda.is_available()


def run(args) -> int:
    from .common import UsageError

    if args.batch <= 0:
        raise UsageError(f"--batch must be positive, got {args.batch}")
    net = load_network(args.file, args.input)
    print_warnings(net)
    from ..runtime.model import check_sizes

    check_sizes(net)  # before the input is drawn or anything compiled
    shape = "x".join(str(d) for d in net.input_shape)
    if net.total_macs * args.batch > 50_000_000 and not _has_cuda():
        note(f"no CUDA GPU, so the triton kernels run in Triton's interpreter: "
             f"{net.total_macs * args.batch:,} multiply-adds will take a while; "
             f"--input with a smaller image (and --batch 1) checks the same kernels faster")
    result = compare(net, args.backend, args.seed, args.batch, args.precision)
    rows, bad, tol = result["rows"], result["first_bad"], result["tolerance"]
    print(f"{args.file}: {args.backend} ({args.precision}) vs numpy on {args.batch}x{shape}, seed {args.seed}")
    if bad is not None:
        r = rows[bad]
        lines = ", ".join(str(n) for n in r.lines)
        what = f"group {r.name} ({r.describe}, line {lines})" if r.name != "output" else r.describe
        print(f"{what} diverges: max abs error {r.err_abs:.3g}, max rel error {r.err_rel:.3g} (tolerance {tol:g})")
        print(f"{bad} of {len(rows)} values agree before it")
        return 1
    worst = max(rows, key=lambda r: r.err_rel)
    tail = f" (largest relative error {worst.err_rel:.2g}, in {worst.name})" if worst.err_rel else ""
    joins = len(rows) - 1 - (result["groups"] - len(result["skipped"]))
    extra = f", {joins} concat{'s' if joins != 1 else ''}" if joins else ""
    print(f"all {result['groups']} groups{extra} and the output agree{tail}")
    if result["skipped"]:
        names = ", ".join(g.name for g in result["skipped"])
        print(f"not compared (numpy keeps these values inside its own kernels): {names}")
    return 0
