"""Weights: Keras-default initial values, checking, and .npz / .safetensors files.

Initial values follow Keras: kernels Glorot-uniform (limit sqrt(6 / (fan_in + fan_out)),
with fan_in = KH*KW*Cin and fan_out = KH*KW*Cout for a conv, in/out for a dense),
biases 0, batchnorm gamma 1, beta 0, mean 0, var 1. Kernels are drawn from
np.random.default_rng(seed) in network order, so a seed reproduces them.

Files are never unpickled: .npz is read with allow_pickle=False, and safetensors
holds raw tensors by design.
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
    """(name, shape, the kind's initializer for it, suffix) in network order."""
    for n in net.nodes:
        for suffix, shape in n.params.items():
            yield f"{n.name}.{suffix}", tuple(shape), n.spec.initializer(suffix), suffix


def init_params(net, seed: int = 0) -> dict:
    """Fresh float32 parameters for `net`, in network order: each kind's Keras default
    (glorot_uniform kernels, zero biases, batchnorm's ones and zeros)."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape, init, _ in _each_param(net):
        if init == "glorot_uniform":
            fan_in, fan_out = _fans(shape)
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            out[name] = rng.uniform(-limit, limit, size=shape).astype(np.float32)
        else:
            out[name] = np.full(shape, 1.0 if init == "ones" else 0.0, np.float32)
    return out


def random_params(net, seed: int = 0) -> dict:
    """Parameters with every array non-trivial, for checking backends against each other:
    He-normal kernels, and biases and batchnorm statistics drawn too (gamma of both signs,
    so batchnorm folding must cope; variances positive), so that no epilogue is an
    identity. Keras layouts."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape, init, suffix in _each_param(net):
        if init == "glorot_uniform":
            fan_in, _ = _fans(shape)
            out[name] = (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
        elif suffix == "var":
            out[name] = rng.uniform(0.5, 2.0, shape).astype(np.float32)
        elif init == "ones":
            out[name] = rng.uniform(-1.5, 1.5, shape).astype(np.float32)
        else:
            out[name] = (rng.standard_normal(shape) * 0.5).astype(np.float32)
    return out


def check_params(expected: dict, arrays, where: str = "weights") -> dict:
    """float32 copies of `arrays` in the order of `expected` (name -> shape).

    Every name must be there with its shape and real numbers; no extra names.
    Raises WeightsError naming the first wrong array (the checks are those every
    generated module carries: cnnc/backends/carried/weights_io.py).
    """
    try:
        return io.check_params(expected, arrays, where)
    except ValueError as e:
        raise WeightsError(str(e)) from None


def _format(path) -> str:
    p = os.fspath(path)
    ext = os.path.splitext(p)[1].lower()
    if ext not in FORMATS:
        raise WeightsError(f"{p}: weights files are .npz or .safetensors, got '{ext or 'no extension'}'",
                           unreadable=True)
    return ext


def read_file(path) -> dict:
    """The arrays in a weights file, by name; WeightsError(unreadable=True) if it cannot be read."""
    ext = _format(path)
    p = os.fspath(path)
    if not os.path.isfile(p):
        raise WeightsError(f"{p}: no such weights file", unreadable=True)
    if ext == ".safetensors":
        _safetensors()  # a missing package is its own message
    try:
        return io.read_weights(p)
    except ValueError as e:
        raise WeightsError(str(e), unreadable=True) from None


def np_load_problem(e: Exception, what: str = "a zip of .npy arrays") -> str:
    """Why np.load(..., allow_pickle=False) refused a file, in words. numpy's own message
    for anything that is not .npy/.npz advises loading it with pickle: never pass that on."""
    return f"not {what}; pickled data is never loaded" if "pickle" in str(e) else _short(e)


def write_file(path, params: dict) -> None:
    ext = _format(path)
    p = os.fspath(path)
    arrays = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in params.items()}
    try:
        if ext == ".safetensors":
            _safetensors().save_file(arrays, p)
        else:
            with open(p, "wb") as f:  # a file object: np.savez would append .npz to odd names
                np.savez(f, **arrays)
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
