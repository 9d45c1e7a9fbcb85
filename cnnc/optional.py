"""Optional dependencies (torch, triton, onnx, safetensors, matplotlib): imported only
where needed, and when missing, a clear message with the pip command that installs them
(`require`, or `missing` for an ImportError met while importing cnnc's own module that
needs them, such as a backend)."""

from __future__ import annotations

from .errors import CnncError, UsageError


class MissingDependency(UsageError, ImportError, CnncError):
    """An optional package is not installed; the message says how to get it.

    An ImportError and a CnncError for Python callers (`str(e)` is the message), and a
    UsageError so that every `cnnc` command reports it as a clear message with exit 2,
    never a traceback.
    """

    def __init__(self, message: str):
        CnncError.__init__(self, message, 0, 0, "<cnnc>")
        self.msg = message
        self.args = (message,)

    def __str__(self) -> str:
        return self.message


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


def missing(e: ImportError, extra: str, what: str):
    """The MissingDependency for `e`, an ImportError raised while importing `what` (e.g. "the
    triton backend"), when a package outside cnnc is missing; None when the missing module is
    part of cnnc itself (a bug, to be raised as it is)."""
    name = (getattr(e, "name", None) or "").split(".")[0]
    if not name or name == "cnnc":
        return None
    return MissingDependency(f"{what} needs {name}, which is not installed; "
                             f"install it with: pip install 'cnnc[{extra}]'")
