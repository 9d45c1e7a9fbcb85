"""Where a model's weights come from, for `cnnc compile FILE`, `cnnc.compile(path)` and
`cnnc play FILE`. The first match wins:

1. `--weights W` / `weights=`;
2. (the command line only) fitting weights already beside the output module:
   OUT.npz or OUT.safetensors (cnnc/commands/compile.py);
3. the program's own STEM.npz or STEM.safetensors beside it;
4. else fresh initial weights from the seed.

Two files of one stem in the two formats are an error that names both: which one is
meant cannot be known (one may be a stale copy). Either format serves either backend:
the weights are read as arrays and written in the format the module reads.
"""

from __future__ import annotations

import os

from ..errors import WeightsError
from .weights import FORMATS


def files_beside(path) -> list:
    """The weights files named like `path` in each format (STEM.npz, STEM.safetensors) that exist."""
    stem = os.path.splitext(os.fspath(path))[0]
    return [stem + ext for ext in FORMATS if os.path.lexists(stem + ext)]


def one_beside(path, what: str) -> "str | None":
    """The weights file beside `path` (`what` names it in the message: "the program"), None when
    there is none; WeightsError(unreadable=True) naming both when there are two."""
    found = files_beside(path)
    if len(found) > 1:
        raise WeightsError(f"both {found[0]} and {found[1]} lie beside {what}: say which weights to use "
                           f"(--weights W, or weights= in Python), or remove one", unreadable=True)
    return found[0] if found else None


def program_weights(program) -> "str | None":
    """The program's own weights file, STEM.npz or STEM.safetensors beside the program at the
    path `program` (rule 3), or None."""
    return one_beside(program, f"the program {os.fspath(program)}")
