"""The triton backend against PyTorch on one GPU, in one run.

    python benchmarks/triton_gpu.py --no-compile --reps 30 --json r.json   # on a CUDA GPU
    python benchmarks/triton_gpu.py --tiny                                 # anywhere: interpreter, tiny sizes
    python benchmarks/triton_gpu.py --autotune-only --time-limit 600       # torch.compile max-autotune alone
    python benchmarks/triton_gpu.py --ptxas | --sweep                      # no GPU: sm_90 registers and spills

For LeNet, a VGG-style CIFAR net and the CIFAR ResNet (examples/cifar_resnet.cnn) at
batch 1, 256 and 4096, ResNet-50 (examples/keras/resnet50.cnn, 224x224) at batch 1, 64
and 256, and MobileNetV2 and EfficientNet-B0 (examples/keras/, 224x224) at batch 1 and
256, it times
  triton     cnnc's generated kernels (CUDA graph per batch size), --precision tf32 by
             default, with tuned tiles: kernels without a tuning record (from `cnnc tune`,
             in the per-user cache) are tuned here before anything is timed
  eager      the same network in PyTorch eager (cuDNN, channels_last, TF32 allowed)
  compile    torch.compile of the eager function, mode default (unless --no-compile)
and prints latency (median of timed runs), images/s, eager's time over triton's, and
the share of the card's TF32 peak, measured here by a large matmul. For batch 1 it also
times the graph replay alone: the rest of a call is per-call overhead. At each net's
largest batch it times every kernel alone against cuBLAS's TF32 time for a plain GEMM of
the same M x K x N (M: the GEMM's output rows, batch x pixels before any fused pool).

torch.compile max-autotune spends minutes per layer, so it is measured apart:
--autotune-only runs it once per network in a child process with its own time limit
(--time-limit, per network) and records what finished.

The eager network is written here from the graph (not through cnnc's bridges) so
that symmetric padding goes to cuDNN as conv padding, not as an extra F.pad; every
run first checks that triton and eager agree with cnnc's numpy backend.

--tiny runs the same code path on the CPU at tiny sizes (Triton's interpreter; no
tuning, no torch.compile): it proves the script works, its numbers mean nothing.

--ptxas needs no GPU either: it compiles one kernel per distinct configuration of the
example networks for sm_90 (Triton's compiler and ptxas) and prints registers, spill
bytes, shared memory and the MMA instruction each uses. --sweep compiles every candidate
config of each kind of kernel and reports any that spills or overflows shared memory.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

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
NETS = ("lenet", "vgg_cifar", "cifar_resnet", "resnet50", "mobilenet_v2", "efficientnet_b0")
# ResNet-50 at 224x224 stops at 256 images (its activations at 4096 would not fit)
RESNET50_BATCHES = (1, 64, 256)
MOBILE_BATCHES = (1, 256)
# under the interpreter the 224x224 networks take minutes even at 32x32: --tiny runs them only when asked
BIG = ("resnet50", "mobilenet_v2", "efficientnet_b0")


def networks(tiny: bool, only=None):
    """[(name, Network, batches or None for the default list)]"""
    import cnnc

    small = (8, 8, 3) if tiny else None
    nets = [
        ("lenet", lambda: cnnc.parse_file(os.path.join(ROOT, "examples", "lenet.cnn")), None),
        ("vgg_cifar", lambda: cnnc.parse(VGG_CIFAR, input=small, filename="vgg_cifar.cnn"), None),
        ("cifar_resnet", lambda: cnnc.parse_file(os.path.join(ROOT, "examples", "cifar_resnet.cnn"), input=small),
         None),
        ("resnet50", lambda: cnnc.parse_file(os.path.join(ROOT, "examples", "keras", "resnet50.cnn"),
                                             input=(32, 32, 3) if tiny else None),
         (1,) if tiny else RESNET50_BATCHES),
        ("mobilenet_v2", lambda: cnnc.parse_file(os.path.join(ROOT, "examples", "keras", "mobilenet_v2.cnn"),
                                                 input=(32, 32, 3) if tiny else None),
         (1,) if tiny else MOBILE_BATCHES),
        ("efficientnet_b0", lambda: cnnc.parse_file(os.path.join(ROOT, "examples", "keras", "efficientnet_b0.cnn"),
                                                    input=(32, 32, 3) if tiny else None),
         (1,) if tiny else MOBILE_BATCHES),
    ]
    if only is None:
        only = [n for n in NETS if not (tiny and n in BIG)]
    return [(name, make(), batches) for name, make, batches in nets if name in only]


# --- the PyTorch baseline ------------------------------------------------------------

def torch_function(net, params, device):
    """forward(x NCHW, channels_last) -> output, in eager PyTorch (NCHW inside), for every kind."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    from cnnc.layers import ACTIVATIONS
    from cnnc.passes.fold import fold_arrays, foldable_batchnorms

    folded = foldable_batchnorms(net)

    def bn_arrays(name, c):
        """gamma, beta, mean, var of a batchnorm (gamma 1 / beta 0 when scale/center=false)."""
        get = params.get
        return (get(f"{name}.gamma", np.ones(c)), get(f"{name}.beta", np.zeros(c)),
                params[f"{name}.mean"], params[f"{name}.var"])

    def out_last(n):
        """The anchor's (..., K, C) weight with its output channel last, and its bias."""
        b = params.get(f"{n.name}.bias", np.zeros(n.out.dims[-1]))
        if n.kind == "dwconv":
            k = params[f"{n.name}.kernel"]
            return k.reshape(k.shape[0], k.shape[1], 1, -1), b
        if n.kind == "deconv":
            return params[f"{n.name}.kernel"].transpose(0, 1, 3, 2), b
        if n.kind == "sepconv":
            return params[f"{n.name}.pointwise"], b
        return params[f"{n.name}.kernel"], b

    P = {}
    for n in net.layers:
        if n.kind in ("conv", "dense", "dwconv", "deconv", "sepconv"):
            k, b = out_last(n)
            bn = next((m for m, a in folded.items() if a == n.name), None)
            if bn is not None:
                k, b = fold_arrays(k, b, *bn_arrays(bn, k.shape[-1]), net[bn].attrs["eps"])
            k = torch.as_tensor(np.ascontiguousarray(k), dtype=torch.float32)
            if n.kind == "dense":
                k = k.t().contiguous().to(device)
            else:
                if n.kind == "deconv":
                    k = k.permute(2, 3, 0, 1)   # (Cin, F, KH, KW)
                else:
                    k = k.permute(3, 2, 0, 1)   # (F, Cin/G, KH, KW)
                k = k.contiguous().to(device, memory_format=torch.channels_last)
            extra = ()
            if n.kind == "sepconv":
                d = torch.as_tensor(params[f"{n.name}.depthwise"], dtype=torch.float32)
                extra = (d.reshape(d.shape[0], d.shape[1], -1).permute(2, 0, 1)[:, None].contiguous().to(device),)
            P[n.name] = (k, torch.as_tensor(b, dtype=torch.float32, device=device)) + extra
        elif n.kind == "batchnorm" and n.name not in folded:
            g, be, m, v = (torch.as_tensor(a, dtype=torch.float32, device=device)
                           for a in bn_arrays(n.name, n.out.dims[-1]))
            scale = g / torch.sqrt(v + n.attrs["eps"])
            P[n.name] = (scale, be - m * scale)

    acts = {name: a.torch(torch.nn) for name, a in ACTIVATIONS.items()}

    def act(x, a):
        return acts[a](x)

    def pads(n, x):
        return n.spec.pads(n.input.out, n.attrs)   # (top, bottom, left, right)

    def window(n, x):
        """x padded for a window op; the symmetric padding to give the op itself."""
        t, b, l, r = pads(n, x)
        if (t, l) == (b, r):
            return x, (t, l)
        return F.pad(x, (l, r, t, b)), 0

    def forward(x):
        vals = {net.input.name: x}
        for n in net.layers:
            ins = [vals[i.name] for i in n.inputs]
            x = ins[0]
            a = n.attrs
            if n.kind == "conv":
                x, pad = window(n, x)
                y = F.conv2d(x, *P[n.name], stride=a["stride"], padding=pad, dilation=a["dilation"],
                             groups=a["groups"])
                y = act(y, n.activation)
            elif n.kind == "dwconv":
                x, pad = window(n, x)
                y = act(F.conv2d(x, *P[n.name], stride=a["stride"], padding=pad, dilation=a["dilation"],
                                 groups=x.shape[1]), n.activation)
            elif n.kind == "sepconv":
                x, pad = window(n, x)
                w, b, d = P[n.name]
                y = F.conv2d(x, d, None, stride=a["stride"], padding=pad, dilation=a["dilation"], groups=x.shape[1])
                y = act(F.conv2d(y, w, b), n.activation)
            elif n.kind == "deconv":
                y = F.conv_transpose2d(x, *P[n.name], stride=a["stride"])
                t, b, l, r = n.spec.crops(n.input.out, a)
                y = act(F.pad(y, (-l, -r, -t, -b)), n.activation)
            elif n.kind in ("pool", "avgpool"):
                t, b, l, r = pads(n, x)
                k, st = a["kernel"], a["stride"]
                if n.kind == "pool":
                    y = F.max_pool2d(F.pad(x, (l, r, t, b), value=float("-inf")) if t or b or l or r else x, k, st)
                elif a["padding"] == "same" and (t or b or l or r):
                    ones = torch.ones_like(x[:1, :1])
                    y = (F.avg_pool2d(F.pad(x, (l, r, t, b)), k, st, divisor_override=1)
                         / F.avg_pool2d(F.pad(ones, (l, r, t, b)), k, st, divisor_override=1))
                else:
                    y = F.avg_pool2d(F.pad(x, (l, r, t, b)), k, st)
            elif n.kind == "zeropad":
                t, b, l, r = a["sides"]
                y = F.pad(x, (l, r, t, b))
            elif n.kind == "upsample":
                y = F.interpolate(x, scale_factor=a["size"], mode=a["mode"],
                                  **({"align_corners": False} if a["mode"] == "bilinear" else {}))
            elif n.kind == "dense":
                y = act(F.linear(x, *P[n.name]), n.activation)
            elif n.kind == "flatten":
                y = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1) if x.dim() == 4 else x
            elif n.kind == "globalpool":
                y = x.mean(dim=(2, 3))
            elif n.kind == "globalmaxpool":
                y = x.amax(dim=(2, 3))
            elif n.kind == "batchnorm":
                if n.name in P:
                    sc, sh = P[n.name]
                    shape = (1, -1, 1, 1) if x.dim() == 4 else (1, -1)
                    y = x * sc.view(shape) + sh.view(shape)
                else:
                    y = x  # folded into the anchor before it
            elif n.kind == "rescale":
                y = x * a["scale"] + a["offset"]
            elif n.kind == "residual":
                y = ins[0] + ins[1]
            elif n.kind == "concat":
                y = torch.cat(ins, dim=1)
            elif n.kind == "scale":
                y = ins[0] * ins[1][:, :, None, None]
            elif n.kind == "dropout":
                y = x
            else:
                y = act(x, n.kind)
            vals[n.name] = y
        return vals[net.output.name]

    return forward


