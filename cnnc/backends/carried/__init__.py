"""Code that generated modules carry: real modules, linted and tested like the rest,
whose source is inlined into every module a backend writes (so that module needs
neither cnnc nor anything but its own imports).

Each file here starts with its docstring and the imports it needs, then the line

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


def source(name: str) -> str:
    """The inlined part of carried module `name` (e.g. "numpy_ops"), without trailing blank lines."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), name + ".py")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    head, sep, body = text.partition(MARKER + "\n")
    if not sep:
        raise RuntimeError(f"cnnc/backends/carried/{name}.py has no '{MARKER}' line")
    return body.strip("\n")


def emit(e, name: str) -> None:
    """Append carried module `name` to the emitter `e` (cnnc.backends.emitter.Emitter)."""
    e.lines(*source(name).split("\n"))
