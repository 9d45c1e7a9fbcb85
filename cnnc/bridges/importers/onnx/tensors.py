"""ONNX tensors (initializers, Constant values): every header checked before any array is read.

A `TensorRef` is a tensor as the file declares it: its name, dims, element type, and where
its values are: in the protobuf (`raw_data`, or a typed field such as `float_data`) or in
another file (external data). `tensor_ref` checks that declaration against what is really
there, so a hostile or damaged file is refused before a byte of any array is decoded:

  - dims are non-negative and at most MAX_VALUES values in all (cnnc/limits.py);
  - the bytes held match the declared count exactly (`raw_data` of 400 bytes for 100
    floats; a typed field with one entry per value): a header that lies is refused;
  - external data is only a regular file inside the model's own folder
    (`runtime.files.file_inside`: no absolute path, no `..`, no symlink out, no FIFO or
    device), and the file holds the declared offset + length.

`array()` then reads the values (external ones with `open_regular`) as numpy, in the
declared shape. Errors are `Damaged` (the caller says which file); an element type cnnc
cannot use as numbers is `Unsayable` only when a converter asks for the values.
"""

from __future__ import annotations

import os

import numpy as np

from ....limits import MAX_VALUES
from ..statement import Unsayable

EXTERNAL = 1   # TensorProto.DataLocation.EXTERNAL

# TensorProto.DataType -> (numpy dtype of the values, the typed field that holds them when
# raw_data is empty, the numpy dtype of that field's entries)
DTYPES: dict = {
    1: (np.float32, "float_data", np.float32),
    2: (np.uint8, "int32_data", np.int32),
    3: (np.int8, "int32_data", np.int32),
    4: (np.uint16, "int32_data", np.int32),
    5: (np.int16, "int32_data", np.int32),
    6: (np.int32, "int32_data", np.int32),
    7: (np.int64, "int64_data", np.int64),
    9: (np.bool_, "int32_data", np.int32),
    10: (np.float16, "int32_data", np.int32),   # the 16 bits of each value in an int32
    11: (np.float64, "double_data", np.float64),
    12: (np.uint32, "uint64_data", np.uint64),
    13: (np.uint64, "uint64_data", np.uint64),
    16: ("bfloat16", "int32_data", np.int32),   # the upper 16 bits of a float32
}
TYPE_NAMES = {0: "undefined", 8: "string", 14: "complex64", 15: "complex128"}
MAX_RANK = 8


class Damaged(Exception):
    """A tensor whose header does not hold (negative or absurd dims, bytes that do not match the
    declared count, external data outside the model's folder or shorter than declared)."""


def _itemsize(data_type: int) -> int:
    dtype = DTYPES[data_type][0]
    return 2 if isinstance(dtype, str) else np.dtype(dtype).itemsize


class TensorRef:
    """A checked tensor declaration; `array()` reads its values."""

    __slots__ = ("name", "dims", "data_type", "_proto", "_external")

    def __init__(self, name, dims, data_type, proto, external):
        self.name, self.dims, self.data_type = name, dims, data_type
        self._proto = proto
        self._external = external   # (path, offset, nbytes) or None

    @property
    def shape(self) -> tuple:
        return self.dims

    @property
    def size(self) -> int:
        n = 1
        for d in self.dims:
            n *= d
        return n

    def array(self) -> np.ndarray:
        """The values as numpy (bfloat16 as float32), in the declared shape."""
        if self.data_type not in DTYPES:
            raise Unsayable(f"numbers where the tensor '{self.name}' holds {type_name(self.data_type)} values")
        dtype, field, stored = DTYPES[self.data_type]
        raw_dtype = np.uint16 if isinstance(dtype, str) else dtype
        if self._external is not None:
            path, offset, nbytes = self._external
            from ....runtime.files import open_regular

            with open_regular(path) as f:
                f.seek(offset)
                data = f.read(nbytes)
            if len(data) != nbytes:
                raise Damaged(f"the tensor '{self.name}': its external file {os.path.basename(path)} ended early")
            a = np.frombuffer(data, dtype=np.dtype(raw_dtype).newbyteorder("<")).astype(raw_dtype)
        elif self._proto.raw_data:
            a = np.frombuffer(self._proto.raw_data, dtype=np.dtype(raw_dtype).newbyteorder("<")).astype(raw_dtype)
        else:
            a = np.asarray(getattr(self._proto, field), dtype=stored)
            if raw_dtype in (np.float16, np.uint16):
                a = a.astype(np.uint16).view(raw_dtype)
            else:
                a = a.astype(raw_dtype)
        if isinstance(dtype, str):   # bfloat16: the upper half of a float32
            a = (a.astype(np.uint32) << 16).view(np.float32)
        return a.reshape(self.dims)


