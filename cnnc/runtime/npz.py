"""Writing a `.npz` file fast: what np.savez writes, without its copies.

    write_npz("net.npz", {"conv_1.kernel": array, ...})   # np.load reads it back

An `.npz` is a zip of `.npy` members, stored (not compressed). np.savez copies each array
into 16 MB bytes objects to pass through zipfile, and zipfile computes each member's CRC-32
before it writes, on the same thread. Here each array's memory is written as it lies (64 MB
per call, no copy) while a second thread computes its CRC (both release the GIL, so on two
cores they overlap; ISA-L's CRC-32 from the `isal` package when it is installed: it is
faster, and benchmarks/convert_speed.py prints both speeds); each member's local header is
written with its CRC left at zero and patched once the data is out. A third thread starts
the disk write every 64 MB (_Flusher), so the caller's fsync finds little left. Members are
zip64 with a fixed date (1980-01-01), as np.savez's force_zip64 members are: the same arrays
give the same bytes.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np

# fixed date and time (1980-01-01 00:00) in the zip's MS-DOS format: the file is reproducible
_DOS_TIME, _DOS_DATE = 0, (0 << 9) | (1 << 5) | 1
_VERSION = 45            # zip64
_MADE_BY = (3 << 8) | _VERSION   # unix
_UTF8 = 0x800            # general-purpose flag: the name is UTF-8
_MODE = 0o644 << 16      # external attributes: a regular file, rw-r--r--
_FULL32 = 0xFFFFFFFF
_CRC_AT = 14             # where the CRC lies in a local header
_FLUSH_EVERY = 64 << 20  # bytes written between two starts of the disk write (_Flusher)


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


def _crc32():
    """ISA-L's CRC-32 (the `isal` package: the same function, faster) or zlib's."""
    try:
        from isal.isal_zlib import crc32
    except ImportError:
        return zlib.crc32
    return crc32


def _crc(crc32, header: bytes, data: memoryview) -> int:
    return crc32(data, crc32(header)) & _FULL32


def write_npz(path, arrays: dict) -> None:
    """Write `arrays` ({name: ndarray}) to the file `path` as np.savez would (member NAME.npy
    each, in order; arrays made C-contiguous, dtype kept). Never pickles: object arrays are a
    ValueError."""
    members = []
    for name, a in arrays.items():
        a = np.asarray(a)
        a = a if a.flags.c_contiguous else a.copy(order="C")   # (ascontiguousarray makes 0-d 1-d)
        if a.dtype.hasobject:
            raise ValueError(f"{name}: object arrays cannot be written without pickling")
        data = memoryview(a.reshape(-1).view(np.uint8))   # its bytes, not a copy
        members.append(((name + ".npy").encode("utf-8"), npy_header(a), data))
    entries = []   # (name, flags, crc, size, offset) of each member
    crc32 = _crc32()
    with open(path, "wb") as f, ThreadPoolExecutor(1, thread_name_prefix="cnnc-crc") as crcs, _Flusher() as flusher:
        pending = []
        offset = 0
        for name, header, data in members:
            pending.append(crcs.submit(_crc, crc32, header, data))
            flags = 0 if name.isascii() else _UTF8
            size = len(header) + data.nbytes
            local = struct.pack("<IHHHHHIIIHH", 0x04034B50, _VERSION, flags, 0, _DOS_TIME, _DOS_DATE, 0,
                                _FULL32, _FULL32, len(name), 20) + name + struct.pack("<HHQQ", 1, 16, size, size)
            f.write(local)
            f.write(header)
            for at in range(0, data.nbytes, _FLUSH_EVERY):
                f.write(data[at:at + _FLUSH_EVERY])
                flusher.written(f, min(_FLUSH_EVERY, data.nbytes - at))
            entries.append([name, flags, 0, size, offset])
            offset += len(local) + size
        for entry, crc in zip(entries, pending):   # each member's CRC, in its local header
            entry[2] = crc.result()
            f.seek(entry[4] + _CRC_AT)
            f.write(struct.pack("<I", entry[2]))
        f.seek(offset)
        f.write(_directory(entries, offset))


class _Flusher:
    """Starts the disk write of what is written so far, in a thread, after each _FLUSH_EVERY
    bytes (when the previous one is done). The caller's fsync must still follow: this only
    lets the disk work while the rest is written, where the kernel would wait until a tenth
    of memory is dirty and leave all of a large file to that fsync."""

    def __enter__(self):
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="cnnc-flush")
        self.pending, self.unflushed = None, 0
        return self

    def written(self, f, n: int) -> None:
        self.unflushed += n
        if self.unflushed >= _FLUSH_EVERY and (self.pending is None or self.pending.done()):
            f.flush()
            self.pending, self.unflushed = self.pool.submit(_datasync, f.fileno()), 0

    def __exit__(self, *exc):
        self.pool.shutdown(wait=True)   # before the file is closed: its descriptor stays valid


def _datasync(fd: int) -> None:
    try:
        os.fdatasync(fd) if hasattr(os, "fdatasync") else os.fsync(fd)
    except OSError:   # a file system that cannot: the caller's own fsync says what it says
        pass


def _directory(entries, start: int) -> bytes:
    """The central directory, at `start`, and its zip64 and plain end records."""
    out = []
    for name, flags, crc, size, offset in entries:
        out.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, _MADE_BY, _VERSION, flags, 0, _DOS_TIME, _DOS_DATE,
                               crc, _FULL32, _FULL32, len(name), 28, 0, 0, 0, _MODE, _FULL32)
                   + name + struct.pack("<HHQQQ", 1, 24, size, size, offset))
    directory = b"".join(out)
    n, end = len(entries), start + len(directory)
    zip64_end = struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, _MADE_BY, _VERSION, 0, 0, n, n, len(directory), start)
    locator = struct.pack("<IIQI", 0x07064B50, 0, end, 1)
    plain_end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, min(n, 0xFFFF), min(n, 0xFFFF),
                            min(len(directory), _FULL32), min(start, _FULL32), 0)
    return directory + zip64_end + locator + plain_end
