"""Writing a compiled model as an importable module, with its weights beside it.

The module is the backend's generated source, byte for byte what `cnnc.compile`
executes; its `load()` reads `<module stem><WEIGHTS_EXT>` from its own folder. A
backend module may declare WEIGHTS_EXT (default ".npz"); the weights are written in
that format, so this file knows nothing about any particular backend.
"""

from __future__ import annotations

import os

from ..errors import WeightsError


def weights_path_for(module_path, model) -> str:
    ext = getattr(model.module, "WEIGHTS_EXT", ".npz")
    return os.path.splitext(os.fspath(module_path))[0] + ext


def export_module(model, path) -> list:
    """Write `path` (a .py file) and its weights file; returns the paths written.

    Raises OSError when a file cannot be written.
    """
    path = os.fspath(path)
    wpath = weights_path_for(path, model)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(model.source)
    try:
        model.save_weights(wpath)
    except WeightsError as e:
        raise OSError(str(e)) from None
    return [path, wpath]
