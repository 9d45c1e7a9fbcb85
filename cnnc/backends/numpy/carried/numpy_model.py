"""The runtime of a module written by the numpy backend: the loop that runs its STEPS
table (one generated function per row), BLAS's threads for a call, and the model object
that `load()` returns."""

import os

import numpy as np

from ...carried.weights_io import check_input, check_params

# --- carried: everything below is inlined into generated modules ---


_BLAS = []   # the BLAS libraries numpy loaded, found once (threadpoolctl's controllers)


def _blas_libraries():
    """numpy's BLAS libraries, through threadpoolctl when it is installed; none when it is not
    (the module needs only numpy: then BLAS keeps its own thread setting)."""
    if not _BLAS:
        try:
            from threadpoolctl import ThreadpoolController

            _BLAS.append(ThreadpoolController().select(user_api="blas").lib_controllers)
        except Exception:   # missing, or a version without these calls: leave BLAS alone
            _BLAS.append([])
    return _BLAS[0]


class blas_threads:
    """`with blas_threads(work, below):` BLAS runs on one thread inside the block when the
    call's work (multiply-adds) is below `below` -- its GEMMs are too small for a second
    thread to pay for the meeting at the end of each, which on a busy machine waits for a
    scheduler slice -- unless OPENBLAS_NUM_THREADS or OMP_NUM_THREADS says otherwise.
    The setting is restored after (docs/numpy.md, "Threads")."""

    def __init__(self, work, below):
        chosen = "OPENBLAS_NUM_THREADS" in os.environ or "OMP_NUM_THREADS" in os.environ
        self.libs = [] if work >= below or chosen else _blas_libraries()
        self.before = []

    def __enter__(self):
        self.before = [lib.get_num_threads() for lib in self.libs]
        for lib, n in zip(self.libs, self.before):
            if n != 1:
                lib.set_num_threads(1)
        return self

    def __exit__(self, *exc):
        for lib, n in zip(self.libs, self.before):
            if n != 1:
                lib.set_num_threads(n)
        return False


def run_steps(steps, state, x, source, output, trace=None, copy=False, work=0, one_thread_below=0):
    """forward's loop: each step computes one node from the nodes it reads (its function gets
    the step's state first), then drops the values no later step reads, so peak memory is a
    few activations. `trace` (a dict) receives every value computed, the input included.
    copy=True: the output is the input or a view of it, and the caller gets a copy. `work`:
    the call's multiply-adds; below `one_thread_below`, BLAS runs on one thread."""
    values = {source: x}
    if trace is not None:
        trace[source] = x
    # IEEE arithmetic as in PyTorch: NaN and inf flow through without warnings
    with np.errstate(all="ignore"), blas_threads(work, one_thread_below):
        for node, fn, reads, frees in steps:
            values[node] = fn(state.get(node), *[values[r] for r in reads])
            if trace is not None:
                trace[node] = values[node]
            for r in frees:
                del values[r]
    return values[output].copy() if copy else values[output]


class Model:
    """The network with its weights: model(x) -> y. After changing .params, call set_params."""

    def __init__(self, params, expected, input_shape, prepare, forward):
        self._expected, self._input_shape = expected, tuple(input_shape)
        self._prepare, self._forward = prepare, forward
        self.set_params(params)

    def set_params(self, params):
        self.params = check_params(self._expected, params)
        self.state = self._prepare(self.params)

    def __call__(self, x):
        return self._forward(self.state, check_input(x, self._input_shape))
