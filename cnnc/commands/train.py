"""Train a network through PyTorch on an .npz of images x (N,H,W,C) and integer labels y.

Cross-entropy with Adam or SGD (momentum 0.9) and an optional learning-rate schedule;
a final softmax is trained on its logits. Each epoch's loss and validation accuracy go
to stderr (with a progress bar on a terminal); early stopping watches the validation
loss; --test reports the accuracy on a held-out set. The trained weights (.npz or
.safetensors) are what `cnnc compile --weights` takes. --checkpoint writes the whole
state after every epoch and --resume continues from it. Under `torchrun
--nproc-per-node N` the same command trains with DistributedDataParallel.

examples:
  cnnc train net.cnn --data train.npz -o w.safetensors
  cnnc train net.cnn --data train.npz --test test.npz --epochs 40 --schedule cosine \\
      --augment rotate,shift,zoom --patience 5 --checkpoint run.ckpt.npz -o w.safetensors
  cnnc train net.cnn --data train.npz --epochs 60 --resume run.ckpt.npz -o w.safetensors
  torchrun --standalone --nproc-per-node 2 -m cnnc train net.cnn --data train.npz -o w.npz
"""

from __future__ import annotations

from .common import UsageError, input_shape_arg, seed_arg

WEIGHT_SUFFIXES = (".npz", ".safetensors")


def add_arguments(p) -> None:
    import argparse

    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("file", metavar="FILE", help="a .cnn program")
    p.add_argument("--data", required=True, metavar="DATA.npz", help="an .npz with arrays x (N,H,W,C) and y (N,) of class labels")
    p.add_argument("-o", "--output", required=True, metavar="WEIGHTS", help="where to write the trained weights (.npz or .safetensors)")
    p.add_argument("--epochs", type=int, default=10, metavar="N", help="passes over the data, in all (default 10)")
    p.add_argument("--batch-size", type=int, default=32, metavar="B",
                   help="images per step; under torchrun the global batch, split across the processes (default 32)")
    p.add_argument("--optimizer", choices=("adam", "sgd"), default="adam", help="adam, or sgd with momentum 0.9 (default adam)")
    p.add_argument("--lr", type=float, default=None, metavar="LR", help="learning rate (default 0.001 for adam, 0.01 for sgd)")
    p.add_argument("--schedule", choices=("none", "cosine", "step"), default="none",
                   help="learning rate per epoch: constant, cosine decay to 0, or /10 at 50%% and 75%% of the epochs (default none)")
    p.add_argument("--augment", metavar="LIST", help="comma-separated: rotate,shift,zoom,flip")
    p.add_argument("--val-split", type=float, default=0.1, metavar="F", help="fraction held out for validation (default 0.1)")
    p.add_argument("--patience", type=int, default=None, metavar="N",
                   help="stop when the validation loss has not improved for N epochs; keep the best epoch's weights")
    p.add_argument("--test", metavar="TEST.npz", help="a held-out .npz (x, y): its accuracy is reported after training")
    p.add_argument("--seed", type=seed_arg, default=0, metavar="S", help="seed for initial weights, split, shuffling, augmentation, dropout (default 0)")
    p.add_argument("--weights", metavar="INIT", help="start from these weights (.npz or .safetensors) instead of fresh ones")
    p.add_argument("--checkpoint", metavar="CKPT.npz", help="write the whole training state here after every epoch")
    p.add_argument("--resume", metavar="CKPT.npz", help="continue from a checkpoint (and keep checkpointing to it)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="where to train (default auto: a GPU if torch sees one)")
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="torch CPU threads (default: 1 for small networks, else torch's own setting)")
    p.add_argument("--input", type=input_shape_arg, metavar="HxWxC", help="the input shape, if the program has none")


