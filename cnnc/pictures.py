"""Pictures of a network: its graph (DOT, SVG, PNG) and a layer's feature maps.

`to_dot(net)` is Graphviz DOT text: one box per layer (name and statement), one
arrow per edge labelled with the shape it carries. A join is an ellipse; the gate of a
scale block (squeeze-and-excitation: a vector that multiplies every pixel) arrives on a
dashed arrow. `draw_graph(net, path)` renders
it to .svg/.png with Graphviz's `dot` when installed, and otherwise lays the DAG
out itself with matplotlib (layers by depth from the input, branches side by side).

`feature_maps(model, x, layer)` is a layer's output for one image, computed by the
numpy backend on the part of the network that feeds the layer (a fused backend
need not keep that output around); `draw_feature_maps` puts its channels in a grid
-- the course notes' "32 glowing wireframes" of layer 1.

matplotlib is an optional dependency (`pip install 'cnnc[pictures]'`); nothing here
imports it until a picture is drawn.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess

from .layers import Prologue, Role, statement
from .optional import require


# --- labels -------------------------------------------------------------------------

def is_gate(node, source) -> bool:
    """Whether the edge source -> node carries a scale block's gate (drawn dashed)."""
    return node.spec.prologue is Prologue.GATE and len(node.inputs) > 1 and source is node.inputs[-1]


def _dot_string(text: str) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(net) -> str:
    """The DAG as Graphviz DOT: boxes for layers, edges labelled with shapes."""
    title = os.path.basename(str(net.filename or "network"))
    lines = [f"digraph {_dot_string(title)} {{",
             "  rankdir=TB;",
             '  node [shape=box, style="rounded,filled", fillcolor="#eef3fb", fontname="Helvetica", fontsize=11];',
             '  edge [fontname="Helvetica", fontsize=9, color="#555555"];']
    for n in net.nodes:
        label = f"input\n{n.out}" if n.spec.role is Role.INPUT else f"{n.name}\n{statement(n)}"
        extra = ""
        if n.spec.joins:
            extra = ', shape=ellipse, fillcolor="#fbf1e6"'
        elif n.spec.role is Role.INPUT or n is net.output:
            extra = ', fillcolor="#e6f5ea"'
        lines.append(f"  {_dot_string(n.name)} [label={_dot_string(label)}{extra}];")
    for n in net.nodes:
        for i in n.inputs:
            style = ', style=dashed, color="#b9770e"' if is_gate(n, i) else ""
            lines.append(f"  {_dot_string(i.name)} -> {_dot_string(n.name)} [label={_dot_string(' ' + str(i.out))}"
                         f"{style}];")
    lines.append(f"  {_dot_string(net.output.name)} -> \"output\" [label={_dot_string(' ' + str(net.output.out))}];")
    lines.append('  "output" [shape=plaintext, fillcolor=none, style=""];')
    lines.append("}")
    return "\n".join(lines) + "\n"


# --- the graph picture -------------------------------------------------------------

GRAPH_FORMATS = (".dot", ".svg", ".png")


def draw_graph(net, path, use_graphviz: "bool | None" = None) -> list:
    """Write the graph picture to `path` (.dot, .svg or .png); returns the files written.

    .dot is the DOT text itself; .svg/.png are rendered by Graphviz's `dot` when it is on
    PATH (or `use_graphviz=True`), else by matplotlib, without writing any other file. The
    file is written atomically, and the same network gives the same bytes.
    """
    from .runtime.files import write_atomic

    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext not in GRAPH_FORMATS:
        raise ValueError(f"{path}: the graph picture is .svg, .png or .dot, got '{ext or 'no extension'}'")
    dot_text = to_dot(net)
    if ext == ".dot":
        def write(tmp):
            with open(tmp, "w", encoding="utf-8", newline="\n") as f:
                f.write(dot_text)
        write_atomic(path, write)
        return [path]
    dot_exe = shutil.which("dot")
    if use_graphviz is None:
        use_graphviz = dot_exe is not None
    if use_graphviz:
        if dot_exe is None:
            raise FileNotFoundError("Graphviz's `dot` is not installed (apt install graphviz, brew install graphviz)")
        write_atomic(path, lambda tmp: subprocess.run([dot_exe, f"-T{ext[1:]}", "-o", tmp], input=dot_text.encode(),
                                                      check=True, capture_output=True))
    else:
        _draw_graph_matplotlib(net, path)
    return [path]


