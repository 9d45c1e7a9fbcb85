"""Writing a compiled model as an importable module, with its weights beside it.

The module is the backend's generated source, byte for byte what `cnnc.compile`
executes; its `load()` reads `<module stem><WEIGHTS_EXT>` from its own folder. A
backend module may declare WEIGHTS_EXT (default ".npz"); the weights are written in
that format, so this file knows nothing about any particular backend.

The module and its weights are written together (cnnc/runtime/files.py): each path
always holds a whole file, and the set is written both or neither unless the process
is killed between the two renames. For that case (and for a weights file replaced by
hand) the module on disk records the digest of its weights (WEIGHTS_SHA256, the one
line in which it differs from the code `cnnc.compile` runs): its `load()` refuses a
weights file beside it with other arrays, while `load(path)` reads any fitting file.
"""

from __future__ import annotations

import os

from ..backends.carried import DIGEST_LINE
from ..backends.carried.weights_io import params_digest
from . import weights as W
from .files import write_together


def module_source(code: str, params) -> str:
    """The module written for generated `code` beside weights `params`: its DIGEST_LINE set
    to their digest."""
    line = "\n" + DIGEST_LINE + "\n"
    if code.count(line) != 1:
        raise RuntimeError("generated code without its WEIGHTS_SHA256 line (a bug in the backend)")
    return code.replace(line, f"\nWEIGHTS_SHA256 = {params_digest(params)!r}\n")


def weights_ext(model_or_backend) -> str:
    """The weights format of a Model's module, or of a backend module (its WEIGHTS_EXT)."""
    module = getattr(model_or_backend, "module", model_or_backend)
    return getattr(module, "WEIGHTS_EXT", ".npz")


def weights_path_for(module_path, model) -> str:
    return os.path.splitext(os.fspath(module_path))[0] + weights_ext(model)


def export_module(model, path, write_weights: bool = True) -> list:
    """Write `path` (a .py file) and, unless `write_weights` is False (the weights file beside
    it is kept as it is), its weights file; returns the paths written.

    Raises OSError (or WeightsError) when a file cannot be written; then nothing changed.
    """
    path = os.fspath(path)

    def module(tmp):
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.write(model.source)

    items = [(path, module)]
    if write_weights:
        wpath = weights_path_for(path, model)
        items.append((wpath, W.writer(wpath, model.params)))
    write_together(items)
    return [p for p, _ in items]