def run(args) -> int:
    import sys

    from .. import compile as compile_model
    from ..optional import MissingDependency
    from ..runtime.files import check_writable, refuse_overwriting_inputs, same_file
    from ..training import DataError, Options, TrainingError, evaluate, is_main_process, load_data, parse_augment, train
    from .common import load_network, print_warnings

    if not args.output.endswith(WEIGHT_SUFFIXES):
        raise UsageError(f"-o {args.output}: the weights file must end in .npz or .safetensors")
    checkpoint = args.checkpoint or args.resume
    if checkpoint is not None and not checkpoint.endswith(".npz"):
        raise UsageError(f"{checkpoint}: a checkpoint is an .npz file")
    if args.resume and args.weights:
        raise UsageError("--resume continues a checkpoint with its own weights; --weights starts afresh: give one")
    # -o may be the --weights file: training on from saved weights and writing them back
    # is asked for explicitly, and the file is replaced only when training succeeded.
    inputs = {"program": args.file, "training data": args.data, "test data": args.test}
    refuse_overwriting_inputs([args.output], {**inputs, "checkpoint to resume from": args.resume})
    if checkpoint is not None:
        refuse_overwriting_inputs([checkpoint], {**inputs, "initial weights (--weights)": args.weights})
        if same_file(checkpoint, args.output):
            raise UsageError(f"-o {args.output} is also the checkpoint; give them different names")
    for path in (args.output, checkpoint):
        if path is not None:
            check_writable(path)  # found out before training, not after it
    main = is_main_process()
    try:
        options = Options(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer,
                          schedule=args.schedule, augment=parse_augment(args.augment), val_split=args.val_split,
                          patience=args.patience, seed=args.seed, device=args.device, threads=args.threads).checked()
    except DataError as e:
        raise UsageError(str(e)) from None

    net = load_network(args.file, args.input)
    if main:
        print_warnings(net)
    try:
        x, y = load_data(args.data, net)
        test = load_data(args.test, net) if args.test else None
        model = compile_model(net, backend="numpy", seed=args.seed, weights=args.weights)
        history = train(model, x, y, epochs=options.epochs, batch_size=options.batch_size, lr=options.lr,
                        augment_with=options.augment, val_split=options.val_split, seed=options.seed,
                        optimizer=options.optimizer, schedule=options.schedule, patience=options.patience,
                        device=options.device, threads=options.threads, checkpoint=checkpoint, resume=args.resume,
                        progress=sys.stderr)
        scores = evaluate(model, *test, device=options.device) if test is not None and main else None
    except TrainingError as e:
        print(f"cnnc: error: {e}; nothing was written to {args.output}", file=sys.stderr)
        return 1
    except (DataError, MissingDependency) as e:
        raise UsageError(str(e)) from None
    except RuntimeError as e:
        if "out of memory" in str(e).lower():
            raise UsageError(f"out of memory on the device; try a smaller --batch-size ({args.batch_size} now)") from None
        raise
    if not main:
        return 0  # under torchrun, rank 0 alone writes and reports
    _save_weights(model, args.output)
    last = history[-1]
    if history.stopped_early:
        print(f"early stopping after epoch {last['epoch']}: no better validation loss for {options.patience} "
              f"epoch(s); keeping epoch {history.best_epoch}", file=sys.stderr)
    kept = next(h for h in history if h["epoch"] == history.best_epoch) if history.best_epoch else last
    val = f", validation accuracy {kept['val_acc']:.4f}" if kept["val_acc"] is not None else ""
    print(f"wrote {args.output} (epoch {kept['epoch']} of {options.epochs}, loss {kept['loss']:.4f}{val})")
    if scores is not None:
        print(f"test accuracy {scores['accuracy']:.4f} ({scores['correct']}/{scores['n']}), test loss {scores['loss']:.4f}")
    if checkpoint is not None:
        print(f"checkpoint {checkpoint} (epoch {last['epoch']})")
    return 0


def _save_weights(model, path) -> None:
    """The weights, written atomically: a temporary file beside `path`, then one rename."""
    import os

    from ..runtime.files import write_atomic

    suffix = os.path.splitext(path)[1]

    def write(tmp):
        staged = tmp + suffix  # save_weights picks the format by the file's suffix
        try:
            model.save_weights(staged)
            os.replace(staged, tmp)
        finally:
            if os.path.exists(staged):
                os.remove(staged)

    write_atomic(path, write)
