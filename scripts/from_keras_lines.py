"""Print how many lines `cnnc from-keras` writes for keras.applications networks.

Each network is built with Keras 3 (`KERAS_BACKEND=torch`, no weights downloaded) at the size
tests/test_from_keras.py uses, saved, and converted; printed: the program's non-blank,
non-comment lines, its longest line, its definitions, and its limit (80 lines;
InceptionResNetV2 100, InceptionV3 150, NASNetLarge 200). The line counts in docs/bridges.md
come from here.

    KERAS_BACKEND=torch python scripts/from_keras_lines.py [NAME...]   # default: all 39

Exit status 1 when a program passes its limit. Needs keras (and torch).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("KERAS_BACKEND", "torch")

SIZES = {"InceptionV3": 75, "InceptionResNetV2": 75, "Xception": 71, "NASNetLarge": 331}
LIMITS = {"InceptionResNetV2": 100, "InceptionV3": 150, "NASNetLarge": 200}


def main(names) -> int:
    import keras

    from cnnc.bridges.importers.keras.model import convert

    names = names or [n for n in dir(keras.applications) if n[:1].isupper() and n != "NASNetMobile"]
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            size = SIZES.get(name, 32)
            km = getattr(keras.applications, name)(weights=None, input_shape=(size, size, 3))
            path = Path(tmp) / f"{name}.keras"
            km.save(path)
            del km
            text, _ = convert(path)
            path.unlink()
            lines = [x for x in text.splitlines() if x.strip() and not x.lstrip().startswith("#")]
            longest = max(map(len, text.splitlines()))
            defs = sum(x.startswith("def ") for x in lines)
            limit = LIMITS.get(name, 80)
            over = len(lines) > limit or longest > 200
            bad += over
            print(f"{name} at {size}x{size}: {len(lines)} lines (limit {limit}), longest {longest} characters, "
                  f"{defs} definitions{'  OVER THE LIMIT' if over else ''}", flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
