"""Bridges benchmark: training through to_torch, one process against torchrun, and to_torch
against the numpy backend.

    .venv/bin/python benchmarks/bridges_train.py [--epochs 3] [--ddp-epochs 20] [--seeds 3]

1. Seconds per training epoch of examples/digits/digits.cnn on the digits (1,437
   images, batch 32, augmentation on) with torch on 1 thread and on torch's default
   thread count -- the measurement behind cnnc.training's one-thread rule.
2. `cnnc train` in one process against `torchrun --standalone --nproc-per-node 2 -m cnnc
   train` (DistributedDataParallel, gloo, one thread each) on the same global batch of
   32: test accuracy on the 360 held-out digits and seconds per epoch, for a few seeds.
   digits.cnn has batchnorm and dropout, which differ per process (statistics of each
   process's half batch, masks drawn per process), so the runs differ like runs with
   another seed; the accuracies are compared seed by seed and on average.
3. Median forward latency of LeNet (examples/lenet.cnn) at batch 64: the numpy
   model and its to_torch() module (eval, no_grad), same weights.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "examples", "digits"))


def cnnc_train(args, processes: int, cwd: str) -> tuple:
    """(test accuracy, median seconds per epoch) of `cnnc train ARGS` in 1 or N processes."""
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1")
    launch = [sys.executable, "-m", "cnnc"] if processes == 1 else \
        [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}", "-m", "cnnc"]
    p = subprocess.run([*launch, "train", *args], capture_output=True, text=True, cwd=cwd, env=env)
    if p.returncode != 0:
        raise SystemExit(p.stdout + p.stderr)
    acc = float(re.search(r"test accuracy ([0-9.]+)", p.stdout).group(1))
    secs = [float(s) for s in re.findall(r"^epoch \d+/\d+: .*\(([0-9.]+)s\)$", p.stderr, re.M)]
    return acc, statistics.median(secs)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=3, help="epochs of the thread comparison (1.)")
    p.add_argument("--ddp-epochs", type=int, default=20, help="epochs of the one-process/torchrun comparison (2.)")
    p.add_argument("--seeds", type=int, default=3, help="seeds of the one-process/torchrun comparison (2.)")
    args = p.parse_args(argv)

    import torch

    import cnnc
    import digits
    from cnnc.training import train
    from machine import describe

    print(describe())
    x_tr, x_te, y_tr, y_te = digits.load_data(0)
    default_threads = torch.get_num_threads()
    print(f"1. torch default threads: {default_threads}")
    for threads in (1, default_threads):
        model = cnnc.compile(digits.PROGRAM, seed=0)
        hist = train(model, x_tr, y_tr, epochs=args.epochs, augment_with=("rotate", "shift", "zoom"),
                     verbose=False, threads=threads, device="cpu")
        secs = [round(h["seconds"], 2) for h in hist]
        print(f"   digits training, {threads} thread(s): seconds per epoch {secs}")

    print(f"2. digits.cnn, {args.ddp_epochs} epochs, Adam lr 0.002, global batch 32, augment rotate,shift,zoom, CPU:")
    with tempfile.TemporaryDirectory() as tmp:
        np.savez(os.path.join(tmp, "train.npz"), x=x_tr, y=y_tr)
        np.savez(os.path.join(tmp, "test.npz"), x=x_te, y=y_te)
        results = {1: [], 2: []}
        for seed in range(args.seeds):
            common = [digits.PROGRAM, "--data", "train.npz", "--test", "test.npz", "--epochs", str(args.ddp_epochs),
                      "--lr", "0.002", "--batch-size", "32", "--augment", "rotate,shift,zoom", "--seed", str(seed),
                      "--device", "cpu", "--threads", "1", "-o", "w.npz"]
            for n in (1, 2):
                acc, sec = cnnc_train(common, n, tmp)
                results[n].append(acc)
                print(f"   seed {seed}, {n} process(es): test accuracy {acc:.4f}, {sec:.2f} s per epoch")
        for n in (1, 2):
            print(f"   mean test accuracy, {n} process(es): {statistics.mean(results[n]):.4f}")

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
    print(f"3. LeNet batch 64 forward: numpy model {t_numpy:.1f} ms, to_torch() module {t_torch:.1f} ms "
          f"(torch {default_threads} threads); max |difference| {diff:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
