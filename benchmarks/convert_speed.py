"""How fast is `cnnc from-keras`, and how much memory does it take?

    python benchmarks/convert_speed.py [--models EfficientNetB7 ConvNeXtXLarge] [--folder DIR] [--runs 3]

For each keras.applications network (built once with random weights at its default input
and saved as DIR/NAME.keras; Keras is needed only for that):
  1. h5py: the time to read every array of the file's model.weights.h5 (already unpacked to
     a file, warm in the page cache) with `f[name][()]`, the floor any reader of these
     weights pays;
  2. from-keras: the whole command in-process (read, convert, write the program and NET.npz
     into a new folder, each file fsync'd), split into reading and converting, and writing;
  3. the floor of the write: the same arrays written as NET.npz by the same writer, then the
     fsync alone;
  4. peak memory: a further run under tracemalloc (numpy's arrays are tracked), against the
     weights' size. Timed runs are not traced: tracing slows Python code by half.
Times are medians of --runs, as wall time and as CPU time of the process (all threads): on a
shared machine the wall time swings with the other jobs, the CPU time much less. The load
average is printed with each line.
Goals: from-keras within 2x of h5py's time, peak memory within 2x of the weights' size.
Prints one line per network; results go in BENCHMARKS.md, "bridges".
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


class Clock:
    """Wall and CPU seconds (all threads) since it was made."""

    def __init__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def lap(self) -> "tuple[float, float]":
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


def build(name, folder) -> str:
    path = os.path.join(folder, f"{name}.keras")
    if not os.path.exists(path):
        os.environ.setdefault("KERAS_BACKEND", "torch")
        import keras

        getattr(keras.applications, name)(weights=None).save(path)
    return path


def h5py_read(path, runs) -> "tuple[tuple[float, float], int]":
    import h5py

    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(path) as z:
            z.extract("model.weights.h5", tmp)
        h5 = os.path.join(tmp, "model.weights.h5")
        names: list = []
        with h5py.File(h5, "r") as f:
            f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
        times = []
        for i in range(runs + 1):   # the first pass warms the page cache, as from-keras finds it
            clock = Clock()
            total = 0
            with h5py.File(h5, "r") as f:
                for n in names:
                    total += f[n][()].nbytes
            if i:
                times.append(clock.lap())
    return _median(times), total


def from_keras(path, out_folder) -> "tuple[tuple[float, float], tuple[float, float]]":
    """What `cnnc from-keras` does, through the library: convert, then write both files;
    ((wall, cpu) of reading and converting, (wall, cpu) of writing)."""
    from cnnc.bridges.importers.keras.model import convert, write_files

    clock = Clock()
    text, params = convert(path)
    converted = clock.lap()
    clock = Clock()
    write_files(text, params, os.path.join(out_folder, "net.cnn"))
    return converted, clock.lap()


def write_floor(path, out_folder) -> "tuple[tuple[float, float], float]":
    """((wall, cpu) of writing the network's arrays as an .npz, wall seconds of its fsync)."""
    from cnnc.bridges.importers.keras.model import convert
    from cnnc.runtime.npz import write_npz

    params = convert(path)[1]
    target = os.path.join(out_folder, "w.npz")
    clock = Clock()
    write_npz(target, params)
    written = clock.lap()
    t = time.perf_counter()
    fd = os.open(target, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return written, time.perf_counter() - t


def peak_memory(path, out_folder) -> int:
    from cnnc.bridges.importers.keras.model import convert, write_files

    tracemalloc.start()
    text, params = convert(path)
    write_files(text, params, os.path.join(out_folder, "net.cnn"))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def _median(pairs) -> "tuple[float, float]":
    pairs = list(pairs)
    return statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)


def _fresh(folder) -> str:
    """A new empty folder for one run's output: each run writes new files, as a first conversion does."""
    return tempfile.mkdtemp(dir=folder)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["EfficientNetB7", "ConvNeXtXLarge"])
    ap.add_argument("--folder", default=os.path.join(tempfile.gettempdir(), "cnnc-convert-bench"))
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    os.makedirs(args.folder, exist_ok=True)
    print("wall / cpu seconds; ratio = from-keras / h5py read")
    print(f"{'network':<15} {'weights':>8} {'h5py read':>11} {'from-keras':>11} {'ratio':>11} "
          f"{'read+convert':>12} {'write':>11} {'npz alone':>11} {'fsync':>6} {'peak mem':>9} {'ratio':>6} {'load':>5}")
    for name in args.models:
        path = build(name, args.folder)
        work = tempfile.mkdtemp(dir=args.folder)
        try:
            (h_wall, h_cpu), nbytes = h5py_read(path, args.runs)
            from_keras(path, _fresh(work))   # warm: the .keras file in the page cache, modules imported
            runs = [from_keras(path, _fresh(work)) for _ in range(args.runs)]
            conv = _median(r[0] for r in runs)
            write = _median(r[1] for r in runs)
            total = _median((a[0] + b[0], a[1] + b[1]) for a, b in runs)
            floor, fsync = write_floor(path, _fresh(work))
            peak = peak_memory(path, _fresh(work))
        finally:
            shutil.rmtree(work, ignore_errors=True)
        pair = "{:>5.2f}/{:<5.2f}".format
        print(f"{name:<15} {nbytes / 1e6:>6.0f}MB {pair(h_wall, h_cpu)} {pair(*total)} "
              f"{total[0] / h_wall:>4.1f}x/{total[1] / h_cpu:<4.1f}x {pair(*conv):>12} {pair(*write)} "
              f"{pair(*floor)} {fsync:>6.2f} {peak / 1e6:>7.0f}MB {peak / nbytes:>5.2f}x {os.getloadavg()[0]:>5.1f}",
              flush=True)


if __name__ == "__main__":
    main()
