"""What `cnnc shapes` shows: per-layer rows, totals, receptive field, smallest input.

Receptive field and cumulative stride (the "jump") follow the usual recurrence
per axis: rf_out = rf_in + (k - 1) * jump_in, jump_out = jump_in * s. At a join
the widest path wins. Once the image becomes a vector every unit sees the whole
input, so those rows show "all".
"""

from __future__ import annotations

from .layers import Image, window


def receptive_fields(net) -> dict:
    """node name -> ((rf_h, rf_w), (jump_h, jump_w)), or None for vector outputs."""
    info: dict = {}
    for n in net.nodes:
        if not n.inputs:
            info[n.name] = ((1, 1), (1, 1))
            continue
        ins = [info.get(i.name) for i in n.inputs]
        if not isinstance(n.out, Image) or any(x is None for x in ins):
            info[n.name] = None
            continue
        rf = tuple(max(x[0][a] for x in ins) for a in (0, 1))
        jump = tuple(max(x[1][a] for x in ins) for a in (0, 1))
        (kh, kw), (sh, sw) = n.spec.geometry(n.attrs)
        info[n.name] = ((rf[0] + (kh - 1) * jump[0], rf[1] + (kw - 1) * jump[1]), (jump[0] * sh, jump[1] * sw))
    return info


def _axis_ok(net, n_in: int, axis: int) -> bool:
    """Does the program have no error when the input has `n_in` along `axis`?

    Every statement acts on H and W separately, so one axis can be simulated alone;
    the rules are the registry's own (`spec.spatial`), as in shape inference.
    """
    size: dict = {}
    for n in net.nodes:
        if not n.inputs:
            size[n.name] = n_in
            continue
        ins = [size[i.name] for i in n.inputs]
        if any(s is None for s in ins):
            size[n.name] = None
            continue
        if len(ins) > 1 and any(s != ins[0] for s in ins):
            return False
        if not isinstance(n.out, Image):
            size[n.name] = None
            continue
        out = n.spec.spatial(ins[0], axis, n.attrs)
        if out <= 0:
            return False
        size[n.name] = out
    return True


def min_input(net, limit: int = 4096) -> "tuple[int, int] | None":
    """The least H and the least W (each searched alone) the program accepts."""
    result = []
    for axis in (0, 1):
        start = net.input_shape[axis]
        hi = start if _axis_ok(net, start, axis) else limit
        found = next((n for n in range(1, hi + 1) if _axis_ok(net, n, axis)), None)
        if found is None:
            return None
        result.append(found)
    return tuple(result)


def rows(net) -> list[dict]:
    """One dict per layer in execution order: what --json and the table show."""
    rf = receptive_fields(net)
    out = []
    for n in net.layers:
        r = rf.get(n.name)
        out.append({
            "name": n.name,
            "kind": n.kind,
            "output": list(n.out.dims),
            "params": n.n_params,
            "macs": n.macs,
            "activation": n.attrs.get("activation") if n.spec.takes_activation else None,
            "receptive_field": list(r[0]) if r else None,
            "stride": list(r[1]) if r else None,
            "line": n.line,
            "inputs": [i.name for i in n.inputs],
        })
    return out


def summary_dict(net) -> dict:
    return {
        "input": list(net.input_shape),
        "output": list(net.output_shape),
        "total_params": net.total_params,
        "total_macs": net.total_macs,
        "min_input": list(min_input(net) or []) or None,
        "layers": rows(net),
        "warnings": [d.format() for d in net.warnings],
    }


def _size(dims) -> str:
    return "x".join(str(d) for d in dims)


def _human(n: int) -> str:
    for unit, scale in (("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if n >= scale:
            return f"{n / scale:.2f}{unit}"
    return str(n)


def format_table(net, extra: "dict[str, dict] | None" = None) -> str:
    """A Keras-summary-like table. `extra` adds columns: {title: {layer name: text}}."""
    data = summary_dict(net)
    head = ["layer", "kind", "output", "params", "MACs", "RF", "stride"]
    extra = extra or {}
    head += list(extra)
    table = [head, ["input", "input", _size(data["input"]), "0", "0", "1x1", "1x1"] + ["" for _ in extra]]
    for r in data["layers"]:
        kind = r["kind"] + (f" {r['activation']}" if r["activation"] not in (None, "linear") else "")
        row = [r["name"], kind, _size(r["output"]), f"{r['params']:,}", f"{r['macs']:,}",
               _size(r["receptive_field"]) if r["receptive_field"] else "all",
               _size(r["stride"]) if r["stride"] else "-"]
        row += [col.get(r["name"], "") for col in extra.values()]
        table.append(row)
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    right = {3, 4}

    def fmt(row):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()

    rule = "-" * len(fmt(head))
    lines = [fmt(head), rule] + [fmt(r) for r in table[1:]] + [rule]
    mi = data["min_input"]
    lines += [
        f"Input: {_size(data['input'])}   Output: {_size(data['output'])}",
        f"Total params: {data['total_params']:,}",
        f"Total MACs: {data['total_macs']:,} ({_human(data['total_macs'])} per image)",
        f"Smallest input: {_size(mi) if mi else 'none'} (H x W)",
    ]
    return "\n".join(lines)