def layout(net) -> tuple:
    """A layered drawing of the DAG: (pos, routes).

    pos: name -> (x, depth), depth the longest path from the input. An edge that
    skips rows gets a virtual point in every row it crosses (as Graphviz does), so
    it is routed beside the boxes instead of through them; routes: (src, dst) ->
    the x of those points. Within a row, points sit under the mean x of what feeds
    them, pushed apart to one column's spacing.
    """
    depth: dict = {}
    for n in net.nodes:
        depth[n.name] = 1 + max((depth[i.name] for i in n.inputs), default=-1)
    order = {n.name: k for k, n in enumerate(net.nodes)}
    rows: dict = {}
    for n in net.nodes:
        rows.setdefault(depth[n.name], []).append(("node", n.name))
    feeds: dict = {n.name: [("node", i.name) for i in n.inputs] for n in net.nodes}
    for n in net.nodes:
        for i in n.inputs:
            prev = ("node", i.name)
            for d in range(depth[i.name] + 1, depth[n.name]):
                v = ("via", i.name, n.name, d)
                rows[d].append(v)
                feeds[v] = [prev]
                prev = v
            feeds[("edge", i.name, n.name)] = [prev]
    x: dict = {}
    for d in sorted(rows):
        items = rows[d]
        want = {it: (sum(x[f] for f in _feeds(feeds, it)) / len(_feeds(feeds, it)) if d else 0.0) for it in items}
        items.sort(key=lambda it: (want[it], it[0] == "via", order[it[1]]))
        placed: list = []
        for it in items:
            placed.append(want[it] if not placed else max(want[it], placed[-1] + 1.0))
        shift = sum(want[it] - p for it, p in zip(items, placed)) / len(items)
        for it, p in zip(items, placed):
            x[it] = p + shift
    pos = {name: (x[("node", name)], depth[name]) for name in depth}
    routes = {}
    for n in net.nodes:
        for i in n.inputs:
            routes[(i.name, n.name)] = [x[("via", i.name, n.name, d)] for d in range(depth[i.name] + 1, depth[n.name])]
    return pos, routes


def _feeds(feeds, item):
    if item[0] == "node":
        return feeds[item[1]]
    return feeds[item]


def _pyplot():
    matplotlib = require("matplotlib", "pictures")
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


# What matplotlib would put in a file that changes from run to run (the date, random ids).
_NO_DATES = {"svg": {"Date": None}, "pdf": {"CreationDate": None, "ModDate": None}, "png": {}}


def _save(fig, path, dpi) -> None:
    """fig written to `path` atomically, byte for byte the same for the same picture: no
    date in the metadata, SVG ids from a fixed salt instead of random ones."""
    import matplotlib

    from .runtime.files import write_atomic

    path = os.fspath(path)
    fmt = os.path.splitext(path)[1].lower().lstrip(".")
    try:
        with matplotlib.rc_context({"svg.hashsalt": "cnnc"}):
            write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format=fmt, metadata=_NO_DATES.get(fmt)))
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)


