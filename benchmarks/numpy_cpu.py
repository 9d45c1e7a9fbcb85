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

    python benchmarks/numpy_cpu.py --threads-policy

measures the numpy backend's BLAS thread policy instead (cnnc/backends/numpy/policy.py,
ONE_BLAS_THREAD_BELOW; docs/numpy.md, "Threads"): LeNet, the CIFAR ResNet and MobileNetV2
at small and large batches, each with BLAS's default threads, with one thread, and with the
policy (what a module does by default), interleaved in one process; first idle, then
loaded (a busy-loop process beside it, as when another job shares the machine). It prints
the times and the ratios to one thread.
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
POLICY_CASES = (("lenet", 1), ("lenet", 256), ("cifar_resnet", 1), ("cifar_resnet", 16), ("mobilenet_v2", 1),
                ("mobilenet_v2", 4))
POLICY_NETS = {**{k: v[0] for k, v in NETS.items()}, "mobilenet_v2": "examples/keras/mobilenet_v2.cnn"}
BUSY = "while True: pass"
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


def timed(fn, x, min_time=1.0, min_runs=5, warm=2):
    for _ in range(warm):
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


def policy_one(net_name: str, batch: int, min_time: float) -> dict:
    """In a child process: ms per call of the numpy module with BLAS's default threads, one
    thread, and the module's own policy, interleaved (three rounds, the best median of each)."""
    import numpy as np

    import cnnc

    model = cnnc.compile(os.path.join(ROOT, POLICY_NETS[net_name]), seed=0)
    x = np.random.default_rng(0).standard_normal((batch, *model.network.input_shape)).astype(np.float32)
    policy = model.module.ONE_BLAS_THREAD_BELOW
    settings = {"default": 0, "one": float("inf"), "policy": policy}
    best = {}
    for _ in range(3):
        for name, below in settings.items():
            model.module.ONE_BLAS_THREAD_BELOW = below
            best[name] = min(best.get(name, float("inf")), timed(model, x, min_time / 3, min_runs=3, warm=1) * 1e3)
    model.module.ONE_BLAS_THREAD_BELOW = policy
    best["work"] = batch * model.network.total_macs
    return best


def threads_policy(min_time: float) -> int:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    print(f"{'network':<14}{'batch':>6}{'MMACs':>9}  {'load':<7}{'default ms':>11}{'one ms':>9}{'policy ms':>10}"
          f"{'default/one':>13}{'policy/one':>12}")
    wins = []   # (work, case) where BLAS's default threads beat one thread by 20 % or more, idle
    for loaded in (False, True):
        busy = subprocess.Popen([sys.executable, "-c", BUSY]) if loaded else None
        try:
            for net_name, batch in POLICY_CASES:
                cmd = [sys.executable, os.path.abspath(__file__), "--policy-one", net_name, str(batch),
                       "--min-time", str(min_time)]
                r = subprocess.run(cmd, capture_output=True, text=True, env=env)
                if r.returncode != 0:
                    print(f"{net_name} failed:\n{r.stderr[-2000:]}", file=sys.stderr)
                    continue
                m = json.loads(r.stdout.strip().splitlines()[-1])
                if not loaded and m["default"] <= 0.8 * m["one"]:
                    wins.append((m["work"], f"{net_name} batch {batch}"))
                print(f"{net_name:<14}{batch:>6}{m['work'] / 1e6:>9.0f}  {'loaded' if loaded else 'idle':<7}"
                      f"{m['default']:>11.2f}{m['one']:>9.2f}{m['policy']:>10.2f}"
                      f"{m['default'] / m['one']:>12.2f}x{m['policy'] / m['one']:>11.2f}x", flush=True)
        finally:
            if busy is not None:
                busy.kill()
                busy.wait()
    if wins:
        work, case = min(wins)
        print(f"default threads beat one by 20 % or more from {work:,} multiply-adds ({case}): "
              f"the least work for ONE_BLAS_THREAD_BELOW")
    else:
        print("default threads never beat one by 20 % here: one thread for every call measured")
    return 0


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
    ap.add_argument("--threads-policy", action="store_true",
                    help="the numpy backend's BLAS thread policy against default and one thread, idle and loaded")
    ap.add_argument("--one", nargs=2, metavar=("ENGINE", "NET"), help=argparse.SUPPRESS)
    ap.add_argument("--policy-one", nargs=2, metavar=("NET", "BATCH"), help=argparse.SUPPRESS)
    ap.add_argument("--batches", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--min-time", type=float, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        batches = [int(b) for b in args.batches.split(",")]
        print(json.dumps(one(args.one[0], args.one[1], batches, args.min_time, args.threads)))
        return 0
    if args.policy_one:
        print(json.dumps(policy_one(args.policy_one[0], int(args.policy_one[1]), args.min_time)))
        return 0
    min_time = 0.3 if args.quick else 1.5
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} CPUs; {versions()}")
    print(f"# OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')} "
          f"OPENBLAS_L2_SIZE={os.environ.get('OPENBLAS_L2_SIZE', '(unset)')}; "
          f"threads per engine: {args.threads or 'default'}; load average {os.getloadavg()[0]:.2f}")
    if args.threads_policy:
        return threads_policy(min_time)
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
