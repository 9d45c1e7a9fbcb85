"""The Language Server Protocol over stdio, through pygls (`pip install 'cnnc[lsp]'`).

Documents are analysed (document.Analysis) after each change and their diagnostics
pushed: at once (after the messages already read) when the document's last analysis
was quick, and after DEBOUNCE_S of quiet when it was slow (a program of thousands of
layers), so that a burst of keystrokes costs one analysis; a request analyses the
latest text first when it has not been. Every feature reads that one analysis. Positions go
out as character = COL - 1 in the client's position encoding (UTF-16 unless it asks
for another; every token is ASCII, so only text after a comment's non-ASCII
character could differ, and the codec converts it).
"""

from __future__ import annotations

from .. import __version__
from ..optional import require

DEBOUNCE_S = 0.1   # the wait for more keystrokes, for a document whose analysis is slow
QUICK_S = 0.1      # an analysis faster than this is not worth waiting for

require("pygls.lsp.server", "lsp")

from lsprotocol import types  # noqa: E402
from pygls.lsp.server import LanguageServer  # noqa: E402

from . import actions, completion, hover, semantic  # noqa: E402
from .document import Analysis, diagnostic_range  # noqa: E402

_COMPLETION_KIND = {
    completion.STATEMENT: types.CompletionItemKind.Keyword,
    completion.BLOCK: types.CompletionItemKind.Struct,
    completion.OPTION: types.CompletionItemKind.Property,
    completion.VALUE: types.CompletionItemKind.EnumMember,
    completion.ACTIVATION: types.CompletionItemKind.Function,
    completion.LAYER: types.CompletionItemKind.Variable,
    completion.DEFINITION: types.CompletionItemKind.Function,
}
_SYMBOL_KIND = {"input": types.SymbolKind.Constant, "repeat": types.SymbolKind.Array,
                "def": types.SymbolKind.Function}
_SEVERITY = {"error": types.DiagnosticSeverity.Error, "warning": types.DiagnosticSeverity.Warning}
LEGEND = types.SemanticTokensLegend(token_types=list(semantic.TOKEN_TYPES),
                                    token_modifiers=list(semantic.TOKEN_MODIFIERS))


class CnncServer(LanguageServer):
    def __init__(self):
        super().__init__("cnnc", __version__)
        self.analyses: dict = {}   # uri -> (text, Analysis)
        self.pending: dict = {}    # uri -> the timer of its next analysis
        self.took: dict = {}       # uri -> seconds its last analysis took

    def analysis(self, uri: str) -> Analysis:
        doc = self.workspace.get_text_document(uri)
        text = doc.source
        cached = self.analyses.get(uri)
        if cached is None or cached[0] != text:
            import time

            began = time.perf_counter()
            cached = (text, Analysis(text, _filename(uri)))
            self.analyses[uri] = cached
            self.took[uri] = time.perf_counter() - began
        return cached[1]

    # positions: Analysis's 1-based (line, col) in code points <-> the client's
    def to_client(self, a: Analysis, line: int, col: int) -> types.Position:
        if a.ascii(line):
            character = col - 1
        else:
            character = self.workspace.position_codec.client_num_units(a.lines[line - 1][:col - 1])
        return types.Position(line=max(line - 1, 0), character=max(character, 0))

    def range(self, a: Analysis, start: tuple, end: tuple) -> types.Range:
        return types.Range(start=self.to_client(a, *start), end=self.to_client(a, *end))

    def from_client(self, a: Analysis, pos: types.Position) -> tuple:
        line = pos.line + 1
        if a.ascii(line):
            return line, pos.character + 1
        text = a.lines[line - 1]
        units = 0
        for i, ch in enumerate(text):
            if units >= pos.character:
                return line, i + 1
            units += self.workspace.position_codec.client_num_units(ch)
        return line, len(text) + 1

    def publish(self, uri: str) -> None:
        self.pending.pop(uri, None)
        try:
            doc = self.workspace.get_text_document(uri)
        except Exception:
            return
        a = self.analysis(uri)
        out = []
        for d in a.diagnostics:
            out.append(self.diagnostic(a, d, uri))
            uses = [n for n in getattr(d, "notes", ()) if n[2].startswith("in use of")]
            if uses:
                out.append(self.at_use(a, d, uses[-1], uri))
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
            uri=uri, version=doc.version, diagnostics=out))

    def at_use(self, a: Analysis, d, use: tuple, uri: str) -> types.Diagnostic:
        """A diagnostic from inside a definition, shown again at the use written outside it
        (`use`: the outermost of its "in use of" notes), pointing back into the body: as a
        compiler shows an error of a macro at its call."""
        line, col, _ = use
        st = a.statement_at(line, col)
        end = st.end if st is not None and st.start == (line, col) else (line, col + 1)
        start, stop = diagnostic_range(d, a)
        return types.Diagnostic(
            range=self.range(a, (line, col), end), message=d.text, severity=_SEVERITY[d.severity], source="cnnc",
            related_information=[types.DiagnosticRelatedInformation(
                location=types.Location(uri=uri, range=self.range(a, start, stop)),
                message=f"here, in the definition (line {d.line})")])

    def schedule(self, uri: str) -> None:
        import asyncio

        timer = self.pending.pop(uri, None)
        if timer is not None:
            timer.cancel()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.publish(uri)
            return
        delay = DEBOUNCE_S if self.took.get(uri, 0.0) > QUICK_S else 0.0
        self.pending[uri] = loop.call_later(delay, self.publish, uri)

    def diagnostic(self, a: Analysis, d, uri: str) -> types.Diagnostic:
        """A diagnostic; inside a use of a definition, its notes (each use it is in) become
        the related information, each at its use."""
        start, end = diagnostic_range(d, a)
        related = None
        notes = getattr(d, "notes", ())
        if notes:
            related = []
            for line, col, text in notes:
                st = a.statement_at(line, col)
                end_at = st.end if st is not None and st.start == (line, col) else (line, col + 1)
                related.append(types.DiagnosticRelatedInformation(
                    location=types.Location(uri=uri, range=self.range(a, (line, col), end_at)), message=text))
        return types.Diagnostic(range=self.range(a, start, end), message=d.text, severity=_SEVERITY[d.severity],
                                source="cnnc", related_information=related)


