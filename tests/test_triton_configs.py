"""Every kind of Triton kernel computes the right answer under several tile configs
(Triton's interpreter on the CPU), so whatever a tuner picks on a GPU is known to be
correct; and the choice itself: use_tiles, tuning records read back and checked, the
fall-back to the default, the tuner's bookkeeping, per-group feeding, out= and keep=."""

from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pytest

import cnnc

torch = pytest.importorskip("torch")
pytest.importorskip("triton")
from numeric import another  # noqa: E402
from torch_reference import assert_close, random_params  # noqa: E402

from cnnc.backends.triton.carried import triton_tiles as T  # noqa: E402

# Between them these reach every kind of kernel: GEMMs with the flat (1-channel), window
# and pointwise gathers; each plain, with a fused max or avg pool, with a fused globalpool,
# with a fused softmax; kernels without a GEMM (a pool on a concat branch, a standalone
# softmax, a globalpool, batchnorm on a vector) and copies into a concat.
EVERYTHING = ("input 8x8x1; conv 16 3x3 padding=same tanh; avgpool 3 stride=2 padding=same; "
              "c: conv 16 1x1 sigmoid; concat { branch { } branch { pool 3 stride=1 padding=1; relu } }; "
              "residual { conv 32 3x3 padding=same relu; batchnorm } shortcut { conv 32 1x1 }; "
              "avgpool 2 padding=1; conv 24 2x2 stride=2 padding=same; globalpool; dense 20 softmax")
NO_GEMM = "input 5x5x20; pool 2 padding=same; softmax; globalpool; batchnorm; relu"
WIDE = "input 6x6x3; conv 40 3x3 padding=same relu; pool 2; flatten; dense 70 relu; dense 5"


def _configs(geom):
    """The smallest and the largest candidate: a grid of many tiles (partial row groups,
    several column tiles) and one tile larger than the problem."""
    cands = T.candidates(geom)
    return [cands[0], cands[-1]]


def _compare(text, tiles_for, batch=3, seed=0):
    net = cnnc.parse(text) if isinstance(text, str) else text
    params = random_params(net, seed)
    tri = cnnc.compile(net, backend="triton", weights=params, precision="ieee")
    ref = cnnc.compile(net, backend="numpy", weights=params)
    x = np.random.default_rng(seed + 1).standard_normal((batch, *net.input_shape)).astype(np.float32)
    want, want_trace = ref(x), ref.trace(x)
    other, other_trace = ref(another(x)), ref.trace(another(x))   # what a wrong input would give
    mod, state = tri.module, tri._state
    tiles = {name: tiles_for(geom) for name, geom in mod.KERNELS.items()}
    runs = max(len(v) for v in tiles.values())
    for i in range(runs):
        chosen = {name: cfgs[min(i, len(cfgs) - 1)] for name, cfgs in tiles.items()}
        mod.use_tiles(state, chosen)
        assert {name: c for name, (c, _) in state["tiles"].describe(batch).items()} == chosen
        assert_close(tri(x), np.asarray(want, np.float64), f"{text} under {chosen}", other=other)
        trace = tri.trace(x)
        for name, value in trace.items():
            if name in want_trace:
                assert_close(value, np.asarray(want_trace[name], np.float64), f"{name} under {chosen}",
                             other=other_trace[name])
    return tri


@pytest.mark.parametrize("text", [EVERYTHING, NO_GEMM, WIDE], ids=["everything", "no_gemm", "wide"])
def test_every_kernel_kind_is_right_under_two_configs(text):
    _compare(text, _configs)


def test_the_configs_a_tuner_tries_first_are_right():
    # after the default: the tiles that measured well on an H200, narrowed to each kernel (LeNet's kernels)
    lenet = cnnc.parse_file("examples/lenet.cnn", input=(12, 12, 1))
    _compare(lenet, lambda g: T.shortlist(g, 2, 3)[1:3], batch=2)


def test_an_illegal_config_is_refused_before_it_runs():
    m = cnnc.compile(cnnc.parse("input 6x6x32; conv 8 3x3"), backend="triton")
    (name, geom), = m.module.KERNELS.items()
    with pytest.raises(ValueError, match="straddle"):
        m.module.use_tiles(m._state, {name: {**T.default_config(geom), "BK": 64}})
    with pytest.raises(ValueError, match="no kernel"):
        m.module.use_tiles(m._state, {"k9_nothing": T.default_config(geom)})


