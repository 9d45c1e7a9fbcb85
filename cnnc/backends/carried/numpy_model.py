"""The runtime of a module written by the numpy backend: the loop that runs its STEPS
table (one generated function per row), and the model object that `load()` returns."""

import numpy as np

from .weights_io import check_input, check_params

# --- carried: everything below is inlined into generated modules ---


def run_steps(steps, state, x, source, output, trace=None, copy=False):
    """forward's loop: each step computes one node from the nodes it reads (its function gets
    the step's state first), then drops the values no later step reads, so peak memory is a
    few activations. `trace` (a dict) receives every value computed, the input included.
    copy=True: the output is the input or a view of it, and the caller gets a copy."""
    values = {source: x}
    if trace is not None:
        trace[source] = x
    # IEEE arithmetic as in PyTorch: NaN and inf flow through without warnings
    with np.errstate(all="ignore"):
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
