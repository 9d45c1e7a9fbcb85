"""What the playground shows of a program as it is typed: the answer of `cnnc shapes --json`
(the same rows, diagnostics and memory at a batch), with each layer's shape arithmetic and
statement, and the graph laid out for the page to draw.

A program is parsed, never executed, under the language's own limits (cnnc/limits.py): a
100,001-layer program gets the CLI's error at its line. The page draws a table row and a
graph box per layer, so a valid program of more than MAX_SHOWN_LAYERS layers gets a page
error instead of a table (`cnnc shapes FILE` prints every row).
"""

from __future__ import annotations

from ..errors import CnncError, Diagnostic

MAX_SHOWN_LAYERS = 3_000   # rows and graph boxes one page draws (a NASNetLarge has about 1,300)


def check(text: str, filename: str, batch: "int | None" = None, input_shape=None) -> dict:
    """The summary of `text` as `cnnc shapes --json [--batch B]` gives it, plus `arithmetic`,
    `statement` and `uses` (the lines of the uses of definitions that made it, the
    innermost first) per layer and `graph`; for a program with errors, `ok: false` and its
    diagnostics (each with line, col, message and hint: the did-you-mean)."""
    from .. import parse
    from ..summary import error_dict

    try:
        net = parse(text, input=input_shape, filename=filename)
    except CnncError as e:
        return error_dict(e, filename)
    except (ValueError, OverflowError, RecursionError) as e:   # as the CLI's load_network says it
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
        return error_dict(CnncError(f"this program cannot be read: {first}", 1, 1, filename), filename)
    return summarize(net, batch)


def summarize(net, batch: "int | None" = None) -> dict:
    """A valid network's summary for the page (see `check`)."""
    from ..layers import statement
    from ..summary import summary_dict

    if len(net.layers) > MAX_SHOWN_LAYERS:
        return {"file": net.filename, "ok": False, "diagnostics": [d.to_dict() for d in net.warnings],
                "too_large": f"this network has {len(net.layers):,} layers; the playground draws at most "
                             f"{MAX_SHOWN_LAYERS:,} (cnnc shapes {net.filename} prints every one)"}
    data = summary_dict(net, batch)
    for row in data["layers"]:
        node = net[row["name"]]
        row["statement"] = statement(node)
        row["uses"] = [line for line, _, _ in node.trace]   # the lines of the uses of definitions that made it
        row["arithmetic"] = node.spec.arithmetic(node.inputs[0].out, node.out, node.attrs) \
            if node.inputs and not node.spec.joins else []
    data["graph"] = graph(net)
    return data


def graph(net) -> dict:
    """The DAG for the page to draw: nodes at (x, row) from `pictures.layout` (rows by depth
    from the input; an edge that skips rows passes through `via` columns, one per row), edges
    labelled with the shape they carry (`gate`: a scale block's gate, drawn dashed), and
    `blocks`: for every join, the layers between it and the node its inputs fork from, so the
    page can frame each residual, concat, scale or named join with its name."""
    from ..layers import Role, statement
    from ..pictures import is_gate, layout

    pos, routes = layout(net)
    nodes = []
    for n in net.nodes:
        x, row = pos[n.name]
        nodes.append({"name": n.name, "kind": n.kind, "label": "input" if n.spec.role is Role.INPUT else statement(n),
                      "out": str(n.out), "x": x, "row": row, "join": bool(n.spec.joins),
                      "input": n.spec.role is Role.INPUT, "output": n is net.output, "line": n.line})
    edges = [{"source": i.name, "target": n.name, "shape": str(i.out), "gate": is_gate(n, i),
              "via": routes[(i.name, n.name)]}
             for n in net.nodes for i in n.inputs]
    return {"nodes": nodes, "edges": edges, "blocks": blocks(net)}


def blocks(net) -> list:
    """[{"join": name, "members": [names]}] for every join: the nodes on the paths from the
    join's fork (the nearest node that every path from the join back to the input passes
    through: its immediate dominator) to the join, the join included. Found from the graph
    alone, so blocks written as `residual { }`, `concat { branch … }` and joins of named
    layers (`add a b`) are framed alike."""
    position = {n.name: i for i, n in enumerate(net.nodes)}
    idom: dict = {}
    for n in net.nodes:
        if not n.inputs:
            idom[n.name] = None
            continue
        common = n.inputs[0].name
        for i in n.inputs[1:]:
            common = _meet(common, i.name, idom, position)
        idom[n.name] = common
    out = []
    for n in net.nodes:
        if not n.spec.joins or idom[n.name] is None:
            continue
        fork = idom[n.name]
        members, stack, seen = [], list(n.inputs), {fork}
        while stack:
            m = stack.pop()
            if m.name in seen:
                continue
            seen.add(m.name)
            members.append(m.name)
            stack.extend(m.inputs)
        members.sort(key=position.get)
        out.append({"join": n.name, "fork": fork, "members": members + [n.name]})
    return out


def _meet(a: str, b: str, idom: dict, position: dict) -> str:
    """The nearest common dominator of two nodes (walk the later one up until they meet)."""
    while a != b:
        if position[a] > position[b]:
            a = idom[a]
        else:
            b = idom[b]
    return a


def diagnostic(message: str, filename: str) -> dict:
    """A page error that belongs to no line of the program, as one diagnostic at 1:1."""
    return Diagnostic("error", message, 1, 1, filename).to_dict()