# --- timing ---------------------------------------------------------------------------

def timeit(fn, x, reps: int, cuda: bool) -> float:
    """Median seconds per call (after warm-up), device-event timed on a GPU."""
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


def replay_seconds(tri, batch: int, reps: int) -> float:
    """The CUDA graph's replay alone at this batch size (captured by an earlier call)."""
    graph = tri._state["graphs"][batch][0]
    return timeit(lambda _: graph.replay(), None, reps, True)


class KernelTimer:
    """Stands in for the config table while the module's `_run` executes: each kernel
    runs with its chosen config and is timed alone, in a CUDA graph of repeated launches."""

    def __init__(self, module, configs, reps):
        self.module, self.configs, self.reps = module, configs, reps
        self.seconds = {}

    def launch(self, name, kernel, rows, cols, args, consts, gemm, per_image):
        cfg = self.configs[name]
        m = self.module

        def once():
            m.launch_config(kernel, cfg, rows, cols, args, consts, gemm, per_image)
        self.seconds[name] = m.cuda_seconds(once, self.reps)


def cublas_seconds(m: int, k: int, n: int, reps: int) -> float:
    """cuBLAS TF32 time of a plain (M x K) @ (K x N) GEMM, in a CUDA graph like the kernels."""
    import torch

    torch.backends.cuda.matmul.allow_tf32 = True
    a, b = torch.randn(m, k, device="cuda"), torch.randn(k, n, device="cuda")
    c = torch.empty(m, n, device="cuda")

    def once():
        torch.mm(a, b, out=c)
    from cnnc.backends.triton.carried.triton_tuner import cuda_seconds
    return cuda_seconds(once, reps)


