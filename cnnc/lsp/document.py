"""One analysis of a document: what the checker says about its text, and where.

`Analysis(text)` parses and builds as much of the graph as the text allows (a program
being typed is mostly half-written): its `diagnostics` are what `cnnc shapes` reports,
its `statements` every statement written, each with its span in the source and the
graph nodes it made (several for a statement inside `repeat`; the join for a block).
Nothing here raises for a program's mistakes; a bug in cnnc becomes one diagnostic
saying so, so that the server stays up.
"""

from __future__ import annotations

from ..errors import CnncError, Diagnostic, Reporter

# Past this size a document is not analysed (a program of MAX_LAYERS statements is a
# few megabytes); the editor is told why.
MAX_TEXT = 32 * 1024 * 1024


class Statement:
    """One written statement: a layer (`conv 8 3x3`) or a block (`residual { ... }`).

    start: (line, col) of its first token (its label, if any); keyword: of its keyword;
    end: just past its last token (a block: its closing brace); out_at: where its output
    is complete (a residual followed by a shortcut: past the shortcut's brace).
    nodes: the graph nodes it made, in execution order (empty after an error).
    """

    __slots__ = ("ast", "kind", "label", "start", "keyword", "end", "out_at", "nodes", "made", "children", "parent",
                 "block", "defines")

    def __init__(self, ast, block: bool, parent):
        self.ast = ast
        self.kind = ast.kind
        self.defines = ast.name if ast.kind == "def" else None   # a definition's name
        self.label = None if self.defines else ast.name
        self.start = (ast.line, ast.col)
        self.keyword = (ast.kind_line, ast.kind_col)
        self.end = self.out_at = self.keyword
        self.nodes: list = []   # the layers (or the join) it is
        self.made: list = []    # a use of a definition: every layer its uses made
        self.children: list = []
        self.parent = parent
        self.block = block

    def contains(self, line: int, col: int) -> bool:
        return self.start <= (line, col) <= self.end

    @property
    def name(self) -> str:
        """What the editor calls it: its layer's name, else its label, a definition's name,
        or its keyword."""
        if self.nodes:
            return self.nodes[0].name
        return self.label or self.defines or self.kind

    def __repr__(self) -> str:
        return f"<Statement {self.kind} {self.start}-{self.end} {len(self.nodes)} nodes>"