def type_name(data_type: int) -> str:
    if data_type in TYPE_NAMES:
        return TYPE_NAMES[data_type]
    if data_type in DTYPES:
        d = DTYPES[data_type][0]
        return d if isinstance(d, str) else np.dtype(d).name
    return f"type {data_type}"


def _dims(proto) -> tuple:
    dims = tuple(int(d) for d in proto.dims)
    if len(dims) > MAX_RANK:
        raise Damaged(f"the tensor '{proto.name[:100]}' has {len(dims)} dimensions")
    if any(d < 0 for d in dims):
        raise Damaged(f"the tensor '{proto.name[:100]}' declares a negative dimension {list(dims)}")
    n = 1
    for d in dims:
        if d > MAX_VALUES:
            break
        n *= d
    if n > MAX_VALUES or any(d > MAX_VALUES for d in dims):
        raise Damaged(f"the tensor '{proto.name[:100]}' declares dimensions {list(dims)}: more than the "
                      f"{MAX_VALUES:,} values a cnnc tensor may hold")
    return dims


def _external(proto, folder, need: int) -> tuple:
    """(path, offset, nbytes) of external data, every entry checked."""
    from ....runtime.files import file_inside

    entries = {}
    for e in proto.external_data:
        if e.key in entries:
            raise Damaged(f"the tensor '{proto.name[:100]}' names its external '{e.key[:50]}' twice")
        entries[e.key] = e.value
    if "location" not in entries:
        raise Damaged(f"the tensor '{proto.name[:100]}' is stored outside the model but names no file")
    try:
        path = file_inside(folder, entries["location"])
    except ValueError as e:
        raise Damaged(f"the tensor '{proto.name[:100]}' is stored in {e}") from None
    numbers = {}
    for key in ("offset", "length"):
        text = entries.get(key)
        if text is None:
            continue
        if not text.isdigit() or len(text) > 18:
            raise Damaged(f"the tensor '{proto.name[:100]}' has external {key} '{text[:30]}', not a byte count")
        numbers[key] = int(text)
    offset = numbers.get("offset", 0)
    if numbers.get("length", need) != need:
        raise Damaged(f"the tensor '{proto.name[:100]}' declares {numbers['length']:,} bytes of external data "
                      f"for {list(proto.dims)} values of {type_name(proto.data_type)}, which take {need:,}")
    size = os.stat(path).st_size
    if offset + need > size:
        raise Damaged(f"the tensor '{proto.name[:100]}' needs bytes {offset:,} to {offset + need:,} of "
                      f"{entries['location'][:100]}, which holds {size:,}")
    return path, offset, need


def tensor_ref(proto, folder) -> TensorRef:
    """The checked declaration of a TensorProto (Damaged when it does not hold)."""
    dims = _dims(proto)
    data_type = int(proto.data_type)
    ref = TensorRef(proto.name, dims, data_type, proto, None)
    count = ref.size
    if data_type not in DTYPES:   # strings, complex, 4-bit...: no array a CNN converter reads
        return ref
    need = count * _itemsize(data_type)
    if proto.data_location == EXTERNAL:
        ref._external = _external(proto, folder, need)
        return ref
    if proto.raw_data:
        if len(proto.raw_data) != need:
            raise Damaged(f"the tensor '{proto.name[:100]}' declares {list(dims)} values of {type_name(data_type)} "
                          f"({need:,} bytes) but holds {len(proto.raw_data):,} bytes")
        return ref
    field = DTYPES[data_type][1]
    held = len(getattr(proto, field))
    if held != count:
        raise Damaged(f"the tensor '{proto.name[:100]}' declares {list(dims)} ({count:,} values) but holds {held:,}")
    return ref
