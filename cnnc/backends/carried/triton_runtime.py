"""The runtime of a module written by the triton backend: input checks, the CUDA graph
per batch size, and the model object that `load()` returns. The generated module
passes in its own `_run` (the kernel launches), shapes and device."""

import torch

from .weights_io import check_input, check_params

# --- carried: everything below is inlined into generated modules ---


def run_graphed(run, state, x):
    """Replay a CUDA graph of `run` captured for this batch size (launch overhead paid once)."""
    n = x.shape[0]
    entry = state["graphs"].get(n)
    if entry is None:
        static_x = x.clone()
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            run(state, static_x, None)  # compiles the kernels outside the capture
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            static_y = run(state, static_x, None)
        entry = state["graphs"][n] = (graph, static_x, static_y)
    graph, static_x, static_y = entry
    static_x.copy_(x)
    graph.replay()
    return static_y.clone()


def _is_integer(dtype):
    return not dtype.is_floating_point and not dtype.is_complex and dtype != torch.bool


def run_forward(run, state, x, input_shape, output_shape, device, trace=None, cuda_graphs=True):
    """x: (N, H, W, C), a numpy array or a torch tensor; returns the same type.

    With `trace` a dict, each fusion group's output is stored under its last layer's name.
    """
    is_tensor = isinstance(x, torch.Tensor)
    if is_tensor:
        # the same rule as numpy's check_input: any real dtype (bool included), computed in float32
        if x.is_complex() or not (x.dtype.is_floating_point or x.dtype == torch.bool or _is_integer(x.dtype)):
            raise ValueError(f"expected a real-valued tensor of shape (N, {', '.join(map(str, input_shape))}), "
                             f"got dtype {x.dtype}")
        t = x
    else:
        t = torch.from_numpy(check_input(x, input_shape))
    if t.dim() != 4 or tuple(t.shape[1:]) != tuple(input_shape):
        hint = ": add the batch axis (x[None])" if tuple(t.shape) == tuple(input_shape) else ""
        raise ValueError(f"expected an array of shape (N, {', '.join(map(str, input_shape))}), "
                         f"got {tuple(t.shape)}{hint}")
    t = t.to(device, torch.float32).contiguous()
    if t.shape[0] == 0:
        y = torch.empty((0,) + tuple(output_shape), dtype=torch.float32, device=t.device)
    elif device == "cuda" and trace is None and cuda_graphs:
        y = run_graphed(run, state, t)
    else:
        y = run(state, t, trace)
        if trace is not None:
            for k in list(trace):
                trace[k] = trace[k] if is_tensor else trace[k].detach().cpu().numpy()
    if is_tensor:
        return y.to(x.device)
    return y.detach().cpu().numpy()


class Loaded:
    """The compiled network with its weights: call it on (N, H, W, C)."""

    def __init__(self, params, expected, prepare, forward):
        self.params = check_params(expected, params)
        self.state = prepare(self.params)
        self._forward = forward

    def __call__(self, x):
        return self._forward(self.state, x)