def per_kernel(tri, net, batch: int, reps: int) -> list:
    """Every GEMM kernel's time at this batch against cuBLAS TF32 on its M x K x N."""
    import torch

    from cnnc.backends.triton import plan_kernels

    _, kernels, _ = plan_kernels(net, tri.module.PRECISION)
    configs = tri._state["tiles"].configs(batch)
    timer = KernelTimer(tri.module, configs, reps)
    x = torch.randn(batch, *net.input_shape, device="cuda")
    with torch.inference_mode():
        tri.module._run(tri._state, x, None, None, timer)
    rows = []
    for k in kernels:
        row = {"kernel": k.name, "layers": k.g.describe(), "seconds": timer.seconds[k.name],
               "config": configs[k.name]}
        if k.gemm:
            m = batch * k.OH * k.OW
            row.update(M=m, K=k.K, N=k.C)
            row["cublas"] = cublas_seconds(m, k.K, k.C, reps)
            row["ratio"] = row["seconds"] / row["cublas"]
        rows.append(row)
    return rows


def tune_if_missing(tri, batch: int, limit: int, budget_s: float) -> float:
    """Tune the kernels that have no record at this batch (before anything is timed); seconds spent."""
    import torch

    if not tri._state["tiles"].missing(batch):
        return 0.0
    t = time.perf_counter()
    x = torch.randn(batch, *tri.module.INPUT_SHAPE, device="cuda")
    tri.module.tune(tri._state, x, limit=limit, budget_s=budget_s)
    return time.perf_counter() - t


