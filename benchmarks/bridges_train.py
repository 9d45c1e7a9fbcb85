"""Bridges benchmark: training speed through to_torch, and to_torch vs the numpy backend.

    .venv/bin/python benchmarks/bridges_train.py [--epochs 3]

1. Seconds per training epoch of examples/digits/digits.cnn on the digits (1,437
   images, batch 32, augmentation on) with torch on 1 thread and on torch's default
   thread count -- the measurement behind cnnc.training's one-thread rule.
2. Median forward latency of LeNet (examples/lenet.cnn) at batch 64: the numpy
   model and its to_torch() module (eval, no_grad), same weights.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "examples", "digits"))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=3)
    args = p.parse_args(argv)

    import torch

    import cnnc
    import digits
    from cnnc.training import train

    x_tr, x_te, y_tr, y_te = digits.load_data(0)
    default_threads = torch.get_num_threads()
    print(f"cpu cores: {os.cpu_count()}, torch default threads: {default_threads}, "
          f"load average: {os.getloadavg()[0]:.2f}")
    for threads in (1, default_threads):
        model = cnnc.compile(digits.PROGRAM, seed=0)
        hist = train(model, x_tr, y_tr, epochs=args.epochs, augment_with=("rotate", "shift", "zoom"),
                     verbose=False, threads=threads)
        secs = [round(h["seconds"], 2) for h in hist]
        print(f"digits training, {threads} thread(s): seconds per epoch {secs}")

    model = cnnc.compile(os.path.join(ROOT, "examples", "lenet.cnn"), seed=0)
    module = model.to_torch()
    x = np.random.default_rng(0).standard_normal((64, 28, 28, 1)).astype(np.float32)
    xt = torch.from_numpy(x)

    def median_ms(f, reps=15):
        f()
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            f()
            times.append(time.perf_counter() - t0)
        return 1000 * statistics.median(times)

    with torch.no_grad():
        diff = float(np.abs(module(xt).numpy() - model(x)).max())
        t_torch = median_ms(lambda: module(xt))
    t_numpy = median_ms(lambda: model(x))
    print(f"LeNet batch 64 forward: numpy model {t_numpy:.1f} ms, to_torch() module {t_torch:.1f} ms "
          f"(torch {default_threads} threads); max |difference| {diff:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
