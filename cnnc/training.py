"""Training through PyTorch: `train(model, x, y, ...)` and the data checks of `cnnc train`.

The model is turned into an nn.Module with `to_torch`, trained with Adam on
cross-entropy, and its weights are written back with `load_torch` (batchnorm's
running statistics included). A network that ends in softmax is trained on the
logits before it (F.cross_entropy = log-softmax + NLL, computed stably); any other
output is taken as the logits themselves.

Augmentations (the course notes' fix for CNNs not being rotation invariant),
applied per batch on the fly with one random affine map per image:
  rotate  a small rotation, up to +-10 degrees
  shift   up to +-10 % of the width and height
  zoom    a scale between 0.9 and 1.1
  flip    a horizontal mirror with probability 1/2 -- only when asked: it turns
          a 2 into a mirrored 2 that is no digit at all
"""

from __future__ import annotations

import math
import sys
import time

import numpy as np

from . import layers as L

AUGMENTATIONS = ("rotate", "shift", "zoom", "flip")
MAX_ROTATION_DEG, MAX_SHIFT, MAX_ZOOM = 10.0, 0.10, 0.10


class DataError(ValueError):
    """The training data does not fit the network (missing keys, wrong shapes, bad labels)."""


def parse_augment(text: "str | None") -> tuple:
    """`rotate,shift` -> ("rotate", "shift"); an unknown name is a DataError."""
    if not text:
        return ()
    return _check_augmentations(t.strip() for t in text.split(",") if t.strip())


def _check_augmentations(names) -> tuple:
    names = tuple(names)
    for n in names:
        if n not in AUGMENTATIONS:
            raise DataError(f"unknown augmentation '{n}'; choose from {', '.join(AUGMENTATIONS)}")
    return names


def n_classes(net) -> int:
    out = net.output.out
    if not isinstance(out, L.Vector):
        raise DataError(f"training needs a network that ends in a vector of class scores, "
                        f"but {net.output.name} gives an image {out}")
    return out.n


def check_data(net, x, y) -> tuple:
    """x as float32 (N, H, W, C) and y as int64 (N,), or a DataError saying what is wrong."""
    k = n_classes(net)
    x = np.asarray(x)
    y = np.asarray(y)
    h, w, c = net.input_shape
    if x.ndim == 3 and c == 1:
        x = x[..., None]
    if x.dtype.kind not in "fiub":
        raise DataError(f"x must be numeric, got dtype {x.dtype}")
    if x.ndim != 4 or x.shape[1:] != (h, w, c):
        raise DataError(f"x must have shape (N, {h}, {w}, {c}) for this network, got {x.shape}")
    if x.shape[0] == 0:
        raise DataError("x holds no images")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim == 2 and y.shape == (x.shape[0], k):
        raise DataError(f"y looks one-hot (shape {y.shape}); cnnc train wants class numbers: save y.argmax(1)")
    if y.ndim != 1 or y.shape[0] != x.shape[0]:
        raise DataError(f"y must be a vector of {x.shape[0]} integer labels (one per image), got shape {y.shape}")
    if y.dtype.kind == "f" and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
        y = y.astype(np.int64)
    if y.dtype.kind not in "iu":
        raise DataError(f"y must hold integer class labels, got dtype {y.dtype}")
    if y.min() < 0 or y.max() >= k:
        raise DataError(f"labels must be in 0..{k - 1} (the network has {k} outputs), "
                        f"found {int(y.min())}..{int(y.max())}")
    x = x.astype(np.float32)
    if not np.all(np.isfinite(x)):
        raise DataError("x holds NaN or infinite values")
    return x, y.astype(np.int64)


def load_data(path, net) -> tuple:
    """(x, y) from an .npz with arrays `x` (N, H, W, C) and integer `y` (N,); never unpickles."""
    try:
        with np.load(path, allow_pickle=False) as f:
            keys = set(f.files)
            missing = [k for k in ("x", "y") if k not in keys]
            if missing:
                raise DataError(f"{path} has no array named {' or '.join(repr(m) for m in missing)} "
                                f"(it has {', '.join(sorted(keys)) or 'nothing'}); save it with np.savez(path, x=..., y=...)")
            x, y = f["x"], f["y"]
    except DataError:
        raise
    except (OSError, ValueError, EOFError) as e:
        from .runtime.weights import np_load_problem

        raise DataError(f"cannot read {path} as an .npz of arrays: {np_load_problem(e)}") from None
    return check_data(net, x, y)


def split(x, y, val_split: float, seed: int) -> tuple:
    """A seeded shuffle, then the last `val_split` of it as the validation set."""
    if not 0.0 <= val_split < 1.0:
        raise DataError(f"the validation split must be in [0, 1), got {val_split}")
    order = np.random.default_rng(seed).permutation(len(x))
    n_val = int(round(len(x) * val_split))
    if n_val >= len(x):
        n_val = len(x) - 1
    tr, va = order[:len(x) - n_val], order[len(x) - n_val:]
    return x[tr], y[tr], x[va], y[va]


