"""Training through PyTorch: `train(model, x, y, ...)` and what `cnnc train` builds on.

The model is turned into an nn.Module with `to_torch`, trained on cross-entropy
with Adam or SGD (momentum 0.9), and its weights are written back with `load_torch`
(batchnorm's running statistics included). A network that ends in softmax is trained
on the logits before it (F.cross_entropy = log-softmax + NLL, computed stably); any
other output is taken as the logits themselves.

    data.py         the .npz data, its checks (from the headers first), the split
    augment.py      rotate, shift, zoom, flip
    options.py      the options' checks and the learning-rate schedules
    loop.py         the loop: validation, early stopping, checkpoints, DDP
    checkpoint.py   the checkpoint file (arrays + JSON, never pickled)
    distributed.py  the device and torchrun's process group
    progress.py     the tqdm bar and the per-epoch lines
"""

from .augment import AUGMENTATIONS, augment, parse_augment
from .data import DataError, check_data, load_data, n_classes, split
from .distributed import is_main_process
from .loop import SINGLE_THREAD_MACS, History, TrainingError, evaluate, train
from .options import DEFAULT_LR, OPTIMIZERS, SCHEDULES, Options

__all__ = ["AUGMENTATIONS", "DEFAULT_LR", "OPTIMIZERS", "SCHEDULES", "SINGLE_THREAD_MACS", "DataError", "History",
           "Options", "TrainingError", "augment", "check_data", "evaluate", "is_main_process", "load_data",
           "n_classes", "parse_augment", "split", "train"]