# --- reports without timing -------------------------------------------------------------

def ptxas_report(precision: str) -> int:
    """Registers, spills, shared memory and MMA instructions of the examples' kernels, for sm_90."""
    import re

    import cnnc
    from cnnc.backends.triton import compile_for_gpu, resource_usage

    seen: set = set()
    worst = 0
    print(f"# sm_90, precision {precision}, default tiles: one kernel per distinct (layers, config, shared memory, MMA)")
    for ex in ("lenet", "cifar_resnet", "inception", "keras/vgg16", "keras/resnet50", "keras/mobilenet_v2",
               "keras/efficientnet_b0", "unet"):
        net = cnnc.parse_file(os.path.join(ROOT, "examples", ex + ".cnn"))
        for name, what, cfg, ck in compile_for_gpu(net, precision, 90):
            mma = sorted(set(re.findall(r"(wgmma\.mma_async\.\S*?\.m\d+n\d+k\d+|mma\.sync\S*)", ck.asm["ptx"])))
            shape = re.sub(r"\w+_\d+", "L", what)
            tile = f"{cfg['BM']}x{cfg['BN']}x{cfg['BK']} w{cfg['num_warps']} s{cfg['num_stages']}"
            key = (shape, tile, ck.metadata.shared, tuple(mma))
            if key in seen:
                continue
            seen.add(key)
            use = resource_usage(ck) or {"registers": "?", "stack": "?"}
            worst = max(worst, use["stack"] if isinstance(use["stack"], int) else 0)
            # the widths of the asynchronous copies into shared memory (16 bytes: vectorised)
            widths = re.findall(r"cp\.async\.\w+\.shared\.global[^;]*?,\s*(\d+|0x[0-9a-f]+)\s*[,;]", ck.asm["ptx"])
            wide = sum(int(w, 0) == 16 for w in widths)
            print(f"{ex:13s} {name:16s} {what[:44]:44s} {tile:17s} regs {use['registers']:>3}  "
                  f"spill {use['stack']:>3} B  shared {ck.metadata.shared // 1024:>3} KB  "
                  f"cp.async 16 B {wide}/{len(widths)}  "
                  f"{', '.join(m.split('.')[-1] for m in mma) or 'fp32 FMA'}", flush=True)
    print(f"# {len(seen)} kernels; largest spill {worst} bytes")
    return 0


