"""What `cnnc shapes` shows: per-layer rows, totals, receptive field, smallest input.

Receptive field and cumulative stride (the "jump") follow the usual recurrence
per axis: rf_out = rf_in + (k - 1) * jump_in, jump_out = jump_in * s / g, where a
layer that grows the image (deconv, upsample) has growth g > 1, so the jump can
become a fraction (1/2: two output pixels per input pixel); the receptive field is
then rounded up to whole input pixels. At a join the widest path wins. Once the
image becomes a vector every unit sees the whole input, so those rows show "all". A
scale join follows the image it gates (its gate, a vector, is a summary of the
whole image by design, and would make every later row "all").
"""

from __future__ import annotations

from .input_sizes import input_rule, min_input, rule_words
from .layers import Image

# Receptive fields and strides stop growing here: `padding=same` keeps a 1x1 image alive
# through any number of stride-2 layers, and 2^100000 would cost quadratic time (and
# cannot be printed). 2^53 is also the largest integer every JSON reader keeps exact.
RF_CAP = 2**53


def _ratio(num: int, den: int) -> tuple:
    if den == 1:
        return num, 1
    from math import gcd   # only after a layer that grows the image: `cnnc shapes` skips the import

    g = gcd(num, den)
    return num // g, den // g


def _capped(num: int, den: int) -> tuple:
    """num/den reduced, at most RF_CAP, its denominator at most RF_CAP (a finer fraction is
    rounded up to a multiple of 1/RF_CAP: strides and growths that never cancel would
    otherwise make numbers of thousands of digits)."""
    if num > RF_CAP * den:
        return RF_CAP, 1
    if den > RF_CAP:
        num, den = -(-num * RF_CAP // den), RF_CAP
    return _ratio(num, den)


def _widest(fractions):
    """The largest of (numerator, denominator) pairs, the first of equals (as max() gives)."""
    it = iter(fractions)
    best = next(it)
    value = best[0] / best[1]
    for f in it:
        if f is not best and f[0] / f[1] > value:
            best, value = f, f[0] / f[1]
    return best


def receptive_fields(net) -> dict:
    """node name -> ((rf_h, rf_w), (jump_h, jump_w)), or None for vector outputs.

    A jump is an int, or a (numerator, denominator) pair after a layer that grows the
    image; receptive fields are whole input pixels (rounded up). Each stops at RF_CAP."""
    from .layers import LayerKind

    # a kind that keeps LayerKind's geometry and growth (an activation, batchnorm, a join)
    # sees one pixel with stride 1: its input's field passes through unchanged
    unit_window = {}
    info: dict = {}   # name -> (rf per axis as (num, den), jump per axis as (num, den))
    for n in net.nodes:
        if not n.inputs:
            info[n.name] = (((1, 1), (1, 1)), ((1, 1), (1, 1)))
            continue
        spec = n.spec
        ins = [info.get(i.name) for i in n.inputs if not spec.joins or isinstance(i.out, Image)]
        if not isinstance(n.out, Image) or None in ins:
            info[n.name] = None
            continue
        if len(ins) > 1:   # a join: the widest path, axis by axis (the first of equals)
            first = ins[0]
            if all(x is first for x in ins):   # one path, read twice (a residual of an identity)
                ins = [first]
            else:
                ins = [(tuple(_widest(x[0][a] for x in ins) for a in (0, 1)),
                        tuple(_widest(x[1][a] for x in ins) for a in (0, 1)))]
        unit = unit_window.get(spec)
        if unit is None:
            kind = type(spec)
            unit = unit_window[spec] = kind.geometry is LayerKind.geometry and kind.growth is LayerKind.growth
        if unit:
            (kh, kw), (sh, sw), (gh, gw) = (1, 1), (1, 1), (1, 1)
        else:
            (kh, kw), (sh, sw) = spec.geometry(n.attrs)
            gh, gw = spec.growth(n.attrs)
        if kh == kw == sh == sw == gh == gw == 1:
            (rh, rw), (jh, jw) = ins[0]
            if rh[1] * jh[1] <= RF_CAP and rw[1] * jw[1] <= RF_CAP:
                info[n.name] = ins[0]   # a 1x1 window, stride 1: what the loop below gives, unchanged
                continue
        rf, jump = [], []
        for a, k, s, g in ((0, kh, sh, gh), (1, kw, sw, gw)):
            r, j = ins[0][0][a], ins[0][1][a]
            rf.append(_capped(r[0] * j[1] + (k - 1) * j[0] * r[1], r[1] * j[1]))
            jump.append(_capped(j[0] * s, j[1] * g))
        info[n.name] = (tuple(rf), tuple(jump))
    shown: dict = {None: None}   # a field several layers share (a chain of activations) is written once
    out = {}
    for name, v in info.items():
        found = shown.get(v)
        if found is None and v is not None:
            found = shown[v] = (tuple(-(-r[0] // r[1]) for r in v[0]), tuple(j[0] if j[1] == 1 else j for j in v[1]))
        out[name] = found
    return out


def rows(net, batch: "int | None" = None) -> list[dict]:
    """One dict per layer in execution order: every column of the table, as --json gives it.
    `batch` adds `activation_bytes` (the layer's output at that batch, float32)."""
    from .backends.triton.policy import TRITON
    from .passes.fusion import kernel_column

    rf = receptive_fields(net)
    kernels = kernel_column(net, TRITON)
    out = []
    for n in net.layers:
        r = rf.get(n.name)
        row = {
            "name": n.name,
            "kind": n.kind,
            "output": list(n.out.dims),
            "params": n.n_params,
            "trainable_params": n.n_trainable,
            "macs": n.macs,
            "activation": _activation(n),
            "receptive_field": list(r[0]) if r else None,
            "stride": _stride(r[1]) if r else None,
            "kernel": kernels.get(n.name),
            "line": n.line,
            "inputs": [i.name for i in n.inputs],
            "depth": n.depth,
        }
        if batch is not None:
            row["activation_bytes"] = 4 * batch * _count(n.out.dims)
        out.append(row)
    return out


def _activation(n) -> "str | None":
    """The activation a layer's row names: its `activation` option, for kinds that take one."""
    return n.attrs.get("activation") if n.spec.takes_activation else None


def _stride(jumps) -> list:
    """A receptive field's jumps as the stride column shows them: an int, or a fraction's float."""
    return [j if isinstance(j, int) else j[0] / j[1] for j in jumps]


def _count(dims) -> int:
    size = 1
    for d in dims:
        size *= d
    return size


def summary_dict(net, batch: "int | None" = None, device_memory: "int | None" = None) -> dict:
    """What `cnnc shapes --json` prints for a valid program (memory with a batch)."""
    layers = rows(net, batch)
    total = sum(r["params"] for r in layers)
    trainable = sum(r["trainable_params"] for r in layers)
    data = {
        "file": net.filename,
        "ok": True,
        "input": list(net.input_shape),
        "output": list(net.output_shape),
        "total_params": total,
        "trainable_params": trainable,
        "non_trainable_params": total - trainable,
        "total_macs": sum(r["macs"] for r in layers),
        "min_input": list(min_input(net) or []) or None,
        "input_rule": dict(input_rule(net)),
        "layers": layers,
        "diagnostics": [d.to_dict() for d in net.warnings],
    }
    if batch is not None:
        from .memory import summary

        data["memory"] = summary(net, batch, device_memory)
    return data


def error_dict(err, filename: str) -> dict:
    """What `cnnc shapes --json` prints for a program with errors: every diagnostic."""
    found = sorted(list(err.warnings) + list(err.diagnostics), key=lambda d: (d.line, d.col))
    return {"file": filename, "ok": False, "diagnostics": [d.to_dict() for d in found]}


def _size(dims) -> str:
    for d in dims:
        if isinstance(d, float):
            return "x".join(_fraction(d) if isinstance(d, float) else str(d) for d in dims)
    return "x".join(map(str, dims))


def _fraction(x: float) -> str:
    """A cumulative stride below 1 (after deconv or upsample) as the fraction it is: 0.5 -> 1/2."""
    from fractions import Fraction

    f = Fraction(x).limit_denominator(1 << 20)
    return str(f.numerator) if f.denominator == 1 else f"{f.numerator}/{f.denominator}"


def _human(n: int) -> str:
    for unit, scale in (("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if n >= scale:
            return f"{n / scale:.2f}{unit}"
    return str(n)


def human_bytes(n: int) -> str:
    """1,536 -> '1.5 KiB' (binary units, as memory is counted)."""
    if n < 1024:
        return f"{n} B"
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        n /= 1024
        if n < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}"
    return ""  # not reached


def _decimal_bytes(n: int) -> str:
    """A device size as it was given: 80 GB, 141 GB, 512 MB (decimal units)."""
    for unit, scale in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} B"


def format_table(net, extra: "dict[str, dict] | None" = None, batch: "int | None" = None,
                 device_memory: "int | None" = None) -> str:
    """A Keras-summary-like table (what `cnnc shapes` and `net.summary()` print, `net.summary_text()` returns).

    Layers inside a block are indented, one step per level; `connected to` names a layer's
    inputs when they are not simply the row above (a shortcut, a branch, a join), and is
    left out for a network that is a straight line. `batch` adds a memory column and the
    memory totals; `device_memory` (bytes) the largest batch the Triton backend fits in it.
    `extra` adds columns: {title: {layer name: text}}.

    The same facts as `rows` (what --json prints), read from the nodes directly: a long
    network's table would otherwise build every row twice.
    """
    from .backends.triton.policy import TRITON
    from .passes.fusion import kernel_column

    extra = dict(extra or {})
    rf = receptive_fields(net)
    kernels = kernel_column(net, TRITON)
    layers = net.layers
    connected = {n.name: ", ".join(i.name for i in n.inputs) for n, prev in zip(layers, net.nodes)
                 if len(n.inputs) != 1 or n.inputs[0] is not prev}
    memory = batch is not None
    head = ["layer", "kind", "output", "params", "MACs"] + (["memory"] if memory else []) + ["RF", "stride", "kernel"]
    head += list(extra) + (["connected to"] if connected else [])
    first = ["input", "input", _size(net.input_shape), "0", "0"]
    if memory:
        first.append(human_bytes(4 * batch * _count(net.input_shape)))
    table = [head, first + ["1x1", "1x1", ""] + ["" for _ in extra] + ([""] if connected else [])]
    # a long network repeats its shapes, strides and counts: each is written once
    sizes: dict = {}
    fields: dict = {None: ("all", "-")}
    numbers: dict = {}
    extras = list(extra.values())
    total = trainable = macs_total = 0
    for n in layers:
        params, macs, out = n.n_params, n.macs, n.out.dims
        total += params
        trainable += n.n_trainable
        macs_total += macs
        activation = _activation(n)
        r = rf.get(n.name)
        field = fields.get(r)
        if field is None:
            field = fields[r] = (_size(r[0]), _size(_stride(r[1])))
        row = ["  " * n.depth + n.name if n.depth else n.name,
               n.kind if activation in (None, "linear") else f"{n.kind} {activation}",
               sizes.get(out) or sizes.setdefault(out, _size(out)),
               numbers.get(params) or numbers.setdefault(params, f"{params:,}"),
               numbers.get(macs) or numbers.setdefault(macs, f"{macs:,}")]
        if memory:
            row.append(human_bytes(4 * batch * _count(out)))
        row += [field[0], field[1], kernels.get(n.name) or ""]
        if extras:
            row += [col.get(n.name, "") for col in extras]
        if connected:
            row.append(connected.get(n.name, ""))
        table.append(row)
    widths = [max(map(len, column)) for column in zip(*table)]
    right = {3, 4, 5} if memory else {3, 4}
    # one format for every row: numbers right-aligned, the rest left-aligned, two spaces between
    spec = "  ".join(f"{{:{'>' if i in right else '<'}{w}}}" for i, w in enumerate(widths))

    def fmt(row):
        return spec.format(*row).rstrip()

    rule = "-" * len(fmt(head))
    lines = [fmt(head), rule] + [fmt(r) for r in table[1:]] + [rule]
    mi = min_input(net)
    words = rule_words(input_rule(net))
    lines += [
        f"Input: {_size(net.input_shape)}   Output: {_size(net.output_shape)}",
        f"Total params: {total:,} ({human_bytes(4 * total)})",
        f"Trainable params: {trainable:,}",
        f"Non-trainable params: {total - trainable:,}",
        f"Total MACs: {macs_total:,} ({_human(macs_total)} per image)",
        f"Smallest input: {_size(mi) if mi else 'none'} (H x W)" + (f"; {words}" if words else ""),
    ]
    if memory:
        from .memory import summary

        m = summary(net, batch, device_memory)
        lines.append(f"Memory at batch {batch:,} (float32): peak of a forward pass {human_bytes(m['peak_bytes'])} "
                     f"(numpy), {human_bytes(m['triton_peak_bytes'])} (triton buffers), "
                     f"beyond the weights and the input")
        if device_memory is not None:
            lines.append(_fits_line(m, device_memory))
    return "\n".join(lines)


def _fits_line(m: dict, device_memory: int) -> str:
    """Whether the batch fits on the GPU, and the largest batch that does."""
    on = f"On a GPU with {_decimal_bytes(device_memory)} ({human_bytes(device_memory)})"
    takes = (f"batch {m['batch']:,} takes {human_bytes(m['device_bytes'])} with the triton backend "
             f"(weights {human_bytes(m['params_bytes'])})")
    if m["max_batch"] == 0:
        return (f"{on}: {takes}; not even one image fits: shrink the input, or downsample early "
                f"(a stride or a pool in the first layers)")
    verdict = "fits" if m["device_bytes"] <= device_memory else "does not fit"
    return f"{on}: {takes} and {verdict}; the largest batch that fits is {m['max_batch']:,}"
