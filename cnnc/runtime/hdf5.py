"""HDF5 files (a `.keras` file's model.weights.h5) read only when self-contained.

An HDF5 file can hold data that is not in it: a dataset with external raw storage
reads any local file (`external=[("/etc/passwd", 0, 144)]`, a FIFO that blocks
forever, /dev/zero), a virtual dataset reads other HDF5 files, an external link opens
another file, and a user-defined link runs a link class of the library's choosing.
`open_file` opens the file with h5py and walks every link of every group (each group
once) before any array is read: any of those is refused with a WeightsError that
names the object and says why. A soft link is kept only when its target is reached
through hard links of the same file.

    with open_file(fileobj, "net.keras") as h5:   # checked; then read as usual
        ...
    with open_indexed(fileobj, "net.keras") as (h5, datasets):   # and {b"layers/dense/vars/0": DatasetID}
        ...
"""

from __future__ import annotations

from ..errors import WeightsError
from ..optional import require

# more links than any weights file has (a Keras model of 10,000 layers holds about 50,000):
# walking stops there, so a file of millions of empty groups costs bounded time
MAX_LINKS = 1_000_000


def open_file(fileobj, where: str):
    """An h5py.File (read-only) of `fileobj` (a path or a seekable binary file object),
    checked by `check_self_contained`; WeightsError(unreadable=True) when it is not an
    HDF5 file or not self-contained. `where` names the file in messages."""
    return _open(fileobj, where)[0]


class open_indexed:
    """`with open_indexed(fileobj, where) as (h5, datasets):` the h5py.File of `open_file` and
    {path: h5py DatasetID} of every dataset its check opened (path relative to the root, as
    bytes): a reader that looks its arrays up there opens none twice. The file is closed after."""

    def __init__(self, fileobj, where: str):
        self.h5, self.datasets = _open(fileobj, where)

    def __enter__(self):
        return self.h5, self.datasets

    def __exit__(self, *exc):
        self.h5.close()


def _open(fileobj, where: str):
    h5py = require("h5py", "keras")
    try:
        h5 = h5py.File(fileobj, "r")
    except (OSError, ValueError) as e:
        raise WeightsError(f"{where} is not an HDF5 file ({_first_line(e)})", unreadable=True) from None
    try:
        return h5, check_self_contained(h5, where)
    except BaseException:
        h5.close()
        raise


def check_self_contained(h5, where: str) -> dict:
    """WeightsError(unreadable=True) unless every object of the open h5py.File `h5` lies in
    it: no external link or link of another class, no soft link that leads anywhere but
    through the file's own hard links, no dataset with external storage, no virtual
    dataset. Reads links and creation properties only, never an array. Returns
    {path: DatasetID} of every dataset (a dataset with several hard links under one path).

    Two walks inside the HDF5 library, each calling back once per item (a Python call
    per link, not a group lookup per link): H5Lvisit over every link (it enters groups
    through hard links only, each group once), then, with no link left that leaves the
    file, H5Ovisit over every object, opening only the datasets to read their layout."""
    from h5py import h5l, h5o

    def refuse(path: str, why: str):
        raise WeightsError(f"{where}: {path} {why}; only self-contained files are read", unreadable=True)

    links = []

    def link(name, info):
        links.append((name, info.type))
        return True if len(links) > MAX_LINKS else None   # anything but None stops the walk

    h5.id.links.visit(link, info=True)
    if len(links) > MAX_LINKS:
        raise WeightsError(f"{where}: more than {MAX_LINKS:,} objects; not a weights file", unreadable=True)
    for raw, kind in links:
        if kind == h5l.TYPE_HARD:
            continue
        path = "/" + raw.decode("utf-8", "replace")
        if kind == h5l.TYPE_EXTERNAL:
            refuse(path, "is an external link to another file")
        if kind != h5l.TYPE_SOFT:
            refuse(path, "is a user-defined link")
        parent = h5[raw.rpartition(b"/")[0] or b"/"]
        target = h5.id.links.get_val(raw).decode("utf-8", "replace")
        if not _reached_by_hard_links(h5, parent, target):
            refuse(path, f"is a soft link to '{target[:200]}', which is not an object of this file")

    datasets = []
    h5o.visit(h5.id, lambda name, info: datasets.append(name) if info.type == h5o.TYPE_DATASET else None,
              info=True)
    opened = {}
    for raw in datasets:
        opened[raw] = h5o.open(h5.id, raw)
        _check_dataset(opened[raw], "/" + raw.decode("utf-8", "replace"), refuse)
    return opened


def _check_dataset(dsid, path: str, refuse) -> None:
    from h5py import h5d

    plist = dsid.get_create_plist()
    if plist.get_external_count() > 0:
        refuse(path, "keeps its data in an external file")
    if plist.get_layout() == h5d.VIRTUAL:
        refuse(path, "is a virtual dataset (its data is in other files)")


def _reached_by_hard_links(h5, group, target: str) -> bool:
    """Does the soft-link target `target` (absolute, or relative to `group`) name an object
    through hard links alone?"""
    from h5py import h5l

    here = h5 if target.startswith("/") else group
    for part in [p for p in target.split("/") if p and p != "."]:
        if part == ".." or not hasattr(here, "id") or not hasattr(here.id, "links"):
            return False
        key = part.encode("utf-8")
        try:
            if not here.id.links.exists(key) or here.id.links.get_info(key).type != h5l.TYPE_HARD:
                return False
        except (KeyError, ValueError, RuntimeError, OSError):
            return False
        here = here.get(key)
        if here is None:
            return False
    return True


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:200]
