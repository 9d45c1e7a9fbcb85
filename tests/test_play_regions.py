"""The playground's receptive-field box (cnnc/play/regions.py) against an oracle that knows
nothing of the layers' arithmetic: change one input pixel at a time in the numpy model and
see which units of each layer move. A unit's true box is the bounding box of the pixels
that move it; the computed box must be that box, for every unit of every layer, in random
small programs of every spatial kind (strides, dilations, same/valid/explicit padding,
pools, zeropad, crop, upsample, deconv, joins of shifted branches, a scale gate).

The programs have no activation that can zero a value (relu) and random weights, so every
pixel a unit is computed from does move it: max pools see the change as well, as it is
tried both ways (+DELTA and -DELTA, one of which wins the max).
"""

from __future__ import annotations

import random

import numpy as np
import pytest

import cnnc
from cnnc.errors import CnncError
from cnnc.play.featuremaps import observed
from cnnc.play.regions import _NONE, box, boxes, nearest

from play_server import LENET, ROOT, Running

DELTA = 64.0
QUIET = 1e-5     # a pixel outside a unit's box moves it by no more than this
LOUD = 100 * QUIET


def changes(net, seed: int = 0) -> dict:
    """name -> (h, w, H, W): how far each unit of the layer moves (its largest change over
    its channels, or a vector's values as one unit, 1 x 1) when input pixel (row, col) of
    an h x w input changes by DELTA either way."""
    h, w, c = net.input_shape
    model = cnnc.compile(observed(net), backend="numpy", seed=seed)
    x0 = np.random.default_rng(seed).uniform(0, 1, (1, h, w, c)).astype(np.float32)
    xs = np.repeat(x0, 1 + 2 * h * w, axis=0)
    for k in range(h * w):
        xs[1 + 2 * k, k // w, k % w, :] += DELTA
        xs[2 + 2 * k, k // w, k % w, :] -= DELTA
    trace = model.trace(xs)
    out = {}
    for n in net.layers:
        y = trace[n.name].astype(np.float64)
        change = np.abs(y[1:] - y[:1]).reshape((h * w, 2) + y.shape[1:]).max(axis=1).max(axis=-1)
        if change.ndim == 1:
            change = change[:, None, None]
        out[n.name] = change.reshape((h, w) + change.shape[1:])
    return out


def mismatches(net, computed: dict, moves: dict) -> list:
    """(layer, unit, box, why) for every unit whose box is not the bounding box of the pixels
    that move it: a pixel outside the box moves it by more than QUIET, or one of the box's
    four edges holds no pixel that moves it by LOUD (100 x QUIET) or more."""
    bad = []
    for n in net.layers:
        b, m = computed[n.name], moves[n.name]
        b = b[None, None] if b.ndim == 1 else b
        for index in np.ndindex(*b.shape[:2]):
            unit = box(b[index])
            move = m[(slice(None), slice(None)) + index]
            if unit is None:
                if move.max() > QUIET:
                    bad.append((n.name, index, unit, f"pixels move it by {move.max():.3g}"))
                continue
            t, bt, l, r = unit
            outside = move.copy()
            outside[t:bt + 1, l:r + 1] = 0
            edges = {"top": move[t, l:r + 1], "bottom": move[bt, l:r + 1],
                     "left": move[t:bt + 1, l], "right": move[t:bt + 1, r]}
            if outside.max() > QUIET:
                bad.append((n.name, index, unit, f"a pixel outside moves it by {outside.max():.3g}"))
            for side, e in edges.items():
                if e.max() < LOUD:
                    bad.append((n.name, index, unit, f"its {side} edge moves it by {e.max():.3g} at most"))
    return bad


# -- random programs -----------------------------------------------------------------------

def _size(r):
    a, b = r.randint(1, 3), r.randint(1, 3)
    return f"{a}" if a == b or r.random() < 0.5 else f"{a}x{b}"


def _padding(r):
    return r.choice(["valid", "same", "1", "same"])


def _statement(r, names):
    pick = 10 if names and r.random() < 0.4 else r.randrange(12)
    if pick == 0:
        return f"conv {r.randint(1, 3)} {_size(r)} stride={r.randint(1, 3)} padding={_padding(r)}"
    if pick == 1:
        return f"conv {r.randint(1, 3)} {_size(r)} dilation={r.randint(2, 3)} padding={_padding(r)}"
    if pick == 2:
        return f"dwconv {_size(r)} stride={r.randint(1, 3)} padding={_padding(r)}"
    if pick == 3:
        return f"sepconv 2 {_size(r)} dilation={r.randint(1, 2)} padding={_padding(r)}"
    if pick == 4:
        return f"pool {r.randint(2, 3)} stride={r.randint(1, 3)} padding={r.choice(['valid', 'same', '1'])}"
    if pick == 5:
        return f"avgpool {r.randint(2, 3)} stride={r.randint(1, 2)} padding={r.choice(['valid', 'same', '1'])}"
    if pick == 6:
        return f"zeropad top={r.randint(0, 2)} bottom={r.randint(0, 2)} left={r.randint(0, 2)} right={r.randint(0, 1)}"
    if pick == 7:
        return f"crop top={r.randint(0, 2)} bottom={r.randint(0, 1)} left={r.randint(0, 1)} right={r.randint(0, 2)}"
    if pick == 8:
        return f"upsample {r.randint(2, 3)} mode={r.choice(['nearest', 'bilinear'])}"
    if pick == 9:
        return f"deconv 2 {_size(r)} stride={r.randint(1, 3)} padding={r.choice(['valid', 'same'])}"
    if pick == 10 and names:
        a = r.choice(names)
        shift = r.choice(["zeropad top=1; crop bottom=1", "zeropad left=2; crop right=2",
                          "conv 2 3x3 padding=same", "pool 3 stride=1 padding=same"])
        # a product with a padded zero is zero whatever the other factor: the box holds what a
        # value is computed from, which the oracle sees only where no factor is a fixed zero
        join = r.choice(["add", "concat"] + (["multiply"] if "zeropad" not in shift else []))
        first, _, second = shift.partition("; ")
        path = f"{first} from={a}; {a}_s: {second}" if second else f"{a}_s: {first} from={a}"
        return f"{path}\n{join} {a} {a}_s"
    if pick == 11:
        return r.choice(["residual { conv 2 3x3 padding=same; avgpool 3 stride=1 padding=same }",
                         "concat { branch { dwconv 3x1 padding=same } branch { zeropad left=1; crop right=1 } }",
                         "scale { globalpool; dense 2 sigmoid }",
                         "batchnorm", "layernorm"])
    return f"conv 2 {_size(r)} padding={_padding(r)}"


def random_program(seed: int):
    """A valid random program whose every layer is at most 20x20, and its network."""
    r = random.Random(seed)
    while True:
        lines = [f"input {r.randint(5, 9)}x{r.randint(5, 9)}x2", "conv 2 1x1"]
        names = []
        for k in range(r.randint(3, 6)):
            s = _statement(r, names)
            if r.random() < 0.5 and "\n" not in s and not s.startswith(("residual", "concat", "scale")):
                names.append(f"n{k}")
                s = f"n{k}: {s}"
            lines.append(s)
        if r.random() < 0.3:
            lines.append("flatten; dense 3")
        text = "\n".join(lines) + "\n"
        try:
            net = cnnc.parse(text)
        except CnncError:
            continue
        if all(len(n.out.dims) == 1 or max(n.out.dims[:2]) <= 20 for n in net.nodes):
            return text, net


@pytest.mark.parametrize("seed", range(40))
def test_every_units_box_is_the_bounding_box_of_the_pixels_that_move_it(seed):
    text, net = random_program(seed)
    assert mismatches(net, boxes(net), changes(net)) == [], text


PADDED = "input 6x7x1\nconv 2 3x3 padding=same\nzeropad top=2 left=1\ncrop bottom=1 right=2\nupsample 2\n" \
         "deconv 2 3x3 stride=2 padding=same\npool 3 stride=2 padding=1\n"


def test_the_oracle_catches_a_box_one_pixel_off():
    net = cnnc.parse(PADDED)
    computed = boxes(net)
    truth = changes(net)
    assert mismatches(net, computed, truth) == []
    for k in range(4):   # any side of any box moved by one pixel is caught
        off = {name: b.copy() for name, b in computed.items()}
        b = off["conv_1"]
        seen = b[..., 0] != _NONE
        b[..., k][seen] += 1
        bad = mismatches(net, off, truth)
        assert any(m[0] == "conv_1" for m in bad)


def test_a_same_conv_unit_at_the_corner_sees_the_image_from_its_corner():
    # the window of unit (0, 0) starts one row and one column above and left of the image
    b = boxes(cnnc.parse("input 5x5x1\nconv 1 3x3 padding=same\n"))["conv_1"]
    assert box(b[0, 0]) == [0, 1, 0, 1]
    assert box(b[2, 2]) == [1, 3, 1, 3]
    assert box(b[4, 4]) == [3, 4, 3, 4]
    # a zeropad's border sees nothing; past it, one pixel, shifted
    z = boxes(cnnc.parse("input 5x5x1\nzeropad 2\n"))["zeropad_1"]
    assert box(z[1, 3]) is None and box(z[2, 3]) == [0, 0, 1, 1]


def test_the_unit_nearest_a_pointer_is_the_one_whose_box_centres_there():
    b = boxes(cnnc.parse("input 8x8x1\nconv 1 3x3 stride=2 padding=same\n"))["conv_1"]
    assert nearest(b, 0, 0) == (0, 0)
    assert nearest(b, 7, 7) == (3, 3)
    assert box(b[nearest(b, 4.2, 2.1)]) == [4, 6, 2, 4]   # centres 5 (rows 4..6) and 3 (columns 2..4)


def test_a_join_of_branches_shifted_two_ways_sees_two_pixels_not_their_rectangle():
    # unit (0, 3): the branch shifted down sees nothing there (its top row is padding), the
    # branch shifted right sees pixel (0, 1): the box is that pixel, though the first branch's
    # columns (3) and the second's rows (0) are both "seen" along their own axis
    net = cnnc.parse("input 4x5x1\na: conv 1 1x1\nzeropad top=1 from=a; b: crop bottom=1\n"
                     "zeropad left=2 from=a; c: crop right=2\nadd b c\n")
    b = boxes(net)
    assert box(b["add_1"][0, 3]) == [0, 0, 1, 1]
    assert box(b["add_1"][1, 3]) == [0, 1, 1, 3]
    assert box(b["add_1"][0, 1]) is None
    assert mismatches(net, b, changes(net)) == []


# -- the page's question: POST /api/region ---------------------------------------------------

def test_the_server_answers_one_units_box():
    text = open(LENET, encoding="utf-8").read()
    net = cnnc.parse(text)
    stored = boxes(net)
    with Running(LENET) as s:
        ask = lambda **kw: s.post("/api/region", {"text": text, **kw})   # noqa: E731
        # no unit or pointer: the unit centred nearest the input's centre
        status, a = ask(layer="conv_1")
        assert status == 200 and a == {"layer": "conv_1", "input": [28, 28], "output": [26, 26],
                                        "unit": [12, 12], "box": [12, 14, 12, 14]}
        assert ask(layer="conv_1", pointer=[0, 0.4])[1]["box"] == [0, 2, 0, 2]
        assert ask(layer="pool_2", unit=[4, 1])[1]["box"] == box(stored["pool_2"][4, 1]) == [16, 25, 4, 13]
        # the dense layers see rows and columns 0..25: pool_2 drops conv_2's last row and column
        # (LeNet's warning), so input rows 26 and 27 reach no output
        assert ask(layer="dense_1")[1] == {"layer": "dense_1", "input": [28, 28], "output": None, "unit": None,
                                           "box": [0, 25, 0, 25]}
        assert ask(layer="conv_1", unit=[26, 0]) == (422, {"error": "conv_1 has no unit (26, 0)"})
        for bad in ([1], [True, 0], ["0", 1], [0.5, 1]):
            assert ask(layer="conv_1", unit=bad) == (400, {"error": "'unit' is [row, column]"})
        assert ask(layer="conv_1", pointer=[float("nan"), 1])[0] == 400
        assert ask(layer="conv_9")[0] == 422
        assert s.post("/api/region", {"text": "input 9x9\n", "layer": "input"})[0] == 422
        big = s.post("/api/region", {"text": "input 4000x4000x1\nconv 1 3x3\n", "layer": "conv_1"})
        assert big[0] == 422 and "at most 4,000,000" in big[1]["error"]
        assert s.post("/api/region", {"text": text, "layer": "conv_1"}, token=False)[0] == 403


def test_the_docs_boxes_and_limit_are_the_codes():
    import os
    import re

    from cnnc.play.regions import MAX_UNITS

    doc = open(os.path.join(ROOT, "docs", "playground.md"), encoding="utf-8").read()
    rows = re.findall(r"^ *\| `([^`]+)` on (\d+)x(\d+) \| \((\d+), (\d+)\) \| ([^|]+) \|$", doc, re.M)
    assert len(rows) == 9
    for statement, h, w, r, c, seen in rows:
        net = cnnc.parse(f"input {h}x{w}x1\n{statement}\n")
        b = box(boxes(net)[net.layers[0].name][int(r), int(c)])
        assert seen.strip() == ("nothing: it is padding" if b is None else
                                f"rows {b[0]}–{b[1]}, columns {b[2]}–{b[3]}"), statement
    dense = box(boxes(cnnc.parse(open(LENET, encoding="utf-8").read()))["dense_1"])
    assert dense == [0, 25, 0, 25] and "LeNet's dense layers see rows and columns 0–25" in doc
    assert f"| what a unit sees | {MAX_UNITS:,} output pixels" in doc


def test_every_kind_that_resizes_an_image_says_what_each_output_index_reads():
    # the default (each index reads itself) is right only for kinds that keep H and W
    from cnnc.layers import KINDS, LayerKind

    for kind in KINDS.values():
        resizes = type(kind).spatial is not LayerKind.spatial
        assert not resizes or type(kind).reads is not LayerKind.reads, kind.keyword
