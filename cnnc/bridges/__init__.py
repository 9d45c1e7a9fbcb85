"""Bridges between cnnc and the outside world: PyTorch (both ways) and ONNX.

    to_torch(model)          -> nn.Module, NHWC in and out, same weights, trainable
    load_torch(model, m)     <- the module from to_torch, or a plain nn.Sequential's state_dict
    to_onnx(model, path)     -> an ONNX file (NHWC in and out), built with onnx.helper

Each function needs only `model.network`, `model.params` and `model.set_params`.
torch and onnx are optional: they are imported inside these modules, never by
`import cnnc`.
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


from ..cli import UsageError


class MissingDependency(UsageError, ImportError):
    """An optional package is not installed; the message says how to get it.

    An ImportError for Python callers, and a UsageError so that every `cnnc`
    command reports it as a clear message with exit 2, never a traceback.
    """


def require(module: str, extra: str, load: bool = True):
    """Import an optional dependency or fail with the pip command that installs it.

    `load=False` only checks that it is installed (None is returned): for code that
    must import it itself, e.g. triton after setting TRITON_INTERPRET.
    """
    import importlib
    import importlib.util

    try:
        if not load:
            if importlib.util.find_spec(module) is None:
                raise ImportError(module)
            return None
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependency(f"this needs {module.split('.')[0]}, which is not installed; "
                                f"install it with: pip install 'cnnc[{extra}]'") from None
