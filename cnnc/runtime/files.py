"""Files read and written so that nothing is lost, hung or leaked.

Reading: every reader opens its input with `open_regular` / `read_regular` (only a
regular file, read with a bound; the code generated modules carry too:
cnnc/backends/carried/safe_files.py) and zips with `open_zip`. `file_inside` is for
formats that name other files (ONNX external data): only a regular file inside the
model's own folder.

Writing: every write is atomic (a temporary file in the same folder, flushed, then one
rename), a set of files that belong together (a module and its weights) is written all
or none, and no output may be one of the command's inputs.

    write_atomic("w.npz", lambda tmp: np.savez(tmp, ...))
    write_together([("net.py", write_module), ("net.npz", write_weights)])
    refuse_overwriting_inputs(["net.py"], {"program": "net.cnn"})   # UsageError if the same file
"""

from __future__ import annotations

import os
import tempfile

from ..backends.carried.safe_files import NotRegularFile, TooManyMembers, open_regular, open_zip, read_regular
from ..errors import UsageError

__all__ = ["NotRegularFile", "TooManyMembers", "check_writable", "file_inside", "open_regular", "open_zip",
           "open_zip_file", "read_regular", "read_text", "refuse_overwriting_inputs", "same_file", "write_atomic", "write_together"]


def read_text(path, limit: int) -> str:
    """The UTF-8 text of the regular file at `path`, at most `limit` bytes (OSError, or
    UnicodeDecodeError)."""
    return read_regular(path, limit).decode("utf-8")


def open_zip_file(path, max_members: int):
    """A zipfile.ZipFile of the regular file at `path` (open_regular), refused unread when its
    end record declares more than `max_members` members, and when a name appears twice
    (open_zip); closing it closes the file. `.filename` is `path`."""
    f = open_regular(path)
    try:
        z = open_zip(f, max_members)
    except BaseException:
        f.close()
        raise
    z.filename = os.fspath(path)
    z._filePassed = 0   # close the file with the zip, as for a zip zipfile opened by name
    return z


def file_inside(folder, name) -> str:
    """The path of the file `name` (as a model file names it, relative) inside `folder`, only
    when it is a regular file there: an absolute name, `..`, or a symlink that leads out of
    the folder, and anything but a regular file (a FIFO, a device, a folder) are refused with
    a ValueError that says why. For formats whose files name other files (ONNX external
    data), so a hostile model cannot make cnnc read /etc/passwd or /dev/zero."""
    import stat

    text = os.fspath(name)
    if not text or "\0" in text:
        raise ValueError(f"'{text[:200]}' is not a file name")
    if os.path.isabs(text) or os.path.splitdrive(text)[0] or text.startswith(("/", "\\")):
        raise ValueError(f"'{text[:200]}' is an absolute path: only files inside the model's folder are read")
    root = os.path.realpath(os.fspath(folder))
    path = os.path.realpath(os.path.join(root, text))
    if os.path.commonpath([root, path]) != root or path == root:
        raise ValueError(f"'{text[:200]}' leads out of the model's folder {os.fspath(folder)}")
    try:
        mode = os.stat(path).st_mode
    except OSError as e:
        raise ValueError(f"'{text[:200]}' cannot be read ({e.strerror or e})") from None
    if not stat.S_ISREG(mode):
        raise ValueError(f"'{text[:200]}' is not a regular file")
    return path


def _temp_beside(path: str) -> str:
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    os.close(fd)
    return tmp


def _keep_mode(tmp: str, path: str) -> None:
    """New files get the usual mode (mkstemp makes them 0600); replaced ones keep theirs."""
    try:
        mode = os.stat(path).st_mode & 0o777 if os.path.exists(path) else 0o666 & ~_umask()
        os.chmod(tmp, mode)
    except OSError:
        pass


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path, write) -> None:
    """`write(tmp_path)` writes the content; it then replaces `path` in one rename.

    On any failure `path` is untouched and the temporary file is removed.
    """
    write_together([(path, write)])


