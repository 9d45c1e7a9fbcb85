"""What `cnnc shapes` shows: per-layer rows, totals, receptive field, smallest input.

Receptive field and cumulative stride (the "jump") follow the usual recurrence
per axis: rf_out = rf_in + (k - 1) * jump_in, jump_out = jump_in * s. At a join
the widest path wins. Once the image becomes a vector every unit sees the whole
input, so those rows show "all".
"""

from __future__ import annotations

from .layers import Image, ShapeError


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


def _axis_ok(nodes, n_in: int, axis: int, relaxed: bool = False) -> bool:
    """Does the program have no error along `axis` when the input has `n_in` there?

    Every statement acts on H and W separately, so one axis is simulated alone,
    with the registry's own rules (`spec.spatial`). Sizes are ints on images and
    None on vectors. `relaxed` ignores the join's equal-size rule (a join takes
    its smallest input): then acceptance is monotone in `n_in`, which lets
    `min_input_of` bisect to a lower bound.
    """
    size: dict = {}
    for n in nodes:
        if not n.inputs:
            size[id(n)] = n_in
            continue
        ins = [size[id(i)] for i in n.inputs]
        spec = n.spec
        if spec.joins:
            if all(s is None for s in ins):
                out = None
            elif any(s is None for s in ins):
                return False
            elif relaxed:
                out = min(ins)
            elif any(s != ins[0] for s in ins):
                return False
            else:
                out = ins[0]
        elif ins[0] is None:
            if spec.on == "image":
                return False
            out = None
        else:
            if spec.on == "vector":
                return False
            if spec.makes_vector:
                out = None
            else:
                out = spec.spatial(ins[0], axis, n.attrs)
                if out <= 0:
                    return False
        size[id(n)] = out
    return True


def accepts(nodes, shape) -> bool:
    """Does the whole graph take an input of `shape` (H, W, C) without a shape error?"""
    out: dict = {}
    try:
        for n in nodes:
            if not n.inputs:
                out[id(n)] = Image(*shape)
            elif n.spec.joins:
                out[id(n)] = n.spec.join([out[id(i)] for i in n.inputs])
            else:
                out[id(n)] = n.spec.infer(out[id(n.inputs[0])], n.attrs)
    except ShapeError:
        return False
    return True


def min_input_of(nodes, shape, limit: int = 4096, valid: bool = True) -> "tuple[int, int] | None":
    """The least H and the least W (each searched alone) the graph accepts, or None.

    `valid`: the graph is known to accept `shape` (a parsed network), so each
    search can stop at the given size and falls back to it beyond `limit`.
    Otherwise (a collapse error's hint) sizes 1..limit are searched.
    """
    # H and W are independent unless a join meets vectors (whose length mixes H, W
    # and C); only then does a candidate also need the full check, other axis as given.
    full = valid and any(n.spec.joins and not isinstance(n.out, Image) for n in nodes)
    result = []
    for axis in (0, 1):
        given = shape[axis]
        lo = _first(lambda n: _axis_ok(nodes, n, axis, relaxed=True), limit) or limit + 1
        found = None
        for n in range(lo, min(limit, given if valid else limit) + 1):
            if _axis_ok(nodes, n, axis) and (not full or accepts(nodes, _with(shape, axis, n))):
                found = n
                break
        if found is None and valid and given > limit:
            found = given  # beyond the search limit: the given size is known good
        if found is None:
            return None
        result.append(found)
    return tuple(result)


def _first(pred, limit: int) -> "int | None":
    """The least n in 1..limit for which the monotone `pred` holds (doubling, then bisection)."""
    if pred(1):
        return 1
    if not pred(limit):
        return None
    lo, hi = 2, 2
    while not pred(hi):
        lo, hi = hi + 1, min(hi * 2, limit)
    while lo < hi:
        mid = (lo + hi) // 2
        if pred(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def _with(shape, axis, n):
    s = list(shape)
    s[axis] = n
    return tuple(s)


def min_input(net, limit: int = 4096) -> "tuple[int, int] | None":
    """The least H and the least W the (valid) network accepts, each with the other as given."""
    return min_input_of(net.nodes, net.input_shape, limit)


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
