"""The triton backend against PyTorch on one GPU, in one run.

    .venv/bin/python benchmarks/triton_gpu.py                 # on a CUDA GPU: the full table
    .venv/bin/python benchmarks/triton_gpu.py --tiny          # anywhere: interpreter, tiny sizes

For LeNet, a VGG-style CIFAR net and the CIFAR ResNet (examples/cifar_resnet.cnn),
at batch 1, 256 and 4096, it times
  triton     cnnc's generated kernels (CUDA graph per batch size), --precision tf32 by default
  eager      the same network in PyTorch eager (cuDNN, channels_last, TF32 allowed)
  compile    torch.compile of the eager function, mode default
  autotune   torch.compile, mode max-autotune
and prints latency (median of timed runs), images/s, each baseline's time over
triton's, and the share of the card's TF32 peak, measured here by a large matmul.

The eager network is written here from the graph (not through cnnc's bridges) so
that symmetric padding goes to cuDNN as conv padding, not as an extra F.pad; every
run first checks that it agrees with cnnc's numpy backend.

--tiny runs the same code path on the CPU at tiny sizes (Triton's interpreter;
torch.compile is skipped there): it proves the script works, its numbers mean nothing.

--ptxas needs no GPU either: it compiles one kernel per distinct configuration of the
example networks for sm_90 (Triton's compiler and ptxas) and prints registers, spill
bytes, shared memory and the MMA instruction each uses.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

VGG_CIFAR = """# VGG-style CIFAR-10 net
input 32x32x3
repeat 2 { conv 64 3x3 padding=same relu }
pool 2
repeat 2 { conv 128 3x3 padding=same relu }
pool 2
repeat 2 { conv 256 3x3 padding=same relu }
pool 2
flatten
dense 256 relu
dense 10 softmax
"""


def networks(tiny: bool):
    import cnnc

    root = os.path.dirname(HERE)
    small = (8, 8, 3) if tiny else None
    return [
        ("lenet", cnnc.parse_file(os.path.join(root, "examples", "lenet.cnn"))),
        ("vgg_cifar", cnnc.parse(VGG_CIFAR, input=small, filename="vgg_cifar.cnn")),
        ("cifar_resnet", cnnc.parse_file(os.path.join(root, "examples", "cifar_resnet.cnn"), input=small)),
    ]


# --- the PyTorch baseline ------------------------------------------------------------

def torch_function(net, params, device):
    """forward(x NCHW, channels_last) -> output, in eager PyTorch (NCHW inside)."""
    import torch
    import torch.nn.functional as F

    from cnnc.passes.fold import fold_arrays, foldable_batchnorms

    folded = foldable_batchnorms(net)
    P = {}
    for n in net.layers:
        if n.kind in ("conv", "dense"):
            k, b = params[f"{n.name}.kernel"], params[f"{n.name}.bias"]
            bn = next((m for m, a in folded.items() if a == n.name), None)
            if bn is not None:
                eps = net[bn].attrs["eps"]
                k, b = fold_arrays(k, b, *(params[f"{bn}.{s}"] for s in ("gamma", "beta", "mean", "var")), eps)
            k = torch.as_tensor(k, dtype=torch.float32)
            if n.kind == "conv":
                k = k.permute(3, 2, 0, 1).contiguous().to(device, memory_format=torch.channels_last)
            else:
                k = k.t().contiguous().to(device)
            P[n.name] = (k, torch.as_tensor(b, dtype=torch.float32, device=device))
        elif n.kind == "batchnorm" and n.name not in folded:
            g, be, m, v = (torch.as_tensor(params[f"{n.name}.{s}"], dtype=torch.float32, device=device)
                           for s in ("gamma", "beta", "mean", "var"))
            scale = g / torch.sqrt(v + n.attrs["eps"])
            P[n.name] = (scale, be - m * scale)

    def act(x, a):
        return {"relu": F.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
                "softmax": lambda t: F.softmax(t, dim=1), "linear": lambda t: t}[a](x)

    def pads(n, x):
        return n.spec.pads(n.input.out, n.attrs)   # (top, bottom, left, right)

    def forward(x):
        vals = {net.input.name: x}
        for n in net.layers:
            ins = [vals[i.name] for i in n.inputs]
            x = ins[0]
            if n.kind == "conv":
                t, b, l, r = pads(n, x)
                pad = (t, l) if (t, l) == (b, r) else 0
                if pad == 0 and (t or b or l or r):
                    x = F.pad(x, (l, r, t, b))
                y = act(F.conv2d(x, *P[n.name], stride=n.attrs["stride"], padding=pad), n.activation)
            elif n.kind in ("pool", "avgpool"):
                t, b, l, r = pads(n, x)
                k, s = n.attrs["kernel"], n.attrs["stride"]
                if n.kind == "pool":
                    y = F.max_pool2d(F.pad(x, (l, r, t, b), value=float("-inf")) if t or b or l or r else x, k, s)
                elif n.attrs["padding"] == "same" and (t or b or l or r):
                    ones = torch.ones_like(x[:1, :1])
                    y = (F.avg_pool2d(F.pad(x, (l, r, t, b)), k, s, divisor_override=1)
                         / F.avg_pool2d(F.pad(ones, (l, r, t, b)), k, s, divisor_override=1))
                else:
                    y = F.avg_pool2d(F.pad(x, (l, r, t, b)), k, s)
            elif n.kind == "dense":
                y = act(F.linear(x, *P[n.name]), n.activation)
            elif n.kind == "flatten":
                y = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1) if x.dim() == 4 else x
            elif n.kind == "globalpool":
                y = x.mean(dim=(2, 3))
            elif n.kind == "batchnorm":
                if n.name in P:
                    s, t = P[n.name]
                    shape = (1, -1, 1, 1) if x.dim() == 4 else (1, -1)
                    y = x * s.view(shape) + t.view(shape)
                else:
                    y = x  # folded into the conv/dense before it
            elif n.kind == "residual":
                y = ins[0] + ins[1]
            elif n.kind == "concat":
                y = torch.cat(ins, dim=1)
            elif n.kind == "dropout":
                y = x
            else:
                y = act(x, n.kind)
            vals[n.name] = y
        return vals[net.output.name]

    return forward


# --- timing ---------------------------------------------------------------------------

def timeit(fn, x, reps: int, cuda: bool) -> float:
    """Median seconds per call (after warm-up)."""
    import torch

    for _ in range(2 if reps > 1 else 1):
        fn(x)
    times = []
    for _ in range(reps):
        if cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn(x)
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end) / 1e3)
        else:
            t = time.perf_counter()
            fn(x)
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def tf32_peak(cuda: bool) -> "float | None":
    """Measured TF32 FLOP/s of a large matmul (the card's practical peak)."""
    import torch

    if not cuda:
        return None
    torch.backends.cuda.matmul.allow_tf32 = True
    n = 8192
    a, b = torch.randn(n, n, device="cuda"), torch.randn(n, n, device="cuda")
    t = timeit(lambda _: a @ b, None, 20, True)
    return 2 * n ** 3 / t


def ptxas_report(precision: str) -> int:
    """Registers, spills, shared memory and MMA instructions of the examples' kernels, for sm_90."""
    import re

    import cnnc
    from cnnc.backends.triton import compile_for_gpu, resource_usage

    root = os.path.dirname(HERE)
    seen: set = set()
    worst = 0
    print(f"# sm_90, precision {precision}: one kernel per distinct (layers, warps, shared memory, MMA)")
    for ex in ("lenet", "cifar_resnet", "inception", "keras/vgg16", "keras/resnet50"):
        net = cnnc.parse_file(os.path.join(root, "examples", ex + ".cnn"))
        for name, what, warps, ck in compile_for_gpu(net, precision, 90):
            mma = sorted(set(re.findall(r"(wgmma\.mma_async\.\S*?\.m\d+n\d+k\d+|mma\.sync\S*)", ck.asm["ptx"])))
            shape = re.sub(r"\w+_\d+", "L", what)
            key = (shape, warps, ck.metadata.shared, tuple(mma))
            if key in seen:
                continue
            seen.add(key)
            use = resource_usage(ck) or {"registers": "?", "stack": "?"}
            worst = max(worst, use["stack"] if isinstance(use["stack"], int) else 0)
            print(f"{ex:13s} {name:16s} {what[:48]:48s} warps {warps}  regs {use['registers']:>3}  "
                  f"spill {use['stack']:>3} B  shared {ck.metadata.shared // 1024:>3} KB  "
                  f"{', '.join(m.split('.')[-1] for m in mma) or 'fp32 FMA'}", flush=True)
    print(f"# {len(seen)} kernels; largest spill {worst} bytes")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tiny", action="store_true", help="CPU/interpreter, tiny sizes: checks the script runs")
    ap.add_argument("--precision", choices=("tf32", "ieee"), default="tf32")
    ap.add_argument("--batches", default=None, help="comma-separated batch sizes (default 1,256,4096; tiny 1,2)")
    ap.add_argument("--reps", type=int, default=None, help="timed runs per measurement (default 50; tiny 1)")
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile baselines")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    ap.add_argument("--ptxas", action="store_true",
                    help="no timing: compile the examples' kernels for sm_90 and report registers and spills")
    args = ap.parse_args(argv)
    if args.ptxas:
        return ptxas_report(args.precision)

    import numpy as np
    import torch

    import cnnc
    from cnnc.runtime.weights import random_params

    cuda = torch.cuda.is_available() and not args.tiny
    if not cuda and not args.tiny:
        print("no CUDA GPU: run with --tiny (interpreter, tiny sizes) or on a GPU machine", file=sys.stderr)
        return 2
    device = "cuda" if cuda else "cpu"
    batches = [int(b) for b in (args.batches or ("2,1" if args.tiny else "1,256,4096")).split(",")]
    reps = args.reps or (1 if args.tiny else 50)
    torch.backends.cudnn.allow_tf32 = args.precision == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = args.precision == "tf32"
    torch.backends.cudnn.benchmark = True
    card = torch.cuda.get_device_name() if cuda else "CPU (Triton interpreter)"
    peak = tf32_peak(cuda)
    print(f"# {card}; precision {args.precision}; torch {torch.__version__}"
          + (f"; measured TF32 peak {peak / 1e12:.0f} TFLOP/s" if peak else ""))
    results = []
    for name, net in networks(args.tiny):
        params = random_params(net, 0)
        tri = cnnc.compile(net, backend="triton", weights=params, precision=args.precision)
        eager = torch_function(net, params, device)
        x0 = np.random.default_rng(0).standard_normal((2, *net.input_shape)).astype(np.float32)
        ref = cnnc.compile(net, backend="numpy", weights=params)(x0)
        with torch.inference_mode():
            xe = torch.as_tensor(x0, device=device).permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)
            ye = eager(xe)
            ye = (ye.permute(0, 2, 3, 1) if ye.dim() == 4 else ye).float().cpu().numpy()
        yt = tri(x0)
        tol = 1e-2 if args.precision == "tf32" else 1e-4
        for what, y in (("triton", yt), ("eager", ye)):
            err = float(np.abs(y - ref).max() / max(np.abs(ref).max(), 1e-30))
            if err > tol:
                print(f"{name}: {what} disagrees with numpy (relative error {err:.2g})", file=sys.stderr)
                return 1
        variants = {"triton": lambda x: tri.module.forward(tri._state, x), "eager": eager}
        if cuda and not args.no_compile:
            variants["compile"] = torch.compile(eager)
            variants["autotune"] = torch.compile(eager, mode="max-autotune")
        macs = net.total_macs
        for batch in batches:
            row = {"net": name, "batch": batch}
            xn = torch.randn(batch, *net.input_shape, device=device)
            xc = xn.permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)
            for what, fn in variants.items():
                with torch.inference_mode():
                    try:
                        t = timeit(fn, xn if what == "triton" else xc, reps, cuda)
                    except Exception as e:  # a baseline that fails is reported, not fatal
                        print(f"{name} batch {batch} {what}: failed: {type(e).__name__}: {e}", file=sys.stderr)
                        t = None
                row[what] = t
            results.append(row)
            cells = []
            for what in variants:
                t = row[what]
                if t is None:
                    cells.append(f"{what} failed")
                    continue
                ratio = f" ({t / row['triton']:.2f}x)" if what != "triton" and row["triton"] else ""
                util = f", {100 * 2 * macs * batch / t / peak:.1f}% TF32 peak" if peak else ""
                cells.append(f"{what} {t * 1e3:.3f} ms, {batch / t:,.0f} img/s{util}{ratio}")
            print(f"{name:13s} batch {batch:5d}: " + "; ".join(cells), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"card": card, "precision": args.precision, "peak_tf32": peak, "results": results}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