class Analysis:
    def __init__(self, text: str, filename: str = "<string>"):
        if text.startswith("\ufeff"):
            text = " " + text[1:]   # parse_program drops it; a blank keeps every column where it is
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        self.text = text
        self.filename = filename
        self.lines = text.split("\n")
        self._tokens: dict = {}
        self._columns: dict = {}
        self._ascii: dict = {}
        self.program = None
        self.net = None
        self.statements: list = []      # top level, in source order
        self.all_statements: list = []  # every statement, in source order (blocks before their bodies)
        self.diagnostics: list = []
        self._info: "dict | None" = None
        self._by_name: "dict | None" = None
        report = Reporter(filename)
        try:
            self._analyse(report)
        except (CnncError, ValueError, OverflowError, RecursionError) as e:
            msg = e.diagnostics[0].text if isinstance(e, CnncError) else f"this program cannot be read: {e}"
            line, col = (e.line, e.col) if isinstance(e, CnncError) else (1, 1)
            report.error(msg, max(line, 1), max(col, 1))
        except Exception as e:   # a bug in cnnc: said, not fatal
            report.error(f"internal error: {type(e).__name__}: {e} (a bug in cnnc)", 1, 1)
        self.diagnostics = sorted(report.diagnostics, key=lambda d: (d.line, d.col))

    # -- analysis --------------------------------------------------------------------
    def _analyse(self, report: Reporter) -> None:
        from ..graph import analyse
        from ..nogc import paused
        from ..syntax import parse_program

        if len(self.text) > MAX_TEXT:
            report.error(f"the document holds {len(self.text):,} characters; the language server reads "
                         f"at most {MAX_TEXT:,} (cnnc shapes checks any size)", 1, 1)
            return
        with paused():
            self.program = parse_program(self.text, self.filename, report)
            if self.program is None:
                return
            self.net = analyse(self.program, report)
            self._collect(self.program.statements, None, self.statements)
            self._spans()
            if self.net is not None:
                self._attach_nodes()

    def _collect(self, stmts, parent, into: list) -> None:
        for s in stmts:
            st = Statement(s, getattr(s, "body", None) is not None, parent)
            into.append(st)
            self.all_statements.append(st)
            if st.block:
                self._collect(s.body, st, st.children)

    def _spans(self) -> None:
        """Each statement's end, from the tokens: a layer's last token, a block's brace."""
        for st in self.all_statements:
            st.end = st.out_at = self._end_of(st)
        for group in [self.statements] + [st.children for st in self.all_statements if st.block]:
            for a, b in zip(group, group[1:]):
                if a.kind == "residual" and b.kind == "shortcut":
                    a.out_at = b.end

    def _end_of(self, st: Statement) -> tuple:
        line, col = st.keyword
        toks = self.line_tokens(line)
        i = self._index(line).get(col)
        if i is None:
            return st.keyword
        if not st.block:   # a layer ends on its line: at a separator, a brace or a comment
            last = toks[i]
            for t in toks[i + 1:]:
                if t.type in ("_SEP", "COMMENT") or t.value in ("{", "}"):
                    break
                last = t
            return last.line, last.column + len(last.value)
        depth = 0
        last = toks[i]
        for tok in self.tokens_from(line, col):
            v = tok.value
            if v == "{":
                depth += 1
            elif v == "}":
                if depth == 0:
                    break
                depth -= 1
                if depth == 0:
                    return tok.line, tok.column + 1
            elif depth == 0 and tok.type in ("_SEP", "COMMENT"):
                break
            if tok.type not in ("_SEP", "COMMENT"):
                last = tok
        return last.line, last.column + len(last.value)

    def _attach_nodes(self) -> None:
        at = {}
        for st in self.all_statements:
            at.setdefault(st.start, []).append(st)
        for node in self.net.nodes:
            for st in at.get((node.line, node.col), ()):
                if (node.kind == "input") == (st.kind == "input") and not (st.block and not node.spec.joins):
                    st.nodes.append(node)
                    break
            for line, col, _ in getattr(node, "trace", ()):   # the uses of definitions that made it
                for st in at.get((line, col), ()):
                    if not st.block:
                        st.made.append(node)
                        break

    # -- tokens, line by line --------------------------------------------------------
    def line_tokens(self, line: int) -> list:
        """The tokens of a 1-based line (up to a character no token matches)."""
        toks = self._tokens.get(line)
        if toks is None:
            from ..syntax import tokenize

            toks = []
            if 1 <= line <= len(self.lines):
                try:
                    for t in tokenize(self.lines[line - 1], line):
                        toks.append(t)
                except CnncError:
                    pass
            self._tokens[line] = toks
        return toks

    def _index(self, line: int) -> dict:
        """col -> index of the token there, on a line."""
        index = self._columns.get(line)
        if index is None:
            index = self._columns[line] = {t.column: i for i, t in enumerate(self.line_tokens(line))}
        return index

    def ascii(self, line: int) -> bool:
        """Is the 1-based line all ASCII (so that a column is the same in every encoding)?"""
        known = self._ascii.get(line)
        if known is None:
            known = self._ascii[line] = not 1 <= line <= len(self.lines) or self.lines[line - 1].isascii()
        return known

    def tokens_from(self, line: int, col: int):
        """The tokens from (line, col) on, line ends as `_SEP` tokens of value "\\n"."""
        from ..syntax import Token

        while line <= len(self.lines):
            for t in self.line_tokens(line):
                if t.column >= col:
                    yield t
            yield Token("_SEP", "\n", line, len(self.lines[line - 1]) + 1)
            line, col = line + 1, 1

    def token_at(self, line: int, col: int):
        """The token under (line, col), or touching it from the left (a cursor just after a
        word is on it), or None."""
        before = None
        for t in self.line_tokens(line):
            if t.column <= col < t.column + len(t.value):
                return t
            if t.column + len(t.value) == col:
                before = t
        return before

    # -- what the editor asks ----------------------------------------------------------
    def statement_at(self, line: int, col: int) -> "Statement | None":
        """The innermost statement whose span holds (line, col)."""
        found = None
        stmts = self.statements
        while True:
            inner = next((s for s in stmts if s.contains(line, col)), None)
            if inner is None:
                return found
            found, stmts = inner, inner.children

    @property
    def ok(self) -> bool:
        return self.net is not None and not any(d.severity == "error" for d in self.diagnostics)

    def node_info(self) -> dict:
        """node name -> {"rf": ((h, w), (jh, jw)) or None, "group": fusion group text or None},
        computed once, and only as far as the graph allows."""
        if self._info is None:
            self._info = {}
            if self.net is None:
                return self._info
            rf, groups = {}, {}
            try:
                from ..summary import receptive_fields

                rf = receptive_fields(self.net)
            except Exception:
                rf = {}
            if self.ok:
                try:
                    from ..backends.triton.policy import TRITON
                    from ..passes.fusion import plan

                    p = plan(self.net, TRITON)
                    described: dict = {}
                    for name, g in p.group_of.items():
                        if id(g) not in described:
                            described[id(g)] = f"k{g.index}: {_group_text(g)}"
                        groups[name] = described[id(g)]
                    for v in p.views:
                        groups[v.name] = "none (a view: it moves no data)"
                    for j in p.joins:
                        groups[j.name] = "none (its branches write into one buffer)"
                except Exception:
                    groups = {}
            for node in self.net.nodes:
                self._info[node.name] = {"rf": rf.get(node.name), "group": groups.get(node.name)}
        return self._info

    def names_before(self, line: int) -> list:
        """The names of layers and joins made by statements that start before `line`, in order."""
        if self.net is None:
            return []
        return [n.name for n in self.net.nodes if n.line < line and n.kind != "input"]

    def node_named(self, name: str):
        if self.net is None:
            return None
        if self._by_name is None:
            self._by_name = {n.name: n for n in self.net.nodes}
        return self._by_name.get(name)

    def definitions(self) -> list:
        """The top-level definition statements, in order."""
        return [st for st in self.statements if st.defines]

    def definition_named(self, name: str) -> "Statement | None":
        return next((st for st in self.statements if st.defines == name), None)

    def labelled(self, name: str, line: int, col: int) -> "Statement | None":
        """The statement labelled `name` that a reference at (line, col) reads: the last one
        written before it in its own block or an enclosing one (so a definition's labels are
        local to its body), as the graph builder looks names up."""
        here = self.statement_at(line, col)
        scopes = []
        while here is not None:
            scopes.append(here)
            here = here.parent
        best = None
        for st in self.all_statements:
            if st.label == name and st.start < (line, col) and (st.parent is None or st.parent in scopes):
                best = st
        return best

    def statement_of(self, node) -> "Statement | None":
        return next((st for st in self.all_statements if node in st.nodes), None)


MAX_GROUP_SHOWN = 8


def _group_text(group) -> str:
    """A fusion group as `cnnc compile --plan` names it, shortened when it is long."""
    nodes = group.nodes
    if group.copy_into is not None or len(nodes) <= MAX_GROUP_SHOWN:
        return group.describe()
    names = [n.name for n in nodes[:3]] + ["…"] + [n.name for n in nodes[-2:]]
    return " > ".join(names) + f" ({len(nodes):,} layers)"


def diagnostic_range(d: Diagnostic, analysis: Analysis) -> tuple:
    """(start, end) of a diagnostic, 1-based (line, col): the layer statement it points at
    (a shape error), else the token there, else one character."""
    at = (d.line, d.col)
    st = analysis.statement_at(*at)
    if st is not None and st.start == at and not st.block:
        return at, st.end
    tok = analysis.token_at(*at)
    if tok is not None and tok.column == d.col:
        return at, (d.line, d.col + len(tok.value))
    return at, (d.line, d.col + 1)
