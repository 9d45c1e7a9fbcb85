"""Backends: code generators from the typed graph to a Python module.

A backend is a package `cnnc.backends.NAME` (its policy, lowerings, module generator and
the code its modules carry, in `carried/`; what every backend's modules carry is in
cnnc/backends/carried/) that exports

    generate(net, **options) -> str
        The source of a self-contained Python module. It defines at least
          PARAMS: dict name -> shape          (the Keras-layout parameters it expects)
          prepare(params) -> state            (folds batchnorm etc.; params are float32 arrays)
          forward(state, x) -> y              (x is (N, H, W, C) float32)
          load(path=None) -> a callable model, reading weights from beside the module
        Each fusion group is one function/kernel call, with a comment naming its source
        line; groups of the same code share one function, and what grows with the network
        is table rows (carried/tables.py), so a module's size and compile time stay linear.
        Output is deterministic: the same network and options give the same bytes.

    REQUIRES: ((module, extra), ...)  (optional)
        What the generated module imports beyond numpy, and the `pip install 'cnnc[extra]'`
        that provides it; checked before the module runs, so a missing one is a clear error.

The runtime (cnnc.runtime.model) execs the generated source for `cnnc.compile`,
and `cnnc compile` writes the very same source to disk.
"""

from __future__ import annotations

import sys

from ..errors import CnncError

BACKENDS = ("numpy", "triton")


def get_backend(name: str):
    if name not in BACKENDS:
        raise CnncError(f"unknown backend '{name}'; choose one of {', '.join(BACKENDS)}", 1, 1)
    try:
        __import__(f"cnnc.backends.{name}")   # not importlib: `cnnc shapes` imports this package
        backend = sys.modules[f"cnnc.backends.{name}"]
        # A package may load its code generator on first use (the triton package does, so that
        # its policy imports without torch): load it here, where a missing package is reported.
        backend.generate
        return backend
    except ImportError as e:   # a backend's optional packages (the triton backend: torch, triton)
        from ..optional import missing

        err = missing(e, name, f"the {name} backend")
        if err is None:
            raise
        raise err from None
