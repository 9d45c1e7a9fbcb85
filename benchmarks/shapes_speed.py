"""How fast is the front end?  python benchmarks/shapes_speed.py [--runs N] [--scaling]

1. `cnnc shapes examples/keras/resnet50.cnn` as a whole process, against `python -c pass`
   (goal: at most 3x). Python's byte-code cache is allowed (PYTHONDONTWRITEBYTECODE
   is dropped for the runs) and warmed first, as on a user's machine after the first run.
2. `cnnc shapes examples/keras/densenet121.cnn` (the largest graph of the Keras family,
   426 layers against ResNet50's 174) as a whole process, against the ResNet50 run
   (goal: at most 1.5x): the front end stays linear in the layers.
3. parse + shape inference of a generated 1,000-layer program in-process
   (goal: at most 100 ms), and the `cnnc shapes` summary (smallest-input search included).
4. (`scaling`; alone with --scaling) `cnnc shapes` as a whole process on 1,000, 10,000
   and 100,000 layers: plain statements and residual blocks written out, the two
   repeat probes of the hardening issue (`repeat N { relu }`, `repeat N/2 { residual
   { relu } }`), uses of a definition, and a chain of layers joined by name. Goals: 100,000 layers under 10 s; ten times the layers at most twelve
   times the time; memory linear too (peak resident set of the process).

5. (`--instructions`; alone) the instructions each process of part 1 executes, counted by
   valgrind (`--tool=cachegrind --cache-sim=no`, its "I refs"): unlike CPU time, the same
   on a loaded machine as on an idle one, so an A/B of two trees (`--tree`) is exact;
   with `--instructions-layers N`, also part 4's programs at N layers.

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


# --- 3. time and memory against the number of layers -------------------------------------

SCALING_PROGRAMS = {
    # name -> (layers -> program text with exactly that many layers)
    "plain statements": lambda n: "input 16x16x8\n" + "".join(
        ("conv 8 3x3 padding=same\n", "batchnorm\n", "relu\n")[i % 3] for i in range(n)),
    "residual blocks": lambda n: "input 16x16x8\n" + "residual {\n  conv 8 3x3 padding=same\n  relu\n}\n" * (n // 3)
    + "relu\n" * (n % 3),
    "repeat N { relu }": lambda n: f"input 8x8x1\nrepeat {n} {{ relu }}\n",
    "repeat N/2 { residual { relu } }": lambda n: f"input 8x8x1\nrepeat {n // 2} {{ residual {{ relu }} }}\n",
    # the third edition: uses of a definition (labels and a named join inside) and a chain of
    # named layers joined by name (every name stays visible to the end)
    "N/3 uses of a definition": lambda n: "input 16x16x8\n"
    "def blk f { a: conv f 3x3 padding=same; b: relu; add a b }\n" + "blk 8\n" * (n // 3) + "relu\n" * (n % 3),
    "layers joined by name": lambda n: "input 16x16x8\ny0: relu\n" + "".join(
        f"x{i}: relu from=y{i - 1}\ny{i}: add x{i} y{i - 1}\n" for i in range(1, (n - 1) // 2 + 1))
    + "relu\n" * ((n - 1) % 2),
}
SCALING_SIZES = (1_000, 10_000, 100_000)


# Runs `cnnc shapes` (cnnc.cli.main, what the console script calls) and then reports the
# process's peak resident memory. ru_maxrss would not do: Linux carries the parent's
# high-water mark across fork and exec, so every child would seem as large as this script.
_PEAK = ("import sys\nfrom cnnc.cli import main\nrc = main(sys.argv[1:])\n"
         "peak = [ln for ln in open('/proc/self/status') if ln.startswith('VmHWM:')]\n"
         "sys.stderr.write('VmHWM ' + (peak[0].split()[1] if peak else '0') + '\\n')\nsys.exit(rc)\n")


def _measure(argv, env):
    """(wall s, CPU s, peak RSS MiB) of one `cnnc ARGV` process (CPU from its rusage)."""
    t = time.perf_counter()
    p = subprocess.Popen([sys.executable, "-c", _PEAK, *argv], env=env, cwd=ROOT,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"cnnc {' '.join(argv)} failed: {err.decode()[-500:]}")
    kib = int(err.split(b"VmHWM ")[-1].split()[0])
    return wall, ru.ru_utime + ru.ru_stime, kib / 1024


def scaling(env, runs: int, largest: int = SCALING_SIZES[-1], only: "str | None" = None) -> None:
    """`cnnc shapes` on 1,000 / 10,000 / 100,000 layers of each program: medians of `runs`
    runs (at most 3 at 100,000), and the ratio of each size to the one ten times smaller."""
    import tempfile

    import cnnc

    # the machine's speed in the same run: this VM's CPU time for the same work varies
    # 2-fold from day to day, and the 10 s goal is an absolute time
    base = statistics.median(_run([sys.executable, "-c", "pass"], env)[1] for _ in range(20))
    print(f"\nthe machine's speed: python -c pass {base:.1f} ms CPU (median of 20)")
    print(f"cnnc shapes against the number of layers (medians of {runs} runs, {min(runs, 3)} at 100,000; "
          f"MiB: peak resident memory of the process)")
    print(f"{'program':34s}{'layers':>8s}{'wall s':>9s}{'CPU s':>8s}{'MiB':>7s}{'CPU x':>8s}{'MiB x':>7s}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, make in SCALING_PROGRAMS.items():
            if only is not None and only not in name:
                continue
            prev = None
            for n in (n for n in SCALING_SIZES if n <= largest):
                text = make(n)
                assert len(cnnc.parse(text).layers) == n, (name, n)
                path = Path(tmp) / f"p{n}.cnn"
                path.write_text(text)
                results = [_measure(["shapes", str(path)], env) for _ in range(runs if n < 100_000 else min(runs, 3))]
                wall, cpu, mib = (statistics.median(r[i] for r in results) for i in range(3))
                ratio = f"{cpu / prev[0]:7.1f}x{mib / prev[1]:6.1f}x" if prev else ""
                print(f"{name:34s}{n:8,d}{wall:9.2f}{cpu:8.2f}{mib:7.0f} {ratio}")
                prev = (cpu, mib)
    print("goals: 100,000 layers under 10 s; 10x the layers at most 12x the CPU time")


def _instructions(cmd, env, cwd) -> int:
    """The instructions `cmd` executes (valgrind's I refs): one run, deterministic."""
    import re

    p = subprocess.run(["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null", *cmd],
                       env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=True)
    return int(re.search(r"I\s+refs:\s+([\d,]+)", p.stderr).group(1).replace(",", ""))


def instructions(env, cnnc_cmd, trees, layers: "int | None" = None, only: "str | None" = None) -> None:
    """Part 5: instructions of `python -c pass` (and of importing `enum` and `re`, which
    pip's launcher for an entry point would add) and of `cnnc shapes` on ResNet50 and
    DenseNet121, with cnnc taken from each tree of `trees` (its PYTHONPATH; byte code
    compiled first). With `layers`, also of each part-4 program at that many layers."""
    import tempfile

    if shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind")
    base = _instructions([sys.executable, "-c", "pass"], env, ROOT)
    print(f"instructions (valgrind I refs; the same under any load): python -c pass {base / 1e6:.1f} M")
    for stmt in ("import enum", "import re"):
        n = _instructions([sys.executable, "-c", stmt], env, ROOT)
        print(f"  python -c '{stmt}'{'':{37 - len(stmt)}s}{n / 1e6:7.1f} M  {n / base:5.2f}x")
    with tempfile.TemporaryDirectory() as tmp:
        programs = []
        for name, make in SCALING_PROGRAMS.items() if layers else ():
            if only is not None and only not in name:
                continue
            path = Path(tmp) / f"{len(programs)}.cnn"
            path.write_text(make(layers))
            programs.append((f"{name} ({layers:,})", str(path)))
        for tree in trees:
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(tree) / "cnnc")], env=env, check=True)
            tree_env = dict(env, PYTHONPATH=str(tree))
            for name in ("resnet50", "densenet121"):
                n = _instructions(cnnc_cmd + ["shapes", f"examples/keras/{name}.cnn"], tree_env, tree)
                print(f"  {str(tree):40s} cnnc shapes {name + '.cnn':16s} {n / 1e6:7.1f} M  {n / base:5.2f}x")
            for name, path in programs:
                n = _instructions(cnnc_cmd + ["shapes", path], tree_env, tree)
                print(f"  {str(tree):40s} {name:44s} {n / 1e6:9.1f} M")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--scaling", action="store_true", help="only part 4: time and memory against layers")
    ap.add_argument("--only", default=None, help="parts 4 and 5: only the programs whose name contains this text")
    ap.add_argument("--largest", type=int, default=SCALING_SIZES[-1],
                    help="part 4 stops at this many layers (a quadratic front end takes minutes at 100,000)")
    ap.add_argument("--instructions", action="store_true",
                    help="only part 5: instructions counted by valgrind (load-independent)")
    ap.add_argument("--instructions-layers", type=int, default=None, metavar="N",
                    help="part 5: also count each part-4 program at N layers (10000: minutes)")
    ap.add_argument("--tree", action="append", default=[],
                    help="part 5: a checkout whose cnnc to count (repeatable; default: this one)")
    args = ap.parse_args()

    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(ROOT)
    script = shutil.which("cnnc", path=str(Path(sys.executable).parent))
    cnnc_cmd = [script] if script else [sys.executable, "-m", "cnnc"]
    if args.instructions:
        instructions(env, cnnc_cmd, args.tree or [ROOT], args.instructions_layers, args.only)
        return 0
    if args.scaling:
        print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}; "
              f"Python {platform.python_version()}; load average {os.getloadavg()[0]:.2f}")
        scaling(env, max(1, min(args.runs, 5)), args.largest, args.only)
        return 0
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
    scaling(env, max(1, min(args.runs, 5)), args.largest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
