"""How fast is the front end?  python benchmarks/shapes_speed.py [--runs N]

1. `cnnc shapes examples/keras/resnet50.cnn` as a whole process, against `python -c pass`
   (goal: at most 3x). Python's byte-code cache is allowed (PYTHONDONTWRITEBYTECODE
   is dropped for the runs) and warmed first, as on a user's machine after the first run.
2. `cnnc shapes examples/keras/densenet121.cnn` (the largest graph of the Keras family,
   426 layers against ResNet50's 174) as a whole process, against the ResNet50 run
   (goal: at most 1.5x): the front end stays linear in the layers.
3. parse + shape inference of a generated 1,000-layer program in-process
   (goal: at most 100 ms), and the `cnnc shapes` summary (smallest-input search included).

Prints medians (and best) in ms; results go in BENCHMARKS.md, "Front end".
"""

from __future__ import annotations

import argparse
import os
import resource
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _run(cmd, env):
    """(wall ms, CPU ms) of one run. CPU time (user + system of the child) hardly
    moves when other jobs load the machine; wall time does."""
    c, t = _child_cpu(), time.perf_counter()
    subprocess.run(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return (time.perf_counter() - t) * 1e3, (_child_cpu() - c) * 1e3


def program(layers: int = 1000) -> str:
    """`layers` nodes, written out (no repeat): residual blocks of conv, batchnorm, relu."""
    lines = ["# generated: residual blocks of conv + batchnorm + relu", "input 64x64x16"]
    for i in range(layers // 4):
        lines.append(f"residual {{  # block {i + 1}\n  conv 16 3x3 padding=same\n  batchnorm\n  relu\n}}")
    return "\n".join(lines) + "\n"


def _inproc(fn, runs):
    """Median wall ms, median CPU ms (this process)."""
    wall, cpu = [], []
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return statistics.median(wall) * 1e3, statistics.median(cpu) * 1e3


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()

    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(ROOT)
    script = shutil.which("cnnc", path=str(Path(sys.executable).parent))
    cnnc_cmd = [script] if script else [sys.executable, "-m", "cnnc"]
    shapes = cnnc_cmd + ["shapes", "examples/keras/resnet50.cnn"]
    dense = cnnc_cmd + ["shapes", "examples/keras/densenet121.cnn"]
    base = [sys.executable, "-c", "pass"]
    for _ in range(3):  # warm the byte-code cache and the disk cache
        for cmd in (shapes, dense):
            subprocess.run(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        subprocess.run(base, env=env, check=True)
    # interleave so that load on the machine hits all alike
    b_runs, s_runs, d_runs = [], [], []
    for _ in range(args.runs):
        b_runs.append(_run(base, env))
        s_runs.append(_run(shapes, env))
        d_runs.append(_run(dense, env))
    med = statistics.median
    b_wall, s_wall, d_wall = (med(r[0] for r in runs) for runs in (b_runs, s_runs, d_runs))
    b_cpu, s_cpu, d_cpu = (med(r[1] for r in runs) for runs in (b_runs, s_runs, d_runs))

    import lark

    import cnnc
    from cnnc.summary import format_table

    text = program(1000)
    net = cnnc.parse(text)
    assert len(net.layers) == 1000, len(net.layers)
    p_wall, p_cpu = _inproc(lambda: cnnc.parse(text), max(5, args.runs // 3))
    t_wall, t_cpu = _inproc(lambda: format_table(cnnc.parse(text)), max(5, args.runs // 3))

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}; "
          f"Python {platform.python_version()}, lark {lark.__version__} (tables generated; not imported by cnnc)")
    print(f"command: {' '.join(Path(shapes[0]).name if i == 0 else a for i, a in enumerate(shapes))}  ({args.runs} runs)")
    def row(label, wall, cpu, ratio=False):
        unit = "x" if ratio else " "
        print(f"{label:<46}{wall:7.{2 if ratio else 1}f}{unit} {cpu:7.{2 if ratio else 1}f}{unit}".rstrip())

    print(f"{f'load average {os.getloadavg()[0]:.2f}; medians in ms':<46}   wall      CPU")
    row("python -c pass", b_wall, b_cpu)
    layers = {name: len(cnnc.parse_file(ROOT / "examples" / "keras" / f"{name}.cnn").layers)
              for name in ("resnet50", "densenet121")}
    print(f"layers: resnet50 {layers['resnet50']}, densenet121 {layers['densenet121']} "
          f"({layers['densenet121'] / layers['resnet50']:.2f}x)")
    row("cnnc shapes examples/keras/resnet50.cnn", s_wall, s_cpu)
    row("  ratio (goal <= 3x)", s_wall / b_wall, s_cpu / b_cpu, ratio=True)
    row("cnnc shapes examples/keras/densenet121.cnn", d_wall, d_cpu)
    row("  ratio to resnet50 (goal <= 1.5x)", d_wall / s_wall, d_cpu / s_cpu, ratio=True)
    row("parse + infer, 1000 layers (goal <= 100 ms)", p_wall, p_cpu)
    row("  the same + shapes table and smallest input", t_wall, t_cpu)
    return 0


if __name__ == "__main__":
    sys.exit(main())
