"""The Pygments lexer (cnnc/highlight.py): registered for `.cnn` by an entry point, no error
token in any `cnn` block of the docs or in any example, every word in its role."""

from __future__ import annotations

import re
import tomllib
from importlib import import_module, metadata

import pytest

pygments = pytest.importorskip("pygments")
from pygments.token import Comment, Error, Keyword, Name, Number  # noqa: E402

from cnnc.highlight import CnnLexer  # noqa: E402
from conftest import EXAMPLES, ROOT  # noqa: E402

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _cnn_blocks():
    for path in DOCS:
        text = path.read_text()
        for m in re.finditer(r"^```cnn\n(.*?)^```", text, re.S | re.M):
            yield f"{path.name}:{text.count(chr(10), 0, m.start()) + 1}", m.group(1)


def _errors(text: str) -> list:
    return [v for tok, v in CnnLexer().get_tokens(text) if tok in Error]


def test_the_entry_point_names_the_lexer():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["pygments.lexers"]
    module, _, name = declared["cnn"].partition(":")
    assert getattr(import_module(module), name) is CnnLexer
    assert CnnLexer.filenames == ["*.cnn"] and "cnn" in CnnLexer.aliases
    installed = [e for e in metadata.entry_points(group="pygments.lexers") if e.name == "cnn"]
    if installed:   # cnnc installed from this tree: Pygments finds it by file name
        from pygments.lexers import get_lexer_for_filename

        assert isinstance(get_lexer_for_filename("net.cnn"), CnnLexer)


def test_no_error_token_in_the_docs_or_examples():
    blocks = list(_cnn_blocks())
    assert len(blocks) >= 7
    for where, text in blocks:
        assert _errors(text) == [], where
    for path in EXAMPLES.rglob("*.cnn"):
        assert _errors(path.read_text()) == [], path
    assert _errors("conv 8 3x3 padding=\"same\"") == ['"', '"']   # what the language cannot hold is an error


def test_each_word_in_its_role():
    toks = [(t, v) for t, v in CnnLexer().get_tokens("c1: conv 8 3x3 stride=2 padding=same relu  # x\n"
                                                     "residual { dense 10 softmax }\n") if v.strip()]
    assert toks == [
        (Name.Label, "c1"), (pygments.token.Punctuation, ":"), (Keyword.Type, "conv"), (Number, "8"),
        (Number.Integer, "3x3"), (Name.Attribute, "stride"), (pygments.token.Operator, "="), (Number, "2"),
        (Name.Attribute, "padding"), (pygments.token.Operator, "="), (Keyword.Constant, "same"),
        (Name.Builtin, "relu"), (Comment.Single, "# x"), (Keyword, "residual"), (pygments.token.Punctuation, "{"),
        (Keyword.Type, "dense"), (Number, "10"), (Name.Builtin, "softmax"), (pygments.token.Punctuation, "}")]
