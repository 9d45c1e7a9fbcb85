"""The tile rules of the Triton kernels (carried/triton_tiles.py): which configs are
legal, which fit sm_90, which a tuner tries, which runs by default. Pure Python: no
torch, no triton."""

from __future__ import annotations

import os

import pytest

import cnnc
from cnnc.backends.triton.carried import triton_tiles as T

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = [os.path.join(ROOT, "examples", f) for f in ("lenet.cnn", "cifar_resnet.cnn", "inception.cnn",
                                                          "keras/vgg16.cnn", "keras/resnet50.cnn")]


def _geom(**kw):
    g = {"gemm": True, "gather": "window", "CIN": 64, "K": 576, "KP": 640, "C": 128, "CP": 256,
         "softmax": False, "pool": False, "adds": 0, "reduce": False, "pixels": 256, "precision": "tf32"}
    g.update(kw)
    return g


def _cfg(bm=64, bn=64, bk=32, w=4, s=2):
    return {"BM": bm, "BN": bn, "BK": bk, "num_warps": w, "num_stages": s}


def _kernels(path, input=None):
    """(name, geometry) of every kernel the triton backend makes of an example."""
    from cnnc.backends.triton import plan_kernels

    _, kernels, _ = plan_kernels(cnnc.parse_file(path, input=input), "tf32")
    return [(k.name, k.geometry()) for k in kernels]


def test_a_window_gathers_k_slice_never_straddles_two_taps():
    g = _geom(CIN=48, K=432, KP=512)
    assert T.legal(g, _cfg(bk=16))
    assert "straddle" in T.illegal(g, _cfg(bk=32))
    # the flat and pointwise gathers mask each element: any BK dividing the packed K
    assert T.legal(_geom(gather="flat", CIN=3, K=27, KP=128), _cfg(bk=128))


def test_every_dot_dimension_is_at_least_16_and_a_power_of_two():
    g = _geom()
    for bad in (_cfg(bm=8), _cfg(bn=8), _cfg(bk=8), _cfg(bm=48), _cfg(bk=24)):
        assert not T.legal(g, bad), bad
    # a kernel without a GEMM has no dot: narrow rows are fine, and BK is 0
    plain = _geom(gemm=False, gather=None, K=0, KP=0, CP=0)
    assert T.legal(plain, _cfg(bm=1, bn=16, bk=0))
    assert "BK is 0" in T.illegal(plain, _cfg(bk=16))


def test_a_fused_softmax_holds_its_whole_row():
    g = _geom(softmax=True, C=1000, CP=1024, gather="pointwise")
    assert "whole row" in T.illegal(g, _cfg(bn=512))
    assert T.legal(g, _cfg(bm=16, bn=1024, bk=16, w=8))


def test_malformed_configs_are_refused_with_a_reason():
    g = _geom()
    assert "exactly the keys" in T.illegal(g, {"BM": 64})
    assert "exactly the keys" in T.illegal(g, {**_cfg(), "extra": 1})
    assert "integer" in T.illegal(g, {**_cfg(), "BM": 64.0})
    assert "integer" in T.illegal(g, {**_cfg(), "BM": True})
    assert "num_warps" in T.illegal(g, _cfg(w=3))
    assert "num_stages" in T.illegal(g, _cfg(s=0))
    assert "elements" in T.illegal(_geom(gemm=False, gather=None, softmax=True, C=8192), _cfg(bm=256, bn=8192, bk=0))
    # BN and BK must divide the packed weights (the B tile is loaded without a mask)
    assert "packed" in T.illegal(_geom(CP=256), _cfg(bn=512))
    assert "packed" in T.illegal(_geom(gather="flat", KP=640), _cfg(bk=256))


def test_candidates_span_the_ranges_and_are_all_legal_and_in_budget():
    g = _geom(CIN=256, K=2304, KP=2304, C=512, CP=512, pixels=1024)
    cands = T.candidates(g)
    assert cands == T.candidates(dict(g))    # deterministic order
    for key, values in (("BM", (32, 256)), ("BN", (32, 256)), ("BK", (16, 128)), ("num_stages", (2, 5)),
                        ("num_warps", (4, 8))):
        got = {c[key] for c in cands}
        assert set(values) <= got, (key, sorted(got))
    for c in cands:
        assert T.legal(g, c) and T.fits_sm90(g, c)
    # the budget prunes: the full product is larger than what is kept
    r = T.TILE_RANGES
    assert len(cands) < len(r["BM"]) * len(r["BN"]) * len(r["BK"]) * len(r["num_warps"]) * len(r["num_stages"])