SWEEP_WIDE = ("input 16x16x256; conv 512 3x3 padding=same relu; pool 3 stride=2 padding=same; "
              "residual { conv 512 1x1; batchnorm; relu }; flatten; dense 1000 softmax")
SWEEP_EXAMPLES = ("lenet", "cifar_resnet", "inception", "keras/resnet50", "keras/mobilenet_v2",
                  "keras/efficientnet_b0", "keras/xception", "unet")


def _sweep_one(job):
    """In a worker process: one kind of kernel compiled for sm_90 under each of its candidates."""
    import cnnc
    from cnnc.backends.triton.carried.triton_tiles import candidates
    from cnnc.backends.triton import resource_usage
    from cnnc.backends.triton.sm90 import compile_kernel, kernel_classes

    text, source, precision, cls = job
    net = cnnc.parse(text) if source is None else cnnc.parse_file(source)
    k, fn = kernel_classes([net], precision)[cls]
    rows = []
    for cfg in candidates(k.geometry()):
        try:
            ck = compile_kernel(fn, k, cfg)
            use = resource_usage(ck) or {"registers": -1, "stack": -1}
            rows.append({"class": list(cls), "kernel": k.name, "config": cfg, "registers": use["registers"],
                         "spill": use["stack"], "shared": ck.metadata.shared})
        except Exception as e:    # a compile error is a finding, not the end of the sweep
            rows.append({"class": list(cls), "kernel": k.name, "config": cfg,
                         "error": f"{type(e).__name__}: {e}"[:300]})
    return rows


