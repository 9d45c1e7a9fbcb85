"""Training data: an .npz of images `x` (N, H, W, C) and integer labels `y` (N,), checked
against the network before anything is trained, and the seeded train/validation split.

An .npz is a zip of .npy arrays. Its directory and each member's .npy header are
read first (names, dtypes, shapes), so a file of the wrong shape or kind is refused
before a byte of its data is decompressed; nothing is ever unpickled.
"""

from __future__ import annotations

import os
import zipfile

import numpy as np

from .. import layers as L
from ..runtime.files import NotRegularFile, TooManyMembers, open_regular, open_zip


class DataError(ValueError):
    """The training data or an option does not fit (missing keys, wrong shapes, bad labels,
    a learning rate that is not a positive number, ...): the CLI exits 2 with the message."""


def n_classes(net) -> int:
    out = net.output.out
    if not isinstance(out, L.Vector):
        raise DataError(f"training needs a network that ends in a vector of class scores, "
                        f"but {net.output.name} gives an image {out}")
    return out.n


def check_data(net, x, y) -> tuple:
    """x as float32 (N, H, W, C) and y as int64 (N,), or a DataError saying what is wrong."""
    k = n_classes(net)
    x = np.asarray(x)
    y = np.asarray(y)
    h, w, c = net.input_shape
    if x.ndim == 3 and c == 1:
        x = x[..., None]
    if x.dtype.kind not in "fiub":
        raise DataError(f"x must be numeric, got dtype {x.dtype}")
    if x.ndim != 4 or x.shape[1:] != (h, w, c):
        raise DataError(f"x must have shape (N, {h}, {w}, {c}) for this network, got {x.shape}")
    if x.shape[0] == 0:
        raise DataError("x holds no images")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim == 2 and y.shape == (x.shape[0], k):
        raise DataError(f"y looks one-hot (shape {y.shape}); cnnc train wants class numbers: save y.argmax(1)")
    if y.ndim != 1 or y.shape[0] != x.shape[0]:
        raise DataError(f"y must be a vector of {x.shape[0]} integer labels (one per image), got shape {y.shape}")
    if y.dtype.kind == "f" and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
        y = y.astype(np.int64)
    if y.dtype.kind not in "iu":
        raise DataError(f"y must hold integer class labels, got dtype {y.dtype}")
    if y.min() < 0 or y.max() >= k:
        raise DataError(f"labels must be in 0..{k - 1} (the network has {k} outputs), "
                        f"found {int(y.min())}..{int(y.max())}")
    x = x.astype(np.float32)
    if not np.all(np.isfinite(x)):
        raise DataError("x holds NaN or infinite values")
    return x, y.astype(np.int64)


# the most members a data file or checkpoint may hold (x and y; a checkpoint's arrays are
# counted by its reader); more is refused from the zip's end record, before its directory is read
MAX_MEMBERS = 1024


def npz_directory(path, max_members: int = MAX_MEMBERS) -> dict:
    """{name: (shape, dtype)} of the arrays in an .npz, from the zip directory and the .npy
    headers alone. A ValueError says in words why the file is not an .npz of arrays (a FIFO
    or a device is refused unread: cnnc/runtime/files.py)."""
    from numpy.lib import format as npy

    path = os.fspath(path)
    try:
        f = open_regular(path)
    except NotRegularFile as e:
        raise ValueError(f"it is {e.what}, not an .npz file") from None
    except OSError as e:
        raise ValueError(e.strerror or str(e)) from None
    out = {}
    with f:
        magic = f.read(6)
        if magic == b"\x93NUMPY":
            raise ValueError("it is a single .npy array, not an .npz archive; save it with np.savez(path, x=..., y=...)")
        if not magic.startswith(b"PK"):
            raise ValueError("not a zip of .npy arrays (an .npz); pickled data is never loaded")
        try:
            with open_zip(f, max_members) as z:
                for info in z.infolist():
                    if not info.filename.endswith(".npy"):
                        continue
                    with z.open(info) as member:
                        version = npy.read_magic(member)
                        if version == (1, 0):
                            shape, _, dtype = npy.read_array_header_1_0(member)
                        else:
                            shape, _, dtype = npy.read_array_header_2_0(member)
                    out[info.filename[:-4]] = (tuple(shape), dtype)
        except TooManyMembers as e:
            raise ValueError(f"not an .npz of a few arrays: {e}") from None
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, KeyError) as e:
            raise ValueError(f"a damaged or truncated .npz ({_first_line(e)})") from None
    return out


