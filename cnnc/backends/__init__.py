"""Backends: code generators from the typed graph to a Python module.

A backend is a module `cnnc.backends.NAME` with

    generate(net, **options) -> str
        The source of a self-contained Python module. It defines at least
          PARAMS: dict name -> shape          (the Keras-layout parameters it expects)
          prepare(params) -> state            (folds batchnorm etc.; params are float32 arrays)
          forward(state, x) -> y              (x is (N, H, W, C) float32)
          load(path=None) -> a callable model, reading weights from beside the module
        Each fusion group is one function/kernel, with a comment naming its source line.
        Output is deterministic: the same network and options give the same bytes.

    REQUIRES: ((module, extra), ...)  (optional)
        What the generated module imports beyond numpy, and the `pip install 'cnnc[extra]'`
        that provides it; checked before the module runs, so a missing one is a clear error.

The runtime (cnnc.runtime.model) execs the generated source for `cnnc.compile`,
and `cnnc compile` writes the very same source to disk.
"""

from __future__ import annotations

import importlib

from ..errors import CnncError

BACKENDS = ("numpy", "triton")


def get_backend(name: str):
    if name not in BACKENDS:
        raise CnncError(f"unknown backend '{name}'; choose one of {', '.join(BACKENDS)}", 1, 1)
    try:
        return importlib.import_module(f"cnnc.backends.{name}")
    except ImportError as e:   # a backend's optional packages (the triton backend: torch, triton)
        from ..optional import missing

        err = missing(e, name, f"the {name} backend")
        if err is None:
            raise
        raise err from None
