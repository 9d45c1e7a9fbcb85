"""Bridges between cnnc and the outside world: PyTorch (both ways) and ONNX.

    to_torch(model)          -> nn.Module, NHWC in and out, same weights, trainable
    load_torch(model, m)     <- the module from to_torch, or a plain nn.Sequential's state_dict
    to_onnx(model, path)     -> an ONNX file (NHWC in and out), built with onnx.helper
    load_keras(model, path)  <- a Keras 3 .keras file, matched by graph structure (h5py, no Keras)

Each function needs only `model.network`, `model.params` and `model.set_params`.
torch, onnx and h5py are optional: they are imported inside these modules, never by
`import cnnc` (see cnnc/optional.py).
"""

from __future__ import annotations


def to_torch(model):
    from .torch_module import to_torch as f
    return f(model)


def load_torch(model, module_or_state_dict):
    from .torch_import import load_torch as f
    return f(model, module_or_state_dict)


def to_onnx(model, path, opset: int = 17):
    from .onnx_export import to_onnx as f
    return f(model, path, opset=opset)


def load_keras(model, path):
    from .keras_import import load_keras as f
    return f(model, path)
