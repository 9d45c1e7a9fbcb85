"""The numpy backend vs torch eager (CPU) vs onnxruntime (CPU), in one run.

    python benchmarks/numpy_cpu.py [--quick]

Networks: examples/lenet.cnn at batch 1, 64, 256 and examples/cifar_resnet.cnn at
batch 1 and 64. Every engine runs the same network with the same weights:
  numpy        cnnc.compile(..., backend="numpy")
  torch        model.to_torch() (the bridges' nn.Module, NHWC in/out), eager, inference_mode
  onnxruntime  model.to_onnx(...) in an InferenceSession (default thread settings)
Each (engine, network) runs in its own subprocess so that peak memory is that
engine's alone: "peak MB" is the growth of the process's max RSS from just before
the first forward to the end of the timed runs (working memory, not weights).
Times are the median of repeated runs after warm-up. Outputs are checked to agree.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NETS = {"lenet": ("examples/lenet.cnn", (1, 64, 256)), "cifar_resnet": ("examples/cifar_resnet.cnn", (1, 64))}
ENGINES = ("numpy", "torch", "onnxruntime")


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def timed(fn, x, min_time=1.0, min_runs=5):
    for _ in range(2):
        fn(x)
    times = []
    t_end = time.perf_counter() + min_time
    while len(times) < min_runs or time.perf_counter() < t_end:
        t0 = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - t0)
        if len(times) >= 200:
            break
    return statistics.median(times)


def one(engine: str, net_name: str, batches, min_time: float) -> dict:
    """Run in a child process: time `engine` on `net_name` at each batch size."""
    import numpy as np

    import cnnc

    path, _ = NETS[net_name]
    model = cnnc.compile(os.path.join(ROOT, path), seed=0)
    if engine == "numpy":
        fn = model
    elif engine == "torch":
        import torch

        module = model.to_torch()

        def fn(x):
            with torch.inference_mode():
                return module(torch.from_numpy(x)).numpy()
    else:
        import onnxruntime as ort

        with tempfile.TemporaryDirectory() as d:
            p = model.to_onnx(os.path.join(d, "m.onnx"))
            sess = ort.InferenceSession(p, providers=["CPUExecutionProvider"])
        name = sess.get_inputs()[0].name

        def fn(x):
            return sess.run(None, {name: x})[0]
    out = {}
    rng = np.random.default_rng(0)
    for b in batches:
        x = rng.standard_normal((b, *model.network.input_shape)).astype(np.float32)
        before = rss_mb()
        y = fn(x)
        ref = model(x)
        err = float(np.abs(np.asarray(y) - ref).max())
        t = timed(fn, x, min_time)
        out[b] = {"ms": t * 1e3, "peak_mb": rss_mb() - before, "max_abs_diff_vs_numpy": err}
    return out


def versions() -> str:
    import numpy
    parts = [f"python {platform.python_version()}", f"numpy {numpy.__version__}"]
    for mod in ("torch", "onnxruntime"):
        try:
            parts.append(f"{mod} {__import__(mod).__version__}")
        except ImportError:
            parts.append(f"{mod} missing")
    return ", ".join(parts)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="shorter timing runs")
    ap.add_argument("--one", nargs=2, metavar=("ENGINE", "NET"), help=argparse.SUPPRESS)
    ap.add_argument("--batches", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--min-time", type=float, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        batches = [int(b) for b in args.batches.split(",")]
        print(json.dumps(one(args.one[0], args.one[1], batches, args.min_time)))
        return 0
    min_time = 0.3 if args.quick else 1.5
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} CPUs; {versions()}")
    print(f"# OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')} "
          f"OPENBLAS_L2_SIZE={os.environ.get('OPENBLAS_L2_SIZE', '(unset)')}")
    results = {}
    for net_name, (_, batches) in NETS.items():
        for engine in ENGINES:
            cmd = [sys.executable, os.path.abspath(__file__), "--one", engine, net_name,
                   "--batches", ",".join(map(str, batches)), "--min-time", str(min_time)]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                print(f"{engine} on {net_name} failed:\n{r.stderr[-2000:]}", file=sys.stderr)
                continue
            results[(net_name, engine)] = {int(k): v for k, v in json.loads(r.stdout.strip().splitlines()[-1]).items()}
    print(f"{'network':<14}{'batch':>6}  " + "".join(f"{e + ' ms':>16}" for e in ENGINES)
          + f"{'np/torch':>10}{'np/ort':>8}  " + "".join(f"{e + ' MB':>16}" for e in ENGINES) + "  max|diff|")
    for net_name, (_, batches) in NETS.items():
        for b in batches:
            row = {e: results.get((net_name, e), {}).get(b) for e in ENGINES}
            ms = {e: (r["ms"] if r else float("nan")) for e, r in row.items()}
            mb = {e: (r["peak_mb"] if r else float("nan")) for e, r in row.items()}
            diff = max((r["max_abs_diff_vs_numpy"] for r in row.values() if r), default=float("nan"))
            print(f"{net_name:<14}{b:>6}  " + "".join(f"{ms[e]:>16.3f}" for e in ENGINES)
                  + f"{ms['numpy'] / ms['torch']:>9.2f}x{ms['numpy'] / ms['onnxruntime']:>7.2f}x  "
                  + "".join(f"{mb[e]:>16.1f}" for e in ENGINES) + f"  {diff:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
