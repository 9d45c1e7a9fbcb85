"""The numpy backend vs torch eager (CPU) vs onnxruntime (CPU), in one run.

    python benchmarks/numpy_cpu.py [--quick]

Networks: examples/lenet.cnn at batch 1, 64, 256 and examples/cifar_resnet.cnn at
batch 1 and 64. Every engine runs the same network with the same weights:
  numpy        cnnc.compile(..., backend="numpy")
  torch        model.to_torch() (the bridges' nn.Module, NHWC in/out), eager, inference_mode
  onnxruntime  model.to_onnx(...) in an InferenceSession (default thread settings)
Each (engine, network) runs in its own subprocess. "peak MB" is working memory: the
highest resident set sampled (every 0.5 ms) during three forward passes, minus the
resident set just before them (weights and warm caches excluded).
Times are the median of repeated runs after warm-up. Outputs are checked to agree.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NETS = {"lenet": ("examples/lenet.cnn", (1, 64, 256)), "cifar_resnet": ("examples/cifar_resnet.cnn", (1, 64))}
ENGINES = ("numpy", "torch", "onnxruntime")


def rss_mb() -> float:
    """The process's current resident set, in MB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class PeakRSS:
    """Samples the resident set every half millisecond while active; .peak in MB."""

    def __init__(self):
        import threading

        self.peak = rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(0.0005):
            self.peak = max(self.peak, rss_mb())

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb())


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


def one(engine: str, net_name: str, batches, min_time: float, threads: int) -> dict:
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
        if threads:
            torch.set_num_threads(threads)

        def fn(x):
            with torch.inference_mode():
                return module(torch.from_numpy(x)).numpy()
    else:
        import onnxruntime as ort

        with tempfile.TemporaryDirectory() as d:
            p = model.to_onnx(os.path.join(d, "m.onnx"))
            opts = ort.SessionOptions()
            if threads:
                opts.intra_op_num_threads = threads
                opts.inter_op_num_threads = 1
            sess = ort.InferenceSession(p, opts, providers=["CPUExecutionProvider"])
        name = sess.get_inputs()[0].name

        def fn(x):
            return sess.run(None, {name: x})[0]
    out = {}
    rng = np.random.default_rng(0)
    for b in batches:
        x = rng.standard_normal((b, *model.network.input_shape)).astype(np.float32)
        before = rss_mb()
        with PeakRSS() as mem:
            y = fn(x)
            for _ in range(2):
                fn(x)
        err = float(np.abs(np.asarray(y) - model(x)).max())
        t = timed(fn, x, min_time)
        out[b] = {"ms": t * 1e3, "peak_mb": mem.peak - before, "max_abs_diff_vs_numpy": err}
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
    ap.add_argument("--threads", type=int, default=0,
                    help="threads for every engine (OpenBLAS, torch, onnxruntime); default: their own defaults")
    ap.add_argument("--one", nargs=2, metavar=("ENGINE", "NET"), help=argparse.SUPPRESS)
    ap.add_argument("--batches", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--min-time", type=float, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        batches = [int(b) for b in args.batches.split(",")]
        print(json.dumps(one(args.one[0], args.one[1], batches, args.min_time, args.threads)))
        return 0
    min_time = 0.3 if args.quick else 1.5
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} CPUs; {versions()}")
    print(f"# OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')} "
          f"OPENBLAS_L2_SIZE={os.environ.get('OPENBLAS_L2_SIZE', '(unset)')}; "
          f"threads per engine: {args.threads or 'default'}; load average {os.getloadavg()[0]:.2f}")
    results = {}
    for net_name, (_, batches) in NETS.items():
        for engine in ENGINES:
            for b in batches:  # a fresh process each: memory measured from a clean start
                cmd = [sys.executable, os.path.abspath(__file__), "--one", engine, net_name,
                       "--batches", str(b), "--min-time", str(min_time), "--threads", str(args.threads)]
                env = dict(os.environ)
                if args.threads:  # numpy's OpenBLAS reads this at import only
                    env["OPENBLAS_NUM_THREADS"] = env["OMP_NUM_THREADS"] = str(args.threads)
                r = subprocess.run(cmd, capture_output=True, text=True, env=env)
                if r.returncode != 0:
                    print(f"{engine} on {net_name} failed:\n{r.stderr[-2000:]}", file=sys.stderr)
                    continue
                got = json.loads(r.stdout.strip().splitlines()[-1])
                results.setdefault((net_name, engine), {}).update({int(k): v for k, v in got.items()})
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
