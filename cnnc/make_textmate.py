"""Regenerate editors/vscode/syntaxes/cnn.tmLanguage.json, the TextMate grammar of `.cnn`
files, from the layer registry:

    python -m cnnc.make_textmate

Its word lists (statements, blocks, activations, the words options take) are the
registry's, so a new kind is one run of this away from being coloured;
tests/test_textmate.py checks the file is current and tokenizes every example with
it under vscode-textmate. The scopes follow the TextMate conventions that themes
colour: keyword.control (blocks), keyword.other (layer statements), support.function
(activations), constant.numeric (numbers and sizes), variable.parameter (an option's
name), constant.language (value words), entity.name.label (labels), comment.line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "editors" / "vscode" / "syntaxes" / "cnn.tmLanguage.json"
_END = r"(?![A-Za-z0-9_])"
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"


def _alternatives(words) -> str:
    return "|".join(sorted(words, key=lambda w: (-len(w), w)))


def grammar() -> dict:
    from . import words

    _ACTIVATIONS, _BLOCKS, _STATEMENTS, _VALUES = words.activations(), words.blocks(), words.statements(), \
        words.values()

    return {
        "$schema": "https://raw.githubusercontent.com/martinring/tmlanguage/master/tmlanguage.json",
        "name": "cnn",
        "scopeName": "source.cnn",
        "fileTypes": ["cnn"],
        "patterns": [
            {"include": "#comment"},
            {"include": "#definition"},
            {"include": "#label"},
            {"include": "#option"},
            {"include": "#block"},
            {"include": "#statement"},
            {"include": "#activation"},
            {"include": "#value"},
            {"include": "#builtin"},
            {"include": "#number"},
            {"include": "#name"},
            {"include": "#punctuation"},
        ],
        "repository": {
            "comment": {"name": "comment.line.number-sign.cnn", "match": "#.*$"},
            "definition": {
                "match": rf"\b(def)\s+({_NAME})",
                "captures": {"1": {"name": "storage.type.function.cnn"}, "2": {"name": "entity.name.function.cnn"}},
            },
            "label": {
                "match": rf"\b({_NAME})\s*(:)",
                "captures": {"1": {"name": "entity.name.label.cnn"}, "2": {"name": "punctuation.separator.label.cnn"}},
            },
            "option": {
                "match": rf"\b({_NAME})\s*(=)",
                "captures": {"1": {"name": "variable.parameter.option.cnn"},
                             "2": {"name": "keyword.operator.assignment.cnn"}},
            },
            "block": {"name": "keyword.control.block.cnn", "match": rf"\b({_alternatives(_BLOCKS)}){_END}"},
            "statement": {"name": "keyword.other.layer.cnn", "match": rf"\b({_alternatives(_STATEMENTS)}){_END}"},
            "activation": {"name": "support.function.activation.cnn",
                           "match": rf"\b({_alternatives(_ACTIVATIONS)}){_END}"},
            "value": {"name": "constant.language.cnn", "match": rf"\b({_alternatives(_VALUES)}){_END}"},
            "builtin": {"name": "support.function.builtin.cnn", "match": r"\b(min|max)(?=\s*\()"},
            "number": {"patterns": [
                {"name": "constant.numeric.size.cnn", "match": rf"[-+]?[0-9]+(?:x[-+]?[0-9]+)+{_END}"},
                {"name": "constant.numeric.cnn",
                 "match": r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"},
            ]},
            "name": {"name": "variable.other.cnn", "match": rf"\b{_NAME}"},
            "punctuation": {"patterns": [
                {"name": "punctuation.section.block.begin.cnn", "match": r"\{"},
                {"name": "punctuation.section.block.end.cnn", "match": r"\}"},
                {"name": "punctuation.terminator.statement.cnn", "match": ";"},
                {"name": "punctuation.separator.comma.cnn", "match": ","},
                {"name": "punctuation.section.parens.cnn", "match": r"[()]"},
                {"name": "keyword.operator.arithmetic.cnn", "match": r"//|[-+*]"},
            ]},
        },
    }


def text() -> str:
    return json.dumps(grammar(), indent=2) + "\n"


def main() -> int:
    OUT.write_text(text())
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