def _draw_graph_matplotlib(net, path) -> None:
    plt = _pyplot()
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    pos, routes = layout(net)
    xs = [p[0] for p in pos.values()] + [v for r in routes.values() for v in r]
    x_lo, x_hi = min(xs), max(xs)
    n_rows = 1 + max(d for _, d in pos.values())
    longest = max(len(statement(n)) for n in net.nodes)
    box_w = max(2.2, 0.068 * longest + 0.2)  # inches: the longest statement fits at 7.5 pt
    col_w, row_h, box_h = box_w + 0.4, 1.0, 0.5
    fig_w = max(4.0, (x_hi - x_lo) * col_w + box_w + 0.8)
    fig_h = n_rows * row_h + 0.6
    fig, ax = plt.subplots(figsize=(fig_w, fig_h))
    mid = (x_lo + x_hi) / 2 * col_w
    ax.set_xlim(mid - fig_w / 2, mid + fig_w / 2)
    ax.set_ylim(-(n_rows - 1) * row_h - 0.6, 0.6)
    ax.axis("off")

    def xy(name):
        c, d = pos[name]
        return c * col_w, -d * row_h

    for n in net.nodes:
        x, y = xy(n.name)
        color = "#fbf1e6" if n.spec.joins else ("#e6f5ea" if n.spec.role is Role.INPUT or n is net.output else "#eef3fb")
        ax.add_patch(FancyBboxPatch((x - box_w / 2, y - box_h / 2), box_w, box_h,
                                    boxstyle="round,pad=0.02,rounding_size=0.1", fc=color, ec="#34495e", lw=0.8))
        text = f"input {n.out}" if n.spec.role is Role.INPUT else f"{n.name}\n{statement(n)}"
        ax.text(x, y, text, ha="center", va="center", fontsize=7.5)
    for n in net.nodes:
        x1, y1 = xy(n.name)
        for i in n.inputs:
            x0, y0 = xy(i.name)
            d0 = pos[i.name][1]
            # the path: out of the source box, through the virtual points, into the target box
            pts = [(x0, y0 - box_h / 2)]
            for k, v in enumerate(routes[(i.name, n.name)], 1):
                vy = -(d0 + k) * row_h
                pts += [(v * col_w, vy + box_h / 2), (v * col_w, vy - box_h / 2)]
            pts.append((x1, y1 + box_h / 2))
            gate = is_gate(n, i)
            color, ls = ("#b9770e", "--") if gate else ("#555555", "-")
            if len(pts) > 2:
                ax.plot([p[0] for p in pts[:-1]], [p[1] for p in pts[:-1]], color=color, lw=0.7, ls=ls)
            ax.add_patch(FancyArrowPatch(pts[-2], pts[-1], arrowstyle="-|>", mutation_scale=8, lw=0.7,
                                         color=color, linestyle=ls, shrinkA=0, shrinkB=0))
            (ax0, ay0), (ax1, ay1) = pts[0], pts[1]
            ax.text((ax0 + ax1) / 2 + 0.08, (ay0 + ay1) / 2, str(i.out), ha="left", va="center", fontsize=6.5,
                    color="#8e44ad")
    ax.set_title(os.path.basename(str(net.filename or "")), fontsize=9)
    fig.tight_layout()
    dpi = min(150, int(60000 / max(fig_h, fig_w)))  # keep very deep networks under matplotlib's size limit
    _save(fig, path, dpi)


# --- feature maps ------------------------------------------------------------------

def feature_maps(model, x, layer: str):
    """The output of `layer` for the images x (N, H, W, C) as a numpy array (N, ...).

    The sub-network that feeds `layer` is compiled with the numpy backend and the
    model's weights, so the answer is the reference's, whatever backend `model` uses.
    """
    import numpy as np

    from . import compile as compile_model
    from .graph import Network

    net = model.network
    try:
        node = net[layer]
    except KeyError:
        names = ", ".join(n.name for n in net.nodes)
        raise KeyError(f"no layer '{layer}' in this network; its layers are {names}") from None
    keep, stack = set(), [node]
    while stack:
        n = stack.pop()
        if n.name not in keep:
            keep.add(n.name)
            stack.extend(n.inputs)
    if node.spec.role is Role.INPUT:
        return np.asarray(x, dtype=np.float32)
    sub = Network([n for n in net.nodes if n.name in keep], node, [], net.filename, net.program)
    weights = {k: v for k, v in model.params.items() if k.rsplit(".", 1)[0] in keep}
    return compile_model(sub, backend="numpy", weights=weights)(x)