def test_nan_propagates_under_small_tiles():
    net = cnnc.parse("input 6x6x2; conv 3 3x3 padding=same relu; pool 2; flatten; dense 4 softmax")
    params = random_params(net, 0)
    tri = cnnc.compile(net, backend="triton", weights=params)
    ref = cnnc.compile(net, backend="numpy", weights=params)
    tri.module.use_tiles(tri._state, {n: T.candidates(g)[0] for n, g in tri.module.KERNELS.items()})
    x = np.random.default_rng(1).standard_normal((2, 6, 6, 2)).astype(np.float32)
    x[0, 0, 0, 0] = np.nan
    got, want = tri(x), ref(x)
    assert np.array_equal(np.isnan(got), np.isnan(want)) and np.isnan(got[0]).all()


# --- tuning records ------------------------------------------------------------------

def _on_card(module, files):
    """A module's TileChoice that believes it runs on a card named 'test card' (records
    are only matched on a GPU): the reading, checking and choosing code is the real one."""
    class OnCard(module.TileChoice):
        def card(self):
            return "test card"
    return OnCard(module.KERNELS, module.KERNEL_KEYS, files)


def _lenet():
    return cnnc.compile("examples/lenet.cnn", backend="triton", seed=0)


def _entry(module, name, cfg, batch=256, card="test card"):
    import triton

    return {"card": card, "triton": triton.__version__, "kernel": module.KERNEL_KEYS[name], "batch": batch,
            "config": cfg, "seconds": 1e-5, "name": name}


def test_a_record_is_read_back_checked_and_used(tmp_path):
    from cnnc.backends.triton.tuning import write_record

    m = _lenet()
    mod = m.module
    names = list(mod.KERNELS)
    small = {n: T.candidates(g)[0] for n, g in mod.KERNELS.items()}
    good = _entry(mod, names[0], small[names[0]])
    bad = _entry(mod, names[1], {**small[names[1]], "BK": 12})          # not a power of two
    other = _entry(mod, names[2], small[names[2]], card="another card")
    path = tmp_path / "lenet.tuning.json"
    write_record(path, [good, bad, other])
    choice = _on_card(mod, [str(path)])
    with pytest.warns(UserWarning, match=f"config recorded for {names[1]} .* is ignored"):
        cfgs = choice.configs(256)
    assert cfgs[names[0]] == small[names[0]]
    assert cfgs[names[1]] == T.default_config(mod.KERNELS[names[1]], 256)
    assert cfgs[names[2]] == T.default_config(mod.KERNELS[names[2]], 256)     # recorded for another card
    where = {n: w for n, (_, w) in choice.describe(256).items()}
    assert where[names[0]].startswith("record ") and where[names[1]] == "default"
    assert choice.missing(256) == names[1:]
    # the nearest recorded bucket serves other batch sizes
    assert choice.configs(1000)[names[0]] == small[names[0]]
    # the configs read back compute the right answer
    m.module.use_tiles(m._state, {names[0]: cfgs[names[0]]})
    ref = cnnc.compile("examples/lenet.cnn", backend="numpy", seed=0)
    x = np.random.default_rng(0).standard_normal((2, 28, 28, 1)).astype(np.float32)
    assert_close(m(x), np.asarray(ref(x), np.float64), "lenet", other=ref(another(x)))


@pytest.mark.parametrize("content,why", [
    ("{not json", "not a readable JSON"),
    ('{"format": "something else", "version": 1, "entries": []}', "not a cnnc tuning record"),
    ('{"format": "cnnc-triton-tuning", "version": 99, "entries": []}', "version 99"),
    ('{"format": "cnnc-triton-tuning", "version": 1, "entries": {}}', "not a list"),
    ('{"format": "cnnc-triton-tuning", "version": 1, "entries": [{"card": 1}]}', "malformed entries"),
    ('[' * 100000, "not a readable JSON"),
])
def test_a_bad_record_is_a_warning_and_the_defaults_run(tmp_path, content, why):
    m = _lenet()
    path = tmp_path / "r.json"
    path.write_text(content)
    choice = _on_card(m.module, [str(path)])
    with pytest.warns(UserWarning, match=why):
        cfgs = choice.configs(4)
    assert cfgs == {n: T.default_config(g, 4) for n, g in m.module.KERNELS.items()}


