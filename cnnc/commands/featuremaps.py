"""Draw one layer's feature maps for an image: a grid with one picture per channel.

IMG is an .npy/.npz array (H,W,C) (or the first image of (N,H,W,C)) or a PNG; W the
weights (.npz or .safetensors) that `cnnc train` writes. The layer's output is
computed by the numpy backend.

    cnnc featuremaps examples/lenet.cnn --weights w.npz --image three.npy --layer conv_1 -o maps.png
"""

from __future__ import annotations

from .common import UsageError, input_shape_arg


def add_arguments(p) -> None:
    p.add_argument("file", metavar="FILE", help="a .cnn program (- reads standard input)")
    p.add_argument("--weights", required=True, metavar="W", help="trained weights (.npz or .safetensors)")
    p.add_argument("--image", required=True, metavar="IMG", help="one image: .npy, .npz (array x) or .png")
    p.add_argument("--layer", required=True, metavar="NAME", help="the layer to show (e.g. conv_1)")
    p.add_argument("-o", "--output", required=True, metavar="MAPS.png", help="the picture to write (.png, .svg, .pdf)")
    p.add_argument("--input", type=input_shape_arg, metavar="HxWxC", help="the input shape, if the program has none")


def run(args) -> int:
    import os

    from .. import compile as compile_model
    from ..layers import Image
    from ..optional import MissingDependency
    from ..pictures import draw_feature_maps, feature_maps, read_image
    from ..runtime import files
    from .common import input_file, load_network, print_warnings

    if os.path.splitext(args.output)[1].lower() not in (".png", ".svg", ".pdf"):
        raise UsageError(f"-o {args.output}: the picture is .png, .svg or .pdf")
    files.refuse_overwriting_inputs([args.output], {"program": input_file(args.file), "weights": args.weights,
                                                    "image": args.image})
    files.check_writable(args.output)
    net = load_network(args.file, args.input)
    print_warnings(net)
    names = [n.name for n in net.nodes]
    if args.layer not in names:
        images = [n.name for n in net.nodes if isinstance(n.out, Image)]
        raise UsageError(f"no layer '{args.layer}' in {net.filename}; layers with feature maps: {', '.join(images)}")
    node = net[args.layer]
    if not isinstance(node.out, Image):
        raise UsageError(f"{args.layer} gives {node.out.describe()}, not an image with channels; "
                         f"pick a conv or pool layer")
    try:
        x = read_image(args.image, net.input_shape)
    except FileNotFoundError as e:
        raise UsageError(f"cannot read {e.filename or args.image}: no such file") from None
    except (ValueError, OSError, MissingDependency) as e:
        raise UsageError(str(e)) from None
    model = compile_model(net, backend="numpy", weights=args.weights)  # a WeightsError: cli.main
    try:
        maps = feature_maps(model, x, args.layer)[0]
        draw_feature_maps(maps, args.output,
                          title=f"{args.layer}: {node.out.c} feature maps of {os.path.basename(args.image)}")
    except (ValueError, OSError, MissingDependency) as e:
        raise UsageError(str(e)) from None
    print(f"wrote {args.output} ({node.out.c} channels of {node.out.h}x{node.out.w})")
    return 0
