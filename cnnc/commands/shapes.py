"""Check a program and print every layer's shape, parameters and multiply-adds.

Prints a table (name, kind, output shape, parameters, MACs, receptive field,
cumulative stride, the Triton kernel, and what a layer is connected to when that is
not the row above), the totals and the smallest input the network accepts. Warnings
go to stderr. With --json, the same as one JSON object (also for a program with
errors: its diagnostics). --batch B adds memory: each layer's output at batch B and
the peak of a forward pass; --device-memory SIZE (80GB, or `auto` for the local
GPU's free memory) the largest batch that fits on the GPU.

    cnnc shapes examples/lenet.cnn
    cnnc shapes net.cnn --input 64x64x3 --json
    cnnc shapes examples/keras/resnet50.cnn --batch 64 --device-memory 80GB
    echo 'input 8x8x1; conv 4 3x3; pool 2' | cnnc shapes -
"""

from __future__ import annotations

from .common import input_shape_arg, load_network, positive_arg, print_warnings


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
    p.add_argument("file", metavar="FILE", help="a .cnn program (- reads standard input)")
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
    from ..errors import CnncError, UsageError
    from ..summary import format_table, summary_dict

    device_memory = args.device_memory
    if device_memory is not None and args.batch is None:
        raise UsageError("--device-memory needs --batch B (the batch to check)")
    if device_memory == "auto":
        from ..memory import local_gpu_free

        device_memory = local_gpu_free()
        if device_memory is None:
            raise UsageError("--device-memory auto: no GPU found (nvidia-smi did not answer); "
                             "give the size, e.g. --device-memory 80GB")
    try:
        net = load_network(args.file, args.input)
        print_warnings(net)
    except CnncError as e:
        if args.json:   # the diagnostics as JSON too; the CLI still prints them and exits 1
            import json

            from ..summary import error_dict

            print(json.dumps(error_dict(e, e.filename), indent=2))
        raise
    if args.json:
        import json

        print(json.dumps(summary_dict(net, args.batch, device_memory), indent=2))
    else:
        print(format_table(net, batch=args.batch, device_memory=device_memory))
    return 0
