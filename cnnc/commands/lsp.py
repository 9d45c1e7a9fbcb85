"""Run the language server: the Language Server Protocol on standard input and output.

An editor starts it (docs/editors.md: VS Code, Neovim, Helix, Emacs) and shows, as
the program is typed, the errors and warnings of `cnnc shapes`, each statement's
output shape, a hover with parameters, MACs, receptive field and fusion group,
completion, go-to-definition, symbols, semantic highlighting, quick fixes and
formatting (`cnnc fmt`). Needs pygls: pip install 'cnnc[lsp]'.

    cnnc lsp
"""

from __future__ import annotations


def add_arguments(p) -> None:
    p.add_argument("--stdio", action="store_true",
                   help="talk over standard input and output (the default and only way; editors often pass it)")


def run(args) -> int:
    from ..lsp.server import main

    return main()
