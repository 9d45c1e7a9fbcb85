"""Hover text and inlay hints: what `cnnc shapes` says about a statement, where it stands.

A hover on a statement shows its layer's output shape, its input, parameters (each
array's shape), multiply-adds, receptive field and cumulative stride, and the Triton
kernel it is fused into. A statement inside `repeat` made several layers: each copy is
listed. A hover on a block shows its join (or, for `repeat`, its last layer) and what
the whole block holds. Inlay hints put each statement's output shape at its end.
"""

from __future__ import annotations

from .document import Analysis, Statement

MAX_COPIES_SHOWN = 8


def _shape(node) -> str:
    return str(node.out) if node is not None and node.out is not None else "?"


def _size(pair) -> str:
    return "x".join(str(v) if isinstance(v, int) else f"{v[0]}/{v[1]}" for v in pair)


def output_nodes(st: Statement, analysis: Analysis) -> list:
    """The nodes whose output is the statement's: its own (a layer, a join), or for a
    `repeat` or `branch` the last layer inside it."""
    if st.nodes:
        return st.nodes
    if st.made:   # a use of a definition: the last layer of each use (uses one after another count once)
        position = _positions(analysis)
        outs, last = [], None
        for n in sorted(st.made, key=lambda n: position[id(n)]):
            if last is not None and position[id(n)] == position[id(last)] + 1:
                outs[-1] = n
            else:
                outs.append(n)
            last = n
        return outs
    if st.kind in ("repeat", "branch"):
        inside = _all_nodes_in(st)
        if inside:
            position = _positions(analysis)
            return [max(inside, key=lambda n: position[id(n)])]
    return []


def _all_nodes_in(st: Statement) -> list:
    out = list(st.nodes)
    for c in st.children:
        out += _all_nodes_in(c)
    return out


def _positions(analysis: Analysis) -> dict:
    cache = getattr(analysis, "_positions", None)
    if cache is None:
        cache = {id(n): i for i, n in enumerate(analysis.net.nodes)} if analysis.net is not None else {}
        analysis._positions = cache
    return cache


def inlay_hints(analysis: Analysis, first_line: int = 1, last_line: "int | None" = None) -> list:
    """[(line, col, label)] for the statements whose output is complete in the lines asked
    (1-based, inclusive): `→ 26x26x32`, `→ 26x26x32 (×3)` for a body repeated alike."""
    last_line = len(analysis.lines) if last_line is None else last_line
    hints = []
    for st in analysis.all_statements:
        if st.kind in ("input", "shortcut", "def") or not first_line <= st.out_at[0] <= last_line:
            continue
        nodes = output_nodes(st, analysis)
        if not nodes or any(n.out is None for n in nodes):
            continue
        shapes = list(dict.fromkeys(str(n.out) for n in nodes))
        label = "→ " + (shapes[0] if len(shapes) == 1 else f"{shapes[0]} … {shapes[-1]}")
        if len(nodes) > 1:
            label += f" (×{len(nodes)})"
        hints.append((st.out_at[0], st.out_at[1], label))
    hints.sort()
    return hints


def hover(analysis: Analysis, line: int, col: int) -> "tuple | None":
    """(markdown, (start, end)) for the statement at (line, col), or a layer named there;
    None when there is nothing to say."""
    tok = analysis.token_at(line, col)
    if tok is not None and tok.type == "NAME":
        node = analysis.node_named(tok.value)
        st = analysis.statement_at(line, col)
        if node is not None and (st is None or node not in st.nodes):   # a reference to another layer
            return _layer_text(analysis, [node], None), ((tok.line, tok.column),
                                                           (tok.line, tok.column + len(tok.value)))
    st = analysis.statement_at(line, col)
    if st is None:
        return None
    if st.defines:
        text = _definition_text(analysis, st)
    elif st.block:
        text = _block_text(analysis, st)
    elif st.made:
        text = _use_text(analysis, st)
    else:
        text = _layer_text(analysis, st.nodes, st)
    return text, (st.start, st.end if not st.block else st.out_at)


def _source(analysis: Analysis, st: Statement) -> str:
    (l0, c0), (l1, c1) = st.start, st.end
    if l0 == l1:
        return analysis.lines[l0 - 1][c0 - 1:c1 - 1]
    return analysis.lines[l0 - 1][c0 - 1:].rstrip() + " … }"


