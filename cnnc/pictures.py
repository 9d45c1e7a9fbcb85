"""Pictures of a network: its graph (DOT, SVG, PNG) and a layer's feature maps.

`to_dot(net)` is Graphviz DOT text: one box per layer (name and statement), one
arrow per edge labelled with the shape it carries. `draw_graph(net, path)` renders
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

from .layers import Role, statement
from .optional import require


# --- labels -------------------------------------------------------------------------

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
            lines.append(f"  {_dot_string(i.name)} -> {_dot_string(n.name)} [label={_dot_string(' ' + str(i.out))}];")
    lines.append(f"  {_dot_string(net.output.name)} -> \"output\" [label={_dot_string(' ' + str(net.output.out))}];")
    lines.append('  "output" [shape=plaintext, fillcolor=none, style=""];')
    lines.append("}")
    return "\n".join(lines) + "\n"


# --- the graph picture -------------------------------------------------------------

GRAPH_FORMATS = (".dot", ".svg", ".png")


def draw_graph(net, path, use_graphviz: "bool | None" = None) -> list:
    """Write the graph picture to `path` (.dot, .svg or .png); returns the files written.

    The DOT text is always written (beside an .svg/.png as NAME.dot). Rendering uses
    Graphviz's `dot` when it is on PATH (or `use_graphviz=True`), else matplotlib.
    """
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext not in GRAPH_FORMATS:
        raise ValueError(f"{path}: the graph picture is .svg, .png or .dot, got '{ext or 'no extension'}'")
    dot_text = to_dot(net)
    dot_path = path if ext == ".dot" else os.path.splitext(path)[0] + ".dot"
    with open(dot_path, "w", encoding="utf-8") as f:
        f.write(dot_text)
    written = [dot_path]
    if ext == ".dot":
        return written
    dot_exe = shutil.which("dot")
    if use_graphviz is None:
        use_graphviz = dot_exe is not None
    if use_graphviz:
        if dot_exe is None:
            raise FileNotFoundError("Graphviz's `dot` is not installed (apt install graphviz, brew install graphviz)")
        subprocess.run([dot_exe, f"-T{ext[1:]}", "-o", path, dot_path], check=True, capture_output=True)
    else:
        _draw_graph_matplotlib(net, path)
    written.append(path)
    return written


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
            if len(pts) > 2:
                ax.plot([p[0] for p in pts[:-1]], [p[1] for p in pts[:-1]], color="#555555", lw=0.7)
            ax.add_patch(FancyArrowPatch(pts[-2], pts[-1], arrowstyle="-|>", mutation_scale=8, lw=0.7,
                                         color="#555555", shrinkA=0, shrinkB=0))
            (ax0, ay0), (ax1, ay1) = pts[0], pts[1]
            ax.text((ax0 + ax1) / 2 + 0.08, (ay0 + ay1) / 2, str(i.out), ha="left", va="center", fontsize=6.5,
                    color="#8e44ad")
    ax.set_title(os.path.basename(str(net.filename or "")), fontsize=9)
    fig.tight_layout()
    dpi = min(150, int(60000 / max(fig_h, fig_w)))  # keep very deep networks under matplotlib's size limit
    fig.savefig(path, dpi=dpi)
    plt.close(fig)


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
    fig.savefig(os.fspath(path), dpi=110)
    plt.close(fig)


def read_image(path, shape) -> "object":
    """One image as float32 (1, H, W, C) for a network input `shape` (H, W, C).

    .npy: an array (H, W, C), (H, W) or (1, H, W, C); .npz: the array `x` (its first
    image) or the only array; .png/.jpg: read with matplotlib (values in [0, 1]; RGBA
    loses alpha; RGB becomes gray when the network takes one channel).
    """
    import numpy as np

    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext in (".npy", ".npz"):
        a = _load_numpy_image(path, ext)
    elif ext in (".png", ".jpg", ".jpeg"):
        a = _pyplot().imread(path)
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


def _load_numpy_image(path: str, ext: str):
    """The array in an .npy, or `x` (or the only array) of an .npz; never unpickled."""
    import numpy as np

    from .runtime.weights import np_load_problem

    try:
        with open(path, "rb") as file:
            f = np.load(file, allow_pickle=False)
            if ext == ".npy" or not hasattr(f, "files"):
                if hasattr(f, "files"):
                    raise ValueError("an .npz archive, not one .npy array")
                return f
            if "x" in f.files:
                return f["x"]
            if len(f.files) == 1:
                return f[f.files[0]]
            raise ValueError(f"no array 'x' and more than one array ({', '.join(f.files)})")
    except (ValueError, EOFError) as e:
        raise ValueError(f"{path}: not a readable {ext} image ({np_load_problem(e, 'a numpy array file')})") from None