def test_an_oversized_record_is_not_read(tmp_path, monkeypatch):
    m = _lenet()
    path = tmp_path / "r.json"
    path.write_text(" " * 100 + "{}")
    monkeypatch.setitem(m.module.__dict__, "RECORD_MAX_BYTES", 50)
    choice = _on_card(m.module, [str(path)])
    with pytest.warns(UserWarning, match="larger than"):
        choice.configs(1)


def test_records_merge_and_are_written_deterministically(tmp_path):
    from cnnc.backends.triton.carried.triton_tuner import read_record
    from cnnc.backends.triton.tuning import record_text, write_record

    mod = _lenet().module
    names = list(mod.KERNELS)
    a = _entry(mod, names[0], T.candidates(mod.KERNELS[names[0]])[0])
    b = _entry(mod, names[0], T.candidates(mod.KERNELS[names[0]])[1])        # same slot: replaces a
    c = _entry(mod, names[1], T.candidates(mod.KERNELS[names[1]])[0], batch=1)
    p1, p2 = tmp_path / "one.json", tmp_path / "sub" / "two.json"
    write_record(p1, [a, c])
    write_record(p1, [b])
    write_record(p2, [c, b])
    assert p1.read_bytes() == p2.read_bytes()
    entries, problem = read_record(str(p1))
    assert problem is None and entries == sorted([b, c], key=lambda e: (e["kernel"], e["batch"]))
    # a record with a malformed entry keeps its good ones, and the damage is reported
    p1.write_text(record_text([c, {**b, "batch": 3}]))
    assert "1 malformed entries ignored" in write_record(p1, [c])
    assert read_record(str(p1))[0] == [c]
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]


@pytest.mark.parametrize("content", ["{oops", '{"format": "other"}', 'input 8x8x1\nconv 2 3\n', None])
def test_only_a_tuning_record_is_ever_replaced(tmp_path, content):
    """A program, a module, weights, a damaged or foreign file, a FIFO: refused and left as they are."""
    from cnnc.backends.triton.tuning import write_record
    from cnnc.errors import UsageError

    mod = _lenet().module
    name = next(iter(mod.KERNELS))
    p = tmp_path / "net.cnn"
    if content is None:
        os.mkfifo(p)
    else:
        p.write_text(content)
    with pytest.raises(UsageError, match="not a cnnc tuning record"):
        write_record(p, [_entry(mod, name, T.candidates(mod.KERNELS[name])[0])])
    assert content is None or p.read_text() == content
    assert sorted(os.listdir(tmp_path)) == ["net.cnn"]


