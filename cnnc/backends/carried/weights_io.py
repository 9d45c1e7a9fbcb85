"""Weights files and arrays checked with numpy alone: what `cnnc.runtime.weights` uses
and what every generated module carries, so both apply the same checks.

A weights file is checked before any of its arrays is read: `read_weights` opens it
and learns each array's name, shape and dtype from the file's own directory (the zip
directory and each member's .npy header for .npz; the JSON header, checked by the
safetensors library, for .safetensors). `check_params` compares those with what the
network expects, and only then reads the arrays. So memory stays bounded by the
network's own size: an unexpected or oversized array (a zip bomb) is refused by its
name or declared shape without being decompressed.

Errors are ValueError with a message that names the file and the array; a file that
cannot be read at all raises its subclass UnreadableWeights. Nothing is ever unpickled.
Values must be finite and fit in float32 (the backends compute in float32).

Every file is opened through carried/safe_files.py: only a regular file is read, a
zip's member count is bounded before its directory is parsed, and duplicate member
names are refused.
"""

import os

import numpy as np

from .safe_files import NotRegularFile, TooManyMembers, open_regular, open_zip

# --- carried: everything below is inlined into generated modules ---


class UnreadableWeights(ValueError):
    """A weights file that cannot be read (missing, a folder, corrupt, not the format)."""


# safetensors dtype names -> numpy dtypes; BF16 has no numpy dtype and is widened by hand
_SAFETENSORS_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2",
                       "I8": "i1", "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?"}


# the most arrays a weights file may hold: a network's own count and a margin, so that an extra
# array or two is named as such while a zip of 200,000 members is refused unread
MAX_ARRAYS = 1 << 20
SPARE_ARRAYS = 1024


def array_limit(expected):
    """How many arrays a weights file for `expected` (name -> shape) may hold."""
    return len(expected) + SPARE_ARRAYS


def read_weights(path, max_arrays=MAX_ARRAYS):
    """The weights file at `path` (.npz, or .safetensors with the safetensors package) as a
    read-only mapping name -> array. Names, shapes and dtypes come from the file's directory
    (`.header(name)`); an array is read only when it is looked up. A file of more than
    `max_arrays` arrays (a network's parameter count, when known) is refused unread."""
    path = os.fspath(path)
    try:
        open_regular(path).close()
    except FileNotFoundError:
        raise UnreadableWeights(f"{path}: no such weights file") from None
    except NotRegularFile as e:
        raise UnreadableWeights(f"{path}: is {e.what}, not a weights file") from None
    except OSError as e:
        raise UnreadableWeights(f"{path}: cannot be read ({e.strerror or e})") from None
    if path.lower().endswith(".safetensors"):
        return _SafetensorsArchive(path, max_arrays)
    return _NpzArchive(path, max_arrays)


class _Archive:
    """name -> array, read on lookup; `header(name)` is (shape, dtype or dtype name) without reading."""

    def __init__(self, path, names):
        self.path = path
        self._names = list(names)
        self._known = set(self._names)

    def keys(self):
        return list(self._names)

    def __iter__(self):
        return iter(self._names)

    def __len__(self):
        return len(self._names)

    def __contains__(self, name):
        return name in self._known

    def items(self):
        return [(k, self[k]) for k in self._names]

    def __getitem__(self, name):
        if name not in self._known:
            raise KeyError(name)
        try:
            a = self._read(name)
        except UnreadableWeights:
            raise
        except Exception as e:
            raise UnreadableWeights(f"{self.path}: array '{name}' cannot be read ({_first_line(e)})") from None
        shape, dtype = self.header(name)
        if tuple(a.shape) != tuple(shape):
            raise UnreadableWeights(f"{self.path}: array '{name}' changed while it was read")
        return a


class _NpzArchive(_Archive):
    """An .npz: a zip of NAME.npy members. Directory and headers are read at once; data on lookup."""

    def __init__(self, path, max_arrays):
        try:
            f = open_regular(path)
        except OSError as e:
            raise UnreadableWeights(f"{path}: cannot be read ({e.strerror or e})") from None
        with f:
            headers = self._directory(f, path, max_arrays)
        super().__init__(path, headers)
        self._headers = headers
        self._max = max_arrays

    @staticmethod
    def _directory(f, path, max_arrays):
        """{name: (shape, dtype)} from the zip directory and each member's .npy header."""
        import zipfile

        magic = f.read(8)
        if magic.startswith(b"\x93NUMPY"):
            raise UnreadableWeights(f"{path}: a single .npy array, not an .npz archive of named arrays "
                                    f"(write weights with np.savez(path, **arrays) or model.save_weights)")
        if magic[:1] == b"\x80":
            raise UnreadableWeights(f"{path}: pickled data, not an .npz archive; pickled data is never loaded")
        try:
            with open_zip(f, max_arrays) as z:
                members = [m.filename for m in z.infolist()]
                headers = {}
                for m in members:
                    if not m.endswith(".npy"):
                        raise UnreadableWeights(f"{path}: member '{m}' is not an .npy array")
                    with z.open(m) as member:
                        shape, _, dtype = npy_header(member)
                        headers[m[:-4]] = (shape, dtype)
        except UnreadableWeights:
            raise
        except TooManyMembers as e:
            raise ValueError(f"{path}: {e} (far more arrays than the network has parameters)") from None
        except Exception as e:
            why = "not a zip of .npy arrays" if isinstance(e, zipfile.BadZipFile) else _first_line(e)
            raise UnreadableWeights(f"{path}: not a readable .npz weights file ({why})") from None
        return headers

    def header(self, name):
        return self._headers[name]

    def _read(self, name):
        with open_regular(self.path) as raw, open_zip(raw, self._max) as z, z.open(name + ".npy") as f:
            return np.lib.format.read_array(f, allow_pickle=False)


