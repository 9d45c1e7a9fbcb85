"""What a training run shows while it runs: a tqdm bar per epoch on a terminal, and one
line per epoch (loss, accuracies, learning rate, seconds) wherever the stream goes.

The bar is drawn only when the stream is a terminal (a log file or a test's captured
output gets the epoch lines alone), and only when tqdm is installed (it comes with
the `torch` extra).
"""

from __future__ import annotations

import sys


class EpochProgress:
    def __init__(self, stream=None, epochs: int = 1):
        self.stream = stream if stream is not None else sys.stderr
        self.epochs = epochs
        self.bar = None
        self.tqdm = None
        if hasattr(self.stream, "isatty") and self.stream.isatty():
            try:
                from tqdm import tqdm
            except ImportError:
                tqdm = None
            self.tqdm = tqdm

    def start(self, epoch: int, images: int) -> None:
        if self.tqdm is not None:
            self.bar = self.tqdm(total=images, desc=f"epoch {epoch}/{self.epochs}", unit="img", file=self.stream,
                                 leave=False, dynamic_ncols=True, mininterval=0.2)

    def advance(self, images: int, loss: "float | None" = None) -> None:
        if self.bar is not None:
            if loss is not None:
                self.bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
            self.bar.update(images)

    @property
    def wants_loss(self) -> bool:
        """Is a running loss shown (worth a device sync to get it)?"""
        return self.bar is not None

    def finish(self, text: str) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        self.line(text)

    def line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()