def draw_feature_maps(maps, path, title: str = "", cmap: str = "viridis") -> None:
    """A grid of the channels of `maps` (H, W, C), each scaled on its own, saved to `path` (.png/.svg/.pdf)."""
    import numpy as np

    plt = _pyplot()
    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim != 3:
        raise ValueError(f"feature maps are (H, W, C), got shape {maps.shape}")
    h, w, c = maps.shape
    cols = math.ceil(math.sqrt(c * 1.5))
    rows = math.ceil(c / cols)
    cell = max(0.9, min(1.8, 12.0 / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * cell, rows * cell * h / w + (0.5 if title else 0.1)),
                             squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < c:
            ax.imshow(maps[..., k], cmap=cmap, interpolation="nearest")
            ax.set_title(str(k), fontsize=7, pad=2)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save(fig, path, 110)


def read_image(path, shape) -> "object":
    """One image as float32 (1, H, W, C) for a network input `shape` (H, W, C).

    .npy: an array (H, W, C), (H, W) or (N, H, W, C) (its first image); .npz: the array
    `x` or the only array, the same way; .png/.jpg: read with matplotlib (values in [0, 1];
    RGBA loses alpha; RGB becomes gray when the network takes one channel). A numpy file's
    shape is checked from its header and only the first image is read, so a large data set
    (or a file that only declares one) costs one image of memory. ValueError when the file
    is not such an image.
    """
    import numpy as np

    from .runtime.files import NotRegularFile, open_regular

    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if os.path.isdir(path):
        raise ValueError(f"{path}: is a folder, not an image")
    if ext in (".npy", ".npz"):
        a = _load_numpy_image(path, ext, tuple(shape))
    elif ext in (".png", ".jpg", ".jpeg"):
        plt = _pyplot()
        try:
            f = open_regular(path)   # FileNotFoundError: the caller's "no such file"
        except NotRegularFile as e:
            raise ValueError(f"{path}: is {e.what}, not an image file") from None
        try:
            with f:
                a = plt.imread(f, format=ext[1:])
        except Exception as e:  # PIL says SyntaxError, OSError or its own errors for a file that is no image
            raise ValueError(f"{path}: not a readable {ext[1:].upper()} image ({_first_line(e)})") from None
        if a.dtype == np.uint8:
            a = a / 255.0
        if a.ndim == 3 and a.shape[2] == 4:
            a = a[..., :3]
        if a.ndim == 3 and shape[2] == 1:
            a = a.mean(axis=2)
    else:
        raise ValueError(f"{path}: the image is .npy, .npz or .png, got '{ext or 'no extension'}'")
    a = np.asarray(a)
    if a.dtype.kind not in "biuf":
        raise ValueError(f"{path}: the image holds {a.dtype}, expected numbers")
    a = a.astype(np.float32)
    if a.ndim == 4:
        a = a[:1]
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim == 3:
        a = a[None]
    h, w, c = shape
    if a.shape[1:] != (h, w, c):
        raise ValueError(f"{path}: the image has shape {a.shape[1:]}, but the network takes {h}x{w}x{c}")
    return a


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:200]


# an image .npz holds `x` or one array; a zip of more members than this is refused unread
MAX_IMAGE_MEMBERS = 1024


