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

from .common import add_import_arguments, run_import


def add_arguments(p) -> None:
    add_import_arguments(p, "MODEL.onnx", "an ONNX model, e.g. from torch.onnx.export")


def run(args) -> int:
    from ..bridges.importers.onnx.model import Unconvertible, convert

    return run_import(args, convert, Unconvertible)
