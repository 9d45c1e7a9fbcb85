"""`cnnc.compile` and the Model it returns: the same class for every backend.

compile_model generates the backend's module source, executes it in a fresh
module namespace (exactly the code `cnnc compile` writes to disk) and wraps it.

Parameters and in-place edits: `model.params` holds read-only float32 arrays, and
the backend's prepared state (folded batchnorms, GEMM-shaped kernels) is computed
once from them. So `model.params["conv_1.kernel"][0] = 1` raises numpy's
"assignment destination is read-only" instead of silently doing nothing; change
weights with `model.set_params(mapping)`, `model.load_weights(path)` or
`model.params[name] = array` (checked, re-prepares).
"""

from __future__ import annotations

import linecache
import os
import types

import numpy as np

from . import weights as W


class Params(dict):
    """name -> read-only float32 array, in network order. Assigning a name goes
    through Model.set_params (shape checked, state re-prepared)."""

    def __init__(self, model, arrays):
        super().__init__(arrays)
        self._model = model

    def __setitem__(self, name, value):
        if name not in self:
            raise W.WeightsError(f"no parameter '{name}' in this network (it has {', '.join(list(self)[:4])}, ...)")
        self._model.set_params({**self, name: value})

    def __delitem__(self, name):
        raise TypeError("a model's parameters cannot be removed")

    def update(self, *args, **kwargs):
        """Replace some parameters (checked; re-prepares once)."""
        new = dict(*args, **kwargs)
        unknown = [k for k in new if k not in self]
        if unknown:
            raise W.WeightsError(f"no parameter '{unknown[0]}' in this network")
        self._model.set_params({**self, **new})

    def _fixed(self, *a, **k):
        raise TypeError("a model's parameters cannot be added or removed; change them with "
                        "model.params[name] = array or model.set_params(mapping)")

    setdefault = pop = popitem = clear = _fixed

    def copy(self) -> dict:
        """A plain dict of writable copies."""
        return {k: v.copy() for k, v in self.items()}

    def __reduce__(self):
        return (dict, (self.copy(),))


class Model:
    """A compiled network with its weights: `model(x)` runs it. `weights_source` says where
    `cnnc.compile` took its weights from (a file, the program's own file beside it, or fresh
    initial weights and their seed)."""

    weights_source: "str | None" = None

    def __init__(self, network, backend: str, source: str, module, params: dict, where: str = "initial weights"):
        self.network = network
        self.backend = backend
        self.code = source
        self.module = module
        self._params = None
        self._state = None
        self.set_params(params, where=where)

    @property
    def source(self) -> str:
        """The module `cnnc compile` writes for this model: the generated code it runs, with
        WEIGHTS_SHA256 set to the digest of its current weights (cnnc/runtime/export.py)."""
        from .export import module_source

        return module_source(self.code, self._params)

    # -- parameters -------------------------------------------------------------
    @property
    def params(self) -> Params:
        return self._params

    def set_params(self, mapping, where: str = "weights") -> None:
        """Replace every parameter (all names, exact shapes, nothing extra)."""
        checked = W.check_params(self.module.PARAMS, mapping, where)
        for a in checked.values():
            a.flags.writeable = False
        state = self.module.prepare(checked)
        self._params, self._state = Params(self, checked), state

    def save_weights(self, path) -> None:
        """Write the parameters to `path` (.npz, or .safetensors)."""
        W.write_file(path, self._params)

    def load_weights(self, path) -> None:
        """Read parameters from `path` (.npz or .safetensors), checking every name and shape."""
        self.set_params(W.read_file(path, self.module.PARAMS), where=os.fspath(path))

    # -- running ----------------------------------------------------------------
    def __call__(self, x):
        return self.module.forward(self._state, self._check_input(x))

    def trace(self, x) -> dict:
        """Every node output the backend materializes, by node name (input and output included)."""
        out = {}
        self.module.forward(self._state, self._check_input(x), trace=out)
        return out

    def _check_input(self, x):
        shape = tuple(self.module.INPUT_SHAPE)
        want = "(N, " + ", ".join(str(d) for d in shape) + ")"
        if type(x).__module__.split(".")[0] == "torch":
            got = tuple(x.shape)
            if getattr(x.dtype, "is_complex", False):
                raise ValueError(f"expected a real-valued tensor of shape {want}, got dtype {x.dtype}")
            _check_shape(got, shape, want)
            if self.backend != "numpy":  # the backend's module takes tensors (and returns them)
                return x
            # the numpy backend computes (and answers) in numpy; bfloat16 arrives as float32
            x = W.io.host_array(x)
        try:
            a = np.asarray(x)
        except (ValueError, TypeError) as e:
            raise ValueError(f"expected an array of shape {want}, got {type(x).__name__} ({e})") from None
        if a.dtype.kind not in "biuf":
            raise ValueError(f"expected a real-valued array of shape {want}, got dtype {a.dtype}")
        _check_shape(a.shape, shape, want)
        return np.ascontiguousarray(a, dtype=np.float32)

    def summary(self, batch: "int | None" = None, device_memory=None, print_fn=None) -> None:
        """Print the network's table, as `cnnc shapes` does and Keras's `model.summary()`
        (one line at a time to `print_fn` when given); `batch` and `device_memory` add
        memory as in `Network.summary`. `summary_text()` returns it."""
        self.network.summary(batch=batch, device_memory=device_memory, print_fn=print_fn)

    def summary_text(self, batch: "int | None" = None, device_memory=None) -> str:
        """The table of `summary()`, as a string."""
        return self.network.summary_text(batch=batch, device_memory=device_memory)

    # -- bridges (implemented in cnnc/bridges) ----------------------------------
    def to_torch(self):
        from ..bridges.torch_module import to_torch
        return to_torch(self)

    def load_torch(self, module_or_state_dict):
        from ..bridges.torch_import import load_torch
        return load_torch(self, module_or_state_dict)

    def load_keras(self, path) -> None:
        """Read the weights of a Keras 3 `.keras` file (h5py; Keras itself is not needed), matching
        Keras's layers to this network's by the structure of the two graphs; see docs/bridges.md."""
        from ..bridges.keras_import import load_keras
        load_keras(self, path)

    def to_onnx(self, path):
        from ..bridges.onnx_export import to_onnx
        return to_onnx(self, path)

    def __repr__(self) -> str:
        net = self.network
        return (f"<cnnc Model {net.filename} ({self.backend}): {net.input_shape} -> {net.output_shape}, "
                f"{net.total_params:,} parameters>")


