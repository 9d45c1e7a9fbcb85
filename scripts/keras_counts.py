"""Print Keras's parameter counts for every program in examples/keras/, beside cnnc's.

Each program's header names the `keras.applications` call it equals and the counts it
states; this script builds that model with Keras 3 (`KERAS_BACKEND=torch`, no weights
downloaded), prints its `count_params()` and the size of its trainable weights, cnnc's
`total_params` and `trainable_params` for the program, and whether the header states the
same numbers. The counts in the headers (and in tests/test_keras_examples.py) come from here.

    KERAS_BACKEND=torch python scripts/keras_counts.py [NAME...]     # NAME: a file's stem

Exit status 1 when any count differs. Needs keras (and torch); takes a minute or two.
"""

from __future__ import annotations

import ast
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("KERAS_BACKEND", "torch")

HEADER = re.compile(r"keras\.applications\.(\w+)\((.*?)\),\s*([\d,]+) parameters\s*\(([\d,]+) trainable")


def header(path: Path):
    """(constructor, keyword arguments, total, trainable) as the program's header states them."""
    lines = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("# "))
    m = HEADER.search(" ".join(lines))
    if m is None:
        raise SystemExit(f"{path}: the header names no keras.applications call with its counts")
    call = ast.parse(f"f({m.group(2)})", mode="eval").body
    kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
    return m.group(1), kwargs, int(m.group(3).replace(",", "")), int(m.group(4).replace(",", ""))


def main(names) -> int:
    import keras
    import numpy as np

    import cnnc

    paths = [ROOT / "examples" / "keras" / f"{n}.cnn" for n in names] or \
        sorted((ROOT / "examples" / "keras").glob("*.cnn"))
    print(f"keras {keras.__version__}, backend {keras.backend.backend()}")
    print(f"{'example':22} {'keras.applications':40} {'Keras total':>12} {'trainable':>12} "
          f"{'cnnc total':>12} {'trainable':>12}  header")
    bad = 0
    for path in paths:
        ctor, kwargs, total, trainable = header(path)
        km = getattr(keras.applications, ctor)(**kwargs)
        k_total = km.count_params()
        k_trainable = int(sum(np.prod(v.shape) for v in km.trainable_weights))
        net = cnnc.parse_file(path)
        same = (k_total, k_trainable) == (net.total_params, net.trainable_params) == (total, trainable)
        bad += not same
        args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        print(f"{path.stem:22} {ctor + '(' + args + ')':40} {k_total:>12,} {k_trainable:>12,} "
              f"{net.total_params:>12,} {net.trainable_params:>12,}  {'same' if same else 'DIFFERS'}",
              flush=True)
        del km
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
