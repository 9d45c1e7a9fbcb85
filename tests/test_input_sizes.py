"""Which input sizes a network takes: every claim the summary makes is checked against
the shape checker itself (`cnnc.parse` at that size), on the examples and on generated
programs -- every size the rule says works parses, every size it excludes fails."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cnnc
from cnnc.input_sizes import nearest, works
from conftest import ROOT, run_cnnc

EXAMPLES = ROOT / "examples"


def _parses(text, shape) -> bool:
    try:
        cnnc.parse(text, input=tuple(shape))
    except cnnc.CnncError:
        return False
    return True


def _check_axis(text, shape, rule, axis, sizes):
    """The rule's verdict on each size (other axis as given) is the shape checker's."""
    wrong = []
    for n in sizes:
        s = list(shape)
        s[axis] = n
        if _parses(text, s) != works(rule, n):
            wrong.append(n)
    assert not wrong, f"axis {'HW'[axis]}: the rule {rule} is wrong at {wrong[:8]}"


def test_unet_takes_multiples_of_8_only():
    text = (EXAMPLES / "unet.cnn").read_text()
    net = cnnc.parse(text)
    rule = net.input_rule()
    assert rule["h"] == rule["w"] == {"min": 8, "step": 8, "residues": [0]}
    assert net.min_input() == (8, 8)
    # the sizes of the report: 12, 100 and 130 fail (25x25 meets 24x24 at concat_3), 8, 16, 128 work
    for n, ok in ((12, False), (100, False), (130, False), (8, True), (16, True), (128, True), (7, False)):
        assert _parses(text, (n, n, 3)) is ok and works(rule["h"], n) is ok, n
    _check_axis(text, net.input_shape, rule["h"], 0, range(1, 70))
    assert net.summary_text().splitlines()[-1] == \
        "Smallest input: 8x8 (H x W); H and W must be multiples of 8 (8, 16, 24, ...)"


def test_json_keeps_min_input_and_adds_the_rule():
    rc, out, err = run_cnnc("shapes", str(EXAMPLES / "unet.cnn"), "--json")
    assert rc == 0, err
    d = json.loads(out)
    assert d["min_input"] == [8, 8]
    assert d["input_rule"] == {"h": {"min": 8, "step": 8, "residues": [0]},
                               "w": {"min": 8, "step": 8, "residues": [0]}, "why": None}
    rc, out, _ = run_cnnc("shapes", str(EXAMPLES / "lenet.cnn"), "--json")
    assert json.loads(out)["input_rule"]["h"] == {"min": 10, "step": 1, "residues": [0]}


def test_an_input_that_fails_at_a_join_names_the_nearest_sizes_that_work():
    rc, out, err = run_cnnc("shapes", str(EXAMPLES / "unet.cnn"), "--input", "100x100x3")
    assert rc == 1
    assert "(the nearest inputs that work are 96x96 and 104x104; H and W must be multiples of 8)" in err
    text = (EXAMPLES / "unet.cnn").read_text()
    assert _parses(text, (96, 96, 3)) and _parses(text, (104, 104, 3)) and not _parses(text, (100, 100, 3))
    # one axis wrong: the other stays as given
    with pytest.raises(cnnc.CnncError) as e:
        cnnc.parse(text, input=(12, 16, 3))
    assert "the nearest inputs that work are 8x16 and 16x16" in str(e.value)
    # too small: the collapse names the least size, and the rule
    with pytest.raises(cnnc.CnncError) as e:
        cnnc.parse(text, input=(4, 4, 3))
    assert "(the smallest input this network accepts is 8x8; H and W must be multiples of 8)" in str(e.value)


def test_residues_other_than_zero():
    # conv 3 stride 2 gives (n - 1) // 2; the concat needs it even: n = 4k+1 or 4k+2
    text = "input 9x9x1\nconv 2 3 stride=2\nconcat { branch { } branch { pool 2; upsample 2 } }\n"
    net = cnnc.parse(text)
    assert net.input_rule()["h"] == {"min": 5, "step": 4, "residues": [1, 2]}
    assert net.summary_text().splitlines()[-1] == \
        "Smallest input: 5x5 (H x W); H and W must be 4k+1 or 4k+2 (5, 6, 9, 10, ...)"
    _check_axis(text, net.input_shape, net.input_rule()["h"], 0, range(1, 60))


def test_h_and_w_rules_differ():
    text = "input 8x9x1\nconcat { branch { pool 2x1; upsample 2x1 } branch { pool 4x1; upsample 4x1 } }\n"
    net = cnnc.parse(text)
    rule = net.input_rule()
    assert rule["h"] == {"min": 4, "step": 4, "residues": [0, 1]} and rule["w"]["step"] == 1
    assert net.summary_text().splitlines()[-1] == \
        "Smallest input: 4x1 (H x W); H must be 4k or 4k+1 (4, 5, 8, 9, ...); any larger W works"
    _check_axis(text, net.input_shape, rule["h"], 0, range(1, 40))
    _check_axis(text, net.input_shape, rule["w"], 1, range(1, 40))


def test_paths_that_grow_at_different_rates_meet_at_few_sizes():
    text = "input 4x4x1\nconcat { branch { conv 1 3 } branch { pool 2 } }\n"   # n - 2 == n // 2
    net = cnnc.parse(text)
    assert net.input_rule()["h"] == {"min": 3, "sizes": [3, 4]}
    assert net.summary_text().splitlines()[-1] == "Smallest input: 3x3 (H x W); H and W can only be 3 or 4"
    _check_axis(text, net.input_shape, net.input_rule()["h"], 0, range(1, 60))


def test_a_rule_that_cannot_be_separated_is_not_claimed():
    # flatten gives h*w: the residual wants 16, so H and W are tied together
    text = "input 4x4x1\nflatten\nresidual { dense 16 }\n"
    net = cnnc.parse(text)
    rule = net.input_rule()
    assert rule["h"] is None and rule["w"] is None and "ties H and W" in rule["why"]
    assert net.min_input() == (4, 4)
    assert "which larger sizes work is not proved" in net.summary_text().splitlines()[-1]
    assert not _parses(text, (8, 4, 1))   # what an unproved "any larger size" would have claimed


def test_a_step_too_long_to_check_is_not_claimed(monkeypatch):
    import cnnc.input_sizes as sizes

    monkeypatch.setattr(sizes, "PROOF_BUDGET", 40)
    text = "input 64x64x1\nconcat { branch { } branch { pool 2; pool 2; pool 2; pool 2; upsample 16 } }\n"
    net = cnnc.parse(text)
    assert net.input_rule()["h"] is None and "too many to check" in net.input_rule()["why"]
    assert "which larger sizes work is not proved" in net.summary_text().splitlines()[-1]
    assert net.min_input() == (16, 16)   # the least size is still searched
    monkeypatch.setattr(sizes, "PROOF_BUDGET", 4_000_000)
    assert cnnc.parse(text).input_rule()["h"] == {"min": 16, "step": 16, "residues": [0]}


def test_nearest():
    rule = {"min": 8, "step": 8, "residues": [0]}
    assert nearest(rule, 12) == [8, 16] and nearest(rule, 3) == [8] and nearest(rule, 16) == [16]
    assert nearest({"min": 3, "sizes": [3, 4]}, 9) == [4]


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.cnn")) + [EXAMPLES / "keras" / "vgg16.cnn",
                                                                  EXAMPLES / "keras" / "xception.cnn"],
                         ids=lambda p: p.name)
def test_the_examples_rules_hold(path):
    text = path.read_text()
    net = cnnc.parse(text)
    rule = net.input_rule()
    assert rule["h"] is not None and rule["w"] is not None, rule
    assert net.min_input() == (rule["h"]["min"], rule["w"]["min"])
    top = rule["h"]["min"] + 2 * rule["h"].get("step", 1) + 6
    _check_axis(text, net.input_shape, rule["h"], 0, range(1, top))
    if rule["w"] != rule["h"] or net.input_shape[0] != net.input_shape[1]:
        _check_axis(text, net.input_shape, rule["w"], 1, range(1, top))


def _simple():
    return st.one_of(
        st.builds(lambda k, s, p: f"conv 2 {k} stride={s} padding={p}", st.integers(1, 3), st.integers(1, 3),
                  st.sampled_from(["valid", "same", "1"])),
        st.builds(lambda k, s, p: f"pool {k} stride={s} padding={p}", st.integers(1, 3), st.integers(1, 3),
                  st.sampled_from(["valid", "same"])),
        st.builds(lambda g: f"upsample {g}", st.integers(2, 3)),
        st.builds(lambda k, s, p: f"deconv 2 {k} stride={s} padding={p}", st.integers(1, 3), st.integers(1, 3),
                  st.sampled_from(["valid", "same"])),
        st.builds(lambda t, b: f"zeropad top={t} bottom={b}", st.integers(0, 2), st.integers(0, 2)),
    )


# down and back up: a path whose size is the input's rounded to a multiple (what makes steps)
_updown = st.one_of(
    st.builds(lambda s, p: f"pool {s} padding={p}; upsample {s}", st.integers(2, 3),
              st.sampled_from(["valid", "same"])),
    st.builds(lambda k, s: f"conv 2 {k} stride={s} padding=same; deconv 2 {s} stride={s}", st.integers(1, 3),
              st.integers(2, 3)),
)


def _path(least: int = 0):
    step = st.integers(0, 2).flatmap(lambda i: _simple() if i == 0 else _updown)   # mostly down and up
    return st.lists(step, min_size=least, max_size=2).map(lambda xs: "; ".join(xs + ["conv 2 1"]))


_join = st.one_of(
    st.builds(lambda a, b: f"concat {{ branch {{ {a} }} branch {{ {b} }} }}\nconv 2 1", _path(1), _path()),
    st.builds(lambda a, b: f"residual {{ {a} }} shortcut {{ {b} }}", _path(1), _path()),
)


@st.composite
def _program(draw) -> list:
    """Layers, then one or two joins of paths (each maybe followed by a layer)."""
    items = draw(st.lists(_simple(), max_size=2))
    for _ in range(draw(st.integers(1, 2))):
        items.append(draw(_join))
        items += draw(st.lists(_simple(), max_size=1))
    return items


@settings(derandomize=True, max_examples=60, deadline=None)
@given(_program(), st.integers(6, 40), st.integers(6, 40))
def test_generated_programs_rules_hold(items, h, w):
    text = "\n".join(items) + "\n"
    # a size the program takes, near the drawn one (most joined programs take only some)
    shape = next(((h + i, w + i, 2) for i in range(24) if _parses(text, (h + i, w + i, 2))), None)
    if shape is None:
        return
    h, w, _ = shape
    net = cnnc.parse(text, input=shape)
    rule = net.input_rule()
    assert rule["h"] is not None and rule["w"] is not None, rule
    assert works(rule["h"], h) and works(rule["w"], w)
    assert net.min_input() == (rule["h"]["min"], rule["w"]["min"])
    for axis in (0, 1):
        r = rule["hw"[axis]]
        _check_axis(text, shape, r, axis, range(1, max(40, r["min"] + 2 * r.get("step", 1) + 4)))