def sweep_report(precisions, examples, json_path=None, workers=None) -> int:
    """Every candidate config of one kernel of each kind (the examples' kernels and wide
    layers) compiled for sm_90, in parallel processes: registers, spills, shared memory.
    Exit 1 if any runs out of registers or shared memory."""
    import concurrent.futures

    import cnnc
    from cnnc.backends.triton.sm90 import kernel_classes

    sources = [(SWEEP_WIDE, None)] + [(None, os.path.join(ROOT, "examples", ex + ".cnn")) for ex in examples]
    jobs, seen = [], set()
    for precision in precisions:
        for text, source in sources:
            net = cnnc.parse(text) if source is None else cnnc.parse_file(source)
            for cls in kernel_classes([net], precision):
                if cls not in seen:
                    seen.add(cls)
                    jobs.append((text, source, precision, cls))
    t0 = time.perf_counter()
    bad = small = total = 0
    rows = []
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers or os.cpu_count()) as pool:
        for got in pool.map(_sweep_one, jobs):
            worst = (0, None)
            for row in got:
                total += 1
                rows.append(row)
                cls, cfg = tuple(row["class"]), row["config"]
                # out of registers: a spill at ptxas's limit of 255 per thread; a few bytes spilled
                # at fewer registers are ptxas trading registers for occupancy
                if row.get("error") or row["shared"] > 232448 or (row["spill"] > 0 and row["registers"] >= 255):
                    bad += 1
                    print(f"  FAIL {cls} {cfg}: {row.get('error') or row}", flush=True)
                elif row["spill"] > 0:
                    small += 1
                    print(f"  small spill {cls} {cfg}: {row['spill']} bytes at {row['registers']} registers",
                          flush=True)
                elif row["registers"] > worst[0]:
                    worst = (row["registers"], cfg)
            if got:
                print(f"{got[0]['kernel']:16s} {tuple(got[0]['class'])}: {len(got)} candidates, most registers "
                      f"without a spill {worst[0]} ({worst[1]})", flush=True)
    print(f"# {total} configs of {len(jobs)} kinds of kernel compiled in {time.perf_counter() - t0:.0f} s: "
          f"{bad} out of registers, out of shared memory or failed; {small} spilled a few bytes below 255 registers")
    if json_path:
        with open(json_path, "w") as f:
            json.dump(rows, f, indent=1)
    return 1 if bad else 0


# --- torch.compile max-autotune, apart ----------------------------------------------------

def autotune_child(name: str, batches, reps: int, precision: str) -> dict:
    """In a child process: eager and max-autotune times of one network."""
    import numpy as np  # noqa: F401
    import torch

    from cnnc.runtime.weights import random_params

    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
    (_, net, own), = networks(False, [name])
    fn = torch_function(net, random_params(net, 0), "cuda")
    tuned = torch.compile(fn, mode="max-autotune")
    out = {}
    for batch in own or batches:
        x = torch.randn(batch, *net.input_shape, device="cuda").permute(0, 3, 1, 2).contiguous(
            memory_format=torch.channels_last)
        with torch.inference_mode():
            t0 = time.perf_counter()
            tuned(x)
            torch.cuda.synchronize()
            out[batch] = {"compile_s": time.perf_counter() - t0, "autotune": timeit(tuned, x, reps, True),
                          "eager": timeit(fn, x, reps, True)}
        print(json.dumps({name: out}), flush=True)
    return out