def write_together(items) -> None:
    """[(path, write)]: every file is written to a temporary file beside its path and
    flushed to disk first; only when all were written is each moved into place with one
    `os.replace`. So every path always holds a whole file, the old or the new one (a reader
    never finds it missing, a kill at any moment loses nothing). If a later rename fails,
    the files already replaced get their old content back (from a hard link kept while the
    set is written), so the set is written all or none unless the process is killed between
    two renames; a generated module records its weights' digest for that case."""
    items = [(os.fspath(p), w) for p, w in items]
    for path, _ in items:
        _refuse_special(path)
    temps: list = []
    try:
        for path, write in items:
            tmp = _temp_beside(path)
            temps.append(tmp)
            write(tmp)
            _keep_mode(tmp, path)
            _fsync(tmp)
        _rename_all([(tmp, path) for tmp, (path, _) in zip(temps, items)])
    except BaseException:
        for tmp in temps:
            _remove(tmp)
        raise
    for folder in sorted({os.path.dirname(os.path.abspath(p)) for p, _ in items}):
        _fsync(folder)


def _refuse_special(path: str) -> None:
    """Only regular files are replaced: a write to a device, a FIFO or a socket (/dev/null
    included) would replace that node itself."""
    import stat

    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return
    if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        raise IsADirectoryError(21, "is a folder", path) if stat.S_ISDIR(mode) else \
            OSError(22, "not a regular file; refusing to replace it", path)


def _fsync(path: str) -> None:
    """Flush a file (or a folder's entries) to disk; where the platform cannot, go on."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _rename_all(pairs) -> None:
    """os.replace(tmp, path) for each pair: the path is never missing. An old file is kept
    as a hard link until all are in place, to put it back if a later rename fails."""
    undo: list = []   # (backup or None, path) of paths replaced so far; None: it was new
    try:
        for tmp, path in pairs:
            backup = None
            if os.path.lexists(path):
                backup = _link_beside(path)
            os.replace(tmp, path)
            undo.append((backup, path))
    except BaseException:
        for backup, path in reversed(undo):
            try:
                if backup is None:
                    os.remove(path)
                else:
                    os.replace(backup, path)
            except OSError:
                pass
        for backup, _ in undo:
            if backup is not None:
                _remove(backup)
        raise
    for backup, _ in undo:
        if backup is not None:
            _remove(backup)


def _link_beside(path: str) -> "str | None":
    """A second name for the file at `path` (a hard link beside it), or None where the file
    system has none; the file itself stays where it is."""
    for _ in range(100):
        folder = os.path.dirname(os.path.abspath(path))
        name = os.path.join(folder, "." + os.path.basename(path) + "." + os.urandom(4).hex() + ".old")
        try:
            os.link(path, name, follow_symlinks=False)
            return name
        except FileExistsError:
            continue
        except (OSError, NotImplementedError):
            return None
    return None


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def same_file(a, b) -> bool:
    """Do two paths name the same file (links and `..` resolved)? False if either is missing."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def refuse_overwriting_inputs(outputs, inputs: dict) -> None:
    """UsageError when an output path is one of the inputs ({what: path}, None skipped)."""
    for out in outputs:
        for what, path in inputs.items():
            if path is not None and same_file(out, path):
                raise UsageError(f"{out} is the {what}; refusing to overwrite it (choose another output with -o)")


def check_writable(path) -> None:
    """UsageError unless `path` can be created or replaced: checked before long work starts."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise UsageError(f"cannot write {path}: it is a folder")
    if not os.path.isdir(folder):
        raise UsageError(f"cannot write {path}: no folder {os.path.dirname(path) or folder}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write {path}: the folder {os.path.dirname(path) or folder} is not writable")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise UsageError(f"cannot write {path}: permission denied")
    try:
        _refuse_special(path)
    except OSError as e:
        raise UsageError(f"cannot write {path}: {e.strerror}") from None