def read_npz_arrays(path, names) -> dict:
    """The named arrays of an .npz (already checked with npz_directory); never unpickles."""
    try:
        with open_regular(os.fspath(path)) as raw, np.load(raw, allow_pickle=False) as f:
            return {n: f[n] for n in names}
    except Exception as e:  # a member that is truncated past its header, a bad CRC, ...
        why = "pickled data is never loaded" if "pickle" in str(e) else _first_line(e)
        raise ValueError(f"a damaged or truncated .npz ({why})") from None


def _first_line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:200]


def directory_or_error(path, doing: str, max_members: int = MAX_MEMBERS) -> dict:
    """npz_directory(path, max_members), or a DataError that starts `doing` ("cannot read")
    and names the file."""
    shown = os.fspath(path)
    if not os.path.exists(shown):
        raise DataError(f"{doing} {shown}: no such file")
    try:
        return npz_directory(path, max_members)
    except ValueError as e:
        raise DataError(f"{doing} {shown}: {e}") from None


def load_data(path, net) -> tuple:
    """(x, y) from an .npz with arrays `x` (N, H, W, C) and integer `y` (N,).

    Names, dtypes and shapes are checked from the headers before any array is read."""
    shown = os.fspath(path)
    arrays = directory_or_error(path, "cannot read")
    missing = [k for k in ("x", "y") if k not in arrays]
    if missing:
        raise DataError(f"{shown} has no array named {' or '.join(repr(m) for m in missing)} "
                        f"(it has {', '.join(sorted(arrays)) or 'nothing'}); save it with np.savez(path, x=..., y=...)")
    (xs, xd), (ys, yd) = arrays["x"], arrays["y"]
    h, w, c = net.input_shape
    if xd.kind not in "fiub":
        raise DataError(f"{shown}: x must be numeric, got dtype {xd}")
    if not (len(xs) == 4 and xs[1:] == (h, w, c)) and not (len(xs) == 3 and c == 1 and xs[1:] == (h, w)):
        raise DataError(f"{shown}: x must have shape (N, {h}, {w}, {c}) for this network, got {xs}")
    if yd.kind not in "fiub" or len(ys) not in (1, 2) or ys[0] != xs[0]:
        raise DataError(f"{shown}: y must be a vector of {xs[0]} integer labels (one per image), "
                        f"got shape {ys} of {yd}")
    try:
        got = read_npz_arrays(path, ("x", "y"))
    except ValueError as e:
        raise DataError(f"cannot read {shown}: {e}") from None
    try:
        return check_data(net, got["x"], got["y"])
    except DataError as e:
        raise DataError(f"{shown}: {e}") from None


def split(x, y, val_split: float, seed: int) -> tuple:
    """A seeded shuffle, then the last `val_split` of it as the validation set."""
    if not 0.0 <= val_split < 1.0:
        raise DataError(f"the validation split must be in [0, 1), got {val_split}")
    order = np.random.default_rng(seed).permutation(len(x))
    n_val = int(round(len(x) * val_split))
    if n_val >= len(x):
        n_val = len(x) - 1
    tr, va = order[:len(x) - n_val], order[len(x) - n_val:]
    return x[tr], y[tr], x[va], y[va]


def fingerprint(x, y) -> str:
    """A SHA-256 of the training arrays: a checkpoint remembers which data it was trained on."""
    import hashlib

    h = hashlib.sha256()
    h.update(repr((x.shape, str(x.dtype), y.shape, str(y.dtype))).encode())
    h.update(np.ascontiguousarray(x).data)
    h.update(np.ascontiguousarray(y).data)
    return h.hexdigest()
