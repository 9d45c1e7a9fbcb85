"""docs/editors.md: its LSP transcript is what `cnnc lsp` says in that session (recorded
here: CNNC_RECORD_TRANSCRIPT=1 rewrites the block), and its editor set-ups name the
command and the files that exist."""

from __future__ import annotations

import json
import os
import re
import sys

import pytest

from conftest import ROOT

DOC = ROOT / "docs" / "editors.md"
BEGIN, END = "<!-- transcript: recorded by tests/test_editors_docs.py -->\n```\n", "```\n"
URI = "file:///home/me/net.cnn"
TEXT = "input 28x28x1\nconv 32 3x3 relu\npool 2\nconv 64 3x3 relu\npool   2\nflatten\ndense 10 softmax\n"


def _session() -> list:
    pytest.importorskip("pygls")
    from lsp_client import Client

    c = Client([sys.executable, "-m", "cnnc", "lsp"])
    try:
        c.request("initialize", {"processId": None, "rootUri": None, "capabilities": {}})
        c.notify("initialized", {})
        c.open(URI, TEXT)
        doc = {"textDocument": {"uri": URI}}
        c.request("textDocument/hover", {**doc, "position": {"line": 3, "character": 2}})
        c.request("textDocument/inlayHint", {**doc, "range": {"start": {"line": 0, "character": 0},
                                                               "end": {"line": 7, "character": 0}}})
        c.request("textDocument/completion", {**doc, "position": {"line": 2, "character": 7}})
        c.request("textDocument/formatting", {**doc, "options": {"tabSize": 2, "insertSpaces": True}})
        c.shutdown()
    finally:
        c.close()
    return c.transcript


def render(transcript) -> str:
    """The messages in order, one per line: `-->` to the server, `<--` from it. The
    initialize result is shortened to the capabilities' names."""
    lines = []
    for direction, msg in transcript:
        result = msg.get("result")
        if isinstance(result, dict) and "capabilities" in result:
            msg = {**msg, "result": {"capabilities": f"{{{', '.join(sorted(result['capabilities']))}}}",
                                     "serverInfo": result.get("serverInfo")}}
        lines.append(f"{'-->' if direction == '->' else '<--'} {json.dumps(msg, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


def test_the_transcript_is_what_the_server_says():
    shown = render(_session())
    text = DOC.read_text()
    start = text.index(BEGIN) + len(BEGIN)
    end = text.index(END, start)
    if os.environ.get("CNNC_RECORD_TRANSCRIPT") == "1":
        DOC.write_text(text[:start] + shown + text[end:])
        return
    assert text[start:end] == shown, "run CNNC_RECORD_TRANSCRIPT=1 pytest tests/test_editors_docs.py"


def test_the_set_ups_name_real_things():
    text = DOC.read_text()
    assert "editors/vscode" in text and (ROOT / "editors" / "vscode" / "package.json").is_file()
    for editor in ("VS Code", "Neovim", "Helix", "Emacs"):
        assert f"## {editor}" in text, editor
    for snippet in ("vim.lsp.config", "languages.toml", "eglot-server-programs", "pip install 'cnnc[lsp]'"):
        assert snippet in text, snippet
    assert re.search(r'cmd = \{ "cnnc", "lsp" \}', text)
