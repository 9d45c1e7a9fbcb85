"""A Pygments lexer for `.cnn` programs, registered as `cnn` by an entry point (so
Sphinx, MkDocs, GitLab, `pygmentize` and rich colour ```cnn blocks once cnnc is
installed):

    pygmentize -l cnn examples/lenet.cnn

Its words come from the layer registry: statements and blocks are keywords, the
activations builtins, the words options take (`same`, `true`, `nearest`, ...)
constants, an option's name an attribute, a label a label. Anything the language
cannot hold is an Error token (tests/test_highlight.py lexes every `cnn` block of the
docs and finds none).
"""

from __future__ import annotations

from pygments.lexer import RegexLexer, bygroups, words
from pygments.token import Comment, Keyword, Name, Number, Operator, Punctuation, Whitespace

from . import words as words_of


_STATEMENTS, _BLOCKS, _ACTIVATIONS, _VALUES = words_of.statements(), words_of.blocks(), words_of.activations(), \
    words_of.values()
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_END = r"(?![A-Za-z0-9_])"


class CnnLexer(RegexLexer):
    """The cnnc network language (`.cnn`)."""

    name = "cnn"
    aliases = ["cnn", "cnnc"]
    filenames = ["*.cnn"]
    mimetypes = ["text/x-cnn"]
    url = "https://github.com/cnnc/cnnc"

    tokens = {
        "root": [
            (r"[ \t\f\r]+", Whitespace),
            (r"\n", Whitespace),
            (r"#[^\n]*", Comment.Single),
            (r"[-+]?[0-9]+(?:x[-+]?[0-9]+)+" + _END, Number.Integer),
            (r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?", Number),
            (r"(def)(\s+)(" + _NAME + ")", bygroups(Keyword.Declaration, Whitespace, Name.Function)),
            (r"(" + _NAME + r")([ \t]*)(:)", bygroups(Name.Label, Whitespace, Punctuation)),
            (r"(" + _NAME + r")([ \t]*)(=)", bygroups(Name.Attribute, Whitespace, Operator)),
            (words(_BLOCKS, suffix=_END), Keyword),
            (words(_STATEMENTS, suffix=_END), Keyword.Type),
            (words(_ACTIVATIONS, suffix=_END), Name.Builtin),
            (words(_VALUES, suffix=_END), Keyword.Constant),
            (words(("min", "max"), suffix=r"(?=[ \t]*\()"), Name.Builtin),
            (_NAME, Name),
            (r"//|[-+*]", Operator),
            (r"[{};,()]", Punctuation),
        ],
    }
