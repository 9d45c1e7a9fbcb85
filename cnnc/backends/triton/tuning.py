"""Tuning records on disk: where they live, merging new measurements into them, writing
them atomically (cnnc/runtime/files.py), and tuning a compiled model (what `cnnc tune`
runs). Reading and checking a record is carried code (carried/triton_tuner.py), so a
generated module applies exactly the checks this library does.

A record is one JSON object:

    {"format": "cnnc-triton-tuning", "version": 1,
     "entries": [{"card": "NVIDIA H200", "triton": "3.6.0", "kernel": "<kernel key>",
                  "batch": 256, "config": {"BM": 128, "BN": 64, "BK": 32, "num_warps": 4,
                  "num_stages": 3}, "seconds": 1.2e-05, "name": "k3_conv_3"}]}

`kernel` is a hash of the kernel's code and geometry (KERNEL_KEYS in the module), so
an entry applies to every kernel of that shape in any network, and never to a changed
one; `batch` is a batch bucket (a power of two).
"""

from __future__ import annotations

import json
import os

from ...errors import UsageError
from ...runtime.files import read_regular, write_atomic
from .carried.triton_tuner import RECORD_FORMAT, RECORD_MAX_BYTES, RECORD_VERSION, read_record, user_cache_path

RECORD_EXT = ".tuning.json"

__all__ = ["RECORD_EXT", "merge", "record_beside", "record_text", "user_cache_path", "write_record"]


def record_beside(module_path) -> str:
    """The tuning record a compiled module reads first: `net.py` -> `net.tuning.json`."""
    return os.path.splitext(os.fspath(module_path))[0] + RECORD_EXT


def _slot(entry) -> tuple:
    return entry["card"], entry["triton"], entry["kernel"], entry["batch"]


def merge(old: list, new: list) -> list:
    """Entries of `old` and `new`, a new entry replacing an old one of the same card, Triton
    version, kernel and batch bucket; sorted, so the same measurements give the same bytes."""
    slots = {_slot(e): e for e in old}
    slots.update({_slot(e): e for e in new})
    return [slots[s] for s in sorted(slots)]


def record_text(entries: list) -> str:
    return json.dumps({"format": RECORD_FORMAT, "version": RECORD_VERSION, "entries": entries},
                      indent=1, sort_keys=True) + "\n"


def write_record(path, entries: list) -> "str | None":
    """Merge `entries` into the record at `path` (created, with its folder, if missing) and
    write it atomically; returns the problem found in the old record (malformed entries
    dropped), if any. Only a tuning record is ever replaced: a file there that is not one
    (a program, a module, weights, a damaged or foreign file, a FIFO) is refused with a
    UsageError and left as it is."""
    path = os.fspath(path)
    if os.path.lexists(path):
        problem = _not_a_record(path)
        if problem:
            raise UsageError(f"{path} is not a cnnc tuning record ({problem}); refusing to replace it "
                             f"(remove it, or write the record elsewhere with -o)")
    old, problem = read_record(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    text = record_text(merge(old, entries))

    def write(tmp):
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)

    write_atomic(path, write)
    return problem


def _not_a_record(path: str) -> "str | None":
    """Why the existing file at `path` is not a tuning record (one `cnnc tune` wrote), or None."""
    try:
        data = json.loads(read_regular(path, RECORD_MAX_BYTES).decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
        return getattr(e, "strerror", None) or "not JSON"
    if not isinstance(data, dict) or data.get("format") != RECORD_FORMAT:
        return f"no \"format\": \"{RECORD_FORMAT}\""
    return None


def tune_model(module, state, input_shape, batches, limit: int = 8, reps: int = 20, budget_s=None,
               seed: int = 0) -> list:
    """Tune a loaded module's kernels on this GPU at each batch size; returns
    [(batch, entries, {kernel key: [(config, seconds)]})]."""
    import torch

    from .carried.triton_tuner import tune_run

    out = []
    gen = torch.Generator(device="cuda").manual_seed(seed)
    for batch in batches:
        x = torch.randn((batch, *input_shape), device="cuda", generator=gen)
        measured: dict = {}
        entries = tune_run(module._run, state, x, tuple(input_shape), limit, reps, budget_s, measured=measured)
        out.append((batch, entries, measured))
    return out