def _filename(uri: str) -> str:
    from urllib.parse import unquote, urlparse

    parsed = urlparse(uri)
    return unquote(parsed.path) if parsed.scheme == "file" else uri


server = CnncServer()


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: CnncServer, params: types.DidOpenTextDocumentParams) -> None:
    ls.analyses.pop(params.text_document.uri, None)
    ls.publish(params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: CnncServer, params: types.DidChangeTextDocumentParams) -> None:
    ls.schedule(params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_SAVE)
def did_save(ls: CnncServer, params: types.DidSaveTextDocumentParams) -> None:
    ls.publish(params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: CnncServer, params: types.DidCloseTextDocumentParams) -> None:
    uri = params.text_document.uri
    timer = ls.pending.pop(uri, None)
    if timer is not None:
        timer.cancel()
    ls.analyses.pop(uri, None)
    ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))


@server.feature(types.TEXT_DOCUMENT_HOVER)
def on_hover(ls: CnncServer, params: types.HoverParams) -> "types.Hover | None":
    a = ls.analysis(params.text_document.uri)
    found = hover.hover(a, *ls.from_client(a, params.position))
    if found is None:
        return None
    text, (start, end) = found
    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text),
                       range=ls.range(a, start, end))


@server.feature(types.TEXT_DOCUMENT_INLAY_HINT, types.InlayHintOptions(resolve_provider=False))
def on_inlay_hints(ls: CnncServer, params: types.InlayHintParams) -> list:
    a = ls.analysis(params.text_document.uri)
    first, last = params.range.start.line + 1, params.range.end.line + 1
    return [types.InlayHint(position=ls.to_client(a, line, col), label=label, kind=types.InlayHintKind.Type,
                            padding_left=True)
            for line, col, label in hover.inlay_hints(a, first, last)]


@server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=["=", " "]))
def on_completion(ls: CnncServer, params: types.CompletionParams) -> types.CompletionList:
    a = ls.analysis(params.text_document.uri)
    items = completion.complete(a, *ls.from_client(a, params.position))
    return types.CompletionList(is_incomplete=False, items=[
        types.CompletionItem(label=i.label, kind=_COMPLETION_KIND[i.kind], detail=i.detail, insert_text=i.insert,
                             sort_text=f"{n:04d}")
        for n, i in enumerate(items)])


@server.feature(types.TEXT_DOCUMENT_DEFINITION)
def on_definition(ls: CnncServer, params: types.DefinitionParams) -> "types.Location | None":
    a = ls.analysis(params.text_document.uri)
    line, col = ls.from_client(a, params.position)
    tok = a.token_at(line, col)
    if tok is None or tok.type != "NAME":
        return None
    target = definition_of(a, tok)
    if target is None:
        return None
    return types.Location(uri=params.text_document.uri, range=ls.range(a, *target))


def definition_of(a: Analysis, tok) -> "tuple | None":
    """(start, end) of what the word `tok` names: a definition (at a use), the statement
    labelled so (from=NAME, add NAME NAME), or the statement that made a layer of that
    name (conv_3); None when `tok` is itself where the name is given."""
    here = a.statement_at(tok.line, tok.column)
    if here is not None and here.keyword == (tok.line, tok.column) and not here.block:
        d = a.definition_named(tok.value)
        if d is not None:
            return (d.ast.name_line, d.ast.name_col), (d.ast.name_line, d.ast.name_col + len(d.defines))
        return None
    st = a.labelled(tok.value, tok.line, tok.column)
    if st is None:
        node = a.node_named(tok.value)
        st = a.statement_of(node) if node is not None else None
    if st is None or st.start == (tok.line, tok.column):
        return None
    return st.start, st.out_at


