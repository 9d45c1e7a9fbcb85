"""Writing a `.npz` file without copying its arrays.

    write_npz("net.npz", {"conv_1.kernel": array, ...})   # np.load reads it back

An `.npz` is a zip of stored `.npy` members. np.savez copies each array into 16 MB bytes
objects on its way into zipfile; here zipfile (which keeps the format and each member's
CRC-32) is handed each array's own memory, 64 MB per write. While the file is written, a
thread starts the disk write after each 64 MB (_Flusher), so the caller's fsync finds little
left: the kernel would otherwise hold all of a large file for that fsync. Members have a fixed
date (1980-01-01), so the same arrays give the same bytes.
"""

from __future__ import annotations

import io
import os
import zipfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np

_CHUNK = 64 << 20        # bytes per write, and between two starts of the disk write
_DATE = (1980, 1, 1, 0, 0, 0)


def npy_header(a: np.ndarray) -> bytes:
    """The `.npy` header (format 1.0, or 2.0 when it must be) of the C-contiguous array `a`."""
    buf = io.BytesIO()
    d = np.lib.format.header_data_from_array_1_0(a)
    try:
        np.lib.format.write_array_header_1_0(buf, d)
    except ValueError:   # a header over 64 KB
        buf = io.BytesIO()
        np.lib.format.write_array_header_2_0(buf, d)
    return buf.getvalue()


def write_npz(path, arrays: dict) -> None:
    """Write `arrays` ({name: ndarray}) to the file `path` as np.savez would (member NAME.npy
    each, in order; arrays made C-contiguous, dtype kept). Never pickles: object arrays are a
    ValueError."""
    contiguous = {}
    for name, a in arrays.items():
        a = np.asarray(a)
        if a.dtype.hasobject:
            raise ValueError(f"{name}: object arrays cannot be written without pickling")
        contiguous[name] = a if a.flags.c_contiguous else a.copy(order="C")   # (ascontiguousarray makes 0-d 1-d)
    with open(path, "wb") as f, _Flusher(f) as flusher, zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as z:
        for name, a in contiguous.items():
            info = zipfile.ZipInfo(name + ".npy", date_time=_DATE)
            info.external_attr = 0o644 << 16   # a regular file, rw-r--r--
            with z.open(info, "w", force_zip64=True) as member:
                member.write(npy_header(a))
                data = memoryview(a.reshape(-1).view(np.uint8))   # its bytes, not a copy
                for at in range(0, data.nbytes, _CHUNK):
                    member.write(data[at:at + _CHUNK])
                    flusher.written(min(_CHUNK, data.nbytes - at))


class _Flusher:
    """Starts the disk write of what is written so far, in a thread, after each _CHUNK bytes
    (when the previous one is done). The caller's fsync must still follow: this only lets the
    disk work while the rest is written."""

    def __init__(self, f):
        self.f = f

    def __enter__(self):
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="cnnc-flush")
        self.pending, self.unflushed = None, 0
        return self

    def written(self, n: int) -> None:
        self.unflushed += n
        if self.unflushed >= _CHUNK and (self.pending is None or self.pending.done()):
            self.f.flush()
            self.pending, self.unflushed = self.pool.submit(_datasync, self.f.fileno()), 0

    def __exit__(self, *exc):
        self.pool.shutdown(wait=True)   # before the file is closed: its descriptor stays valid


def _datasync(fd: int) -> None:
    try:
        os.fdatasync(fd) if hasattr(os, "fdatasync") else os.fsync(fd)
    except OSError:   # a file system that cannot: the caller's own fsync says what it says
        pass
