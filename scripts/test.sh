#!/usr/bin/env bash
# Set up the pinned test environment and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q -e ".[test]" -c constraints.txt
# the playground's browser tests run Debian's chromium (Playwright's own browser download
# needs a network this project does not assume); without root they fail, naming the package
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "could not install chromium" >&2
fi
# the TextMate grammar's test tokenizes with vscode-textmate under node (tests/textmate/package-lock.json)
.venv/bin/python tests/textmate/install.py >/dev/null || echo "tests/test_textmate.py will skip its node tests"
# said before the tests, so that pytest's summary stays the last line
echo "cnnc and its extras are installed in .venv/; \`source .venv/bin/activate\` puts cnnc on your PATH."
# one worker per core, at most 4 (each holds its own torch and Keras models); a test file runs
# on one worker, so its module-scoped fixtures (a Keras model, a compiled network) are built once
workers=$(.venv/bin/python -c "import os; print(min(len(os.sched_getaffinity(0)), 4))")
parallel=()
[ "$workers" -gt 1 ] && parallel=(-n "$workers" --dist loadfile)
exec .venv/bin/python -m pytest -q "${parallel[@]}" "$@"
