"""Does `cnnc compile` scale with the program?  python benchmarks/compile_scaling.py [--sizes ...]

`cnnc compile FILE --backend B -o OUT.py` as a whole process, for programs of 1,000, 10,000
and 100,000 layers (the language's limit) of three shapes:

  plain repeat       input 8x8x2; repeat N { conv 2 1 }             (issue 15's first probe)
  residual repeat    input 8x8x2; repeat N/2 { residual { conv 2 1 } }
  many branches      input 8x8x2; concat { branch { } ... }  (N - 10 identity branches, 99,990 at
                     100,000: issue 15's second probe; a file holds at most 100,000 blocks)

For each backend and shape it prints the wall time, the CPU time (user + system of the child,
which hardly moves when other jobs load the machine), the peak resident set of the process
(os.wait4's ru_maxrss, so each run is measured alone), the module's size and its number of
distinct step functions (numpy: `def layer_`/`def view_`) or kernels (`@triton.jit`), then
the ratio of each to the size ten times smaller: linear scaling is about 10x CPU time and at
most 10x memory per 10x layers (the interpreter and the imports are a fixed part).
Results go in BENCHMARKS.md, "compile scaling".
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SHAPES = {
    "plain repeat": lambda n: f"input 8x8x2\nrepeat {n} {{ conv 2 1 }}\n",
    "residual repeat": lambda n: f"input 8x8x2\nrepeat {n // 2} {{ residual {{ conv 2 1 }} }}\n",
    "many branches": lambda n: "input 8x8x2\nconcat {\n" + "  branch { }\n" * (n - 10) + "}\n",
}
SIZES = (1_000, 10_000, 100_000)
VERSIONS = """
import platform, numpy
v = f"Python {platform.python_version()}, numpy {numpy.__version__}"
try:
    import torch, triton
    v += f", torch {torch.__version__}, triton {triton.__version__}"
except ImportError:
    pass
print(v)
"""


def measure(program: str, backend: str, folder: str, root: Path = ROOT) -> dict:
    """One `cnnc compile` process: wall and CPU seconds, peak RSS (MB), module bytes, distinct functions."""
    src = os.path.join(folder, "net.cnn")
    out = os.path.join(folder, "net.py")
    with open(src, "w") as f:
        f.write(program)
    for stale in ("net.py", "net.npz", "net.safetensors"):
        if os.path.exists(os.path.join(folder, stale)):
            os.remove(os.path.join(folder, stale))
    env = {**os.environ, "PYTHONPATH": str(root)}
    t = time.perf_counter()
    p = subprocess.Popen([sys.executable, "-m", "cnnc", "compile", src, "--backend", backend, "-o", out, "-q"],
                         cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = p.stderr.read().decode()
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise SystemExit(f"cnnc compile failed ({backend}, exit {p.returncode}):\n{err}")
    text = Path(out).read_text()
    distinct = text.count("\n@triton.jit\ndef k") if backend == "triton" else \
        text.count("\ndef layer_") + text.count("\ndef view_")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss": usage.ru_maxrss / 1024,
            "bytes": len(text.encode()), "distinct": distinct}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)), help="layer counts (default 1000,10000,100000)")
    ap.add_argument("--backends", default="numpy,triton")
    ap.add_argument("--shapes", default=",".join(SHAPES), help="which program shapes (names as above)")
    ap.add_argument("--root", type=Path, default=ROOT,
                    help="the cnnc checkout to measure (default this one; another commit's for a before/after)")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    # versions from a child: this process stays small, since a child's peak resident set
    # (ru_maxrss) starts from what its parent held when it forked
    versions = subprocess.run([sys.executable, "-c", VERSIONS], capture_output=True, text=True).stdout.strip()
    commit = subprocess.run(["git", "-C", str(args.root), "log", "-1", "--format=%h"], capture_output=True,
                            text=True).stdout.strip()
    print(f"cnnc {commit or args.root}; {platform.machine()}, {os.cpu_count()} CPUs, {versions}; load average "
          f"{os.getloadavg()[0]:.1f}; {time.strftime('%Y-%m-%d')}")
    print(f"{'backend':8} {'program':16} {'layers':>8} {'wall s':>8} {'CPU s':>8} {'peak MB':>8} {'module MB':>10} "
          f"{'distinct':>8}   per 10x: CPU, memory, module")
    with tempfile.TemporaryDirectory() as folder:
        for backend in args.backends.split(","):
            for shape in args.shapes.split(","):
                prev = None
                for n in sizes:
                    r = measure(SHAPES[shape](n), backend, folder, args.root)
                    ratio = ""
                    if prev is not None:
                        ratio = (f"{r['cpu'] / prev['cpu']:.1f}x, {r['rss'] / prev['rss']:.1f}x, "
                                 f"{r['bytes'] / prev['bytes']:.1f}x")
                    print(f"{backend:8} {shape:16} {n:>8,} {r['wall']:>8.1f} {r['cpu']:>8.1f} {r['rss']:>8.0f} "
                          f"{r['bytes'] / 1e6:>10.2f} {r['distinct']:>8}   {ratio}", flush=True)
                    prev = r
    return 0


if __name__ == "__main__":
    sys.exit(main())