def _load_numpy_image(path: str, ext: str, shape: tuple):
    """The first image of the array in an .npy, or of `x` (or the only array) of an .npz.

    The array's shape and dtype come from its header; only one image is read. Never unpickled.
    """
    import zipfile

    from .runtime.files import NotRegularFile, open_regular, open_zip

    try:
        if ext == ".npy":
            with open_regular(path) as f:
                if zipfile.is_zipfile(f):
                    raise ValueError("an .npz archive, not one .npy array")
                f.seek(0)
                return _first_image(f, path, shape)
        with open_regular(path) as raw, open_zip(raw, MAX_IMAGE_MEMBERS) as z:
            names = [n[:-4] for n in z.namelist() if n.endswith(".npy")]
            if "x" in names:
                name = "x"
            elif len(names) == 1:
                name = names[0]
            else:
                raise ValueError(f"no array 'x' and not one array but {len(names)} ({', '.join(names[:5])})")
            with z.open(name + ".npy") as f:
                return _first_image(f, path, shape)
    except ValueError as e:
        if str(e).startswith(path + ":"):
            raise
        raise ValueError(f"{path}: not a readable {ext} image ({_numpy_problem(e)})") from None
    except (OSError, EOFError, zipfile.BadZipFile) as e:
        if isinstance(e, FileNotFoundError):
            raise
        if isinstance(e, NotRegularFile):
            raise ValueError(f"{path}: is {e.what}, not an image file") from None
        why = "not a zip of .npy arrays" if isinstance(e, zipfile.BadZipFile) else _first_line(e)
        raise ValueError(f"{path}: not a readable {ext} image ({why})") from None


def _numpy_problem(e: Exception) -> str:
    """numpy's words for a file that is not .npy advise unpickling it: never pass that on."""
    if "pickle" in str(e) or "magic string" in str(e):
        return "not a numpy array file; pickled data is never loaded"
    return _first_line(e)


def _first_image(f, path: str, shape: tuple):
    """The first image of the .npy stream `f`, its header checked against `shape` (H, W, C)."""
    import numpy as np

    from .backends.carried.weights_io import npy_header

    dims, fortran, dtype = npy_header(f)
    h, w, c = shape
    if dtype.hasobject or dtype.kind not in "biuf":
        raise ValueError(f"{path}: the image holds {dtype}, expected numbers")
    ok = (len(dims) == 4 and dims[1:] == (h, w, c)) or (len(dims) == 3 and dims == (h, w, c)) \
        or (len(dims) == 2 and dims == (h, w) and c == 1)
    if not ok:
        raise ValueError(f"{path}: the image has shape {dims}, but the network takes {h}x{w}x{c}")
    if len(dims) == 4 and dims[0] == 0:
        raise ValueError(f"{path}: holds no images (shape {dims})")
    count = h * w * c if len(dims) != 2 else h * w
    if fortran and len(dims) == 4 and dims[0] > 1:
        return _first_of_fortran(f, path, dims, dtype)
    data = f.read(count * dtype.itemsize)
    if len(data) != count * dtype.itemsize:
        raise ValueError(f"{path}: the array is cut short (a truncated file)")
    a = np.frombuffer(data, dtype=dtype, count=count)
    return a.reshape(dims[-3:] if len(dims) == 4 else dims, order="F" if fortran else "C")


_CHUNK = 1 << 20   # bytes read at a time while picking the first image out of a Fortran-order batch


def _first_of_fortran(f, path: str, dims: tuple, dtype):
    """Image 0 of a Fortran-order (N, H, W, C) stream, in memory bounded by the image and
    _CHUNK, whatever N the header claims: its values lie N apart (the batch index varies
    fastest), so every N-th value is kept and the others are read past in chunks."""
    import numpy as np

    n, size = dims[0], dtype.itemsize
    count = dims[1] * dims[2] * dims[3]
    out = np.empty(count, dtype)
    short = ValueError(f"{path}: the array is cut short (a truncated file)")
    per = _CHUNK // (n * size)
    k = 0
    while k < count:
        if per:   # several runs of N values per chunk
            m = min(per, count - k)
            data = f.read(m * n * size)
            if len(data) != m * n * size:
                raise short
            out[k:k + m] = np.frombuffer(data, dtype).reshape(m, n)[:, 0]
            k += m
            continue
        data = f.read(size)   # one value, then N - 1 read past
        if len(data) != size:
            raise short
        out[k] = np.frombuffer(data, dtype)[0]
        k += 1
        left = (n - 1) * size if k < count else 0
        while left:
            got = len(f.read(min(left, _CHUNK)))
            if not got:
                raise short
            left -= got
    return out.reshape(dims[1:], order="F")[None]
