"""How much memory a network takes, worked out from shapes and tensor lifetimes -- nothing runs.

All in float32 bytes, for a batch of `n` images:

  params_bytes        every parameter array (what `model.params` holds)
  activation_bytes    one layer's output
  numpy_peak_bytes    the most the numpy backend's forward pass holds at once beyond the
                      weights and the caller's input: the layers' outputs while something
                      still reads them, each generated function's scratch (im2col matrices,
                      padded copies, temporaries; each lowering declares its own, see
                      backends/numpy/lowering.py `Lowering.scratch`) and the output it returns.
                      tracemalloc measures the same thing for a repeated `model(x)`.
  triton_peak_bytes   the same for the Triton backend's device buffers: one buffer per
                      storage owner of the shared fusion plan (a concat's branches write
                      into its buffer, views alias), allocated by the first kernel that
                      writes it and freed after the last kernel that reads it, each
                      rounded up as PyTorch's CUDA caching allocator does (512 bytes);
                      a conv or dense whose own softmax is too wide for a tile also holds its
                      result in a scratch buffer while the row kernel after it runs.
  device_bytes        what one `model(x)` call of the Triton backend holds on the GPU on
                      its default path (CUDA graphs): the weights, the input copied to the
                      device and its static copy for the graph, the buffers and a copy of
                      the output. `max_batch` is the largest batch for which it fits.

Pure Python on purpose: `cnnc shapes --batch` must not import numpy.
"""

from __future__ import annotations

FLOAT32 = 4
CUDA_BLOCK = 512   # PyTorch's CUDA caching allocator hands out multiples of 512 bytes


def _elements(t) -> int:
    size = 1
    for d in t.dims:
        size *= d
    return size


def params_bytes(net) -> int:
    return FLOAT32 * net.total_params


def activation_bytes(node, n: int) -> int:
    """A layer's output for a batch of n, in float32."""
    return FLOAT32 * n * _elements(node.out)


def numpy_peak_bytes(net, n: int) -> int:
    """The numpy backend's peak working memory for a batch of n (see the module's docstring).

    Follows `forward` step by step (backends/numpy/module.py `forward_steps`): a group's call holds
    everything alive before it, its result and its scratch; then the arrays whose last
    reader it was are deleted -- freed once no view of them is left.
    """
    from .backends.numpy.module import forward_steps, last_uses
    from .backends.numpy.policy import group_scratch, plan_groups

    steps = forward_steps(net, plan_groups(net))
    last = last_uses(steps)
    storage = {net.input.name: None}   # variable -> the array it holds (None: the caller's input)
    size, refs = {}, {}
    live = peak = 0
    for idx, (ins, node, group) in enumerate(steps):
        if group is None:   # a view: one more name for its input's array
            key = storage[node.inputs[0].name]
        else:
            key = node.name
            size[key] = activation_bytes(node, n)
            refs[key] = 0
            peak = max(peak, live + size[key] + group_scratch(group, n))
            live += size[key]
        storage[node.name] = key
        if key is not None:
            refs[key] += 1
        for i in dict.fromkeys(ins):
            if last.get(i.name) == idx and i is not net.output and i is not net.input:
                k = storage[i.name]
                if k is not None:
                    refs[k] -= 1
                    if refs[k] == 0:
                        live -= size[k]
    if storage[net.output.name] is None:   # the output is the input, or a view of it: copied
        peak = max(peak, live + activation_bytes(net.output, n))
    return peak


def _cuda_block(nbytes: int) -> int:
    return max(CUDA_BLOCK, -(-nbytes // CUDA_BLOCK) * CUDA_BLOCK)


def triton_peak_bytes(net, n: int) -> int:
    """The Triton backend's device buffers at their peak for a batch of n (module docstring)."""
    from .backends.triton.policy import TRITON, wide_row
    from .layers import Role
    from .passes.fusion import plan

    p = plan(net, TRITON)

    def buffer(node):
        owner = p.storage(node)[0]
        return None if owner.spec.role is Role.INPUT else owner

    last_read: dict = {}
    for i, g in enumerate(p.groups):
        members = set(map(id, g.nodes))
        reads = [g.source] + [x for m in g.nodes for x in m.inputs if id(x) not in members]
        for x in reads:
            b = buffer(x)
            if b is not None:
                last_read[b.name] = i
    output = buffer(net.output)
    live: dict = {}
    peak = 0
    for i, g in enumerate(p.groups):
        target = buffer(g.copy_into if g.copy_into is not None else g.last)
        if target is not None and target.name not in live:
            live[target.name] = _cuda_block(activation_bytes(target, n))
        peak = max(peak, sum(live.values()))
        if g.anchor is not None and wide_row(g.anchor):   # its result waits in a scratch buffer for the row kernel
            peak = max(peak, sum(live.values()) + _cuda_block(activation_bytes(g.anchor, n)))
        for name, j in last_read.items():
            if j == i and name in live and (output is None or name != output.name):
                del live[name]
    if output is None:   # nothing but views of the input: the output is a copy
        peak = max(peak, _cuda_block(activation_bytes(net.output, n)))
    return peak


def device_bytes(net, n: int) -> int:
    """What a Triton `model(x)` call holds on the GPU for a batch of n (module docstring)."""
    inp = _cuda_block(activation_bytes(net.input, n))
    return params_bytes(net) + 2 * inp + triton_peak_bytes(net, n) + _cuda_block(activation_bytes(net.output, n))


def max_batch(net, memory: int) -> int:
    """The largest batch whose `device_bytes` fit in `memory` bytes (0: not even one image)."""
    if device_bytes(net, 1) > memory:
        return 0
    lo, hi = 1, 2
    while device_bytes(net, hi) <= memory:
        lo, hi = hi, hi * 2
    while hi - lo > 1:   # device_bytes(lo) fits, device_bytes(hi) does not
        mid = (lo + hi) // 2
        if device_bytes(net, mid) <= memory:
            lo = mid
        else:
            hi = mid
    return lo


def summary(net, n: int, device_memory: "int | None" = None) -> dict:
    """The `memory` object of `cnnc shapes --batch N --json`."""
    out = {"batch": n, "params_bytes": params_bytes(net), "peak_bytes": numpy_peak_bytes(net, n),
           "triton_peak_bytes": triton_peak_bytes(net, n)}
    if device_memory is not None:
        out["device_memory_bytes"] = device_memory
        out["device_bytes"] = device_bytes(net, n)
        out["max_batch"] = max_batch(net, device_memory)
    return out


# --- sizes as people write them -------------------------------------------------------

_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9,
          "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def parse_size(text: str) -> "int | None":
    """`80GB` (10^9), `80GiB` (2^30), `512MB`, `1.5TB`, `4096` (bytes) -> bytes; None if not a size."""
    t = text.strip().lower().replace(" ", "").replace("_", "")
    i = len(t)
    while i and not (t[i - 1].isdigit() or t[i - 1] == "."):
        i -= 1
    number, unit = t[:i], t[i:]
    if unit not in _UNITS:
        return None
    try:
        value = float(number)
    except ValueError:
        return None
    if not value > 0 or value == float("inf"):
        return None
    return int(value * _UNITS[unit])


def local_gpu_free() -> "int | None":
    """Free memory of the first CUDA GPU, in bytes, from nvidia-smi (None without one)."""
    import subprocess

    try:
        p = subprocess.run(["nvidia-smi", "--query-gpu=memory.free", "--format=csv,noheader,nounits"],
                           capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    lines = p.stdout.split()
    if p.returncode != 0 or not lines or not lines[0].isdigit():
        return None
    return int(lines[0]) * 2**20   # MiB
