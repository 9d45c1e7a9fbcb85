"""Compile a program into a Python module (and its weights file beside it).

    cnnc compile lenet.cnn                 # writes lenet.py and lenet.npz here
    cnnc compile lenet.cnn -o out/net.py --weights trained.npz
    cnnc compile lenet.cnn --backend triton --plan    # the fused kernels; writes nothing
    cnnc compile lenet.cnn --emit onnx     # writes lenet.onnx

Weights, the first that applies: --weights W; a weights file already beside the
output (lenet.npz or lenet.safetensors: kept when it fits the program, an error
naming the first misfit when it does not); the program's own lenet.npz or
lenet.safetensors beside it; fresh initial weights from --seed (always with --force,
which replaces the file beside the output). Two files of one stem are an error that
names both. Either format serves either backend (the module's own format is written).
compile says which weights it used. The module and its weights are written both or
neither. The module's name must be importable: a
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
                        "the output if it fits, else the program's own beside it, else fresh (seeded) weights")
    p.add_argument("--force", action="store_true",
                   help="use fresh initial weights, replacing a weights file beside the output")
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


def _plan_weights(args, out: str, wpath: "str | None"):
    """Which weights to use, from the files alone (before the program is read): (path, or None
    for fresh weights; "given", "output" or "program": where the file came from; keep: it is
    already the module's weights file beside the output, so it is not written again). The
    first match wins (cnnc/runtime/weight_source.py): --weights W; a weights file beside the
    output (OUT.npz or OUT.safetensors); the program's own STEM.npz or STEM.safetensors; fresh
    weights from the seed (always with --force)."""
    from ..runtime import files
    from ..runtime.weight_source import one_beside
    from .common import UsageError, input_file

    def kept(path):
        return wpath is not None and files.same_file(path, wpath)

    if args.weights is not None:
        return args.weights, "given", kept(args.weights)
    if args.force:
        return None, None, False
    program = input_file(args.file)
    for path, where in ((out, "output"), (program, "program")):
        found = one_beside(path, f"the {where} {path}") if path is not None else None
        if found is not None and not (program is not None and files.same_file(found, program)):
            if args.seed is not None:
                fix = (f"--force uses fresh initial weights{' and replaces it' if kept(found) else ''}; "
                       f"--weights W compiles with other weights")
                raise UsageError(f"{found} lies beside the {where}, and --seed asks for fresh initial weights: "
                                 f"refusing to choose ({fix})")
            return found, where, kept(found)
    return None, None, False


def _found_weights(path: str, where: str, net, keep: bool) -> dict:
    """The weights of a file found beside the output or the program, checked against the
    program: a misfit is an error (exit 1) naming the first wrong array, never a silent switch
    to fresh weights; a file that cannot be read is exit 2. Nothing is replaced either way."""
    from ..errors import WeightsError
    from ..runtime import weights as W
    from .common import UsageError

    fix = "--weights W compiles with other weights; --force uses fresh initial weights"
    fix += f" and replaces {path}" if keep else ""
    try:
        return W.read_file(path, net.param_shapes())
    except WeightsError as e:
        why = str(e).removeprefix(f"{path}: ")
        if e.unreadable:
            raise UsageError(f"{path} (beside the {where}) cannot be read ({why}): refusing to replace it "
                             f"({fix})") from None
        raise WeightsError(f"{path} (beside the {where}) does not fit {net.filename} ({why}): refusing to "
                           f"replace it with fresh weights ({fix})") from None


def _said(path, where: str, seed: int) -> str:
    """Where the weights came from, as compile says it."""
    if path is None:
        return f"fresh initial weights, seed {seed}"
    if where == "given":
        return f"the weights given, {path}"
    return f"the weights of {path}, beside the {where}"


def run(args) -> int:
    from ..backends import get_backend
    from ..runtime import files
    from ..runtime.export import export_module, weights_ext
    from ..runtime.model import compile_model
    from .common import UsageError, input_file, load_network, note, print_warnings

    if args.plan:
        net = load_network(args.file, args.input)
        print_warnings(net)
        from ..backends.triton.policy import TRITON
        from ..passes.fusion import format_plan
        print(format_plan(net, TRITON))
        return 0
    out = _output(args)
    onnx = args.emit == "onnx"
    wpath = None if onnx else os.path.splitext(out)[0] + weights_ext(get_backend(args.backend))
    if args.weights is not None:
        try:
            files.open_regular(args.weights).close()
        except FileNotFoundError:
            raise UsageError(f"cannot read weights {args.weights}: no such file") from None
        except files.NotRegularFile as e:
            raise UsageError(f"cannot read weights {args.weights}: it is {e.what}, not a weights file") from None
        except OSError as e:
            raise UsageError(f"cannot read weights {args.weights}: {e.strerror or e}") from None
    source, where, keep = _plan_weights(args, out, wpath)
    outputs = [out] + ([wpath] if wpath is not None and not keep else [])
    files.refuse_overwriting_inputs(outputs, {"program": input_file(args.file), "weights": source})
    for path in outputs:  # found out now, not after the work
        files.check_writable(path)

    net = load_network(args.file, args.input)
    print_warnings(net)
    seed = args.seed or 0
    # weights that cannot be read exit 2, weights that do not fit exit 1 (cli.main)
    weights = source if where in (None, "given") else _found_weights(source, where, net, keep)
    model = compile_model(net, backend=args.backend, seed=seed, weights=weights, **backend_options(args))
    said = _said(source, where, seed)
    try:
        if onnx:
            from ..bridges.onnx_export import ModelTooLarge
            try:
                files.write_atomic(out, model.to_onnx)
            except ModelTooLarge as e:
                raise UsageError(str(e)) from None
            written = [out]
        else:
            written = export_module(model, out, write_weights=not keep)
    except OSError as e:
        raise UsageError(f"cannot write {out}: {e.strerror or e}") from None
    holder = out if onnx else wpath   # the file that holds the weights
    for path in written:
        print(f"wrote {path}" + (f" ({said})" if path == holder and source is not None else ""))
    if keep and where == "given":
        print(f"kept {wpath} (the weights given)")
    elif keep:
        print(f"kept {wpath} (its weights fit the program; --force replaces them with fresh initial weights)")
    if source is None:
        why = "--force" if args.force else "no --weights, and no weights file beside the output or the program"
        note(f"{holder} holds {said}: {why}")
    return 0