def _layer_text(analysis: Analysis, nodes: list, st: "Statement | None") -> str:
    head = f"```cnn\n{_source(analysis, st)}\n```\n" if st is not None else ""
    if not nodes:
        why = "it has an error (see the problems)" if any(d.severity == "error" for d in analysis.diagnostics) \
            else "it makes no layer"
        return head + f"\nno shape: {why}"
    info = analysis.node_info()
    parts = []
    for node in nodes[:MAX_COPIES_SHOWN]:
        parts.append(_node_lines(node, info.get(node.name, {})))
    text = head + ("\n" if head else "")
    if len(nodes) > 1:
        text += f"{len(nodes)} copies (inside `repeat`):\n\n"
    text += "\n\n---\n\n".join(parts)
    if len(nodes) > MAX_COPIES_SHOWN:
        text += f"\n\n… and {len(nodes) - MAX_COPIES_SHOWN} more copies"
    return text


def _node_lines(node, info: dict) -> str:
    ins = ", ".join(f"{i.name} {_shape(i)}" for i in node.inputs)
    rows = [f"**{node.name}**: {node.kind} → **{_shape(node)}**"]
    if ins:
        rows.append(f"input: {ins}")
    if node.params:
        arrays = ", ".join(f"{k} {'x'.join(map(str, s))}" for k, s in node.params.items())
        rows.append(f"parameters: {node.n_params:,} ({arrays})")
    else:
        rows.append("parameters: 0")
    rows.append(f"MACs: {node.macs:,}")
    rf = info.get("rf")
    if rf is not None:
        rows.append(f"receptive field: {_size(rf[0])}, stride {_size(rf[1])}")
    elif node.out is not None and node.kind != "input":
        rows.append("receptive field: all (a vector: every unit sees the whole input)")
    if info.get("group"):
        rows.append(f"fused into Triton kernel {info['group']}")
    return "  \n".join(rows)


def _block_text(analysis: Analysis, st: Statement) -> str:
    inside = _all_nodes_in(st)
    outs = output_nodes(st, analysis)
    what = {"repeat": f"its body {_count(st)} in a row", "branch": "a branch of concat (or add)",
            "shortcut": "the shortcut of the residual before it"}.get(st.kind, st.kind)
    text = f"**{st.label + ': ' if st.label else ''}{st.kind}** block: {what}  \n"
    layers = [n for n in inside if not n.spec.joins or n in st.nodes]
    text += f"holds {len(layers):,} layers, {sum(n.n_params for n in inside):,} parameters, " \
            f"{sum(n.macs for n in inside):,} MACs"
    if outs:
        text += "\n\n---\n\n" + _node_lines(outs[-1], analysis.node_info().get(outs[-1].name, {}))
    return text


def _count(st: Statement) -> str:
    c = st.ast.count
    return f"{c.text} times" if c is not None else "(no count)"


def _use_text(analysis: Analysis, st: Statement) -> str:
    outs = output_nodes(st, analysis)
    made = st.made
    text = f"```cnn\n{_source(analysis, st)}\n```\n\n"
    uses = f" in {len(outs)} uses" if len(outs) > 1 else ""
    text += (f"a use of `{st.kind}`: {len(made):,} layers{uses}, {sum(n.n_params for n in made):,} parameters, "
             f"{sum(n.macs for n in made):,} MACs")
    if outs:
        text += "\n\n---\n\n" + _node_lines(outs[-1], analysis.node_info().get(outs[-1].name, {}))
    return text


def _definition_text(analysis: Analysis, st: Statement) -> str:
    params = []
    for a in st.ast.params:
        params.append(f"{a.key}={a.value.text}" if a.key is not None else a.value.text)
    uses = [u for u in analysis.all_statements if u.kind == st.defines and not u.block]
    text = f"```cnn\ndef {st.defines} {' '.join(params)}\n```\n\n"
    text += f"a definition: used {len(uses)} time{'s' if len(uses) != 1 else ''} (a definition alone makes no layer)"
    made = [n for u in uses for n in u.made if u.parent is None]
    if made:
        text += f"; its uses make {len(made):,} layers, {sum(n.n_params for n in made):,} parameters"
    return text
