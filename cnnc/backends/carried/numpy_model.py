"""The model object of a module written by the numpy backend: `load()` returns one."""

from .weights_io import check_input, check_params

# --- carried: everything below is inlined into generated modules ---


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
