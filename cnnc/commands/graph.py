"""Draw the network's graph: one box per layer, arrows labelled with the shapes they carry.

-o NAME.dot writes Graphviz DOT; -o NAME.svg or NAME.png renders the picture with
Graphviz's `dot` when installed, else with matplotlib, and writes no other file.

    cnnc graph examples/lenet.cnn -o lenet.svg
    cnnc graph examples/inception.cnn -o inception.dot
"""

from __future__ import annotations

from .common import UsageError, input_shape_arg


def add_arguments(p) -> None:
    p.add_argument("file", metavar="FILE", help="a .cnn program (- reads standard input)")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="net.svg, net.png or net.dot")
    p.add_argument("--input", type=input_shape_arg, metavar="HxWxC", help="the input shape, if the program has none")
    p.add_argument("--renderer", choices=("auto", "graphviz", "matplotlib"), default="auto",
                   help="how to render .svg/.png (default: Graphviz when installed, else matplotlib)")


def run(args) -> int:
    import os
    import subprocess

    from ..optional import MissingDependency
    from ..pictures import GRAPH_FORMATS, draw_graph
    from ..runtime import files
    from .common import input_file, load_network, print_warnings

    if os.path.splitext(args.output)[1].lower() not in GRAPH_FORMATS:
        raise UsageError(f"-o {args.output}: the graph picture is .svg, .png or .dot")
    files.refuse_overwriting_inputs([args.output], {"program": input_file(args.file)})
    files.check_writable(args.output)
    net = load_network(args.file, args.input)
    print_warnings(net)
    use = {"auto": None, "graphviz": True, "matplotlib": False}[args.renderer]
    try:
        written = draw_graph(net, args.output, use_graphviz=use)
    except (ValueError, MissingDependency, FileNotFoundError) as e:
        hint = "; -o NAME.dot writes the DOT text without it" if isinstance(e, (MissingDependency,
                                                                               FileNotFoundError)) else ""
        raise UsageError(f"{e}{hint}") from None
    except OSError as e:
        raise UsageError(f"cannot write {args.output}: {e.strerror or e}") from None
    except subprocess.CalledProcessError as e:
        raise UsageError(f"Graphviz failed: {e.stderr.decode(errors='replace').strip()}") from None
    print("wrote " + ", ".join(written))
    return 0
