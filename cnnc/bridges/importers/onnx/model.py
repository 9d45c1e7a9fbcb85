"""`cnnc from-onnx`: an ONNX model as a cnnc program and its weights.

    text, params = convert("net.onnx")     # Unconvertible lists every node cnnc cannot say

The file is read and every header checked first (reader.py: size, protobuf, tensors,
external data, the graph a DAG); the graph is converted (to_ir.py), simplified
(importers/simplify.py) and written (importers/writer.py), the same way as from-keras;
the text is parsed back and the weights named on that parse (importers/weights.py), so what
is written is what cnnc reads. Damaged and hostile files are a WeightsError with
`unreadable` set (exit 2); nothing is decoded from them.
"""

from __future__ import annotations

import os

from ....errors import CnncError, WeightsError
from .. import output
from ..output import write_files
from ..simplify import simplify
from ..weights import name_weights
from ..writer import WriterError, write
from .reader import Damaged, read_model
from .to_ir import Problem, build


class Unconvertible(output.Unconvertible):
    """ONNX nodes cnnc cannot say: `problems` (to_ir.Problem), every one of them."""

    def __init__(self, path, problems):
        super().__init__(path, problems, "ONNX node(s)", "<onnx>")


def _refused(p, e) -> WeightsError:
    return WeightsError(f"{p}: {e}; refusing a damaged or hostile file", unreadable=True)


def convert(path, name: "str | None" = None) -> "tuple[str, dict]":
    """(program text, {param name: float32 array}) of the .onnx file at `path`."""
    from .... import parse
    from ..ir import NOMINAL

    p = os.fspath(path)
    try:
        model = read_model(p)
        stem = os.path.splitext(os.path.basename(p))[0]
        net, problems = build(model, name=stem, source=os.path.basename(p))
    except Damaged as e:
        raise _refused(p, e) from None
    if problems:
        raise Unconvertible(p, problems)
    simplify(net)
    producer = f" ({model.producer})" if model.producer else ""
    header = [f"{stem}: converted from {os.path.basename(p)}{producer} by cnnc from-onnx"]
    try:
        text = write(net, header)
    except WriterError as e:
        raise Unconvertible(p, [Problem(None, str(e))]) from None
    free = None in net.shape   # no `input` line: read it at the size the network was built at
    try:
        parsed = parse(text, input=tuple(NOMINAL if d is None else d for d in net.shape) if free else None,
                       filename=name or "<from-onnx>")
    except CnncError as e:
        raise WeightsError(f"{p}: the model does not fit cnnc's limits: {e.message}", unreadable=True) from None
    return text, name_weights(net, parsed)


__all__ = ["Unconvertible", "convert", "write_files"]
