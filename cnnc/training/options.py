"""The options of a training run, checked before any work starts, and the learning-rate
schedules.

Schedules set the learning rate once per epoch (e = 1 .. E, E = `epochs`):
  none    lr every epoch
  cosine  lr * (1 + cos(pi * (e - 1) / E)) / 2: from lr down towards 0, as PyTorch's
          CosineAnnealingLR(T_max=E) stepped once per epoch
  step    lr divided by 10 at half and at three quarters of the epochs: lr for
          e <= E // 2, lr / 10 up to e <= 3E // 4, lr / 100 after (PyTorch's MultiStepLR
          with milestones [E // 2, 3E // 4] and gamma 0.1, the classic ResNet rule)
The rate of an epoch depends on the epoch number alone, so a resumed run continues
the schedule exactly.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from .augment import check_augmentations
from .data import DataError

OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("none", "cosine", "step")
DEVICES = ("auto", "cpu", "cuda")
# Keras's and PyTorch's usual starting points: Adam 0.001, SGD (with momentum) 0.01
DEFAULT_LR = {"adam": 1e-3, "sgd": 1e-2}
SGD_MOMENTUM = 0.9


@dataclass
class Options:
    epochs: int = 10
    batch_size: int = 32
    lr: "float | None" = None          # None: DEFAULT_LR of the optimizer
    optimizer: str = "adam"
    schedule: str = "none"
    augment: tuple = ()
    val_split: float = 0.1
    patience: "int | None" = None      # early stopping on the validation loss
    seed: int = 0
    device: str = "auto"
    threads: "int | None" = None

    def checked(self) -> "Options":
        """The options with lr filled in, or a DataError naming the first nonsense value."""
        def whole(name, value, least):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise DataError(f"{name} must be a whole number >= {least}, got {value!r}")

        whole("epochs", self.epochs, 1)
        whole("the batch size", self.batch_size, 1)
        whole("the seed", self.seed, 0)
        if self.patience is not None:
            whole("patience", self.patience, 1)
        if self.threads is not None:
            whole("threads", self.threads, 1)
        if self.optimizer not in OPTIMIZERS:
            raise DataError(f"unknown optimizer '{self.optimizer}'; choose from {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            raise DataError(f"unknown schedule '{self.schedule}'; choose from {', '.join(SCHEDULES)}")
        if self.device not in DEVICES:
            raise DataError(f"unknown device '{self.device}'; choose from {', '.join(DEVICES)}")
        lr = DEFAULT_LR[self.optimizer] if self.lr is None else self.lr
        if not _real(lr) or not math.isfinite(lr) or lr <= 0:
            raise DataError(f"the learning rate must be a finite number > 0, got {lr!r}")
        if not _real(self.val_split) or not 0.0 <= self.val_split < 1.0:
            raise DataError(f"the validation split must be a number in [0, 1), got {self.val_split!r}")
        if self.patience is not None and self.val_split == 0:
            raise DataError("early stopping (patience) watches the validation loss: it needs a validation split > 0")
        augment = check_augmentations(self.augment)
        return Options(**{**asdict(self), "lr": float(lr), "augment": augment})

    def lr_at(self, epoch: int) -> float:
        """The learning rate of epoch `epoch` (1-based) under the schedule."""
        e, n = epoch, self.epochs
        if self.schedule == "cosine":
            return self.lr * (1 + math.cos(math.pi * (e - 1) / n)) / 2
        if self.schedule == "step":
            return self.lr * 0.1 ** ((e > n // 2) + (e > 3 * n // 4))
        return self.lr


def _real(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)
