"""Weights files and arrays checked with numpy alone: what `cnnc.runtime.weights` uses
and what every generated module carries, so both apply the same checks.

Errors are ValueError with a message that names the file and the array.
Nothing is ever unpickled.
"""

import numpy as np

# --- carried: everything below is inlined into generated modules ---


def read_weights(path):
    """The arrays of a weights file (.npz, or .safetensors with the safetensors package)."""
    path = str(path)
    if path.endswith(".safetensors"):
        try:
            from safetensors.numpy import load_file
        except ImportError:
            raise ValueError(f"{path}: reading .safetensors needs the safetensors package "
                             f"(pip install safetensors)") from None
        try:
            return dict(load_file(path))
        except Exception as e:
            raise ValueError(f"{path}: not a readable safetensors file ({_first_line(e)})") from None
    try:
        with np.load(path, allow_pickle=False) as f:
            if not hasattr(f, "files"):
                raise ValueError("a single .npy array, not an .npz archive")
            return {k: f[k] for k in f.files}
    except Exception as e:
        # numpy's message for a non-.npz file suggests unpickling it: never pass that on
        why = "not a zip of .npy arrays; pickled data is never loaded" if "pickle" in str(e) else _first_line(e)
        raise ValueError(f"{path}: not a readable .npz weights file ({why})") from None


def _first_line(e):
    text = str(e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:200]


def check_params(expected, arrays, where="weights"):
    """float32 copies of `arrays` in the order of `expected` (name -> shape): every name
    with its shape and real numbers, nothing else."""
    if not hasattr(arrays, "keys"):
        raise ValueError(f"{where}: expected a mapping of name -> array, got {type(arrays).__name__}")
    for name, shape in expected.items():
        if name not in arrays:
            raise ValueError(f"{where}: missing array '{name}' of shape {tuple(shape)}")
        a = arrays[name]
        if not isinstance(a, np.ndarray):
            try:
                a = np.asarray(a.detach().cpu() if hasattr(a, "detach") else a)
            except Exception:
                raise ValueError(f"{where}: '{name}' is not an array ({type(arrays[name]).__name__})") from None
        if a.dtype.kind not in "biuf":
            raise ValueError(f"{where}: '{name}' holds {a.dtype}, expected real numbers")
        if tuple(a.shape) != tuple(shape):
            raise ValueError(f"{where}: '{name}' has shape {tuple(a.shape)}, expected {tuple(shape)}")
    extra = [k for k in arrays.keys() if k not in expected]
    if extra:
        names = list(expected)
        raise ValueError(f"{where}: unexpected array '{extra[0]}': this network has no such parameter "
                         f"(it has {', '.join(names[:4])}{', ...' if len(names) > 4 else ''})")
    out = {}
    for name in expected:
        a = arrays[name]
        out[name] = np.array(a.detach().cpu() if hasattr(a, "detach") else a, dtype=np.float32)
    return out


def check_input(x, input_shape):
    """x as float32 (N, H, W, C), or a ValueError that names the expected shape."""
    want = "(N, " + ", ".join(str(d) for d in input_shape) + ")"
    a = np.asarray(x)
    if a.dtype.kind not in "biuf":
        raise ValueError(f"expected a real-valued array of shape {want}, got dtype {a.dtype}")
    if a.shape[1:] != tuple(input_shape) or a.ndim != len(input_shape) + 1:
        hint = ": add the batch axis (x[None])" if a.shape == tuple(input_shape) else ""
        raise ValueError(f"expected an array of shape {want}, got {a.shape}{hint}")
    return np.ascontiguousarray(a, dtype=np.float32)
