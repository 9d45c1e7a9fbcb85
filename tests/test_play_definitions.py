"""The playground with the third edition of the language: definitions (`def`), `from=` and
joins of named layers. Each layer a use of a definition makes is a row, a graph box and a
feature map of its own, says which uses made it, and a diagnostic inside a definition says
which use it is in."""

from __future__ import annotations

import numpy as np

from play_server import THIRD, Running, image_payload

def test_each_layer_a_use_makes_is_shown_with_the_lines_of_its_uses():
    with Running() as s:
        status, d = s.post("/api/check", {"text": THIRD})
        assert status == 200 and d["ok"]
        rows = {r["name"]: r for r in d["layers"]}
        assert [r["name"] for r in d["layers"]] == ["conv_1", "batchnorm_1", "a", "conv_2", "batchnorm_2", "b",
                                                    "pool_1", "up", "add_1", "globalpool_1", "dense_1"]
        assert (rows["conv_2"]["line"], rows["conv_2"]["uses"], rows["conv_2"]["statement"]) == \
            (3, [6], "conv 4 5x5 padding=same")
        assert rows["a"]["uses"] == [5] and rows["pool_1"]["uses"] == []
        assert rows["add_1"]["inputs"] == ["b", "up"]
        edges = {(e["source"], e["target"]) for e in d["graph"]["edges"]}
        assert {("a", "conv_2"), ("a", "pool_1"), ("b", "add_1"), ("up", "add_1")} <= edges
        # a unit of the join sees what each branch's unit sees: b's 3x3 and 5x5 windows (rows
        # 0..3), up's pool of a's 3x3 windows (rows 0..2)
        assert s.post("/api/region", {"text": THIRD, "layer": "add_1", "unit": [0, 0]})[1]["box"] == [0, 3, 0, 3]
        x = np.random.default_rng(0).uniform(0, 1, (16, 16, 1))
        status, f = s.post("/api/featuremaps", {"text": THIRD, "image": image_payload(x)})
        assert status == 200
        assert {m["name"]: m["shape"] for m in f["layers"]}["b"] == [16, 16, 4]


def test_a_diagnostic_inside_a_definition_names_the_use():
    with Running() as s:
        _, d = s.post("/api/check", {"text": THIRD.replace("k=5", "k=0")})
        assert not d["ok"]
        (e,) = d["diagnostics"]
        assert (e["line"], e["message"]) == (3, "conv_2: the kernel size must be positive, got 0")
        assert e["notes"] == [{"file": "lenet.cnn", "line": 6, "col": 1, "message": "in use of 'cbr'"}]
