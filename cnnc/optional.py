"""Optional dependencies (torch, triton, onnx, safetensors, matplotlib): imported only
where needed, and when missing, a clear message with the pip command that installs them."""

from __future__ import annotations

from .errors import UsageError


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