@server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
def on_symbols(ls: CnncServer, params: types.DocumentSymbolParams) -> list:
    a = ls.analysis(params.text_document.uri)

    def symbol(st):
        nodes = hover.output_nodes(st, a)
        shape = f" → {nodes[-1].out}" if nodes and nodes[-1].out is not None else ""
        if st.defines:
            pass
        elif st.block:
            kind = _SYMBOL_KIND.get(st.kind, types.SymbolKind.Struct)
            detail = f"{st.kind}{shape}"
        else:
            kind = _SYMBOL_KIND.get(st.kind, types.SymbolKind.Variable)
            detail = f"{st.kind}{shape}"
        head_end = (st.keyword[0], st.keyword[1] + len(st.kind))
        if st.defines:
            kind, detail = types.SymbolKind.Function, "def"
            head_end = (st.ast.name_line, st.ast.name_col + len(st.defines))
        return types.DocumentSymbol(name=st.name, detail=detail, kind=kind,
                                    range=ls.range(a, st.start, st.out_at if st.block else st.end),
                                    selection_range=ls.range(a, st.start if not st.defines else
                                                             (st.ast.name_line, st.ast.name_col),
                                                             head_end if not st.label else
                                                             (st.start[0], st.start[1] + len(st.label))),
                                    children=[symbol(c) for c in st.children] or None)

    return [symbol(st) for st in a.statements]


@server.feature(types.TEXT_DOCUMENT_SEMANTIC_TOKENS_FULL, LEGEND)
def on_semantic_tokens(ls: CnncServer, params: types.SemanticTokensParams) -> types.SemanticTokens:
    a = ls.analysis(params.text_document.uri)
    toks = []
    for line, col, length, role, decl in semantic.classify(a):
        start = ls.to_client(a, line, col)
        end = ls.to_client(a, line, col + length)
        toks.append((start.line + 1, start.character + 1, end.character - start.character, role, decl))
    return types.SemanticTokens(data=semantic.encode(toks))


@server.feature(types.TEXT_DOCUMENT_CODE_ACTION,
                types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]))
def on_code_action(ls: CnncServer, params: types.CodeActionParams) -> list:
    uri = params.text_document.uri
    a = ls.analysis(uri)
    lo = (params.range.start.line + 1, 0)
    hi = (params.range.end.line + 1, 1 << 30)
    out = []
    for d in a.diagnostics:
        if not lo <= (d.line, d.col) <= hi:
            continue
        for title, edits in actions.fixes(a, d):
            out.append(types.CodeAction(
                title=title, kind=types.CodeActionKind.QuickFix, diagnostics=[ls.diagnostic(a, d, uri)],
                is_preferred=len(out) == 0,
                edit=types.WorkspaceEdit(changes={uri: [types.TextEdit(range=ls.range(a, s, e), new_text=t)
                                                        for s, e, t in edits]})))
    return out


@server.feature(types.TEXT_DOCUMENT_FORMATTING)
def on_formatting(ls: CnncServer, params: types.DocumentFormattingParams) -> "list | None":
    from ..errors import CnncError
    from ..format import format_text

    a = ls.analysis(params.text_document.uri)
    try:
        tidy = format_text(a.text, a.filename)
    except CnncError:
        return None   # a syntax error: left as it is (the diagnostics say where)
    return [types.TextEdit(range=ls.range(a, s, e), new_text=t) for s, e, t in line_edits(a.lines, tidy)]


def line_edits(lines: list, tidy: str) -> list:
    """Edits that turn `lines` into `tidy`: one per changed line when fmt kept the lines
    (it does, but for blank lines at the end), else one for the whole text."""
    new = tidy.split("\n")
    if len(new) == len(lines):
        return [((i + 1, 1), (i + 1, len(old) + 1), n) for i, (old, n) in enumerate(zip(lines, new)) if old != n]
    return [((1, 1), (len(lines), len(lines[-1]) + 1), tidy)]


def main() -> int:
    """Serve on stdin/stdout until the client says exit: 0 after a shutdown request, 1
    without one (the protocol's rule). The protocol talks through its own copy of the
    standard output, and file descriptor 1 becomes standard error, so that nothing else
    the process prints can corrupt a message."""
    import os
    import sys

    sys.stdout.flush()
    wire = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    try:
        server.start_io(sys.stdin.buffer, wire)
    finally:
        try:
            wire.close()
        except OSError:
            pass
    return 0 if getattr(server.protocol, "_shutdown", False) else 1
