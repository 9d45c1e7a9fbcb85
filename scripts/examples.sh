#!/usr/bin/env bash
# Set up (numpy + lark only) and run cnnc on every example: the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q -e . -c constraints.txt
for f in examples/*.cnn; do
  echo "== cnnc shapes $f"
  .venv/bin/cnnc shapes "$f"
  echo
done
