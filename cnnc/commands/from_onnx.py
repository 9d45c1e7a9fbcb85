"""Write a cnnc program (and its weights beside it) equivalent to an ONNX model.

    cnnc from-onnx resnet18.onnx                  # writes resnet18.cnn and resnet18.npz beside it
    cnnc from-onnx net.onnx -o models/net.cnn     # models/net.cnn and models/net.npz

For CNNs as torch.onnx.export writes them (either exporter; NCHW, opset 13 or later): the
program's input is HxWxC and its weights are in cnnc's (Keras's) layouts, so `cnnc compile
NET.cnn` computes what the ONNX model computes. An op or attribute the language cannot say
exits 1 naming every such node, and nothing is written. A damaged or hostile file (external
data outside the model's folder, dimensions or byte counts that do not hold, a cycle) exits
2 before any array is read. An existing output is never replaced without --force, never
the model.
"""

from __future__ import annotations

from .common import UsageError


def add_arguments(p) -> None:
    p.add_argument("model", metavar="MODEL.onnx", help="an ONNX model, e.g. from torch.onnx.export")
    p.add_argument("-o", "--output", metavar="NET.cnn",
                   help="the program to write (default: the model's stem, .cnn, beside the model); its weights "
                        "go beside it as NET.npz")
    p.add_argument("--force", action="store_true", help="replace an existing program or weights file")


def run(args) -> int:
    import os

    from ..bridges.importers.onnx.model import Unconvertible, convert
    from ..runtime import files
    from ..runtime.weights import writer
    from .common import error

    model = args.model
    if not os.path.lexists(model):
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
    except OSError as e:
        raise UsageError(f"cannot read {model}: {e.strerror or e}") from None
    files.write_together([(weights, writer(weights, params)),
                          (out, lambda tmp: _write_text(tmp, text))])   # the weights first
    n = sum(int(a.size) for a in params.values())
    lines = sum(1 for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#"))
    print(f"wrote {out} ({lines} lines) and {weights} ({len(params)} arrays, {n:,} parameters)")
    return 0


def _write_text(tmp, text) -> None:
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
