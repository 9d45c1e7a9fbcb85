"""Writing files so that nothing is lost: every write is atomic (a temporary file in
the same folder, then a rename), a set of files that belong together (a module and its
weights) is written all or none, and no output may be one of the command's inputs.

    write_atomic("w.npz", lambda tmp: np.savez(tmp, ...))
    write_together([("net.py", write_module), ("net.npz", write_weights)])
    refuse_overwriting_inputs(["net.py"], {"program": "net.cnn"})   # UsageError if the same file
"""

from __future__ import annotations

import os
import tempfile

from ..errors import UsageError


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
    """[(path, write)]: every file is written to a temporary file first; only when all
    were written are they renamed into place. If a rename fails, the files already
    replaced are restored, so the set is written all or none."""
    items = [(os.fspath(p), w) for p, w in items]
    temps: list = []
    try:
        for path, write in items:
            tmp = _temp_beside(path)
            temps.append(tmp)
            write(tmp)
            _keep_mode(tmp, path)
        _rename_all([(tmp, path) for tmp, (path, _) in zip(temps, items)])
    except BaseException:
        for tmp in temps:
            _remove(tmp)
        raise


def _rename_all(pairs) -> None:
    backups: list = []   # (backup, path) of files replaced so far
    done: list = []      # paths that did not exist before
    try:
        for tmp, path in pairs:
            if os.path.lexists(path):
                backup = _temp_beside(path)
                os.replace(path, backup)
                backups.append((backup, path))
            else:
                done.append(path)
            os.replace(tmp, path)
    except BaseException:
        for path in done:
            _remove(path)
        for backup, path in reversed(backups):
            try:
                os.replace(backup, path)
            except OSError:
                pass
        raise
    for backup, _ in backups:
        _remove(backup)


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
