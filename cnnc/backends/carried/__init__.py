"""Code that generated modules carry: real modules, linted and tested like the rest,
whose source is inlined into every module a backend writes (so that module needs
neither cnnc nor anything but its own imports).

This package holds what every backend's modules carry (safe_files, weights_io, tables)
and the machinery below; a backend's own carried code is in its package's `carried/`
(cnnc/backends/numpy/carried/, cnnc/backends/triton/carried/), found by `source` through
that package.

Each carried file starts with its docstring and the imports it needs, then the line

    # --- carried: everything below is inlined into generated modules ---

Only what follows that line is inlined; the generated module's own header has the
same imports. Carried code never reads a generated module's globals: whatever it
needs (PARAMS, INPUT_SHAPE, prepare, forward) is passed in by the generated code.
"""

from __future__ import annotations

import os

MARKER = "# --- carried: everything below is inlined into generated modules ---"
# Every generated module holds this line; the module `cnnc compile` writes has it set to the
# digest of the weights written beside it (cnnc/runtime/export.py), which its load() checks.
DIGEST_LINE = "WEIGHTS_SHA256 = None"


def source(name: str, package=None) -> str:
    """The inlined part of carried module `name` (e.g. "numpy_ops") of `package` (a carried
    package, e.g. cnnc.backends.numpy.carried; by default this one), without trailing blank
    lines. The file is read, never imported: carried code may import what cnnc does not."""
    folder = os.path.dirname(os.path.abspath(package.__file__ if package is not None else __file__))
    path = os.path.join(folder, name + ".py")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    head, sep, body = text.partition(MARKER + "\n")
    if not sep:
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        raise RuntimeError(f"{os.path.relpath(path, root)} has no '{MARKER}' line")
    return body.strip("\n")


def emit(e, name: str, package=None) -> None:
    """Append carried module `name` of `package` (as for `source`) to the emitter `e`
    (cnnc.backends.emitter.Emitter)."""
    e.lines(*source(name, package).split("\n"))


def emit_all(e, modules) -> None:
    """Append each carried module of `modules` ((name, package) pairs, as for `emit`) to the
    emitter `e`, each followed by two blank lines: the runtime every generated module carries."""
    for name, package in modules:
        emit(e, name, package)
        e.line()
        e.line()
