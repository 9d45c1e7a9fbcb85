"""The VS Code extension (editors/vscode/): its TextMate grammar colours every example as
the project's own lexer reads it (tokenized with vscode-textmate and Oniguruma under node,
as VS Code does), and the server command its package.json names starts and initializes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cnnc import make_textmate, words
from cnnc.lsp.document import Analysis
from cnnc.lsp.semantic import classify
from conftest import EXAMPLES, ROOT

VSCODE = ROOT / "editors" / "vscode"
GRAMMAR = VSCODE / "syntaxes" / "cnn.tmLanguage.json"
TEXTMATE = ROOT / "tests" / "textmate"

# the project's role of a token (cnnc.lsp.semantic) -> the TextMate scope it must get
SCOPE = {"comment": "comment.line.number-sign.cnn", "number": "constant.numeric", "property": "variable.parameter.option.cnn",
         "enumMember": "constant.language.cnn", "function": "support.function.activation.cnn"}
KEYWORD_SCOPES = ("keyword.control.block.cnn", "keyword.other.layer.cnn", "support.function.activation.cnn",
                  "storage.type.function.cnn")   # the last: `def`
# the scope of a word the semantic tokens call a function, by what it is: an activation, min or
# max, a definition's name where it is defined, or a use of a definition, which a grammar of
# regular expressions cannot tell from any other name (the semantic tokens read the definitions)
FUNCTION_SCOPES = {"activation": "support.function.activation.cnn", "builtin": "support.function.builtin.cnn",
                   "defined": "entity.name.function.cnn", "use": "variable.other.cnn"}


def test_the_grammar_is_current():
    """editors/vscode/syntaxes/cnn.tmLanguage.json is what `python -m cnnc.make_textmate` writes."""
    assert GRAMMAR.read_text() == make_textmate.text(), "run python -m cnnc.make_textmate"


def test_the_extension_folder_is_complete():
    package = json.loads((VSCODE / "package.json").read_text())
    (language,) = package["contributes"]["languages"]
    assert language["extensions"] == [".cnn"]
    assert (VSCODE / language["configuration"]).is_file()
    (grammar,) = package["contributes"]["grammars"]
    assert (VSCODE / grammar["path"]).resolve() == GRAMMAR and grammar["scopeName"] == "source.cnn"
    assert (VSCODE / package["main"]).is_file()
    config = json.loads((VSCODE / "language-configuration.json").read_text())
    assert config["comments"]["lineComment"] == "#"
    main = (VSCODE / package["main"]).read_text()
    assert 'getConfiguration("cnnc").get("server.command"' in main   # the command comes from the setting


def _server_command() -> list:
    """The command package.json names, with `cnnc` found beside this Python when installed."""
    package = json.loads((VSCODE / "package.json").read_text())
    command = package["contributes"]["configuration"]["properties"]["cnnc.server.command"]["default"]
    assert command == ["cnnc", "lsp"]
    script = shutil.which(command[0], path=os.path.dirname(sys.executable))
    return [script, *command[1:]] if script else [sys.executable, "-m", "cnnc", *command[1:]]


def test_the_server_command_starts_and_initializes():
    pytest.importorskip("pygls")
    from lsp_client import Client

    client = Client(_server_command())
    try:
        result = client.initialize()
        assert result["serverInfo"]["name"] == "cnnc" and result["capabilities"]["hoverProvider"]
        assert client.shutdown() == 0
    finally:
        client.close()


# --- tokenizing with vscode-textmate ------------------------------------------------------

@pytest.fixture(scope="module")
def node_modules():
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    sys.path.insert(0, str(TEXTMATE))
    try:
        import install
        try:
            return install.install()
        except RuntimeError as e:
            pytest.skip(str(e))
    finally:
        sys.path.remove(str(TEXTMATE))


def _tokenize(node_modules, paths) -> dict:
    env = dict(os.environ, NODE_PATH=str(node_modules))
    p = subprocess.run(["node", str(TEXTMATE / "tokenize.js"), str(GRAMMAR), *map(str, paths)], capture_output=True,
                       text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def _scope_at(tokens, line: int, col: int) -> list:
    """The scopes of the TextMate token holding 1-based (line, col)."""
    for t_line, start, end, _, scopes in tokens:
        if t_line == line - 1 and start <= col - 1 < end:
            return scopes
    raise AssertionError(f"no token at {line}:{col}")


def _check(text: str, tokens) -> int:
    checked = 0
    lines = text.splitlines()
    for line, col, length, role, decl in classify(Analysis(text)):
        scopes = _scope_at(tokens, line, col)
        inner = scopes[-1]
        word = lines[line - 1][col - 1:col - 1 + length]
        if role == "keyword":
            assert inner in KEYWORD_SCOPES, (line, col, scopes)
        elif role == "variable" and decl:
            assert inner == "entity.name.label.cnn", (line, col, scopes)
        elif role == "function":
            what = ("defined" if decl else "activation" if word in words.activations() else
                    "builtin" if word in ("min", "max") else "use")
            assert inner == FUNCTION_SCOPES[what], (line, col, word, scopes)
        elif role in SCOPE:
            assert inner.startswith(SCOPE[role]), (line, col, role, scopes)
        else:
            continue
        assert _scope_at(tokens, line, col + length - 1) == scopes   # the whole word, one token
        checked += 1
    return checked


def test_every_example_is_coloured_as_the_lexer_reads_it(node_modules):
    paths = sorted(EXAMPLES.rglob("*.cnn"))
    found = _tokenize(node_modules, paths)
    total = 0
    for path in paths:
        total += _check(path.read_text(), found[str(path)])
    assert total > 2000   # the examples' words (fewer since they use definitions)


def test_every_word_of_the_language_gets_its_scope(node_modules, tmp_path):
    """A program of every statement, block, activation, option and value word the registry has
    (a new kind or option that the grammar lacks fails here)."""
    from cnnc.layers import KINDS

    lines = ["# every word", "input 8x8x1", "c1: conv 8 3x3 padding=same relu"]
    lines += [f"{w} 1" for w in words.statements()] + [f"{b} {{ }}" for b in words.blocks()]
    lines += [f"conv 1 1 {a}" for a in words.activations()] + [f"{a}" for a in words.activations()]
    lines += [f"{kind} {option}=1" for kind, spec in KINDS.items() for option in spec.options]
    lines += [f"pool 1 padding={v}" for v in words.values()]
    lines += ["conv 8 3x3 stride=2x1 dilation=2 bias=false", "dropout 0.5; batchnorm eps=1e-5", "rescale -1.5e3"]
    text = "\n".join(lines) + "\n"
    path = tmp_path / "words.cnn"
    path.write_text(text)
    tokens = _tokenize(node_modules, [path])[str(path)]
    assert _check(text, tokens) > len(lines)
    for line, want in ((4, "keyword.other.layer.cnn"), (3, "entity.name.label.cnn")):
        assert _scope_at(tokens, line, 1)[-1] == want
    block_line = 4 + len(words.statements())
    for i, b in enumerate(words.blocks()):
        assert _scope_at(tokens, block_line + i, 1)[-1] == "keyword.control.block.cnn", b


def test_scripts_test_sh_installs_the_textmate_packages():
    script = (ROOT / "scripts" / "test.sh").read_text()
    assert "tests/textmate/install.py" in script
    assert Path(TEXTMATE / "package-lock.json").is_file()