def npy_header(f):
    """(shape, fortran_order, dtype) from the header of an .npy stream, reading only the header."""
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
    else:
        raise ValueError(f".npy format version {version[0]}.{version[1]} is not supported")
    return tuple(shape), fortran, dtype


class _SafetensorsArchive(_Archive):
    """A .safetensors file, read with the safetensors library (which checks the header's
    offsets, sizes and dtypes); BF16 tensors are widened to float32."""

    def __init__(self, path, max_arrays):
        try:
            from safetensors import safe_open
        except ImportError:
            raise UnreadableWeights(f"{path}: reading .safetensors needs the safetensors package "
                                    f"(pip install safetensors)") from None
        self._open = safe_open
        try:
            with safe_open(path, framework="numpy") as f:
                headers, self._stored = {}, {}
                for k in f.keys():
                    s = f.get_slice(k)
                    stored = self._stored[k] = s.get_dtype()
                    dtype = "<f4" if stored == "BF16" else _SAFETENSORS_DTYPES.get(stored)
                    headers[k] = (tuple(s.get_shape()), np.dtype(dtype) if dtype else stored)
        except Exception as e:
            raise UnreadableWeights(f"{path}: not a readable safetensors file ({_first_line(e)})") from None
        if len(headers) > max_arrays:
            raise ValueError(f"{path}: it holds {len(headers):,} arrays, more than the {max_arrays:,} it may hold "
                             f"(far more arrays than the network has parameters)")
        super().__init__(path, headers)
        self._headers = headers

    def header(self, name):
        return self._headers[name]

    def _read(self, name):
        open_regular(self.path).close()  # still a regular file (safe_open opens by name)
        if self._stored[name] == "BF16":
            return self._read_bf16(name)
        with self._open(self.path, framework="numpy") as f:
            return f.get_tensor(name)

    def _read_bf16(self, name):
        """bfloat16 is the top half of a float32: widen the raw 16-bit words."""
        import json
        import struct

        with open_regular(self.path) as f:
            (n,) = struct.unpack("<Q", f.read(8))
            start, end = json.loads(f.read(n))[name]["data_offsets"]  # checked by safe_open above
            f.seek(8 + n + start)
            raw = np.frombuffer(f.read(end - start), dtype="<u2")
        return (raw.astype(np.uint32) << 16).view(np.float32).reshape(self._headers[name][0])


def params_digest(params):
    """SHA-256 (hex) of float32 parameters in their order: each name, shape and little-endian
    bytes. The same arrays give the same digest from .npz or .safetensors."""
    import hashlib

    h = hashlib.sha256()
    for name, a in params.items():
        a = np.ascontiguousarray(a, dtype="<f4")
        h.update(f"{name}:{a.shape};".encode("utf-8"))
        h.update(a.tobytes())
    return h.hexdigest()


def read_checked(path, expected, digest=None):
    """The weights file at `path` checked against `expected` (name -> shape), as float32
    arrays. With `digest` (a module's WEIGHTS_SHA256, for the file beside it) they must be the
    weights the module was written with: a module and weights from different compiles (a
    write cut short, or one file replaced by hand) never run together."""
    params = check_params(expected, read_weights(path, array_limit(expected)), path)
    if digest is not None and params_digest(params) != digest:
        raise ValueError(f"{path}: these are not the weights this module was compiled with (they were "
                         f"replaced after it was written, or its writing was cut short); compile it again "
                         f"(cnnc compile keeps fitting weights beside it), or name the file: load({path!r})")
    return params


def _first_line(e):
    text = str(e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:200]


def _as_numpy(a, where, name):
    """An array, a torch tensor (any dtype: bfloat16 is widened) or a nested list as numpy."""
    if isinstance(a, np.ndarray):
        return a
    try:
        if hasattr(a, "detach"):
            t = a.detach().cpu()
            try:
                return t.numpy()
            except TypeError:  # dtypes numpy lacks (bfloat16, float8): widen to float32
                return t.float().numpy()
        return np.asarray(a)
    except Exception:
        raise ValueError(f"{where}: '{name}' is not an array ({type(a).__name__})") from None


