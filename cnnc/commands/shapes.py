"""Check a program and print every layer's shape, parameters and multiply-adds.

Prints a table (name, kind, output shape, parameters, MACs, receptive field,
cumulative stride, the Triton kernel), the totals and the smallest input the
network accepts. Warnings go to stderr. With --json, the same as one JSON object.

    cnnc shapes examples/lenet.cnn
    cnnc shapes net.cnn --input 64x64x3 --json
    echo 'input 8x8x1; conv 4 3x3; pool 2' | cnnc shapes -
"""

from __future__ import annotations

from .common import input_shape_arg, load_network, print_warnings


def add_arguments(p) -> None:
    p.add_argument("file", metavar="FILE", help="a .cnn program (- reads standard input)")
    p.add_argument("--input", type=input_shape_arg, metavar="HxWxC",
                   help="the input shape, for a program without an input statement (or to try another size)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")


def run(args) -> int:
    from ..summary import format_table, summary_dict

    net = load_network(args.file, args.input)
    print_warnings(net)
    if args.json:
        import json

        print(json.dumps(summary_dict(net), indent=2))
    else:
        from ..backends.triton_fusion import TRITON
        from ..passes.fusion import kernel_column

        # which triton kernel computes each layer (see `cnnc compile --plan`)
        print(format_table(net, extra={"kernel": kernel_column(net, TRITON)}))
    return 0
