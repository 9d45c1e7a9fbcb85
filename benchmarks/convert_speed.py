"""How fast is `cnnc from-keras`, and how much memory does it take?

    python benchmarks/convert_speed.py [--models EfficientNetB7 ConvNeXtXLarge] [--folder DIR] [--runs 3]
    python benchmarks/convert_speed.py --convert-only --tree OTHER_CHECKOUT ...   # before / after

For each keras.applications network (built once with random weights at its default input
and saved as DIR/NAME.keras; Keras is needed only for that):
  1. h5py: the time to read every array of the file's model.weights.h5 (already unpacked to
     a file, warm in the page cache) with `f[name][()]`, the floor any reader of these
     weights pays;
  2. from-keras: the whole command in-process (read, convert, write the program and NET.npz
     into a new folder, each file fsync'd), split into reading and converting, and writing;
  3. the floors of the write: the same arrays written as an .npz by the same writer, and
     their bytes written plainly (one write each, no zip, no checksums), each with its fsync,
     and that fsync alone;
  4. peak memory: a further run under tracemalloc (numpy's arrays are tracked), against the
     weights' size. Timed runs are not traced: tracing slows Python code by half.
Times are medians of --runs, as wall time and as CPU time of the process (all threads): on a
shared machine the wall time swings with the other jobs, the CPU time much less. The load
average is printed with each line.
--convert-only times only from-keras (2); --tree imports cnnc from another checkout, so two
versions are compared on the same files in the same minutes.
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


def write_floors(path, out_folder) -> "tuple[tuple, tuple]":
    """The floors of the write: (wall, cpu, the fsync's wall) of writing the network's arrays as
    an .npz with cnnc's writer, and of writing the same bytes with one plain write per array
    (no zip, no CRC); each to a new file, the first two including the fsync."""
    from cnnc.bridges.importers.keras.model import convert
    from cnnc.runtime.npz import write_npz

    params = convert(path)[1]

    def plain(target):
        with open(target, "wb") as f:
            for a in params.values():
                f.write(memoryview(a.reshape(-1).view("u1")))

    out = []
    for name, write in (("w.npz", lambda target: write_npz(target, params)), ("w.bin", plain)):
        target = os.path.join(out_folder, name)
        clock = Clock()
        write(target)
        t = time.perf_counter()
        fd = os.open(target, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        out.append((*clock.lap(), time.perf_counter() - t))
        os.remove(target)
    return out[0], out[1]


def peak_memory(path, out_folder) -> int:
    from cnnc.bridges.importers.keras.model import convert, write_files

    tracemalloc.start()
    text, params = convert(path)
    write_files(text, params, os.path.join(out_folder, "net.cnn"))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def crc_speeds() -> str:
    """GB/s of zlib's CRC-32, which zipfile computes for each member of NET.npz."""
    import zlib

    import numpy as np

    data = memoryview(np.random.default_rng(0).integers(0, 255, 256 << 20, dtype=np.uint8))
    cpu = []
    for _ in range(3):
        t = time.process_time()
        zlib.crc32(data)
        cpu.append(time.process_time() - t)
    return f"CRC-32 (zlib) {data.nbytes / 1e9 / min(cpu):.1f} GB/s"


def _median(pairs) -> "tuple[float, float]":
    pairs = list(pairs)
    return statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)


def _run(measure, path, folder):
    """measure(path, a new empty folder): each run writes new files, as a first conversion does,
    and they are removed after it (a few GB of earlier outputs would crowd the page cache)."""
    out = tempfile.mkdtemp(dir=folder)
    try:
        return measure(path, out)
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["EfficientNetB7", "ConvNeXtXLarge"])
    ap.add_argument("--folder", default=os.path.join(tempfile.gettempdir(), "cnnc-convert-bench"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--convert-only", action="store_true", help="time only the conversion")
    ap.add_argument("--tree", help="import cnnc from this checkout instead (a before/after comparison)")
    args = ap.parse_args()
    os.makedirs(args.folder, exist_ok=True)
    if args.tree:
        sys.path.insert(0, os.path.abspath(args.tree))
    if args.convert_only:
        import cnnc

        for name in args.models:
            path = build(name, args.folder)
            runs = [_run(from_keras, path, args.folder) for _ in range(args.runs + 1)][1:]
            total = _median((a[0] + b[0], a[1] + b[1]) for a, b in runs)
            print(f"{name:<15} from-keras {total[0]:.2f} / {total[1]:.2f} s (wall / cpu), cnnc from "
                  f"{os.path.dirname(os.path.dirname(cnnc.__file__))}, load {os.getloadavg()[0]:.1f}", flush=True)
        return
    print(crc_speeds())
    print("wall / cpu seconds; ratio = from-keras / h5py read")
    print(f"{'network':<15} {'weights':>8} {'h5py read':>11} {'from-keras':>11} {'ratio':>11} "
          f"{'read+convert':>12} {'write':>11} {'npz alone':>11} {'bytes alone':>11} {'fsync':>5} {'peak mem':>9} {'ratio':>6} {'load':>5}")
    for name in args.models:
        path = build(name, args.folder)
        work = tempfile.mkdtemp(dir=args.folder)
        try:
            (h_wall, h_cpu), nbytes = h5py_read(path, args.runs)
            runs = [_run(from_keras, path, work) for _ in range(args.runs + 1)][1:]   # the first warms up
            conv = _median(r[0] for r in runs)
            write = _median(r[1] for r in runs)
            total = _median((a[0] + b[0], a[1] + b[1]) for a, b in runs)
            floor, raw = _run(write_floors, path, work)
            peak = _run(peak_memory, path, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        pair = "{:>5.2f}/{:<5.2f}".format
        print(f"{name:<15} {nbytes / 1e6:>6.0f}MB {pair(h_wall, h_cpu)} {pair(*total)} "
              f"{total[0] / h_wall:>4.1f}x/{total[1] / h_cpu:<4.1f}x {pair(*conv):>12} {pair(*write)} "
              f"{pair(*floor[:2])} {pair(*raw[:2])} {raw[2]:>5.2f} {peak / 1e6:>7.0f}MB {peak / nbytes:>5.2f}x {os.getloadavg()[0]:>5.1f}",
              flush=True)


if __name__ == "__main__":
    main()
