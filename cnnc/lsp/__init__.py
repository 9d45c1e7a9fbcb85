"""The language server (`cnnc lsp`): what an editor shows while a program is written.

    document.py    one analysis of a document's text: diagnostics, the statements with
                   their source spans and the graph nodes each made, tokens by line
    hover.py       hover text and inlay hints (shapes, parameters, MACs, receptive
                   field, fusion group)
    completion.py  what may be typed at a position
    semantic.py    every token's role (keyword, number, option, ...), for semantic tokens
    actions.py     code actions: the checker's hints as edits
    server.py      the Language Server Protocol over stdio, through pygls (the only
                   module that imports it: `pip install 'cnnc[lsp]'`)

Everything but server.py is plain Python over the front end (syntax, graph, summary),
so it is tested and timed without a client. Positions inside are 1-based (line, col)
as diagnostics give them; the server turns them into LSP's 0-based positions
(character = col - 1: every token is ASCII, and columns count characters).
"""
