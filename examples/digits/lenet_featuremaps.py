"""LeNet's layer-1 feature maps: the pictures in docs/images/, made again in a folder you name.

The course notes' LeNet (examples/lenet.cnn) takes MNIST's 28x28 digits. This
script makes MNIST-like input from scikit-learn's 8x8 digits (no download):
each digit is scaled up to 20x20 and centred on a 28x28 canvas, as MNIST does.
LeNet is trained on them with `cnnc train` (on the CPU, one torch thread: the same
weights on every run), and `cnnc featuremaps` draws the 32 channels of conv_1 for
one test digit; `cnnc graph` draws LeNet.

    python examples/digits/lenet_featuremaps.py --out /tmp/pictures
    cmp /tmp/pictures/lenet_conv1_featuremaps.png docs/images/lenet_conv1_featuremaps.png

It writes only under --out (default examples/digits/out/lenet/, which git ignores):
digit_three_28x28.png, lenet_conv1_featuremaps.png and lenet_graph.svg/.dot -- the
files of docs/images, byte for byte with the versions in constraints.txt -- and
the data, weights and image they come from.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LENET = os.path.join(ROOT, "examples", "lenet.cnn")
sys.path.insert(0, HERE)


def mnist_like(images):
    """(N, 8, 8) digits in 0..16 -> (N, 28, 28, 1) float32 in 0..1, 20x20 digit centred."""
    import torch
    import torch.nn.functional as F

    t = torch.from_numpy(images.astype(np.float32) / 16.0)[:, None]
    t = F.interpolate(t, size=(20, 20), mode="bilinear", align_corners=False).clamp(0, 1)
    t = F.pad(t, (4, 4, 4, 4))
    return t.permute(0, 2, 3, 1).contiguous().numpy()


def edge_detectors(kernel) -> list:
    """Which 3x3 kernels (KH, KW, 1, C) are oriented edge detectors, as lines of text.

    A kernel counts when its weights nearly cancel (|sum| < half the sum of |w|: it
    answers to change, not to brightness) and one direction dominates: (bottom row -
    top row) or (right column - left column) is at least half the sum of |w|. A kernel
    with a negative top row and a positive bottom row lights up where a stroke begins
    below dark paper: the top edges of strokes."""
    k = np.asarray(kernel)[:, :, 0, :]
    found = {"top": [], "bottom": [], "left": [], "right": []}
    for c in range(k.shape[-1]):
        w = k[..., c]
        size = np.abs(w).sum()
        dy, dx = (w[-1].sum() - w[0].sum()) / size, (w[:, -1].sum() - w[:, 0].sum()) / size
        if abs(w.sum()) >= size / 2 or max(abs(dy), abs(dx)) < 0.5:
            continue
        if abs(dy) >= abs(dx):
            found["top" if dy > 0 else "bottom"].append(c)
        else:
            found["left" if dx > 0 else "right"].append(c)
    lines = [f"conv_1 edge detectors ({sum(map(len, found.values()))} of {k.shape[-1]} kernels):"]
    for side, channels in found.items():
        lines.append(f"  {side} edges of strokes: channels {', '.join(map(str, channels)) or 'none'}")
    return lines


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=os.path.join(HERE, "out", "lenet"), help="the folder to write into")
    p.add_argument("--epochs", type=int, default=8)
    args = p.parse_args(argv)

    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    import cnnc
    from cnnc.cli import main as cnnc_main
    from machine import describe

    out = args.out
    os.makedirs(out, exist_ok=True)
    print(describe("cpu", 1))

    d = load_digits()
    x_tr, x_te, y_tr, y_te = train_test_split(mnist_like(d.images), d.target, test_size=0.2, random_state=0,
                                              stratify=d.target)
    data = os.path.join(out, "digits28.npz")
    np.savez(data, x=x_tr, y=y_tr)
    weights = os.path.join(out, "lenet_digits.safetensors")
    rc = cnnc_main(["train", LENET, "--data", data, "--epochs", str(args.epochs), "--augment", "rotate,shift,zoom",
                    "--seed", "0", "--device", "cpu", "--threads", "1", "-o", weights])
    if rc:
        return rc
    model = cnnc.compile(LENET, weights=weights)
    right = int((model(x_te).argmax(1) == y_te).sum())
    print(f"LeNet on 28x28 digits, {args.epochs} epochs: test accuracy {right / len(y_te):.4f} ({right}/{len(y_te)})")

    for line in edge_detectors(model.params["conv_1.kernel"]):
        print(line)

    pick = int(np.flatnonzero(y_te == 3)[0])  # a 3: curves and a spine, so edge detectors differ visibly
    image = os.path.join(out, "three.npy")
    np.save(image, x_te[pick])
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.imsave(os.path.join(out, "digit_three_28x28.png"), x_te[pick][..., 0], cmap="gray", vmin=0, vmax=1)
    rc = cnnc_main(["featuremaps", LENET, "--weights", weights, "--image", image, "--layer", "conv_1",
                    "-o", os.path.join(out, "lenet_conv1_featuremaps.png")])
    if rc:
        return rc
    for picture in ("lenet_graph.svg", "lenet_graph.dot"):
        rc = cnnc_main(["graph", LENET, "-o", os.path.join(out, picture), "--renderer", "matplotlib"])
        if rc:
            return rc
    return 0


if __name__ == "__main__":
    sys.exit(main())
