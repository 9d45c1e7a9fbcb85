"""Checkpoints: everything needed to continue a training run, in one .npz that holds
arrays and a JSON text only (nothing is pickled, nothing unpickled).

    weights/NAME              the network's parameters after the epoch (cnnc's names and
                              Keras layouts, as in a weights file: conv_1.kernel, ...)
    best/NAME                 with early stopping: the weights of the best epoch so far
    optimizer/PARAM/KEY       the optimizer's state per torch parameter: Adam's step,
                              exp_avg and exp_avg_sq, SGD's momentum_buffer
    meta                      UTF-8 JSON as uint8: format, version, epoch, the options,
                              the data's size and SHA-256, the history, early-stopping state

It is written at the end of every epoch, atomically (a temporary file, then a rename),
so a run killed at any moment leaves the previous epoch's checkpoint whole. It is read
back with every name, dtype and shape checked from the .npz headers before any array
is loaded.
"""

from __future__ import annotations

import json
import os

import numpy as np

from ..runtime.files import write_atomic
from .data import MAX_MEMBERS, DataError, directory_or_error, read_npz_arrays

FORMAT, VERSION = "cnnc-checkpoint", 1
MAX_META_BYTES = 64 << 20


def write(path, weights: dict, optimizer: dict, meta: dict, best: "dict | None" = None) -> None:
    """weights/best: {name: array}; optimizer: {param name: {key: array}}; meta: JSON-able."""
    arrays = {f"weights/{k}": np.asarray(v, dtype=np.float32) for k, v in weights.items()}
    if best is not None:
        arrays.update({f"best/{k}": np.asarray(v, dtype=np.float32) for k, v in best.items()})
    for param, state in optimizer.items():
        for key, value in state.items():
            arrays[f"optimizer/{param}/{key}"] = np.asarray(value)
    text = json.dumps({"format": FORMAT, "version": VERSION, **meta}, sort_keys=True, allow_nan=False)
    arrays["meta"] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)

    def save(tmp):
        with open(tmp, "wb") as f:  # a file object: np.savez would append .npz to the name
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())

    write_atomic(path, save)


def read(path, weight_shapes: dict, optimizer_shapes: dict) -> dict:
    """{"weights", "best" (or None), "optimizer", "meta"} of a checkpoint, or a DataError.

    weight_shapes: {name: shape} of the network; optimizer_shapes: {torch parameter name:
    shape}. Optimizer entries are arrays of their parameter's shape or scalars."""
    shown = os.fspath(path)
    # weights, best weights, a few optimizer entries per parameter, meta: more is refused unread
    most = 2 * len(weight_shapes) + 4 * len(optimizer_shapes) + MAX_MEMBERS
    directory = directory_or_error(path, "cannot resume from", most)
    meta_entry = directory.get("meta")
    if meta_entry is None or meta_entry[1] != np.uint8 or len(meta_entry[0]) != 1 or \
            meta_entry[0][0] > MAX_META_BYTES:
        raise DataError(f"cannot resume from {shown}: not a cnnc checkpoint (no meta record); "
                        f"a checkpoint is what `cnnc train --checkpoint` writes, not a weights file")
    for name, (shape, dtype) in directory.items():
        _check_entry(shown, name, shape, dtype, weight_shapes, optimizer_shapes)
    missing = [n for n in weight_shapes if f"weights/{n}" not in directory]
    if missing:
        raise DataError(f"cannot resume from {shown}: it has no weights for {missing[0]}: "
                        f"it was made for another network")
    try:
        arrays = read_npz_arrays(path, list(directory))
        meta = json.loads(arrays.pop("meta").tobytes().decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise DataError(f"cannot resume from {shown}: {e}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise DataError(f"cannot resume from {shown}: not a version-{VERSION} cnnc checkpoint")
    out = {"weights": {}, "best": {}, "optimizer": {}, "meta": meta}
    for name, a in arrays.items():
        kind, rest = name.split("/", 1)
        if kind == "optimizer":
            param, key = rest.rsplit("/", 1)
            out["optimizer"].setdefault(param, {})[key] = a
        else:
            out[kind][rest] = a
    if out["best"] and set(out["best"]) != set(weight_shapes):
        raise DataError(f"cannot resume from {shown}: its best weights are incomplete")
    out["best"] = out["best"] or None
    for part in ("weights", "best"):
        for name, a in (out[part] or {}).items():
            if not np.all(np.isfinite(a)):
                raise DataError(f"cannot resume from {shown}: {part}/{name} holds NaN or infinite values")
    return out


def _check_entry(shown, name, shape, dtype, weight_shapes, optimizer_shapes) -> None:
    def bad(why):
        raise DataError(f"cannot resume from {shown}: {name} {why}")

    if name == "meta":
        return
    kind, _, rest = name.partition("/")
    if kind in ("weights", "best"):
        if rest not in weight_shapes:
            bad("is not a parameter of this network: the checkpoint was made for another network")
        if tuple(shape) != tuple(weight_shapes[rest]) or dtype != np.float32:
            bad(f"is {dtype} {tuple(shape)}, this network needs float32 {tuple(weight_shapes[rest])}: "
                f"the checkpoint was made for another network")
    elif kind == "optimizer" and "/" in rest:
        param = rest.rsplit("/", 1)[0]
        if param not in optimizer_shapes:
            bad("belongs to no parameter of this network's torch module")
        if dtype.kind != "f" or tuple(shape) not in ((), tuple(optimizer_shapes[param])):
            bad(f"is {dtype} {tuple(shape)}, expected floats of shape () or {tuple(optimizer_shapes[param])}")
    else:
        bad("is not part of a cnnc checkpoint")