def augment(batch, kinds, generator):
    """Random affine maps of an NCHW batch (torch); kinds from AUGMENTATIONS."""
    import torch
    import torch.nn.functional as F

    if not kinds:
        return batch
    n = batch.shape[0]

    def uniform(lo, hi):
        return torch.rand(n, generator=generator) * (hi - lo) + lo

    angle = uniform(-1, 1) * math.radians(MAX_ROTATION_DEG) if "rotate" in kinds else torch.zeros(n)
    scale = uniform(1 - MAX_ZOOM, 1 + MAX_ZOOM) if "zoom" in kinds else torch.ones(n)
    # affine_grid works in [-1, 1] coordinates: a shift of 10 % of the size is 0.2
    tx = uniform(-2 * MAX_SHIFT, 2 * MAX_SHIFT) if "shift" in kinds else torch.zeros(n)
    ty = uniform(-2 * MAX_SHIFT, 2 * MAX_SHIFT) if "shift" in kinds else torch.zeros(n)
    flip = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0) if "flip" in kinds else torch.ones(n)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos * flip, -sin, tx], 1), torch.stack([sin * flip, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(batch.shape), align_corners=False)
    return F.grid_sample(batch, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


class Progress:
    """A one-line progress bar on a stream (stderr): `epoch 2/10 [#####-----] 480/960 loss 0.4123`."""

    def __init__(self, stream=None, width: int = 24):
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last = 0.0

    def update(self, epoch, epochs, done, total, loss) -> None:
        now = time.monotonic()
        if done < total and (not self.tty or now - self._last < 0.1):
            return  # redraw at most 10 times a second, and only on a terminal
        self._last = now
        fill = int(self.width * done / max(total, 1))
        bar = "#" * fill + "-" * (self.width - fill)
        self.stream.write(f"\repoch {epoch}/{epochs} [{bar}] {done}/{total} loss {loss:.4f}")
        self.stream.flush()

    def finish(self, text: str) -> None:
        self.stream.write(f"  {text}\n")
        self.stream.flush()


def accuracy(module, x, y, batch_size: int = 512) -> float:
    """Top-1 accuracy of a torch module (eval mode) on numpy x, y."""
    import torch

    if len(x) == 0:
        return float("nan")
    was_training = module.training
    module.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            out = module.logits(torch.from_numpy(x[i:i + batch_size]))
            correct += int((out.argmax(1).numpy() == y[i:i + batch_size]).sum())
    module.train(was_training)
    return correct / len(x)


# Below this many multiply-adds per batch, torch's intra-op threads cost more than
# they give: on a 2-core machine with other work running, 2 threads made a digits
# epoch 0.4 s -> 4 s. Small networks therefore train on one thread.
SINGLE_THREAD_MACS = 100_000_000


def train(model, x, y, epochs: int = 10, batch_size: int = 32, lr: float = 1e-3, augment_with=(),
          val_split: float = 0.1, seed: int = 0, progress=None, verbose: bool = True, threads=None) -> list:
    """Train `model` in place; returns one dict per epoch: epoch, loss, train_acc, val_acc, seconds.

    x (N, H, W, C) and integer y (N,) are checked first (DataError). `progress` is
    the stream for the progress bar (default stderr; verbose=False is silent).
    `threads`: torch threads while training (default: 1 for small networks, else
    torch's own setting); the previous setting is restored afterwards.
    """
    from .optional import require

    torch = require("torch", "torch")
    before = torch.get_num_threads()
    if threads is None:
        threads = 1 if model.network.total_macs * batch_size < SINGLE_THREAD_MACS else before
    torch.set_num_threads(max(1, int(threads)))
    try:
        return _train(model, x, y, epochs, batch_size, lr, augment_with, val_split, seed, progress, verbose)
    finally:
        torch.set_num_threads(before)


def _train(model, x, y, epochs, batch_size, lr, augment_with, val_split, seed, progress, verbose) -> list:
    import torch  # train() has checked that it is installed
    import torch.nn.functional as F

    from .bridges.torch_module import to_torch

    net = model.network
    x, y = check_data(net, x, y)
    if epochs < 1 or batch_size < 1 or not lr > 0:
        raise DataError(f"epochs and batch size must be >= 1 and the learning rate > 0, "
                        f"got epochs={epochs}, batch size={batch_size}, lr={lr}")
    kinds = _check_augmentations(augment_with)
    xt, yt, xv, yv = split(x, y, val_split, seed)

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    module = to_torch(model)
    opt = torch.optim.Adam(module.parameters(), lr=lr)
    bar = Progress(progress) if verbose else None
    history = []
    for epoch in range(1, epochs + 1):
        t0 = time.monotonic()
        module.train()
        order = torch.randperm(len(xt), generator=gen)
        total_loss, seen, correct = 0.0, 0, 0
        for i in range(0, len(xt), batch_size):
            idx = order[i:i + batch_size].numpy()
            xb = torch.from_numpy(xt[idx])
            yb = torch.from_numpy(yt[idx])
            if kinds:  # augment in NCHW, hand back NHWC
                xb = augment(xb.permute(0, 3, 1, 2), kinds, gen).permute(0, 2, 3, 1)
            logits = module.logits(xb)
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total_loss += loss.item() * len(idx)
            correct += int((logits.argmax(1) == yb).sum())
            seen += len(idx)
            if bar:
                bar.update(epoch, epochs, seen, len(xt), total_loss / seen)
        seconds = time.monotonic() - t0
        rec = {"epoch": epoch, "loss": total_loss / seen, "train_acc": correct / seen,
               "val_acc": accuracy(module, xv, yv) if len(xv) else None, "seconds": seconds}
        history.append(rec)
        if bar:
            va = f"val acc {rec['val_acc']:.4f}" if rec["val_acc"] is not None else "no validation set"
            bar.finish(f"train acc {rec['train_acc']:.4f}  {va}  ({rec['seconds']:.1f}s)")
    module.eval()
    from .bridges.torch_import import load_torch

    load_torch(model, module)
    return history
