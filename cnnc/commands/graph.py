"""Draw the network's graph: one box per layer, arrows labelled with the shapes they carry.

-o NAME.dot writes Graphviz DOT; -o NAME.svg or NAME.png also writes NAME.dot and
renders it with Graphviz's `dot` when installed, else with matplotlib.
"""

from __future__ import annotations

from .common import UsageError, input_shape_arg


def add_arguments(p) -> None:
    p.add_argument("file", metavar="FILE", help="a .cnn program")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="net.svg, net.png or net.dot")
    p.add_argument("--input", type=input_shape_arg, metavar="HxWxC", help="the input shape, if the program has none")
    p.add_argument("--renderer", choices=("auto", "graphviz", "matplotlib"), default="auto",
                   help="how to render .svg/.png (default: Graphviz when installed, else matplotlib)")


def run(args) -> int:
    import subprocess

    from ..optional import MissingDependency
    from .common import load_network, print_warnings
    from ..pictures import draw_graph

    net = load_network(args.file, args.input)
    print_warnings(net)
    use = {"auto": None, "graphviz": True, "matplotlib": False}[args.renderer]
    try:
        written = draw_graph(net, args.output, use_graphviz=use)
    except (ValueError, MissingDependency, FileNotFoundError) as e:
        raise UsageError(str(e)) from None
    except OSError as e:
        raise UsageError(f"cannot write {args.output}: {e.strerror or e}") from None
    except subprocess.CalledProcessError as e:
        raise UsageError(f"Graphviz failed: {e.stderr.decode(errors='replace').strip()}") from None
    print("wrote " + ", ".join(written))
    return 0
