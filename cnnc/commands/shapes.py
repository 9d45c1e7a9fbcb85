"""Check a program and print every layer's shape, parameters and multiply-adds.

Prints a table (name, kind, output shape, parameters, MACs, receptive field,
cumulative stride, the Triton kernel, and what a layer is connected to when that is
not the row above), the totals and the smallest input the network accepts. Warnings
go to stderr. With --json, the same as one JSON object (also for a program with
errors: its diagnostics). --batch B adds memory: each layer's output at batch B and
the peak of a forward pass; --device-memory SIZE (80GB, or `auto` for the local
GPU's free memory) the largest batch that fits on the GPU.

Several files are checked one after the other, as linters do: each file's diagnostics and
table (headed `==> FILE <==`), or with --json one JSON object per line; the exit status is
the worst of them (2 for a file that cannot be read, 1 for a program with errors); a file
that cannot be read has the line {"file": ..., "ok": false, "error": ...}. One file's
output is the same as when it is given alone.

    cnnc shapes examples/lenet.cnn
    cnnc shapes net.cnn --input 64x64x3 --json
    cnnc shapes examples/keras/resnet50.cnn --batch 64 --device-memory 80GB
    cnnc shapes examples/*.cnn --json
    echo 'input 8x8x1; conv 4 3x3; pool 2' | cnnc shapes -
"""

from __future__ import annotations

from .common import STDIN, error, input_shape_arg, load_network, positive_arg, print_diagnostics, print_warnings


def device_memory_arg(text: str) -> "int | str":
    """`--device-memory SIZE` as an argparse type: bytes, or "auto" (asked of the GPU later)."""
    if text == "auto":
        return text
    from ..memory import parse_size

    size = parse_size(text)
    if size is None:
        import argparse

        raise argparse.ArgumentTypeError(f"expected a size like 80GB, 40GiB or 512MB (or auto), got '{text}'")
    return size


def add_arguments(p) -> None:
    p.add_argument("files", nargs="+", metavar="FILE", help="a .cnn program (- reads standard input); several are "
                                                              "checked one after the other")
    p.add_argument("--input", type=input_shape_arg, metavar="HxWxC",
                   help="the input shape, for a program without an input statement (or to try another size)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--batch", type=positive_arg, metavar="B",
                   help="add memory at batch B: each layer's output and the peak of a forward pass (float32)")
    p.add_argument("--device-memory", type=device_memory_arg, metavar="SIZE",
                   help="with --batch: the largest batch the Triton backend fits in SIZE of GPU memory "
                        "(80GB, 40GiB; auto: the local GPU's free memory)")


def run(args) -> int:
    from ..nogc import paused

    with paused():  # (a long program's table is millions of objects without cycles)
        return _run(args)


def _run(args) -> int:
    from ..errors import UsageError

    if args.files.count(STDIN) > 1:
        raise UsageError("standard input (-) can be read only once")
    device_memory = _device_memory(args)
    if len(args.files) == 1:
        return _one(args, args.files[0], device_memory, False)
    from ..errors import CnncError

    worst = 0
    for i, path in enumerate(args.files):
        if not args.json:
            print(("\n" if i else "") + f"==> {path} <==", flush=True)
        try:
            code = _one(args, path, device_memory, True)
        except CnncError as e:   # reported here, as the CLI would; the next file is checked all the same
            print_diagnostics(e.warnings)
            print_diagnostics(e.diagnostics)
            code = 1
        except UsageError as e:
            if args.json:   # every file has its line
                import json

                print(json.dumps({"file": path, "ok": False, "error": str(e)}), flush=True)
            error(str(e))
            code = 2
        worst = max(worst, code)
    return worst


def _device_memory(args):
    from ..errors import UsageError

    device_memory = args.device_memory
    if device_memory is not None and args.batch is None:
        raise UsageError("--device-memory needs --batch B (the batch to check)")
    if device_memory == "auto":
        from ..memory import local_gpu_free

        device_memory = local_gpu_free()
        if device_memory is None:
            raise UsageError("--device-memory auto: no GPU found (nvidia-smi did not answer); "
                             "give the size, e.g. --device-memory 80GB")
    return device_memory


def _one(args, path, device_memory, lines: bool) -> int:
    """One file's summary (`lines`: its JSON on one line, for several files). A program
    with errors raises CnncError (with --json its diagnostics are printed first)."""
    from ..errors import CnncError
    from ..summary import format_table, summary_dict

    indent = None if lines else 2
    try:
        net = load_network(path, args.input)
        print_warnings(net)
    except CnncError as e:
        if args.json:   # the diagnostics as JSON too; the CLI still prints them and exits 1
            import json   # here, not above: json costs a plain `cnnc shapes` a few ms of start-up

            from ..summary import error_dict

            print(json.dumps(error_dict(e, e.filename), indent=indent))
        raise
    if args.json:
        import json

        print(json.dumps(summary_dict(net, args.batch, device_memory), indent=indent))
    else:
        print(format_table(net, batch=args.batch, device_memory=device_memory))
    return 0
