"""`cnnc from-keras`: a Keras 3 `.keras` file as a cnnc program and its weights.

    text, params = convert("net.keras")     # Unconvertible lists every layer cnnc cannot say

The zip is opened as load_keras opens it (keras_import.py: members checked first, the HDF5
file self-contained, nothing unpickled, Keras never imported); the graph is converted
(to_ir.py), simplified (importers/simplify.py) and written (importers/writer.py); the text
is parsed back and the weights named on that parse (importers/weights.py), so what is written
is what cnnc reads. Hostile files are refused before any array is read: member names that
climb out of the archive, compressed members that would unpack past 20 times their size,
datasets whose header claims more bytes than the file stores.
"""

from __future__ import annotations

import os
import zipfile

from ....errors import CnncError, WeightsError
from ....optional import require
from .. import output
from ..output import write_files
from ..simplify import simplify
from ..weights import name_weights
from ..writer import WriterError, write
from .to_ir import build

COMPRESSION_LIMIT = 20   # a compressed weights file may unpack to 20x its size (floats pack to ~1x)


class Unconvertible(output.Unconvertible):
    """Keras layers cnnc cannot say: `problems` (to_ir.Problem), every one of them."""

    def __init__(self, path, problems):
        super().__init__(path, problems, "Keras layer(s)", "<keras>")


def _check_members(zf, p) -> None:
    for info in zf.infolist():
        name = info.filename
        parts = name.replace("\\", "/").split("/")
        if name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":"):
            raise WeightsError(f"{p}: the archive holds a member named {name!r}, outside the archive's own "
                               f"folder; refusing a hostile file", unreadable=True)


def convert(path, name: "str | None" = None) -> "tuple[str, dict]":
    """(program text, {param name: float32 array}) of the .keras file at `path`."""
    from .... import parse
    from ....runtime import hdf5
    from ..ir import NOMINAL
    from ...keras_import import METADATA_SLACK, WEIGHTS, KerasGraph, _member, _open_zip, _read_config, _weights_file

    require("h5py", "keras")
    p = os.fspath(path)
    with _open_zip(p) as zf:
        _check_members(zf, p)
        config = _read_config(zf, p)
        info = _member(zf, WEIGHTS, p)
        limit = COMPRESSION_LIMIT * info.compress_size + METADATA_SLACK
        with _weights_file(zf, p, limit) as fobj, hdf5.open_indexed(fobj, f"{p}: {WEIGHTS}") as (h5, datasets):
            graph = KerasGraph(config, h5, p, datasets)
            model = str((config.get("config") or {}).get("name") or config.get("class_name") or "model")
            net, problems = build(graph, p, name=model, source=os.path.basename(p))
            if problems:
                raise Unconvertible(p, problems)
            _check_array_headers(net, p, os.path.getsize(p))
            simplify(net)
            header = [f"{model}: converted from {os.path.basename(p)} by cnnc from-keras"]
            try:
                text = write(net, header)
            except WriterError as e:
                raise Unconvertible(p, [_Whole(str(e))]) from None
            try:
                free = None in net.shape   # no `input` line: read it at the size the network was built at
                parsed = parse(text, input=tuple(NOMINAL if d is None else d for d in net.shape) if free else None,
                               filename=name or "<from-keras>")
            except CnncError as e:
                raise WeightsError(f"{p}: the model does not fit cnnc's limits: {e.message}", unreadable=True) from None
            params = name_weights(net, parsed)
    return text, params


class _Whole:
    def __init__(self, needed):
        self.needed = needed

    def __str__(self) -> str:
        return f"the model as a whole: {self.needed}"


def _check_array_headers(net, p, file_size) -> None:
    """Refuse datasets whose header claims more data than the file can hold (a lying header),
    before any is read."""
    total = 0
    for n in net.nodes:
        for suffix, source in n.weights.items():
            if not isinstance(source, tuple):
                continue
            ds = source[0]
            nbytes = int(ds.size) * ds.dtype.itemsize
            total += nbytes
            stored = ds.id.get_storage_size()
            if nbytes > 64 * stored + (1 << 20) or total > COMPRESSION_LIMIT * file_size + (64 << 20):
                raise WeightsError(f"{p}: {ds.name} claims {nbytes:,} bytes but the file stores {stored:,}; "
                                   f"refusing a damaged or hostile file", unreadable=True)



__all__ = ["Unconvertible", "convert", "write_files", "zipfile"]
