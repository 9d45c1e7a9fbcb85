"""Write a cnnc program (and its weights beside it) equivalent to a Keras 3 .keras model.

    cnnc from-keras resnet50.keras                 # writes resnet50.cnn and resnet50.npz beside it
    cnnc from-keras net.keras -o models/net.cnn    # models/net.cnn and models/net.npz

Keras is not needed: the .keras zip is read with the standard library and h5py, nothing is
unpickled. A layer or option the language cannot say exits 1 naming every such layer, and
nothing is written. An existing output is never replaced without --force, never the model.
"""

from __future__ import annotations

from .common import UsageError


def add_arguments(p) -> None:
    p.add_argument("model", metavar="MODEL.keras", help="a Keras 3 model saved with model.save('NAME.keras')")
    p.add_argument("-o", "--output", metavar="NET.cnn",
                   help="the program to write (default: the model's stem, .cnn, beside the model); its weights "
                        "go beside it as NET.npz")
    p.add_argument("--force", action="store_true", help="replace an existing program or weights file")


def run(args) -> int:
    import os

    from ..bridges.importers.keras.model import Unconvertible, convert, write_files
    from ..runtime import files
    from .common import error

    model = args.model
    if not os.path.exists(model):
        raise UsageError(f"{model}: no such file")
    out = args.output or os.path.join(os.path.dirname(model), os.path.splitext(os.path.basename(model))[0] + ".cnn")
    if not out.endswith(".cnn"):
        raise UsageError(f"-o {out}: the program's name ends in .cnn")
    weights = os.path.splitext(out)[0] + ".npz"
    files.refuse_overwriting_inputs([out, weights], {"model": model})
    for path in (out, weights):
        if os.path.lexists(path) and not args.force:
            raise UsageError(f"{path} exists; refusing to replace it (give --force to replace it, or -o another name)")
        files.check_writable(path)
    try:
        text, params = convert(model, name=out)
    except Unconvertible as e:
        error(str(e))
        return 1
    write_files(text, params, out)   # the weights first, each file atomically
    n = sum(int(a.size) for a in params.values())
    lines = sum(1 for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#"))
    print(f"wrote {out} ({lines} lines) and {weights} ({len(params)} arrays, {n:,} parameters)")
    return 0
