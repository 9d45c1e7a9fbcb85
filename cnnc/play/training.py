"""The Train button: the digits example (scikit-learn's 1,797 handwritten 8x8 digits, no
download) trained in a background thread, with each epoch's line as progress and the test
accuracy at the end. The trained weights stay in memory: the feature maps use them while
the program keeps their shapes; nothing is written (Save writes the program only).

Where it fits: a network that ends in a vector of 10 class scores and takes a gray (C = 1)
or RGB (C = 3, the gray digit in each channel) image of at least 8x8. The digits are used
as they are for an 8x8 input, else as MNIST is made (and as examples/digits/lenet_featuremaps.py
does): each digit scaled to 20/28 of the input and centred on a black canvas, so LeNet's
28x28 gets 20x20 digits. A network too costly to train here in a minute or so is refused.
The split is the example's: stratified 80/20, seed 0 (360 test images).
"""

from __future__ import annotations

import re
import threading

EPOCHS = 5                      # what the button asks for (a request may ask 1 to MAX_EPOCHS)
MAX_EPOCHS = 20
MAX_TRAIN_MACS = 3 * 10**11     # multiply-adds of the whole run (forward and backward, all epochs)
TRAIN_IMAGES = 1_437            # the 80 % of 1,797 that the split trains on


def fits(net, epochs: int = EPOCHS) -> "str | None":
    """Why the digits do not fit `net` (a sentence), or None when Train can run `epochs`."""
    from ..layers import Vector

    h, w, c = net.input_shape
    out = net.output.out
    if not isinstance(out, Vector) or out.n != 10:
        return (f"the digits have 10 classes, and this network gives {out.describe()}; "
                f"end it with a vector of 10 (e.g. flatten; dense 10 softmax) to train it on them")
    if c not in (1, 3):
        return f"the digits are gray images, and this network takes {c} channels (1 or 3 would fit)"
    if h < 8 or w < 8:
        return f"the digits are 8x8, larger than this network's {h}x{w} input"
    work = 3 * net.total_macs * TRAIN_IMAGES * epochs
    if work > MAX_TRAIN_MACS:
        return (f"{epochs} epochs would take about {work:.1e} multiply-adds, more than the playground "
                f"trains ({MAX_TRAIN_MACS:.0e}); cnnc train does it from the command line")
    return None


def missing_packages() -> "str | None":
    """What Train needs that is not installed (torch, scikit-learn), as the pip command, or None."""
    import importlib.util

    missing = [name for name, module in (("torch", "torch"), ("scikit-learn", "sklearn"))
               if importlib.util.find_spec(module) is None]
    if not missing:
        return None
    return f"Train needs {' and '.join(missing)}: pip install 'cnnc[torch]' scikit-learn"


def digits(shape, seed: int = 0):
    """(x_train, x_test, y_train, y_test) for an input `shape` (H, W, C): float32 in [0, 1]."""
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = _resized(d.images.astype(np.float32) / 16.0, shape)
    return train_test_split(x, d.target.astype(np.int64), test_size=0.2, random_state=seed, stratify=d.target)


def _resized(images, shape):
    """(N, 8, 8) in [0, 1] -> (N, H, W, C): unchanged for 8x8, else scaled to 20/28 of H and
    W (bilinear, half-pixel centres) and centred on zeros; C copies of the gray image."""
    import numpy as np

    h, w, c = shape
    if (h, w) != (8, 8):
        import torch
        import torch.nn.functional as F

        dh, dw = max(8, round(h * 20 / 28)), max(8, round(w * 20 / 28))
        t = F.interpolate(torch.from_numpy(images)[:, None], size=(dh, dw), mode="bilinear",
                          align_corners=False).clamp(0, 1)[:, 0].numpy()
        canvas = np.zeros((len(images), h, w), np.float32)
        top, left = (h - dh) // 2, (w - dw) // 2
        canvas[:, top:top + dh, left:left + dw] = t
        images = canvas
    return np.repeat(images[..., None], c, axis=-1).astype(np.float32)


class _Lines:
    """The stream training prints to: complete lines go to `job.line`."""

    def __init__(self, job):
        self.job, self.buffer = job, ""

    def write(self, text: str) -> int:
        self.buffer += text
        while "\n" in self.buffer:
            line, self.buffer = self.buffer.split("\n", 1)
            if line.strip():
                self.job.line(line.strip())
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


_EPOCH = re.compile(r"^epoch (\d+)/(\d+)")


class Job:
    """One training run at a time: `start(model, done)` trains in a thread; `status()` is
    what the page polls. `done(model, accuracy, epochs)` is called with the trained model."""

    def __init__(self):
        self.lock = threading.Lock()
        self.state = {"state": "idle", "epoch": 0, "epochs": 0, "lines": [], "accuracy": None, "message": ""}
        self.thread = None

    def status(self) -> dict:
        with self.lock:
            return {**self.state, "lines": list(self.state["lines"][-20:])}

    def line(self, text: str) -> None:
        with self.lock:
            self.state["lines"].append(text)
            m = _EPOCH.match(text)
            if m:
                self.state["epoch"] = int(m.group(1))

    def running(self) -> bool:
        with self.lock:
            return self.state["state"] == "running"

    def start(self, model, done, epochs: int = EPOCHS) -> bool:
        """False when a run is already going."""
        with self.lock:
            if self.state["state"] == "running":
                return False
            self.state = {"state": "running", "epoch": 0, "epochs": epochs, "lines": [], "accuracy": None,
                          "message": "loading the digits"}
        self.thread = threading.Thread(target=self._run, args=(model, done, epochs), daemon=True,
                                       name="cnnc-play-train")
        self.thread.start()
        return True

    def _run(self, model, done, epochs) -> None:
        try:
            from ..training import train

            x_tr, x_te, y_tr, y_te = digits(model.network.input_shape)
            with self.lock:
                self.state["message"] = f"training on {len(x_tr):,} digits ({len(x_te)} kept for the test)"
            train(model, x_tr, y_tr, epochs=epochs, batch_size=32, lr=2e-3, val_split=0.1, seed=0,
                  progress=_Lines(self), verbose=True, device="cpu")
            right = int((model(x_te).argmax(1) == y_te).sum())
            accuracy = right / len(y_te)
            done(model, accuracy, epochs)
            with self.lock:
                self.state.update(state="done", accuracy=accuracy,
                                  message=f"test accuracy {accuracy:.1%} ({right}/{len(y_te)} test digits)")
        except Exception as e:   # shown on the page; the server goes on
            with self.lock:
                self.state.update(state="failed", message=f"{type(e).__name__}: {e}"[:500])