def test_the_user_cache_follows_the_environment(monkeypatch, tmp_path):
    from cnnc.backends.triton.carried.triton_tuner import user_cache_path

    monkeypatch.setenv("CNNC_CACHE_DIR", str(tmp_path / "c"))
    assert user_cache_path() == str(tmp_path / "c" / "triton-tuning.json")
    monkeypatch.delenv("CNNC_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert user_cache_path() == str(tmp_path / "x" / "cnnc" / "triton-tuning.json")


def test_the_interpreter_runs_the_default_and_never_reads_records(tmp_path, monkeypatch):
    from cnnc.backends.triton.tuning import write_record

    monkeypatch.setenv("CNNC_CACHE_DIR", str(tmp_path))
    m = _lenet()
    name, geom = next(iter(m.module.KERNELS.items()))
    write_record(m.module.user_cache_path(), [_entry(m.module, name, T.candidates(geom)[0], card="whatever")])
    state = m.module.prepare(m.params)
    assert state["tiles"].card() is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert state["tiles"].configs(2) == {n: T.default_config(g, 2) for n, g in m.module.KERNELS.items()}
    assert state["tiles"].missing(2) == []
    with pytest.raises(RuntimeError, match="CUDA GPU"):
        m.module.tune(state, torch.zeros(1, 28, 28, 1))


def test_the_tuner_measures_each_shortlist_picks_the_fastest_and_leaves_right_values():
    from cnnc.backends.triton.carried.triton_tuner import Tuner, entry_problem

    text = "input 6x6x1; conv 8 3x3 relu; pool 2; flatten; dense 5 softmax"
    m = cnnc.compile(cnnc.parse(text), backend="triton", seed=0)
    mod = m.module
    choice = _on_card(mod, [])
    m._state["tiles"] = choice

    def fake_seconds(fn, reps):
        # a stand-in for the GPU clock: runs the launch, "measures" smaller tiles as faster
        fn()
        cfg = fn.config
        return cfg["BM"] * cfg["BN"] * 1e-6 + cfg["num_stages"] * 1e-9

    measured = {}
    tuner = Tuner(choice, 2, 4, 1, None, fake_seconds, measured)
    x = torch.as_tensor(np.random.default_rng(0).standard_normal((2, 6, 6, 1)).astype(np.float32))
    y = mod._run(m._state, x, None, None, tuner)
    ref = cnnc.compile(cnnc.parse(text), backend="numpy", seed=0)
    assert_close(y.numpy(), np.asarray(ref(x.numpy()), np.float64), "tuned run", other=ref(another(x.numpy())))
    assert len(tuner.entries) == len(mod.KERNELS)
    for e in tuner.entries:
        assert entry_problem(e) is None and e["card"] == "test card" and e["batch"] == 2
        tried = measured[e["kernel"]]
        assert len(tried) == 4 and tried[0][0] == T.default_config(mod.KERNELS[e["name"]], 2)
        assert e["config"] == min(tried, key=lambda t: t[1])[0]


def test_same_kernels_are_measured_once():
    from cnnc.backends.triton.carried.triton_tuner import Tuner

    m = cnnc.compile(cnnc.parse("input 6x6x4; repeat 3 { residual { conv 4 3x3 padding=same } }"), backend="triton")
    keys = m.module.KERNEL_KEYS
    assert len(set(keys.values())) == 1 and len(keys) == 3
    calls = []

    def count(fn, reps):
        fn()
        calls.append(1)
        return 1.0

    tuner = Tuner(_on_card(m.module, []), 1, 3, 1, None, count)
    m.module._run(m._state, torch.zeros(1, 6, 6, 4), None, None, tuner)
    assert len(calls) == 3 and len(tuner.entries) == 3


# --- running: feed, out, keep ------------------------------------------------------------

def test_feed_checks_each_group_on_the_references_inputs():
    net = cnnc.parse("input 6x6x2; conv 3 3x3 relu; conv 4 3x3 tanh; flatten; dense 2")
    params = random_params(net, 0)
    tri = cnnc.compile(net, backend="triton", weights=params)
    ref = cnnc.compile(net, backend="numpy", weights=params)
    x = np.random.default_rng(0).standard_normal((2, 6, 6, 2)).astype(np.float32)
    want, other = ref.trace(x), ref.trace(another(x))
    got = {}
    tri.module.forward(tri._state, x, trace=got, feed=want)
    for name in got:
        assert_close(got[name], np.asarray(want[name], np.float64), name, other=other[name])
    # what a group reads is the fed value: zeros into conv_2 leave tanh(bias), not tanh(conv)
    fed = {"conv_1": np.zeros_like(want["conv_1"])}
    got = {}
    tri.module.forward(tri._state, x, trace=got, feed=fed)
    assert_close(got["conv_1"], np.asarray(want["conv_1"], np.float64), "the traced value is the kernel's own",
                 other=other["conv_1"])
    expect = np.broadcast_to(np.tanh(params["conv_2.bias"]), got["conv_2"].shape)
    # the other value: conv_2 of the real conv_1, had the feed been ignored
    assert_close(got["conv_2"], expect.astype(np.float64), "conv_2 from zeros", other=want["conv_2"])
    with pytest.raises(ValueError, match="feed= needs trace="):
        tri.module.forward(tri._state, x, feed=fed)


def test_out_and_keep_are_explicit_options():
    m = cnnc.compile(cnnc.parse("input 6x6x2; conv 3 3x3 relu; globalpool"), backend="triton", seed=1)
    x = torch.randn(2, 6, 6, 2)
    y1 = m.module.forward(m._state, x)
    out = torch.full((2, 3), float("nan"))
    r = m.module.forward(m._state, x, out=out)
    assert r is out and torch.equal(out, y1)
    y2 = m.module.forward(m._state, x + 1)
    assert not torch.equal(y1, y2)          # a later call never changes an earlier result
    assert torch.equal(m.module.forward(m._state, x, keep=True), y1)
    with pytest.raises(ValueError, match="torch tensor"):
        m.module.forward(m._state, x.numpy(), out=out)


def test_generated_records_are_plain_json(tmp_path):
    from cnnc.backends.triton.tuning import record_text

    mod = _lenet().module
    name, geom = next(iter(mod.KERNELS.items()))
    data = json.loads(record_text([_entry(mod, name, T.default_config(geom))]))
    assert data["format"] == "cnnc-triton-tuning" and data["version"] == 1
