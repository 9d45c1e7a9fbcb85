#!/usr/bin/env bash
# The main job on the examples: set up (cnnc's core only: numpy + lark), check every
# program with `cnnc shapes`, then compile LeNet with the numpy backend and run the module.
# Writes nothing in the repository but .venv/ (the module goes to a temporary folder).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q -e . -c constraints.txt
for f in examples/*.cnn examples/keras/*.cnn; do
  echo "== cnnc shapes $f"
  .venv/bin/cnnc shapes "$f"
  echo
done
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "== cnnc compile -q examples/lenet.cnn -o $out/lenet.py   (-q: its warning is shown above)"
.venv/bin/cnnc compile -q examples/lenet.cnn -o "$out/lenet.py"
(cd "$out" && "$OLDPWD/.venv/bin/python" -c \
  "import lenet, numpy as np; y = lenet.load()(np.zeros((2, 28, 28, 1), 'float32')); print('lenet.load()(x) ->', y.shape)")
echo
echo "cnnc is installed in .venv/. To put \`cnnc\` (and a python that has cnnc) on your PATH:"
echo "    source .venv/bin/activate"
echo "or call .venv/bin/cnnc directly. scripts/test.sh adds torch, onnx and the other extras."
