"""The training loop: cross-entropy on the logits of `model.to_torch()`, Adam or SGD,
a learning-rate schedule, validation and early stopping, checkpoints, and the same
code under torchrun as DistributedDataParallel.

Determinism: every epoch draws its shuffle, its augmentations and its dropout masks
from generators seeded with (seed, epoch), so a run is repeatable for a given seed,
thread count, device and number of processes, and a resumed run continues exactly
as the uninterrupted one would. Deterministic algorithms are switched on while
training (and restored afterwards).

Distributed: the global batch (`batch_size`) is split across the processes, each
taking a contiguous share of every batch. The loss of each share is summed and
divided by the global batch's size (times the number of processes, since DDP
averages gradients), so N processes take exactly the steps of one process on the
same global batch; only batch normalization differs (each process takes statistics
of its own share; on GPUs the layers become SyncBatchNorm, which takes them over the
whole batch) and dropout (each process draws its own masks).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict

import numpy as np

from . import checkpoint as ckpt
from .augment import affine_maps, apply_maps
from .data import DataError, check_data, fingerprint, split
from .distributed import start, stop
from .options import SGD_MOMENTUM, Options
from .progress import EpochProgress

# Below this many multiply-adds per batch, torch's intra-op threads cost more than
# they give: on a 2-core machine with other work running, 2 threads made a digits
# epoch 0.4 s -> 4 s. Small networks therefore train on one thread.
SINGLE_THREAD_MACS = 100_000_000
EVAL_BATCH = 256


class TrainingError(RuntimeError):
    """Training failed in a way no check of the options could foresee: the loss or the
    weights stopped being finite numbers. The model keeps its weights from before."""


class History(list):
    """One dict per epoch (epoch, lr, loss, train_acc, val_loss, val_acc, seconds).

    `best_epoch`: with early stopping, the epoch whose weights the model was given;
    `stopped_early`: whether patience ran out before the last epoch."""

    best_epoch: "int | None" = None
    stopped_early: bool = False


def train(model, x, y, epochs: int = 10, batch_size: int = 32, lr: "float | None" = None, augment_with=(),
          val_split: float = 0.1, seed: int = 0, progress=None, verbose: bool = True, threads=None,
          optimizer: str = "adam", schedule: str = "none", patience: "int | None" = None, device: str = "auto",
          checkpoint=None, resume=None, deterministic: bool = True) -> History:
    """Train `model` in place; returns the History (one dict per epoch).

    x (N, H, W, C) and integer y (N,) are checked first, and so are the options
    (DataError, a ValueError). lr None: 0.001 for adam, 0.01 for sgd (momentum 0.9).
    schedule: none, cosine or step (see cnnc.training.options). patience N: stop when
    the validation loss has not improved for N epochs and keep the best epoch's weights.
    device: auto (a GPU when torch sees one), cpu or cuda. checkpoint: a path written
    at the end of every epoch; resume: a checkpoint to continue from. `progress` is the
    stream for the progress (default stderr; verbose=False is silent). threads: torch
    threads while training (default: 1 for small networks, else torch's own setting).
    Under torchrun (WORLD_SIZE > 1) it runs as DistributedDataParallel; only rank 0
    prints and writes checkpoints.
    """
    opts = Options(epochs=epochs, batch_size=batch_size, lr=lr, optimizer=optimizer, schedule=schedule,
                   augment=tuple(augment_with), val_split=val_split, patience=patience, seed=seed,
                   device=device, threads=threads).checked()
    from ..optional import require

    torch = require("torch", "torch")
    x, y = check_data(model.network, x, y)
    place = start(opts.device)
    try:
        if opts.batch_size < place.world:
            raise DataError(f"the batch size ({opts.batch_size}) is the global batch, split across the "
                            f"{place.world} processes: it must be at least {place.world}")
        saved = _enter_torch_settings(torch, model, opts, place, deterministic)
        try:
            return _Run(torch, model, x, y, opts, place, progress, verbose, checkpoint, resume).run()
        finally:
            _restore_torch_settings(torch, saved)
    finally:
        stop(place)


def evaluate(model, x, y, device: str = "auto", batch_size: int = EVAL_BATCH) -> dict:
    """Loss and accuracy of `model` on (x, y) through its torch module: {"loss", "accuracy", "correct", "n"}."""
    from ..optional import require
    from .distributed import choose_device

    torch = require("torch", "torch")
    x, y = check_data(model.network, x, y)
    dev = choose_device(device)
    module = _on(model.to_torch(), dev).eval()
    loss, correct = _evaluate(torch, module, torch.from_numpy(x).to(dev), torch.from_numpy(y).to(dev), batch_size)
    return {"loss": loss / len(y), "accuracy": correct / len(y), "correct": int(correct), "n": len(y)}


def _evaluate(torch, module, x, y, batch_size) -> tuple:
    """(summed cross-entropy, number correct) of a module in eval mode."""
    import torch.nn.functional as F

    was_training = module.training
    module.eval()
    loss, correct = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            out = module.logits(x[i:i + batch_size])
            loss += float(F.cross_entropy(out, y[i:i + batch_size], reduction="sum"))
            correct += int((out.argmax(1) == y[i:i + batch_size]).sum())
    module.train(was_training)
    return loss, correct


def _enter_torch_settings(torch, model, opts, place, deterministic) -> tuple:
    import os

    before = (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled(),
              torch.is_deterministic_algorithms_warn_only_enabled(), torch.backends.cudnn.benchmark)
    threads = opts.threads
    if threads is None:
        threads = 1 if model.network.total_macs * opts.batch_size < SINGLE_THREAD_MACS else before[0]
    torch.set_num_threads(threads)
    if deterministic:
        if place.device.type == "cuda":  # cuBLAS is deterministic only with a fixed workspace
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        # warn_only: an operation without a deterministic kernel warns instead of stopping the run
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    return before


def _restore_torch_settings(torch, before) -> None:
    threads, det, warn_only, benchmark = before
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(det, warn_only=warn_only)
    torch.backends.cudnn.benchmark = benchmark


def _sub_seed(*parts) -> int:
    """A seed for one stream of one epoch (shuffle, augmentation, dropout of a rank)."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0])


SHUFFLE, AUGMENT, DROPOUT = 0, 1, 2


class _Run:
    def __init__(self, torch, model, x, y, opts, place, progress, verbose, checkpoint, resume):
        self.torch, self.model, self.opts, self.place = torch, model, opts, place
        self.x, self.y = x, y
        self.checkpoint, self.resume = checkpoint, resume
        self.show = EpochProgress(progress, opts.epochs) if verbose and place.main else None
        self.history = History()
        self.start_epoch = 0
        self.best = None          # (epoch, val_loss, params) with early stopping
        self.bad_epochs = 0

    # -- set-up ------------------------------------------------------------------
    def run(self) -> History:
        torch, opts, place = self.torch, self.opts, self.place
        xt, yt, xv, yv = split(self.x, self.y, opts.val_split, opts.seed)
        if opts.patience is not None and len(xv) == 0:
            raise DataError(f"a validation split of {opts.val_split} leaves none of the {len(self.x)} images for "
                            f"validation, which early stopping (patience) needs: give a larger split")
        self.data_id = {"images": int(len(self.x)), "sha256": fingerprint(self.x, self.y)}
        names_shapes = {n: tuple(p.shape) for n, p in self.model.to_torch().named_parameters()}
        saved_optimizer = self._resume(names_shapes) if self.resume is not None else None

        self.inner = _on(self.model.to_torch(), place.device)
        stepper = _logits_module(torch, self.inner)
        if place.distributed:
            from torch.nn.parallel import DistributedDataParallel

            if place.device.type == "cuda":
                self.inner = torch.nn.SyncBatchNorm.convert_sync_batchnorm(self.inner)
                stepper = _logits_module(torch, self.inner)
            stepper = DistributedDataParallel(
                stepper, device_ids=[place.device.index] if place.device.type == "cuda" else None)
        params = list(self.inner.parameters())
        if opts.optimizer == "sgd":
            self.opt = torch.optim.SGD(params, lr=opts.lr, momentum=SGD_MOMENTUM)
        else:
            self.opt = torch.optim.Adam(params, lr=opts.lr)
        self.param_names = [n for n, _ in self.inner.named_parameters()]
        if saved_optimizer is not None:
            self._load_optimizer(saved_optimizer)

        dev = place.device
        self.xt, self.yt = torch.from_numpy(xt).to(dev), torch.from_numpy(yt).to(dev)
        self.xv, self.yv = torch.from_numpy(xv).to(dev), torch.from_numpy(yv).to(dev)
        for epoch in range(self.start_epoch + 1, opts.epochs + 1):
            if self._epoch(epoch, stepper):
                self.history.stopped_early = True
                break
        self._final_weights()
        return self.history

    def _resume(self, names_shapes) -> dict:
        opts, path = self.opts, self.resume
        shapes = {k: tuple(v.shape) for k, v in self.model.params.items()}
        state = ckpt.read(path, shapes, names_shapes)
        meta = state["meta"]
        was = meta.get("options", {})
        if was.get("optimizer") != opts.optimizer:
            raise DataError(f"{path} was trained with the {was.get('optimizer')} optimizer; resume it with "
                            f"optimizer {was.get('optimizer')} (its state does not carry over to {opts.optimizer})")
        for key, what in (("seed", "seed"), ("val_split", "validation split")):
            if was.get(key) != getattr(opts, key):
                raise DataError(f"{path} was trained with {what} {was.get(key)}, not {getattr(opts, key)}: "
                                f"the train/validation split would change under it")
        if meta.get("data") != self.data_id:
            raise DataError(f"{path} was trained on other data ({meta.get('data', {}).get('images')} images; "
                            f"these are {self.data_id['images']}, or their contents differ): resume on the same "
                            f"data, or start from trained weights with --weights")
        epoch = int(meta.get("epoch", 0))
        if epoch >= opts.epochs:
            raise DataError(f"{path} has already trained {epoch} epoch(s); ask for more than {epoch} epochs")
        best = meta.get("best")
        if opts.patience is not None and best is not None and state["best"] is not None:
            self.best = (int(best["epoch"]), float(best["val_loss"]), state["best"])
            self.history.best_epoch = self.best[0]
            self.bad_epochs = int(meta.get("bad_epochs", 0))
            if self.bad_epochs >= opts.patience:
                raise DataError(f"{path}: training stopped early at epoch {epoch} (no better validation loss "
                                f"for {self.bad_epochs} epochs); give a larger patience to go on")
        self.model.set_params(state["weights"], where=str(path))
        self.start_epoch = epoch
        for rec in meta.get("history", []):
            self.history.append(dict(rec))
        if self.show:
            self.show.line(f"resuming from {path}: {epoch} of {opts.epochs} epochs done")
        return state["optimizer"]

    def _load_optimizer(self, saved: dict) -> None:
        torch = self.torch
        missing = [n for n in self.param_names if n not in saved]
        if missing and saved:
            raise DataError(f"{self.resume}: no optimizer state for {missing[0]}")
        sd = self.opt.state_dict()
        sd["state"] = {i: {k: torch.from_numpy(np.array(v)) for k, v in saved[n].items()}
                       for i, n in enumerate(self.param_names) if n in saved}
        self.opt.load_state_dict(sd)

    # -- one epoch -------------------------------------------------------------------
    def _epoch(self, epoch: int, stepper) -> bool:
        """Train one epoch, validate, checkpoint; True when early stopping says stop."""
        torch, opts, place = self.torch, self.opts, self.place
        import torch.nn.functional as F

        t0 = time.monotonic()
        lr = opts.lr_at(epoch)
        for group in self.opt.param_groups:
            group["lr"] = lr
        order = torch.randperm(len(self.xt), generator=torch.Generator().manual_seed(_sub_seed(opts.seed, epoch, SHUFFLE)))
        aug = torch.Generator().manual_seed(_sub_seed(opts.seed, epoch, AUGMENT))
        torch.manual_seed(_sub_seed(opts.seed, epoch, DROPOUT, place.rank))
        self.inner.train()
        sums = torch.zeros(3, dtype=torch.float64, device=place.device)   # loss, correct, images
        n, batch, world, rank = len(self.xt), opts.batch_size, place.world, place.rank
        if self.show:
            self.show.start(epoch, n)
        for s in range(0, n, batch):
            idx = order[s:s + batch]
            g = len(idx)
            if s > 0 and g < 2 * world:
                break  # a last batch too small to give every process two images (batchnorm needs two)
            lo, hi = g * rank // world, g * (rank + 1) // world
            local = idx[lo:hi].to(place.device)
            xb, yb = self.xt[local], self.yt[local]
            if opts.augment:  # maps for the whole global batch, from the same generator on every process
                theta = affine_maps(g, opts.augment, aug)[lo:hi]
                xb = apply_maps(xb.permute(0, 3, 1, 2), theta).permute(0, 2, 3, 1)
            logits = stepper(xb)
            summed = F.cross_entropy(logits, yb, reduction="sum")
            self.opt.zero_grad(set_to_none=True)
            (summed * (world / g)).backward()  # DDP averages over processes: the global batch's mean
            self.opt.step()
            sums += torch.stack([summed.detach().double(), (logits.argmax(1) == yb).sum().double(),
                                 torch.tensor(float(len(local)), dtype=torch.float64, device=place.device)])
            if self.show:
                self.show.advance(g, float(sums[0] / sums[2]) if self.show.wants_loss else None)
        finite = all(bool(torch.isfinite(t).all()) for t in (*self.inner.parameters(), *self.inner.buffers())
                     if t.is_floating_point())
        stats = torch.cat([sums, torch.tensor([0.0 if finite else 1.0], dtype=torch.float64, device=place.device)])
        if place.distributed:
            import torch.distributed as dist

            dist.all_reduce(stats)
            for b in self.inner.buffers():  # batchnorm's running statistics: rank 0's, everywhere
                dist.broadcast(b, 0)
        loss, train_acc = float(stats[0] / stats[2]), float(stats[1] / stats[2])
        if stats[3] > 0 or not math.isfinite(loss):
            self._diverged(epoch, lr, "the weights" if stats[3] > 0 else "the loss")
        val_loss, val_acc = self._validate()
        if val_loss is not None and not math.isfinite(val_loss):
            self._diverged(epoch, lr, "the validation loss")
        rec = {"epoch": epoch, "lr": lr, "loss": loss, "train_acc": train_acc, "val_loss": val_loss,
               "val_acc": val_acc, "seconds": time.monotonic() - t0}
        self.history.append(rec)
        stop = self._early_stopping(epoch, val_loss)
        if self.checkpoint is not None:
            self._write_checkpoint(epoch, stop)
        if self.show:
            self.show.finish(_epoch_line(rec, opts.epochs))
        return stop

    def _validate(self) -> tuple:
        """(val loss, val acc) computed by rank 0 and shared, so every process decides alike."""
        torch, place = self.torch, self.place
        if len(self.xv) == 0:
            return None, None
        result = torch.zeros(2, dtype=torch.float64, device=place.device)
        if place.main:
            loss, correct = _evaluate(torch, self.inner, self.xv, self.yv, EVAL_BATCH)
            result[0], result[1] = loss / len(self.xv), correct / len(self.xv)
        if place.distributed:
            import torch.distributed as dist

            dist.broadcast(result, 0)
        return float(result[0]), float(result[1])

    def _early_stopping(self, epoch: int, val_loss) -> bool:
        if self.opts.patience is None:
            return False
        if self.best is None or val_loss < self.best[1]:
            self.best = (epoch, val_loss, self._params())
            self.bad_epochs = 0
        else:
            self.bad_epochs += 1
        return self.bad_epochs >= self.opts.patience

    def _diverged(self, epoch: int, lr: float, what: str):
        kept = ""
        if self.checkpoint is not None and self.history:
            kept = f"; {self.checkpoint} still holds epoch {self.history[-1]['epoch']}"
        raise TrainingError(f"training diverged in epoch {epoch}: {what} became NaN or infinite "
                            f"(learning rate {lr:g}); try a smaller learning rate{kept}")

    # -- weights ---------------------------------------------------------------------
    def _params(self) -> dict:
        """The module's current weights in cnnc's names and layouts (copies)."""
        self.model.load_torch({k: v.detach().cpu() for k, v in self.inner.state_dict().items()})
        return {k: np.array(v) for k, v in self.model.params.items()}

    def _write_checkpoint(self, epoch: int, stopped: bool) -> None:
        if not self.place.main:
            return
        weights = self._params()
        state = self.opt.state_dict()["state"]
        optimizer = {self.param_names[i]: {k: v.detach().cpu().numpy() for k, v in st.items()
                                           if self.torch.is_tensor(v)} for i, st in state.items()}
        options = asdict(self.opts)
        options["augment"] = list(options["augment"])
        meta = {"epoch": epoch, "options": options, "data": self.data_id, "history": list(self.history),
                "best": {"epoch": self.best[0], "val_loss": self.best[1]} if self.best else None,
                "bad_epochs": self.bad_epochs, "stopped_early": stopped, "processes": self.place.world}
        ckpt.write(self.checkpoint, weights, optimizer, meta, best=self.best[2] if self.best else None)

    def _final_weights(self) -> None:
        self.inner.eval()
        if self.best is not None:
            self.model.set_params(self.best[2], where="the best epoch's weights")
            self.history.best_epoch = self.best[0]
        else:
            self._params()


def _on(module, device):
    """The module on `device` (to_torch builds it on the CPU, where it then stays untouched)."""
    return module if device.type == "cpu" else module.to(device)


def _logits_module(torch, inner):
    """A module whose forward is `inner.logits`: what DDP wraps (it syncs gradients of forward calls)."""

    class Logits(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return self.inner.logits(x)

    return Logits()


def _epoch_line(rec: dict, epochs: int) -> str:
    val = (f", val loss {rec['val_loss']:.4f}, val acc {rec['val_acc']:.4f}" if rec["val_acc"] is not None
           else ", no validation set")
    return (f"epoch {rec['epoch']}/{epochs}: loss {rec['loss']:.4f}, train acc {rec['train_acc']:.4f}{val}, "
            f"lr {rec['lr']:.3g} ({rec['seconds']:.1f}s)")
