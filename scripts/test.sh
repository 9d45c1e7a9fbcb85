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
exec .venv/bin/python -m pytest -q "$@"
