"""Compile a program into a Python module (and its weights file beside it).

    cnnc compile lenet.cnn                 # writes lenet.py and lenet.npz here
    cnnc compile lenet.cnn -o out/net.py --weights trained.npz
    cnnc compile lenet.cnn --emit onnx     # writes lenet.onnx
"""

from __future__ import annotations

import os

from .common import input_shape_arg, seed_arg

EMITS = ("module", "onnx")


def add_arguments(p) -> None:
    p.add_argument("file", metavar="FILE", help="a .cnn program")
    p.add_argument("--backend", choices=("numpy", "triton"), default="numpy")
    p.add_argument("-o", "--output", metavar="OUT.py",
                   help="the file to write (default: FILE's stem, .py, or .onnx with --emit onnx, here)")
    p.add_argument("--weights", metavar="W",
                   help="weights to bake in (.npz or .safetensors); default: fresh (seeded) initial weights")
    p.add_argument("--seed", type=seed_arg, default=0, help="seed for the initial weights (default 0)")
    p.add_argument("--input", type=input_shape_arg, metavar="HxWxC", help="the input shape, if the program has none")
    p.add_argument("--emit", choices=EMITS, default="module",
                   help="module: the Python module and its weights (default); onnx: an ONNX model")
    p.add_argument("--plan", action="store_true",
                   help="print the triton backend's fusion plan (its kernels and the layers each holds); write nothing")
    p.add_argument("--precision", choices=("ieee", "tf32"), default=None,
                   help="triton backend: tl.dot precision (default ieee)")


def backend_options(args) -> dict:
    """Options passed to the backend's generate(); backends that take some add them here."""
    if args.precision is not None:
        from .common import UsageError
        if args.backend != "triton":
            raise UsageError("--precision applies to --backend triton only")
        return {"precision": args.precision}
    return {}


def run(args) -> int:
    from .common import UsageError, load_network, print_warnings
    from ..runtime.export import export_module
    from ..runtime.model import compile_model

    stem = os.path.splitext(os.path.basename(args.file))[0] or "model"
    ext = ".onnx" if args.emit == "onnx" else ".py"
    out = args.output or stem + ext
    if args.emit == "module" and not out.endswith(".py"):
        raise UsageError(f"-o {out}: the module must be a .py file")
    if args.weights is not None and not os.path.isfile(args.weights):
        raise UsageError(f"cannot read weights {args.weights}: no such file")

    net = load_network(args.file, args.input)
    print_warnings(net)
    if args.plan:
        from ..backends.triton_fusion import TRITON
        from ..passes.fusion import format_plan
        print(format_plan(net, TRITON))
        return 0
    # weights that cannot be read exit 2, weights that do not fit exit 1 (cli.main)
    model = compile_model(net, backend=args.backend, seed=args.seed, weights=args.weights,
                          **backend_options(args))
    try:
        if args.emit == "onnx":
            model.to_onnx(out)
            written = [out]
        else:
            written = export_module(model, out)
    except OSError as e:
        raise UsageError(f"cannot write {out}: {e.strerror or e}") from None
    for path in written:
        print(f"wrote {path}")
    name = os.path.splitext(os.path.basename(out))[0]
    if args.emit == "module" and not name.isidentifier():
        print(f"note: '{name}' is not a Python identifier, so `import {name}` will not work; "
              f"rename the file or load it with importlib", file=__import__("sys").stderr)
    return 0