def _check_shape(got, shape, want):
    if len(got) != len(shape) + 1 or tuple(got[1:]) != shape:
        hint = ": add the batch axis (x[None])" if tuple(got) == shape else ""
        raise ValueError(f"expected an array of shape {want}, got {tuple(got)}{hint}")


def load_source(source, input=None):
    """A Network from a path or a Network (re-shaped when `input` is given)."""
    from ..graph import Network, build
    from .. import parse_file

    if isinstance(source, Network):
        if input is not None and tuple(input) != tuple(source.input_shape):
            return build(source.program, input_shape=input)
        return source
    if isinstance(source, (str, os.PathLike)):
        return parse_file(source, input=input)
    raise TypeError(f"cnnc.compile takes a path to a .cnn file or a Network from cnnc.parse, "
                    f"got {type(source).__name__}")


def exec_module(source: str, backend: str, filename: str):
    """Execute generated source as a fresh module; tracebacks show its lines."""
    name = f"cnnc_{backend}_generated"
    fake = f"<cnnc {backend} module for {filename}>"
    linecache.cache[fake] = (len(source), None, source.splitlines(True), fake)
    mod = types.ModuleType(name)
    mod.__file__ = fake
    exec(compile(source, fake, "exec"), mod.__dict__)
    return mod


def check_sizes(net) -> None:
    """A CnncError at the layer whose parameters or output (for one image) could not exist on
    any machine: more bytes than an address space holds. Checked before code is generated or
    anything allocated; a merely large network is numpy's MemoryError when it is allocated."""
    import sys

    from ..errors import CnncError

    for n in net.nodes:
        count = 1
        for d in n.out.dims:
            count *= int(d)
        if count * 8 > sys.maxsize:
            raise CnncError(f"{n.name}: its output {n.out} holds {count:,} numbers per image, far more than "
                            f"any machine's memory", n.line, n.col, net.filename)
        for suffix, shape in n.params.items():
            try:
                W.check_sizes({f"{n.name}.{suffix}": shape})
            except W.WeightsError as e:
                raise CnncError(str(e), n.line, n.col, net.filename) from None


def compile_model(source, backend: str = "numpy", seed: int = 0, weights=None, input=None, **options) -> Model:
    from ..backends import get_backend

    net = load_source(source, input)
    check_sizes(net)  # before generating code for a network no machine can hold
    gen = get_backend(backend)
    code = gen.generate(net, **options)
    if getattr(gen, "REQUIRES", ()):
        from ..optional import require

        for name, extra in gen.REQUIRES:  # checked, not imported: the module imports them its own way
            require(name, extra, load=False)
    module = exec_module(code, backend, net.filename)
    said = None
    if weights is None and isinstance(source, (str, os.PathLike)):
        from .weight_source import program_weights

        weights = program_weights(source)   # the program's own STEM.npz / STEM.safetensors
        said = None if weights is None else f"{weights}, beside the program"
    if weights is None:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"seed must be an integer, got {seed!r}")
        if seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {seed}")
        params = W.init_params(net, int(seed))
        where, said = "initial weights", f"fresh initial weights (seed {int(seed)})"
    elif isinstance(weights, (str, os.PathLike)):
        params, where = W.read_file(weights, net.param_shapes()), os.fspath(weights)
        said = said or os.fspath(weights)
    else:
        params, where, said = weights, "weights", "the weights given"
    model = Model(net, backend, code, module, params, where)
    model.weights_source = said
    return model
