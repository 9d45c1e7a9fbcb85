"""Train a network through PyTorch on an .npz of images x (N,H,W,C) and integer labels y.

Cross-entropy with Adam; a final softmax is trained on its logits. Prints a
progress bar and the validation accuracy of every epoch on stderr, then writes
the trained weights (.npz or .safetensors) that `cnnc compile --weights` takes.
Augmentations: rotate, shift, zoom (small random ones, as the course notes teach)
and flip (a horizontal mirror: only for data where a mirror image is the same
class; it is wrong for digits).
"""

from __future__ import annotations

from .common import UsageError, input_shape_arg, seed_arg


def add_arguments(p) -> None:
    p.add_argument("file", metavar="FILE", help="a .cnn program")
    p.add_argument("--data", required=True, metavar="DATA.npz", help="an .npz with arrays x (N,H,W,C) and y (N,) of class labels")
    p.add_argument("--epochs", type=int, default=10, metavar="N", help="passes over the data (default 10)")
    p.add_argument("--batch-size", type=int, default=32, metavar="B", help="images per step (default 32)")
    p.add_argument("--lr", type=float, default=1e-3, metavar="LR", help="Adam's learning rate (default 0.001)")
    p.add_argument("--augment", metavar="LIST", help="comma-separated: rotate,shift,zoom,flip")
    p.add_argument("--val-split", type=float, default=0.1, metavar="F", help="fraction held out for validation (default 0.1)")
    p.add_argument("--seed", type=seed_arg, default=0, metavar="S", help="seed for initial weights, shuffling and augmentation (default 0)")
    p.add_argument("--weights", metavar="INIT", help="start from these weights (.npz or .safetensors) instead of fresh ones")
    p.add_argument("--input", type=input_shape_arg, metavar="HxWxC", help="the input shape, if the program has none")
    p.add_argument("-o", "--output", required=True, metavar="WEIGHTS", help="where to write the trained weights (.npz or .safetensors)")


def run(args) -> int:
    import os
    import sys

    from .. import compile as compile_model
    from ..optional import MissingDependency
    from .common import load_network, print_warnings
    from ..training import DataError, load_data, parse_augment, train

    if not args.output.endswith((".npz", ".safetensors")):
        raise UsageError(f"-o {args.output}: the weights file must end in .npz or .safetensors")
    folder = os.path.dirname(args.output) or "."
    if not os.path.isdir(folder):  # found out before training, not after it
        raise UsageError(f"cannot write {args.output}: no folder {folder}")
    net = load_network(args.file, args.input)
    print_warnings(net)
    try:
        augment = parse_augment(args.augment)
        if not os.path.exists(args.data):
            raise DataError(f"cannot read {args.data}: no such file")
        x, y = load_data(args.data, net)
        model = compile_model(net, backend="numpy", seed=args.seed, weights=args.weights)
        history = train(model, x, y, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                        augment_with=augment, val_split=args.val_split, seed=args.seed, progress=sys.stderr)
    except (DataError, MissingDependency) as e:
        raise UsageError(str(e)) from None
    model.save_weights(args.output)  # a WeightsError (cannot write) exits 2 in cli.main
    last = history[-1]
    val = f", validation accuracy {last['val_acc']:.4f}" if last["val_acc"] is not None else ""
    print(f"wrote {args.output} ({args.epochs} epoch(s), final loss {last['loss']:.4f}{val})")
    return 0