def autotune_report(args, batches) -> int:
    results = {}
    for name in args.nets or NETS:
        cmd = [sys.executable, os.path.abspath(__file__), "--autotune-child", name, "--reps", str(args.reps or 20),
               "--precision", args.precision, "--batches", ",".join(map(str, batches))]
        t0 = time.perf_counter()
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=args.time_limit)
            lines = [json.loads(ln) for ln in r.stdout.splitlines() if ln.startswith("{")]
            results[name] = {"finished": r.returncode == 0, "batches": lines[-1][name] if lines else {},
                             "error": r.stderr.strip().splitlines()[-1] if r.returncode and r.stderr.strip() else None}
        except subprocess.TimeoutExpired as e:
            out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
            lines = [json.loads(ln) for ln in out.splitlines() if ln.startswith("{")]
            results[name] = {"finished": False, "batches": lines[-1][name] if lines else {},
                             "error": f"time limit of {args.time_limit:.0f} s"}
        results[name]["seconds"] = time.perf_counter() - t0
        print(f"{name}: {json.dumps(results[name])}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"autotune": results, "time_limit_s": args.time_limit}, f, indent=2)
    return 0


# --- the run ---------------------------------------------------------------------------

def markdown(card, precision, peak, results) -> str:
    lines = [f"Card: {card}; precision {precision}" + (f"; measured TF32 peak {peak / 1e12:.0f} TFLOP/s" if peak else ""),
             "", "| net | batch | cnnc triton | torch eager | eager / triton | triton % TF32 peak | tuning s |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        util = f"{100 * r['flops'] / r['triton'] / peak:.1f} %" if peak and r["triton"] else "-"
        ratio = f"{r['eager'] / r['triton']:.2f}x" if r["triton"] and r["eager"] else "-"
        lines.append(f"| {r['net']} | {r['batch']} | {_ms(r['triton'])} | {_ms(r['eager'])} | {ratio} | {util} | "
                     f"{r.get('tune_s', 0):.1f} |")
    over = [r for r in results if r.get("replay")]
    if over:
        lines += ["", "| net | batch | call | graph replay | per-call overhead |", "|---|---|---|---|---|"]
        for r in over:
            lines.append(f"| {r['net']} | {r['batch']} | {_ms(r['triton'])} | {_ms(r['replay'])} | "
                         f"{_ms(r['triton'] - r['replay'])} |")
    kern = [(r["net"], r["batch"], k) for r in results for k in r.get("kernels", []) if "cublas" in k]
    if kern:
        lines += ["", "| net | batch | kernel | M x K x N | tile | triton | cuBLAS TF32 | ratio |",
                  "|---|---|---|---|---|---|---|---|"]
        for net, batch, k in kern:
            c = k["config"]
            lines.append(f"| {net} | {batch} | {k['kernel']} | {k['M']} x {k['K']} x {k['N']} | "
                         f"{c['BM']}x{c['BN']}x{c['BK']} w{c['num_warps']} s{c['num_stages']} | "
                         f"{k['seconds'] * 1e6:.1f} us | {k['cublas'] * 1e6:.1f} us | {k['ratio']:.2f}x |")
    return "\n".join(lines) + "\n"


def _ms(t) -> str:
    return "-" if t is None else f"{t * 1e3:.3f} ms"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tiny", action="store_true", help="CPU/interpreter, tiny sizes: checks the script runs")
    ap.add_argument("--precision", choices=("tf32", "ieee"), default=None, help="default tf32")
    ap.add_argument("--batches", default=None, help="comma-separated batch sizes (default 1,256,4096; tiny 2,1)")
    ap.add_argument("--nets", default=None, help=f"comma-separated subset of {','.join(NETS)}")
    ap.add_argument("--reps", type=int, default=None, help="timed runs per measurement (default 50; tiny 1)")
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile baseline")
    ap.add_argument("--no-kernels", action="store_true", help="skip the per-kernel comparison with cuBLAS")
    ap.add_argument("--tune-limit", type=int, default=6, help="configs a kernel without a record is tuned over")
    ap.add_argument("--tune-time", type=float, default=20.0, help="tuning budget per network and batch, seconds")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    ap.add_argument("--markdown", metavar="PATH", help="also write the tables as markdown")
    ap.add_argument("--ptxas", action="store_true",
                    help="no timing: compile the examples' kernels for sm_90 and report registers and spills")
    ap.add_argument("--sweep", action="store_true",
                    help="no timing: compile every candidate config of each kind of kernel for sm_90 "
                         "(both precisions unless --precision is given)")
    ap.add_argument("--examples", default=None,
                    help=f"--sweep: comma-separated examples (default {','.join(SWEEP_EXAMPLES)})")
    ap.add_argument("--workers", type=int, default=None, help="--sweep: compiling processes (default: one per CPU)")
    ap.add_argument("--autotune-only", action="store_true",
                    help="only torch.compile max-autotune, each network in a child process with --time-limit")
    ap.add_argument("--time-limit", type=float, default=600.0, help="--autotune-only: seconds per network")
    ap.add_argument("--autotune-child", metavar="NET", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.precision_given, args.precision = args.precision, args.precision or "tf32"
    args.nets = args.nets.split(",") if args.nets else None
    if args.nets and set(args.nets) - set(NETS):
        ap.error(f"--nets: unknown {sorted(set(args.nets) - set(NETS))}; choose from {', '.join(NETS)}")
    if args.ptxas:
        return ptxas_report(args.precision)
    if args.sweep:
        examples = args.examples.split(",") if args.examples else SWEEP_EXAMPLES
        return sweep_report(("tf32", "ieee") if args.precision_given is None else (args.precision,), examples,
                            args.json, args.workers)
    batches = [int(b) for b in (args.batches or ("2,1" if args.tiny else "1,256,4096")).split(",")]
    if args.autotune_child:
        autotune_child(args.autotune_child, batches, args.reps or 20, args.precision)
        return 0

    import numpy as np
    import torch

    import cnnc
    from cnnc.runtime.weights import random_params

    cuda = torch.cuda.is_available() and not args.tiny
    if not cuda and not args.tiny:
        print("no CUDA GPU: run with --tiny (interpreter, tiny sizes) or on a GPU machine", file=sys.stderr)
        return 2
    if args.autotune_only:
        return autotune_report(args, batches)
    device = "cuda" if cuda else "cpu"
    reps = args.reps or (1 if args.tiny else 50)
    torch.backends.cudnn.allow_tf32 = args.precision == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = args.precision == "tf32"
    torch.backends.cudnn.benchmark = True
    card = torch.cuda.get_device_name() if cuda else "CPU (Triton interpreter)"
    peak = tf32_peak(cuda)
    import triton

    print(f"# {card}; precision {args.precision}; torch {torch.__version__}; triton {triton.__version__}"
          + (f"; measured TF32 peak {peak / 1e12:.0f} TFLOP/s" if peak else ""), flush=True)
    results = []
    t_start = time.perf_counter()
    for name, net, own_batches in networks(args.tiny, args.nets):
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
        net_batches = [b for b in batches if b <= max(own_batches)] if own_batches and args.batches else \
            list(own_batches or batches)
        for batch in net_batches:
            row = {"net": name, "batch": batch, "flops": 2 * net.total_macs * batch}
            if cuda:
                with torch.inference_mode():
                    row["tune_s"] = tune_if_missing(tri, batch, args.tune_limit, args.tune_time)
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
            if cuda and batch == 1:
                row["replay"] = replay_seconds(tri, batch, reps)
            if cuda and not args.no_kernels and batch == net_batches[-1]:
                row["kernels"] = per_kernel(tri, net, batch, max(5, reps // 5))
            results.append(row)
            cells = []
            for what in variants:
                t = row[what]
                if t is None:
                    cells.append(f"{what} failed")
                    continue
                ratio = f" ({t / row['triton']:.2f}x)" if what != "triton" and row["triton"] else ""
                util = f", {100 * row['flops'] / t / peak:.1f}% TF32 peak" if peak else ""
                cells.append(f"{what} {t * 1e3:.3f} ms, {batch / t:,.0f} img/s{util}{ratio}")
            if row.get("replay"):
                cells.append(f"graph replay {row['replay'] * 1e3:.3f} ms")
            print(f"{name:13s} batch {batch:5d}: " + "; ".join(cells), flush=True)
            write_results(args, card, peak, results)   # after every row: a run cut short keeps what it measured
    goal = [k for r in results for k in r.get("kernels", [])
            if "cublas" in k and k["K"] >= 576 and k["M"] * k["N"] >= 2 ** 20]
    if goal:
        worst = max(goal, key=lambda k: k["ratio"])
        print(f"# {len(goal)} GEMM kernels with K >= 576 and M*N >= 2^20: worst {worst['ratio']:.2f}x cuBLAS "
              f"({worst['kernel']}), median {statistics.median(k['ratio'] for k in goal):.2f}x")
    print(f"# {time.perf_counter() - t_start:.0f} s", flush=True)
    write_results(args, card, peak, results)
    return 0


def write_results(args, card, peak, results) -> None:
    import torch
    import triton

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"card": card, "precision": args.precision, "torch": torch.__version__,
                       "triton": triton.__version__, "peak_tf32": peak, "results": results}, f, indent=2)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(markdown(card, args.precision, peak, results))


if __name__ == "__main__":
    sys.exit(main())