def _dtype_problem(dtype):
    """Why an array of this dtype cannot be weights, or None."""
    if isinstance(dtype, str):
        return f"holds {dtype}, which cnnc cannot read (expected float or integer numbers)"
    if dtype.hasobject:
        return "holds Python objects (pickled data is never loaded)"
    if not (np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating) or dtype == np.bool_):
        return f"holds {dtype}, expected real numbers"
    return None


def check_params(expected, arrays, where="weights"):
    """float32 copies of `arrays` in the order of `expected` (name -> shape): every name
    with its shape, finite real numbers that fit in float32, nothing else.

    `arrays` is a mapping (a dict, or what read_weights returns: then every name, shape and
    dtype is checked from the file's directory before any array is read).
    """
    if not hasattr(arrays, "keys"):
        raise ValueError(f"{where}: expected a mapping of name -> array, got {type(arrays).__name__}")
    where = getattr(arrays, "path", None) or where
    header = getattr(arrays, "header", None)
    names = list(arrays.keys())
    present = set(names)
    loaded = {}
    for name, shape in expected.items():  # the first misfit in network order is the one named
        if name not in present:
            raise ValueError(f"{where}: missing array '{name}' of shape {tuple(shape)}")
        if header is not None:
            got_shape, dtype = header(name)
        else:
            a = loaded[name] = _as_numpy(arrays[name], where, name)
            got_shape, dtype = a.shape, a.dtype
        problem = _dtype_problem(dtype)
        if problem:
            kind = UnreadableWeights if header is not None and not isinstance(dtype, str) and dtype.hasobject \
                else ValueError
            raise kind(f"{where}: '{name}' {problem}")
        if tuple(got_shape) != tuple(shape):
            raise ValueError(f"{where}: '{name}' has shape {tuple(got_shape)}, expected {tuple(shape)}")
    extra = [k for k in names if k not in expected]
    if extra:
        want = list(expected)
        raise ValueError(f"{where}: unexpected array '{extra[0]}': this network has no such parameter "
                         f"(it has {', '.join(want[:4])}{', ...' if len(want) > 4 else ''})")
    out = {}
    for name, shape in expected.items():
        a = loaded.pop(name) if name in loaded else _as_numpy(arrays[name], where, name)
        if tuple(a.shape) != tuple(shape) or _dtype_problem(a.dtype):
            raise ValueError(f"{where}: '{name}' is not what the file's directory declares")
        out[name] = _finite_float32(a, where, name)
    return out


def _finite_float32(a, where, name):
    """a as a float32 copy, or a ValueError naming the array if a value is NaN, infinite or
    too large for float32 (the cast would make it infinite)."""
    with np.errstate(over="ignore", invalid="ignore"):
        f = np.array(a, dtype=np.float32)
    if f.dtype.kind == "f" and not np.isfinite(f).all():
        src = np.asarray(a)
        if src.dtype.kind == "f" and not np.isfinite(src).all():
            bad = ~np.isfinite(src)
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(f"{where}: '{name}' holds {int(bad.sum())} NaN or infinite value(s) "
                             f"(the first at index {first}); weights must be finite")
        big = float(np.abs(src.astype(np.float64)).max())
        raise ValueError(f"{where}: '{name}' holds values too large for float32 (largest magnitude "
                         f"{big:.3g}; float32 holds up to 3.4e+38)")
    return f


def host_array(x):
    """x as a numpy array; a torch tensor (on any device, with grad or not) through the CPU,
    and one of a dtype numpy lacks (bfloat16, the float8s) as float32: computing in float32
    is what any real dtype gets."""
    if type(x).__module__.split(".")[0] == "torch" and hasattr(x, "detach"):
        t = x.detach().cpu()
        try:
            return t.numpy()
        except TypeError:
            if not t.is_floating_point():
                raise ValueError(f"expected a real-valued tensor, got dtype {t.dtype}") from None
            return t.float().numpy()
    return np.asarray(x)


def check_input(x, input_shape):
    """x as float32 (N, H, W, C), or a ValueError that names the expected shape."""
    want = "(N, " + ", ".join(str(d) for d in input_shape) + ")"
    a = host_array(x)
    if a.dtype.kind not in "biuf":
        raise ValueError(f"expected a real-valued array of shape {want}, got dtype {a.dtype}")
    if a.shape[1:] != tuple(input_shape) or a.ndim != len(input_shape) + 1:
        hint = ": add the batch axis (x[None])" if a.shape == tuple(input_shape) else ""
        raise ValueError(f"expected an array of shape {want}, got {a.shape}{hint}")
    return np.ascontiguousarray(a, dtype=np.float32)
