"""Weights: Keras-default initial values, checking, and .npz / .safetensors files.

Initial values follow Keras: kernels Glorot-uniform (limit sqrt(6 / (fan_in + fan_out)),
with fan_in = KH*KW*Cin and fan_out = KH*KW*Cout for a conv, in/out for a dense),
biases 0, batchnorm gamma 1, beta 0, mean 0, var 1. Kernels are drawn from
np.random.default_rng(seed) in network order, so a seed reproduces them.

Files are never unpickled: .npz is read with allow_pickle=False, and safetensors
holds raw tensors by design. A file is checked against the network by every array's
name, shape and dtype from its directory before any array is read (so a zip bomb
costs nothing), and every value must be finite and fit in float32. Files are written
atomically (cnnc/runtime/files.py).
"""

from __future__ import annotations

import os

import numpy as np

from ..backends.carried import weights_io as io
from ..errors import WeightsError

FORMATS = (".npz", ".safetensors")
SAFETENSORS_HINT = "pip install safetensors  (or: pip install 'cnnc[safetensors]')"


def _fans(shape) -> tuple:
    """Keras's fan_in, fan_out: a kernel's last two axes times its receptive field."""
    if len(shape) < 2:
        return shape[0], shape[0]
    field = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    return shape[-2] * field, shape[-1] * field


def _each_param(net):
    """(name, shape, the kind's initializer for it, suffix) in network order; the initializer
    is a number where the program sets the starting value (layerscale's V)."""
    for n in net.nodes:
        for suffix, shape in n.params.items():
            value = n.spec.initial_value(suffix, n.attrs)
            yield f"{n.name}.{suffix}", tuple(shape), n.spec.initializer(suffix) if value is None else value, suffix


def init_params(net, seed: int = 0) -> dict:
    """Fresh float32 parameters for `net`, in network order: each kind's Keras default
    (glorot_uniform kernels, zero biases, batchnorm's ones and zeros)."""
    check_sizes(net.param_shapes())
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape, init, _ in _each_param(net):
        if init == "glorot_uniform":
            fan_in, fan_out = _fans(shape)
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            out[name] = rng.uniform(-limit, limit, size=shape).astype(np.float32)
        elif isinstance(init, float):
            out[name] = np.full(shape, init, np.float32)
        else:
            out[name] = np.full(shape, 1.0 if init == "ones" else 0.0, np.float32)
    return out


def random_params(net, seed: int = 0) -> dict:
    """Parameters with every array non-trivial, for checking backends against each other:
    He-normal kernels, and biases and batchnorm statistics drawn too (gamma of both signs,
    so batchnorm folding must cope; variances positive), so that no epilogue is an
    identity. Keras layouts."""
    check_sizes(net.param_shapes())
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape, init, suffix in _each_param(net):
        if init == "glorot_uniform":
            fan_in, _ = _fans(shape)
            out[name] = (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
        elif suffix == "var":
            out[name] = rng.uniform(0.5, 2.0, shape).astype(np.float32)
        elif init == "ones" or isinstance(init, float):
            out[name] = rng.uniform(-1.5, 1.5, shape).astype(np.float32)
        else:
            out[name] = (rng.standard_normal(shape) * 0.5).astype(np.float32)
    return out


def check_params(expected: dict, arrays, where: str = "weights") -> dict:
    """float32 copies of `arrays` in the order of `expected` (name -> shape).

    Every name must be there with its shape and finite real numbers that fit in float32;
    no extra names. Raises WeightsError naming the first wrong array (the checks are those
    every generated module carries: cnnc/backends/carried/weights_io.py).
    """
    try:
        return io.check_params(expected, arrays, where)
    except io.UnreadableWeights as e:  # an array of a file that turned out unreadable
        raise WeightsError(str(e), unreadable=True) from None
    except ValueError as e:
        raise WeightsError(str(e)) from None


def check_sizes(shapes: dict) -> None:
    """WeightsError when a parameter array is too large to exist on any machine (more bytes than
    an address space holds), before anything is allocated; a merely large one is numpy's
    MemoryError when it is allocated."""
    import sys

    for name, shape in shapes.items():
        n = 1
        for d in shape:
            n *= int(d)
        if n * 8 > sys.maxsize:  # float64 while drawing, float32 kept
            raise WeightsError(f"{name} would hold {n:,} numbers ({n * 4:.3g} bytes as float32): "
                               f"far more than any machine's memory; make the layer smaller")


def _format(path) -> str:
    p = os.fspath(path)
    ext = os.path.splitext(p)[1].lower()
    if ext not in FORMATS:
        raise WeightsError(f"{p}: weights files are .npz or .safetensors, got '{ext or 'no extension'}'",
                           unreadable=True)
    return ext


def read_file(path, expected: "dict | None" = None):
    """The arrays of a weights file; WeightsError(unreadable=True) if it cannot be read.

    With `expected` (name -> shape, e.g. `net.param_shapes()`), every name, shape and dtype is
    checked from the file's directory before any array is read, and the checked float32 arrays
    are returned (WeightsError naming the first misfit). Without it, every array is read.
    """
    ext = _format(path)
    p = os.fspath(path)
    if ext == ".safetensors" and os.path.isfile(p):
        _safetensors()  # a missing package is its own message
    try:
        arrays = io.read_weights(p, io.MAX_ARRAYS if expected is None else io.array_limit(expected))
        if expected is None:
            return {k: arrays[k] for k in arrays.keys()}
    except ValueError as e:
        raise WeightsError(str(e), unreadable=True) from None
    return check_params(expected, arrays, p)


def np_load_problem(e: Exception, what: str = "a zip of .npy arrays") -> str:
    """Why np.load(..., allow_pickle=False) refused a file, in words. numpy's own message
    for anything that is not .npy/.npz advises loading it with pickle: never pass that on."""
    return f"not {what}; pickled data is never loaded" if "pickle" in str(e) else _short(e)


def writer(path, params: dict):
    """`write(tmp)`: writes `params` as float32 in the format of `path` (.npz or .safetensors)
    to the file `tmp`, for cnnc.runtime.files' atomic writes."""
    ext = _format(path)
    arrays = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in params.items()}
    if ext == ".safetensors":
        st = _safetensors()

        def write(tmp):
            st.save_file(arrays, os.fspath(tmp))
    else:
        from .npz import write_npz

        def write(tmp):   # np.savez's members, without its copies of every array
            write_npz(tmp, arrays)
    return write


def write_file(path, params: dict) -> None:
    """Write `params` as float32 to `path` (.npz or .safetensors), atomically: a failure
    leaves an existing file as it was."""
    from .files import write_atomic

    p = os.fspath(path)
    write = writer(p, params)
    try:
        write_atomic(p, write)
    except OSError as e:
        raise WeightsError(f"{p}: cannot write weights ({e.strerror or e})", unreadable=True) from None


def _safetensors():
    try:
        import safetensors.numpy as st
    except ImportError:
        raise WeightsError(f".safetensors files need the safetensors package: {SAFETENSORS_HINT}",
                           unreadable=True) from None
    return st


def _short(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:200]
