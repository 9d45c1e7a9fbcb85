"""LeNet's layer-1 feature maps: the picture in docs/images/.

The course notes' LeNet (examples/lenet.cnn) takes MNIST's 28x28 digits. This
script makes MNIST-like input from scikit-learn's 8x8 digits (no download):
each digit is scaled up to 20x20 and centred on a 28x28 canvas, as MNIST does.
LeNet is trained on them with `cnnc train`, and `cnnc featuremaps` draws the 32
channels of conv_1 for one test digit.

    python examples/digits/lenet_featuremaps.py   # writes out/ and docs/images/lenet_conv1_featuremaps.png
"""

from __future__ import annotations

import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LENET = os.path.join(ROOT, "examples", "lenet.cnn")


def mnist_like(images):
    """(N, 8, 8) digits in 0..16 -> (N, 28, 28, 1) float32 in 0..1, 20x20 digit centred."""
    import torch
    import torch.nn.functional as F

    t = torch.from_numpy(images.astype(np.float32) / 16.0)[:, None]
    t = F.interpolate(t, size=(20, 20), mode="bilinear", align_corners=False).clamp(0, 1)
    t = F.pad(t, (4, 4, 4, 4))
    return t.permute(0, 2, 3, 1).contiguous().numpy()


def main(argv=None) -> int:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    import cnnc
    from cnnc.cli import main as cnnc_main

    out = os.path.join(HERE, "out")
    images_dir = os.path.join(ROOT, "docs", "images")
    os.makedirs(out, exist_ok=True)
    os.makedirs(images_dir, exist_ok=True)

    d = load_digits()
    x_tr, x_te, y_tr, y_te = train_test_split(mnist_like(d.images), d.target, test_size=0.2, random_state=0,
                                              stratify=d.target)
    data = os.path.join(out, "digits28.npz")
    np.savez(data, x=x_tr, y=y_tr)
    weights = os.path.join(out, "lenet_digits.safetensors")
    rc = cnnc_main(["train", LENET, "--data", data, "--epochs", "8", "--augment", "rotate,shift,zoom",
                    "--seed", "0", "-o", weights])
    if rc:
        return rc
    model = cnnc.compile(LENET, weights=weights)
    acc = float((model(x_te).argmax(1) == y_te).mean())
    print(f"LeNet on 28x28 digits: test accuracy {acc:.4f} ({len(y_te)} images)")

    pick = int(np.flatnonzero(y_te == 3)[0])  # a 3: curves and a spine, so edge detectors differ visibly
    image = os.path.join(out, "three.npy")
    np.save(image, x_te[pick])
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.imsave(os.path.join(images_dir, "digit_three_28x28.png"), x_te[pick][..., 0], cmap="gray", vmin=0, vmax=1)
    picture = os.path.join(images_dir, "lenet_conv1_featuremaps.png")
    rc = cnnc_main(["featuremaps", LENET, "--weights", weights, "--image", image, "--layer", "conv_1",
                    "-o", picture])
    if rc:
        return rc
    return cnnc_main(["graph", LENET, "-o", os.path.join(images_dir, "lenet_graph.svg"), "--renderer", "matplotlib"])


if __name__ == "__main__":
    sys.exit(main())