def test_the_budget_models_shared_memory_and_registers():
    g = _geom(CIN=256, K=2304, KP=2304, C=512, CP=512)
    big = _cfg(bm=256, bn=256, bk=128, w=8, s=5)
    shared, acc, operands, rows = T.sm90_cost(g, big)
    box = T.SM90_BOX[("tf32", "plain")]
    assert shared > T.SM90_SHARED_BYTES and acc > box[0] and operands > box[1] and not T.fits_sm90(g, big)
    # more warps spread accumulators, operands and row addresses thinner
    assert T.fits_sm90(g, _cfg(128, 128, w=8)) and not T.fits_sm90(g, _cfg(128, 128, w=4))
    assert T.fits_sm90(g, _cfg(256, 32, w=8)) and not T.fits_sm90(g, _cfg(256, 32, w=4))
    # a fused pool or a residual keeps more live: a smaller box for the same tile
    assert not T.fits_sm90({**g, "pool": True}, _cfg(128, 64)) and T.fits_sm90(g, _cfg(128, 64))
    assert T.sm90_cost({**g, "adds": 1}, _cfg(128, 64))[1] == 2 * T.sm90_cost(g, _cfg(128, 64))[1]
    # a pool's GEMM takes K slices of at most 32; deeper pipelines cost shared memory
    assert T.fits_sm90(g, _cfg(bk=64)) and not T.fits_sm90({**g, "pool": True}, _cfg(bk=64))
    assert T.sm90_cost(g, _cfg(s=4))[0] == 2 * T.sm90_cost(g, _cfg(s=2))[0]
    # the FMA loop of ieee keeps more per accumulator than the tensor cores' tf32
    assert T.fits_sm90(g, _cfg(128, 64)) and not T.fits_sm90({**g, "precision": "ieee"}, _cfg(128, 64))


def test_the_budget_rules_found_by_the_full_sweep():
    """Each rule excludes configs that ptxas ran out of registers or shared memory on
    (benchmarks/triton_gpu.py --sweep)."""
    # a folded squeeze-and-excitation gate is a third tile in every stage (EfficientNet's
    # project conv: 272 KB of shared memory at 256x16x32, 5 stages)
    g = _geom(gather="pointwise", CIN=480, K=480, KP=512, C=80, CP=256, adds=1)
    cfg = _cfg(256, 16, 32, w=8, s=5)
    assert T.fits_sm90(g, cfg) and not T.fits_sm90({**g, "gate": True}, cfg)
    # a pool over a flat gather (ResNet-50's stem) spills with more than 2 stages even at
    # 16 x 16 tiles -- and its default drops stages, not rows
    g = _geom(gather="flat", CIN=3, K=147, KP=256, C=64, CP=256, pool=True)
    assert T.fits_sm90(g, _cfg(16, 16, 16, w=4, s=2)) and not T.fits_sm90(g, _cfg(16, 16, 16, w=4, s=3))
    d = T.default_config(g, 256)
    assert d["num_stages"] == 2 and d["BM"] >= 64
    # separable convs (Xception), with and without a fused global pool, have boxes of their own
    g = _geom(gather="separable", CIN=728, K=728, KP=768, C=728, CP=768)
    assert T.fits_sm90(g, _cfg(16, 64, 64, w=4)) and not T.fits_sm90(g, _cfg(16, 128, 128, w=4))
    assert not T.fits_sm90({**g, "reduce": True}, _cfg(16, 64, 128, w=4))


@pytest.mark.parametrize("path", EXAMPLES, ids=os.path.basename)
def test_every_example_kernel_has_a_legal_default_and_candidates(path):
    small = {"resnet50.cnn": (32, 32, 3), "vgg16.cnn": (32, 32, 3)}.get(os.path.basename(path))
    for name, g in _kernels(path, small):
        for batch in (None, 1, 256):
            d = T.default_config(g, batch)
            assert T.legal(g, d) and T.fits_sm90(g, d), (name, d)
        cands = T.candidates(g)
        assert len(cands) >= 2, name
        short = T.shortlist(g, 1, 8)
        assert short[0] == T.default_config(g, 1) and 2 <= len(short) <= 8
        assert len({tuple(c.values()) for c in short}) == len(short)
        keys = {tuple(c.values()) for c in cands}
        assert all(tuple(c.values()) in keys or c == short[0] for c in short)


def test_default_rows_follow_the_batch_but_never_exceed_128():
    g = _geom(pixels=1, gather="pointwise")
    assert T.default_config(g, 1)["BM"] == 16
    assert T.default_config(g, 40)["BM"] == 64
    assert T.default_config(g, 4096)["BM"] == 128
    assert T.default_config(g)["BM"] == 128


def test_batch_buckets_are_powers_of_two():
    assert [T.batch_bucket(n) for n in (0, 1, 2, 3, 255, 256, 257, 4096)] == [1, 1, 2, 4, 256, 256, 512, 4096]


def test_the_tile_rules_import_nothing_heavy():
    import subprocess
    import sys

    code = ("import sys; import cnnc.backends.triton.carried.triton_tiles; "
            "print(sorted(m for m in ('torch', 'triton', 'numpy') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stderr
