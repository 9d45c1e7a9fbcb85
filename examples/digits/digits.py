"""The digits example end to end: train -> save safetensors -> compile -> predict.

    python examples/digits/digits.py                     # 40 epochs; writes examples/digits/out/
    python examples/digits/digits.py --epochs 3 --out /tmp/digits   # a quick look

1. scikit-learn's 8x8 digits (no download), pixels scaled from 0..16 to 0..1, a
   stratified 80/20 train/test split (seed 0).
2. digits.cnn is trained through PyTorch (`cnnc.training.train`, the same code as
   `cnnc train`) with small random rotations, shifts and zooms -- no flips: a
   mirrored 2 is no digit.
3. The test accuracy is measured with cnnc's numpy model, and the weights are saved
   as OUT/digits.safetensors.
4. `cnnc compile` writes a numpy module and a triton module with those weights;
   both are imported and shown to predict the same classes. Without a CUDA GPU the
   triton module runs in Triton's interpreter, so only a few test images go through it.
5. With onnx and onnxruntime installed, the ONNX export predicts every test image too.

Every figure it prints is measured on this run, after a line that names the machine.
Training is deterministic: the same seed, device and number of torch threads
(--threads, default 1) give the same weights and the same figures, run after run.
Everything is written under --out (default examples/digits/out/, which git ignores).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAM = os.path.join(HERE, "digits.cnn")
sys.path.insert(0, HERE)


def load_data(seed: int = 0):
    """(x_train, x_test, y_train, y_test): float32 NHWC images in [0, 1], int labels."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[..., None]
    return train_test_split(x, d.target.astype(np.int64), test_size=0.2, random_state=seed, stratify=d.target)


def train_model(epochs: int = 40, seed: int = 0, n_train=None, verbose: bool = True, threads: int = 1,
                device: str = "cpu"):
    """Train digits.cnn; returns (model, history, test accuracy, (x_test, y_test))."""
    import cnnc
    from cnnc.training import train

    x_tr, x_te, y_tr, y_te = load_data(seed)
    if n_train is not None:
        x_tr, y_tr = x_tr[:n_train], y_tr[:n_train]
    model = cnnc.compile(PROGRAM, backend="numpy", seed=seed)
    history = train(model, x_tr, y_tr, epochs=epochs, batch_size=32, lr=2e-3,
                    augment_with=("rotate", "shift", "zoom"), val_split=0.1, seed=seed, verbose=verbose,
                    threads=threads, device=device)
    acc = float((model(x_te).argmax(1) == y_te).mean())
    return model, history, acc, (x_te, y_te)


def import_path(path: str, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def compile_modules(weights: str, out: str, backends=("numpy", "triton")) -> dict:
    """`cnnc compile` digits.cnn for each backend with the trained weights; backend -> loaded model."""
    from cnnc.cli import main as cnnc_main

    loaded = {}
    for backend in backends:
        path = os.path.join(out, f"digits_{backend}.py")
        rc = cnnc_main(["compile", PROGRAM, "--backend", backend, "--weights", weights, "-o", path])
        if rc != 0:
            raise SystemExit(f"cnnc compile --backend {backend} failed (exit {rc})")
        loaded[backend] = import_path(path, f"digits_{backend}").load()
    return loaded


def onnx_check(model, x_te, out: str) -> "str | None":
    """The ONNX export under onnxruntime against the numpy model, or None without onnxruntime."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    path = os.path.join(out, "digits.onnx")
    model.to_onnx(path)
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x_te})[0]
    want = model(x_te)
    same = int((got.argmax(1) == want.argmax(1)).sum())
    return (f"ONNX export under onnxruntime: {same}/{len(x_te)} predictions identical to numpy, "
            f"max |difference| of the probabilities {np.abs(got - want).max():.1e}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch threads while training (default 1)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="cpu", help="where to train (default cpu)")
    p.add_argument("--out", default=os.path.join(HERE, "out"), help="where weights and modules go")
    p.add_argument("--triton-images", type=int, default=None,
                   help="test images to run through the triton module (default: all on a GPU, 20 in the interpreter)")
    args = p.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)

    import torch

    from machine import describe

    gpu = torch.cuda.is_available()
    if not gpu:  # before the triton module is imported: its kernels then run in the interpreter
        os.environ.setdefault("TRITON_INTERPRET", "1")
    print(describe(args.device, args.threads))

    t0, cpu0 = time.monotonic(), time.process_time()
    model, history, acc, (x_te, y_te) = train_model(args.epochs, args.seed, threads=args.threads, device=args.device)
    print(f"trained {args.epochs} epochs in {time.monotonic() - t0:.1f}s (CPU time {time.process_time() - cpu0:.1f}s); "
          f"final validation accuracy {history[-1]['val_acc']:.4f}")
    right = int((model(x_te).argmax(1) == y_te).sum())
    print(f"test accuracy (numpy model): {acc:.4f} ({right}/{len(y_te)})")
    weights = os.path.join(args.out, "digits.safetensors")
    model.save_weights(weights)
    print(f"saved {weights}")

    mods = compile_modules(weights, args.out)
    pred_np = mods["numpy"](x_te).argmax(1)
    n = args.triton_images or (len(x_te) if gpu else 20)
    t0 = time.monotonic()
    out_tr = mods["triton"](x_te[:n])
    out_tr = out_tr.cpu().numpy() if hasattr(out_tr, "cpu") else np.asarray(out_tr)
    pred_tr = out_tr.argmax(1)
    where = "GPU" if gpu else "Triton interpreter"
    same = int((pred_tr == pred_np[:n]).sum())
    print(f"numpy module from cnnc compile: test accuracy {(pred_np == y_te).mean():.4f} "
          f"({int((pred_np == y_te).sum())}/{len(y_te)})")
    print(f"triton module ({where}, {n} images, {time.monotonic() - t0:.1f}s): {same}/{n} predictions identical "
          f"to numpy, max |difference| of the probabilities {np.abs(out_tr - mods['numpy'](x_te[:n])).max():.1e}")
    onnx = onnx_check(model, x_te, args.out)
    if onnx:
        print(onnx)
    return 0 if same == n and acc >= 0.97 else 1


if __name__ == "__main__":
    sys.exit(main())
