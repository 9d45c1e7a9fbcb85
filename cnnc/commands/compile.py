"""Compile a program into a Python module (and its weights file beside it).

    cnnc compile lenet.cnn                 # writes lenet.py and lenet.npz here
    cnnc compile lenet.cnn -o out/net.py --weights trained.npz
    cnnc compile lenet.cnn --backend triton --plan    # the fused kernels; writes nothing
    cnnc compile lenet.cnn --emit onnx     # writes lenet.onnx

Weights: --weights W bakes W in. Without it, a weights file already beside the
output (lenet.npz) is kept when it fits the program, and compile refuses when it
does not; only --force replaces it with fresh initial weights. The module and its
weights are written both or neither. The module's name must be importable: a
Python identifier that is not a keyword and does not shadow a module the
generated code or Python's standard library needs (numpy.py, os.py, class.py are
refused).
"""

from __future__ import annotations

import os

from .common import input_shape_arg, seed_arg

EMITS = ("module", "onnx")
# what generated modules import (the carried weights reader imports safetensors when it reads one)
GENERATED_IMPORTS = ("numpy", "torch", "triton", "safetensors", "cnnc")


def add_arguments(p) -> None:
    p.add_argument("file", metavar="FILE", help="a .cnn program (- reads standard input; then -o is needed)")
    p.add_argument("--backend", choices=("numpy", "triton"), default="numpy")
    p.add_argument("-o", "--output", metavar="OUT.py",
                   help="the file to write (default: FILE's stem, .py, or .onnx with --emit onnx, here)")
    p.add_argument("--weights", metavar="W",
                   help="weights to bake in (.npz or .safetensors); default: the weights file already beside "
                        "the output if it fits, else fresh (seeded) initial weights")
    p.add_argument("--force", action="store_true",
                   help="replace a weights file beside the output with fresh initial weights")
    p.add_argument("--seed", type=seed_arg, default=None, help="seed for fresh initial weights (default 0)")
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


def module_name_problem(name: str) -> "str | None":
    """Why a module called `name` could not be imported as written, or None."""
    import keyword
    import sys

    if not name:
        return "the module has no name"
    if not name.isidentifier() or keyword.iskeyword(name):
        return f"`import {name}` is not valid Python, so the module could not be imported"
    if name in GENERATED_IMPORTS or name in sys.stdlib_module_names:
        return (f"a module named '{name}' would shadow the module {name} that the generated code "
                f"(or Python itself) imports")
    return None


def _suggest(name: str) -> str:
    import re

    s = re.sub(r"\W", "_", name).strip("_") or "net"
    if s[0].isdigit():
        s = "net_" + s
    return s if module_name_problem(s) is None else s + "_net"


def _output(args) -> str:
    """The output path, checked: a .py whose name imports, or an .onnx."""
    from .common import STDIN, UsageError

    if args.output is None and args.file == STDIN:
        raise UsageError("the program comes from standard input: name the output with -o (e.g. -o net.py)")
    stem = os.path.splitext(os.path.basename(args.file))[0]
    if args.emit == "onnx":
        out = args.output or stem + ".onnx"
        if not out.lower().endswith(".onnx") or not os.path.basename(out)[:-5]:
            raise UsageError(f"-o {out}: the ONNX model is written to a NAME.onnx file")
        return out
    out = args.output or stem + ".py"
    said = f"-o {out}" if args.output else out
    if not out.endswith(".py"):
        raise UsageError(f"{said}: the module must be a .py file")
    name = os.path.basename(out)[:-3]
    problem = module_name_problem(name)
    if problem:
        folder = os.path.dirname(out)
        raise UsageError(f"{said}: {problem}; choose another name, e.g. -o {os.path.join(folder, _suggest(name))}.py")
    return out


def _existing_weights(wpath: str, net, args) -> dict:
    """The weights already beside the output, checked against the program; a UsageError that
    names the first misfit when they do not fit (never silently replaced)."""
    from ..errors import WeightsError
    from ..runtime import weights as W
    from .common import UsageError

    fix = (f"--weights W compiles with other weights; --force replaces {wpath} with fresh initial weights; "
           f"or write elsewhere with -o")
    if args.seed is not None:
        raise UsageError(f"{wpath} exists, and --seed asks for fresh initial weights: refusing to replace it ({fix})")
    try:
        return W.read_file(wpath, net.param_shapes())
    except WeightsError as e:
        why = str(e).removeprefix(f"{wpath}: ")
        raise UsageError(f"{wpath} exists and does not fit {net.filename} ({why}): refusing to replace it "
                         f"with fresh weights ({fix})") from None


def _note_weights_beside(out: str, args) -> None:
    """An ONNX file made with fresh weights while trained ones may lie beside it: say so."""
    from .common import note

    if args.weights is not None:
        return
    for ext in (".npz", ".safetensors"):
        beside = os.path.splitext(out)[0] + ext
        if os.path.isfile(beside):
            note(f"{out} holds fresh initial weights (seed {args.seed or 0}), not those of {beside}; "
                 f"--weights {beside} bakes those in")
            return


def run(args) -> int:
    from ..backends import get_backend
    from ..runtime import files
    from ..runtime.export import export_module, weights_ext
    from ..runtime.model import compile_model
    from .common import UsageError, input_file, load_network, print_warnings

    if args.plan:
        net = load_network(args.file, args.input)
        print_warnings(net)
        from ..backends.triton_fusion import TRITON
        from ..passes.fusion import format_plan
        print(format_plan(net, TRITON))
        return 0
    out = _output(args)
    onnx = args.emit == "onnx"
    wpath = None if onnx else os.path.splitext(out)[0] + weights_ext(get_backend(args.backend))
    if args.weights is not None:
        if os.path.isdir(args.weights):
            raise UsageError(f"cannot read weights {args.weights}: it is a folder, not a weights file")
        if not os.path.isfile(args.weights):
            raise UsageError(f"cannot read weights {args.weights}: no such file")
    # --weights that already are the file beside the output are kept as they are
    keep = wpath is not None and args.weights is not None and files.same_file(args.weights, wpath)
    outputs = [out] + ([wpath] if wpath is not None and not keep else [])
    files.refuse_overwriting_inputs(outputs, {"program": input_file(args.file), "weights": args.weights})
    for path in outputs:  # found out now, not after the work
        files.check_writable(path)

    net = load_network(args.file, args.input)
    print_warnings(net)
    weights = args.weights
    if weights is None and wpath is not None and os.path.lexists(wpath) and not args.force:
        weights, keep = _existing_weights(wpath, net, args), True
    # weights that cannot be read exit 2, weights that do not fit exit 1 (cli.main)
    model = compile_model(net, backend=args.backend, seed=args.seed or 0, weights=weights,
                          **backend_options(args))
    try:
        if onnx:
            from ..bridges.onnx_export import ModelTooLarge
            try:
                files.write_atomic(out, model.to_onnx)
            except ModelTooLarge as e:
                raise UsageError(str(e)) from None
            written = [out]
            _note_weights_beside(out, args)
        else:
            written = export_module(model, out, write_weights=not keep)
    except OSError as e:
        raise UsageError(f"cannot write {out}: {e.strerror or e}") from None
    for path in written:
        print(f"wrote {path}")
    if keep and args.weights is not None:
        print(f"kept {wpath} (the weights given)")
    elif keep:
        print(f"kept {wpath} (its weights fit the program; --force replaces them with fresh initial weights)")
    return 0
