"""How fast is `cnnc from-keras`, and how much memory does it take?

    python benchmarks/convert_speed.py [--models EfficientNetB7 ConvNeXtXLarge] [--folder DIR]

For each keras.applications network (built once with random weights at its default input
and saved as DIR/NAME.keras; Keras is needed only for that):
  1. h5py: the time to read every array of the file's model.weights.h5 (already unpacked to
     a file, warm in the page cache), the floor any reader of these weights pays;
  2. from-keras: the whole command in-process (read, convert, write the program and NET.npz),
     median of --runs, and its peak of Python-tracked memory (tracemalloc; numpy's arrays are
     tracked) against the weights' size.
Goals: from-keras within 2x of h5py's time, peak memory within 2x of the weights' size.
Prints one line per network; results go in BENCHMARKS.md, "bridges".
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def build(name, folder) -> str:
    path = os.path.join(folder, f"{name}.keras")
    if not os.path.exists(path):
        os.environ.setdefault("KERAS_BACKEND", "torch")
        import keras

        getattr(keras.applications, name)(weights=None).save(path)
    return path


def h5py_read(path) -> "tuple[float, int]":
    import h5py

    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(path) as z:
            z.extract("model.weights.h5", tmp)
        h5 = os.path.join(tmp, "model.weights.h5")
        names: list = []
        with h5py.File(h5, "r") as f:
            f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
        for _ in range(2):   # the second pass is timed: the file warm, as from-keras finds it
            t = time.perf_counter()
            total = 0
            with h5py.File(h5, "r") as f:
                for n in names:
                    total += f[n][()].nbytes
            elapsed = time.perf_counter() - t
    return elapsed, total


def from_keras(path, out_folder) -> "tuple[float, int]":
    """What `cnnc from-keras` does, through the library: convert, then write both files."""
    from cnnc.bridges.importers.keras.model import convert, write_files

    tracemalloc.start()
    t = time.perf_counter()
    text, params = convert(path)
    write_files(text, params, os.path.join(out_folder, "net.cnn"))
    elapsed = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return elapsed, peak


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["EfficientNetB7", "ConvNeXtXLarge"])
    ap.add_argument("--folder", default=os.path.join(tempfile.gettempdir(), "cnnc-convert-bench"))
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    os.makedirs(args.folder, exist_ok=True)
    print(f"{'network':<18} {'weights':>10} {'h5py read':>10} {'from-keras':>11} {'ratio':>6} {'peak mem':>10} "
          f"{'ratio':>6}")
    for name in args.models:
        path = build(name, args.folder)
        h5_time, nbytes = h5py_read(path)
        with tempfile.TemporaryDirectory() as out:
            runs = [from_keras(path, out) for _ in range(args.runs)]
        t = statistics.median(r[0] for r in runs)
        peak = max(r[1] for r in runs)
        print(f"{name:<18} {nbytes / 1e6:>8.0f}MB {h5_time:>9.2f}s {t:>10.2f}s {t / h5_time:>5.2f}x "
              f"{peak / 1e6:>8.0f}MB {peak / nbytes:>5.2f}x", flush=True)


if __name__ == "__main__":
    main()
