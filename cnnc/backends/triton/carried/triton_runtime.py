"""The runtime of a module written by the triton backend: input checks, the CUDA graph
per batch size (tiles chosen, or tuned, before it is captured), and the model object
that `load()` returns. The generated module passes in its own `_run` (the kernel
launches), shapes and device."""

import warnings

import torch

from .triton_tuner import launch, tune_run
from ...carried.weights_io import check_input, check_params

# --- carried: everything below is inlined into generated modules ---


def _choose_tiles(run, state, x):
    """Before the first capture at this batch size: tune the kernels that have no record
    (load(tune=True)), or say once that they run the default tiles."""
    choice = state["tiles"]
    n = x.shape[0]
    missing = choice.missing(n)
    if not missing:
        return
    if choice.tune_missing:
        entries = tune_run(run, state, x, tuple(x.shape[1:]))
        warnings.warn(f"cnnc: measured tiles for {len(entries)} kernels at batch {n} on {choice.card()} "
                      f"(kept in memory; `cnnc tune` records them)", stacklevel=4)
        return
    warnings.warn(f"cnnc: no tuning record for {len(missing)} of {len(choice.kernels)} kernels on "
                  f"{choice.card()} at batch {n}: they run the default tiles (run `cnnc tune`, "
                  f"or load(tune=True) to measure once)", stacklevel=4)


def run_graphed(run, state, x, out=None, keep=False):
    """Replay a CUDA graph of `run` captured for this batch size (launch overhead paid once).

    Per call: one copy into the graph's input, the replay, and one copy out (into `out`,
    or a new tensor); keep=True returns the graph's output buffer itself.
    """
    n = x.shape[0]
    entry = state["graphs"].get(n)
    if entry is None:
        static_x = x.clone()
        _choose_tiles(run, state, static_x)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            run(state, static_x)  # compiles the kernels outside the capture
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            static_y = run(state, static_x)
        entry = state["graphs"][n] = (graph, static_x, static_y)
    graph, static_x, static_y = entry
    static_x.copy_(x)
    graph.replay()
    if keep:
        return static_y
    if out is not None:
        return out.copy_(static_y)
    return static_y.clone()


def _is_integer(dtype):
    return not dtype.is_floating_point and not dtype.is_complex and dtype != torch.bool


def traced(trace, feed, name, value):
    """Store a group's output in `trace`; with `feed`, keep a copy and put feed[name] in its
    place, so the kernels after it read the reference's value."""
    if feed is not None and name in feed:
        trace[name] = value.clone()
        value.copy_(torch.as_tensor(feed[name]).to(value.device, torch.float32).reshape(value.shape))
    else:
        trace[name] = value


def _view(t, lo, hi, shape):
    """A node's value in its buffer `t`: channels lo:hi of it, or it reshaped to (N, *shape)."""
    if lo is not None:
        return t[..., lo:hi]
    if shape is not None:
        return t.reshape((t.shape[0], *shape))
    return t


def run_launches(launches, kernels, state, x, source, output, trace=None, feed=None, tiles=None):
    """_run's loop: every kernel once, in the order of the LAUNCHES rows (see the module;
    `kernels`: launch name -> geometry, KERNELS), each with its config from `tiles` (default:
    the chosen ones for this batch size) or launched by a tuner, over the launch's rows and
    its grid's columns. Buffers are allocated before the first kernel that writes them and
    dropped after the last that reads them; with `trace`, each group's value is stored (fed,
    with `feed`)."""
    n = x.shape[0]
    dev = x.device
    if tiles is None:
        tiles = state["tiles"].configs(n)
    buffers = {source: x}
    for name, kernel, names, _, _, cols, values, args, alloc, traces, frees in launches:
        if alloc is not None:
            buffers[alloc[0]] = torch.empty((n, *alloc[1]), device=dev, dtype=torch.float32)
        own = state.get(name)
        ptrs = tuple(own[a[1:]] if a[0] == "@" else buffers[a] for a in args) + (n,)
        geom = kernels[name]
        rows = n if geom["reduce"] else n * geom["pixels"]
        launch(tiles, name, kernel, rows, cols, ptrs, dict(zip(names, values)), gemm=geom["gemm"],
               per_image=geom["reduce"])
        if trace is not None:
            for node, buffer, lo, hi, shape in traces:
                traced(trace, feed, node, _view(buffers[buffer], lo, hi, shape))
        for b in frees:
            del buffers[b]
    buffer, lo, hi, shape = output
    return _view(buffers[buffer], lo, hi, shape)


def _check_out(out, shape):
    """out= receives the output as it is: a float32 tensor of exactly its shape (a copy into
    another dtype would round or truncate it silently, another shape would broadcast or fail
    inside torch)."""
    if not isinstance(out, torch.Tensor):
        raise ValueError(f"out= must be a torch tensor of shape {shape} and dtype float32, got {type(out).__name__}")
    if out.dtype != torch.float32 or tuple(out.shape) != tuple(shape):
        raise ValueError(f"out= must be a float32 tensor of shape {tuple(shape)}, got {out.dtype} of shape "
                         f"{tuple(out.shape)}")


def run_forward(run, state, x, input_shape, output_shape, device, trace=None, cuda_graphs=True, *,
                feed=None, out=None, keep=False):
    """x: (N, H, W, C), a numpy array or a torch tensor; returns the same type.

    With `trace` a dict, each fusion group's output is stored under its last layer's name;
    with `feed` too, each group reads feed's values instead of the earlier groups' outputs.
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
    if feed is not None and trace is None:
        raise ValueError("feed= needs trace= (a dict for the values computed from it)")
    if (out is not None or keep) and not is_tensor:
        raise ValueError("out= and keep=True need a torch tensor input")
    if out is not None:
        _check_out(out, (t.shape[0],) + tuple(output_shape))
    t = t.to(device, torch.float32).contiguous()
    if t.shape[0] == 0:
        y = torch.empty((0,) + tuple(output_shape), dtype=torch.float32, device=t.device)
    elif device == "cuda" and trace is None and cuda_graphs:
        y = run_graphed(run, state, t, out if out is not None and out.device == t.device else None, keep)
    else:
        y = run(state, t, trace, feed)
        if trace is not None:
            for k in list(trace):
                trace[k] = trace[k] if is_tensor else trace[k].detach().cpu().numpy()
    if is_tensor:
        if out is not None:
            return y if y is out else out.copy_(y)
        return y if y.device == x.device else y.to(x.device)
    return y.detach().cpu().numpy()


class Loaded:
    """The compiled network with its weights: call it on (N, H, W, C)."""

    def __init__(self, params, expected, prepare, forward):
        self.params = check_params(expected, params)
        self.state = prepare(self.params)
        self._forward = forward

    def __call__(self, x, out=None, keep=False):
        return self._forward(self.state, x, out=out, keep=keep)
