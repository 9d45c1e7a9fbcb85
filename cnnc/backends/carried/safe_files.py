"""Opening input files safely, with the standard library alone: what every reader of
cnnc (programs, weights, images, training data, checkpoints, tuning records, .keras
zips) and every generated module opens files with.

- Only a regular file is read (`open_regular`): a FIFO would block the reader forever
  and a device such as /dev/zero would be read without end, whatever name or symlink
  leads to it. The check is made on the opened file (fstat), and a FIFO is opened
  without waiting for a writer, so neither can slip in.
- Reads are bounded (`read_regular`): never more than the limit plus one byte.
- A zip's member count is read from its end record and bounded before its directory is
  parsed, and a member name that appears twice is refused (`open_zip`).

Errors are OSError (a file that is not regular, or too large: strerror says which) and
ValueError (a zip with too many members or duplicate names).
"""

import os

# --- carried: everything below is inlined into generated modules ---


class NotRegularFile(OSError):
    """A path that names a FIFO, a device, a socket or a folder: never read as a file.
    `.what` says which ("a FIFO (named pipe)", "a folder", ...)."""

    what = "not a file"


def open_regular(path):
    """`path` opened for reading (binary), only if it is a regular file, links followed.

    A FIFO is opened without waiting for a writer (O_NONBLOCK) and refused, like a device
    (/dev/zero would never end) or a socket, before a byte is read: NotRegularFile, an
    OSError whose strerror says what the path is. The check is made on the open file
    (fstat), so the path cannot change between the check and the read.
    """
    import stat

    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            what = ("a folder" if stat.S_ISDIR(mode) else "a FIFO (named pipe)" if stat.S_ISFIFO(mode)
                    else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
                    else "a socket" if stat.S_ISSOCK(mode) else "not a file")
            e = NotRegularFile(21 if stat.S_ISDIR(mode) else 22, f"is {what}, not a regular file", path)
            e.what = what
            raise e
        return os.fdopen(fd, "rb")   # O_NONBLOCK changes nothing for a regular file
    except BaseException:
        os.close(fd)
        raise


def read_regular(path, limit):
    """The bytes of the regular file at `path` (open_regular), refused with an OSError when it
    holds more than `limit` bytes: never more than limit + 1 bytes are read."""
    with open_regular(path) as f:
        too_big = os.fstat(f.fileno()).st_size > limit
        data = b"" if too_big else f.read(limit + 1)
    if too_big or len(data) > limit:
        raise OSError(27, f"larger than {limit:,} bytes", path)
    return data


def zip_member_count(f):
    """How many members the end-of-central-directory record of the zip file `f` declares
    (zip64 too), read from the file's last 64 KB; None when there is no such record."""
    import struct

    size = f.seek(0, 2)
    start = max(0, size - (22 + 0xFFFF))
    f.seek(start)
    tail = f.read(size - start)
    f.seek(0)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        return None
    (count,) = struct.unpack("<H", tail[at + 10:at + 12])
    if count == 0xFFFF and at >= 20 and tail[at - 20:at - 16] == b"PK\x06\x07":
        (where,) = struct.unpack("<Q", tail[at - 12:at - 4])
        f.seek(where)
        record = f.read(40)
        if len(record) == 40 and record[:4] == b"PK\x06\x06":
            (count,) = struct.unpack("<Q", record[32:40])
        f.seek(0)
    return count


class TooManyMembers(ValueError):
    """A zip with more members than its reader can use (refused before its directory is parsed)."""


def open_zip(f, max_members):
    """zipfile.ZipFile over the open binary file `f`, refused (ValueError) when its end record
    declares more than `max_members` members (before the directory is parsed: a zip of
    millions of tiny members costs nothing), when it holds more, or when a member name
    appears twice (which of the two is meant would be a guess)."""
    import zipfile

    count = zip_member_count(f)
    if count is not None and count > max_members:
        raise TooManyMembers(f"it holds {count:,} members, more than the {max_members:,} it may hold")
    z = zipfile.ZipFile(f)
    names = z.namelist()
    if len(names) > max_members:
        z.close()
        raise TooManyMembers(f"it holds {len(names):,} members, more than the {max_members:,} it may hold")
    seen = set()
    for n in names:
        if n in seen:
            z.close()
            raise ValueError(f"the member '{n[:100]}' appears twice (which one is meant cannot be known)")
        seen.add(n)
    return z
