"""Print how far Keras's own float32 logits are from float64, for keras.applications networks
built as tests/test_from_keras.py builds them (random weights, calibrated batchnorms, its sizes).

The same model is built again under keras.config.set_dtype_policy("float64") and given the
same weights; both run on the test's input. Printed per network: the largest float32-vs-
float64 difference as a fraction of the largest logit, and how far the test's other input
moves the logits, as a fraction of the same. A comparison tolerance (test_from_keras.RTOL)
must lie above the first and at most a hundredth of the second.

    KERAS_BACKEND=torch python scripts/keras_float_error.py ConvNeXtTiny ConvNeXtSmall ...

Needs keras and torch; a minute or more per network.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("KERAS_BACKEND", "torch")


def main(names) -> None:
    import keras
    import numpy as np
    from keras_models import application, images, keras_out
    from test_from_keras import SIZES

    for name in names:
        size = SIZES.get(name, 32)
        km = application(name, size)
        x, other = images((size, size, 3), 2), images((size, size, 3), 2, seed=7)
        want = keras_out(km, x)
        moved = np.abs(keras_out(km, other) - want).max()
        weights = [w.numpy() if hasattr(w, "numpy") else np.asarray(w) for w in km.get_weights()]
        keras.config.set_dtype_policy("float64")
        try:
            k64 = getattr(keras.applications, name)(weights=None, input_shape=(size, size, 3),
                                                   classifier_activation=None)
            k64.set_weights([w.astype(np.float64) for w in weights])
            exact = keras_out(k64, x.astype(np.float64))
        finally:
            keras.config.set_dtype_policy("float32")
        scale = float(np.abs(exact).max())
        print(f"{name} at {size}x{size}: float32 error {np.abs(want - exact).max() / scale:.2g} of the largest "
              f"logit ({scale:.3g}); the other input moves the logits by {moved / scale:.2g} of it", flush=True)
        del km, k64


if __name__ == "__main__":
    main(sys.argv[1:])
