"""`cnnc play`'s server, called directly: what it answers (the rows of `cnnc shapes --json`,
diagnostics, graph, feature maps, weights), whom it answers (Host, Origin, token), what it
refuses (sizes, hostile images, pathological programs) and what Save may write."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

import cnnc
from cnnc.play import featuremaps as F
from cnnc.play.server import MAX_BODY
from cnnc.summary import summary_dict

from play_server import LENET, ROOT, Running, decoded_maps, digit, image_payload

LENET_TEXT = open(LENET).read()


@pytest.fixture(scope="module")
def lenet():
    with Running(LENET) as s:
        yield s


# --- what the page is told ----------------------------------------------------------------

def test_check_gives_the_rows_of_cnnc_shapes_json_with_memory_and_arithmetic(lenet):
    status, data = lenet.post("/api/check", {"text": LENET_TEXT, "batch": 32})
    assert status == 200 and data["ok"]
    want = summary_dict(cnnc.parse(LENET_TEXT, filename="lenet.cnn"), 32)
    for key in ("input", "output", "total_params", "total_macs", "min_input", "memory"):
        assert data[key] == want[key], key
    assert [{k: r[k] for k in want["layers"][0]} for r in data["layers"]] == want["layers"]
    conv1 = data["layers"][0]
    assert (conv1["name"], conv1["output"], data["total_params"]) == ("conv_1", [26, 26, 32], 121_930)
    assert conv1["arithmetic"] == ["26 = (28 − 3) / 1 + 1"]
    assert conv1["statement"] == "conv 32 3x3 relu"
    assert data["layers"][1]["arithmetic"] == ["13 = (26 − 2) / 2 + 1"]
    assert data["train"]["fits"] in (True, False)


def test_shape_arithmetic_follows_the_kind():
    from cnnc.play.analysis import check

    text = ("input 56x56x1\nconv 8 3x3 padding=1 stride=2\npool 2 padding=same\npool 2\nzeropad 1\n"
            "upsample 2\ndeconv 4 3 stride=2\nconv 4 3x5 dilation=2 padding=same\nflatten")
    rows = {r["name"]: r["arithmetic"] for r in check(text, "x.cnn")["layers"]}
    assert rows == {"conv_1": ["28 = ⌊(56 + 2 × 1 − 3) / 2⌋ + 1"], "pool_1": ["14 = ⌈28 / 2⌉"],
                    "pool_2": ["7 = (14 − 2) / 2 + 1"], "zeropad_1": ["9 = 7 + 1 + 1"],
                    "upsample_1": ["18 = 9 × 2"], "deconv_1": ["37 = 18 × 2 + max(3 − 2, 0)"],
                    "conv_2": ["37 = ⌈37 / 1⌉", "the dilated kernel spans H: (3 − 1) × 2 + 1 = 5 · "
                                                 "W: (5 − 1) × 2 + 1 = 9"],
                    "flatten_1": ["5476 = 37 × 37 × 4"]}
    # a division with a remainder is floored, and says so
    assert check("input 11x11x1\npool 2", "x.cnn")["layers"][0]["arithmetic"] == ["5 = ⌊(11 − 2) / 2⌋ + 1"]


def test_errors_come_with_line_col_and_did_you_mean(lenet):
    text = "input 28x28x1\nconv 32 3x3 relu\nconvv 8 3x3\n"
    status, data = lenet.post("/api/check", {"text": text})
    assert status == 200 and not data["ok"]
    (d,) = data["diagnostics"]
    assert (d["line"], d["col"], d["severity"], d["message"], d["hint"]) == \
        (3, 1, "error", "unknown statement 'convv'", "did you mean 'conv'?")
    text = "input 8x8x1\nconv 4 3x3\nconv 4 3x3\nconv 4 3x3\nconv 4 3x3\n"
    _, data = lenet.post("/api/check", {"text": text})
    assert [(d["line"], "collapses" in d["message"]) for d in data["diagnostics"]] == [(5, True)]


def test_an_input_size_from_the_page_propagates(lenet):
    _, data = lenet.post("/api/check", {"text": LENET_TEXT, "input": "32x32x1"})
    assert data["layers"][0]["output"] == [30, 30, 32]
    status, data = lenet.post("/api/check", {"text": LENET_TEXT, "input": "0x28x1"})
    assert status == 422 and "HxWxC" in data["error"]
    status, data = lenet.post("/api/check", {"text": LENET_TEXT, "input": "2000000x28x1"})
    assert status == 422 and "at most 1,048,576" in data["error"]


def test_the_graph_has_every_edge_and_frames_blocks_and_named_joins():
    from cnnc.play.analysis import check

    data = check(open(os.path.join(ROOT, "examples", "inception.cnn")).read(), "inception.cnn")
    g = data["graph"]
    names = {n["name"] for n in g["nodes"]}
    net = cnnc.parse_file(os.path.join(ROOT, "examples", "inception.cnn"))
    assert names == {n.name for n in net.nodes}
    assert sorted((e["source"], e["target"]) for e in g["edges"]) == \
        sorted((i.name, n.name) for n in net.nodes for i in n.inputs)
    (block,) = g["blocks"]
    assert block["join"] == "concat_1" and block["members"][-1] == "concat_1" and len(block["members"]) == 8
    # a residual inside a residual: two frames, the inner one inside the outer one
    text = "input 8x8x4\nresidual {\n  conv 4 3x3 padding=same\n  residual { conv 4 1x1 }\n}\nrelu"
    blocks = {b["join"]: set(b["members"]) for b in check(text, "x.cnn")["graph"]["blocks"]}
    assert blocks["residual_2"] < blocks["residual_1"]
    assert blocks["residual_2"] == {"conv_2", "residual_2"}


def test_a_program_past_the_language_limit_gets_the_cli_error_at_its_line(lenet):
    text = "input 28x28x1\n" + "relu\n" * 100_001
    status, data = lenet.post("/api/check", {"text": text})
    assert status == 200 and not data["ok"]
    assert "more than 100,000 layers" in data["diagnostics"][0]["message"]
    status, data = lenet.get("/api/session")   # and the server still answers
    assert status == 200


def test_a_valid_program_too_large_to_draw_gets_a_page_error():
    from cnnc.play.analysis import MAX_SHOWN_LAYERS, check

    data = check("input 8x8x1\n" + "relu\n" * (MAX_SHOWN_LAYERS + 1), "x.cnn")
    assert not data["ok"] and "draws at most" in data["too_large"] and "layers" not in data


# --- whom it answers ----------------------------------------------------------------------

@pytest.mark.parametrize("headers, token", [
    ({}, False),                                             # no token
    ({"X-Cnnc-Token": "guess"}, False),                      # a wrong one
    ({"Host": "evil.example:80"}, True),                     # DNS rebinding: another Host
    ({"Host": None}, True),                                  # none at all
    ({"Origin": "http://evil.example"}, True),               # another page
    ({"Origin": "null"}, True),                              # a sandboxed frame or a file
    ({"Sec-Fetch-Site": "cross-site"}, True),
])
def test_requests_from_anyone_else_are_refused(lenet, headers, token):
    status, data = lenet.post("/api/check", {"text": LENET_TEXT}, headers=headers, token=token)
    assert status == 403, (status, data)
    assert "layers" not in data
    status, _ = lenet.get("/api/session", headers=headers, token=token)
    assert status == 403


def test_the_page_itself_needs_the_token_and_its_own_origin_is_welcome(lenet):
    status, _ = lenet.get("/", token=False)
    assert status == 403
    status, page = lenet.get(f"/?token={lenet.token}", token=False)
    assert status == 200 and b"cnnc play" in page
    status, data = lenet.post("/api/check", {"text": LENET_TEXT},
                              headers={"Origin": f"http://localhost:{lenet.port}", "Host": f"localhost:{lenet.port}",
                                       "Sec-Fetch-Site": "same-origin"})
    assert status == 200 and data["ok"]
    status, _ = lenet.get("/static/editor.bundle.js", token=False)
    assert status == 200
    status, _ = lenet.get("/static/../session.py", token=False)
    assert status == 404


def test_answers_forbid_framing_and_allow_nothing_off_the_machine(lenet):
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", lenet.port, timeout=30)
    conn.request("GET", f"/?token={lenet.token}", headers={"Host": f"127.0.0.1:{lenet.port}"})
    r = conn.getresponse()
    r.read()
    csp = r.getheader("Content-Security-Policy")
    assert "default-src 'none'" in csp and "connect-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert r.getheader("X-Frame-Options") == "DENY" and r.getheader("Referrer-Policy") == "no-referrer"
    conn.close()
    assert lenet.server.server_address[0] == "127.0.0.1"


# --- what it refuses ----------------------------------------------------------------------

def test_requests_are_size_limited_and_must_be_json(lenet):
    status, data = lenet.request("POST", "/api/check", headers={"Content-Type": "application/json",
                                                                 "Content-Length": str(MAX_BODY + 1)})
    assert status == 413 and "larger than" in data["error"]
    status, _ = lenet.request("POST", "/api/check", raw=b"text=1", headers={"Content-Type": "text/plain"})
    assert status == 415    # what a cross-site form could send
    status, _ = lenet.request("POST", "/api/check", raw=b"{not json", headers={"Content-Type": "application/json"})
    assert status == 400
    status, _ = lenet.request("POST", "/api/check", raw=b"[1, 2]", headers={"Content-Type": "application/json"})
    assert status == 400
    status, _ = lenet.post("/api/check", {"text": 5})
    assert status == 400
    status, _ = lenet.post("/api/check", {"text": LENET_TEXT, "batch": 0})
    assert status == 400
    status, _ = lenet.request("DELETE", "/api/check")
    assert status == 405


def _lenet_image(x=None):
    return image_payload(digit() if x is None else x)


@pytest.mark.parametrize("image, words", [
    ("not an object", "an object"),
    ({"shape": [28, 28], "data": ""}, "[H, W, C]"),
    ({"shape": [28, 28, True], "data": ""}, "[H, W, C]"),
    ({"shape": [32, 32, 1], "data": ""}, "the network takes 28x28x1"),
    ({"shape": [4096, 4096, 3], "data": ""}, "at most 4,194,304"),
    ({"shape": [28, 28, 1], "data": "@@@not base64@@@"}, "not base64"),
    ({"shape": [28, 28, 1], "data": image_payload(np.zeros((27, 28, 1)))["data"]}, "bytes"),
    ({"shape": [28, 28, 1], "data": image_payload(np.full((28, 28, 1), np.nan))["data"]}, "not finite"),
    ({"shape": [28, 28, 1], "data": image_payload(np.full((28, 28, 1), np.inf))["data"]}, "not finite"),
])
def test_hostile_images_are_refused_with_what_is_wrong(lenet, image, words):
    status, data = lenet.post("/api/featuremaps", {"text": LENET_TEXT, "image": image})
    assert status == 422, data
    assert words in data["error"]


def test_feature_maps_of_a_giant_network_are_refused_before_anything_runs(lenet):
    text = "input 1024x1024x3\nconv 512 3x3\n"
    x = np.zeros((1024, 1024, 3), np.float32)
    t = time.perf_counter()
    status, data = lenet.post("/api/featuremaps", {"text": text, "image": image_payload(x)})
    assert status == 422 and "multiply-adds" in data["error"] and f"{F.MAX_MACS:,}" in data["error"]
    status, data = lenet.post("/api/featuremaps", {"text": "input 8x8x1\n" + "relu\n" * 3001,
                                                   "image": image_payload(np.zeros((8, 8, 1)))})
    assert status == 422 and "at most 3,000" in data["error"]
    assert time.perf_counter() - t < 20
    status, data = lenet.post("/api/featuremaps", {"text": "input 8x8x1\nconvv 3", "image": image_payload(
        np.zeros((8, 8, 1)))})
    assert status == 422 and "errors" in data["error"]


# --- feature maps and where their weights come from ------------------------------------------

def test_every_layer_is_kept_in_one_pass_with_the_same_values():
    from cnnc.pictures import feature_maps

    net = cnnc.parse_file(os.path.join(ROOT, "examples", "cifar_resnet.cnn"))
    model = cnnc.compile(F.observed(net), seed=0)
    reference = cnnc.compile(net, seed=0)
    x = np.random.default_rng(0).random((1,) + net.input_shape, dtype=np.float32)
    trace = model.trace(x)
    assert all(n.name in trace for n in net.nodes)     # the conv before each batchnorm too
    assert sorted(model.params) == sorted(reference.params)
    for name in ("conv_1", "batchnorm_1", "residual_3"):
        want = feature_maps(reference, x, name)
        assert np.abs(trace[name] - want).max() <= 1e-5 * np.abs(want).max()
    assert np.abs(model(x) - reference(x)).max() <= 1e-6


def test_feature_maps_are_the_numpy_backends_with_seeded_weights(lenet):
    from cnnc.pictures import feature_maps

    x = digit()
    status, data = lenet.post("/api/featuremaps", {"text": LENET_TEXT, "image": _lenet_image(x)})
    assert status == 200, data
    assert data["weights"]["kind"] == "seeded" and "seeded" in data["weights"]["text"]
    layers = {L["name"]: L for L in data["layers"]}
    assert list(layers) == ["conv_1", "pool_1", "conv_2", "pool_2", "flatten_1", "dense_1", "dense_2"]
    model = cnnc.compile(LENET, seed=0)
    want = feature_maps(model, x[None], "conv_1")[0]
    got = decoded_maps(layers["conv_1"])
    span = want.max(axis=(0, 1)) - want.min(axis=(0, 1))
    tol = span / 255 / 2 + 1e-6
    assert np.all(np.abs(got - want) <= tol)
    # another image moves the maps by far more than that tolerance
    other = feature_maps(model, np.rot90(x, 1)[None].copy(), "conv_1")[0]
    assert np.abs(other - want).max() > 100 * tol.max()
    probs = np.array(layers["dense_2"]["values"])
    assert np.allclose(probs, model(x[None])[0], atol=1e-6) and layers["dense_2"]["argmax"] == int(probs.argmax())


def test_one_layer_can_be_asked_for(lenet):
    status, data = lenet.post("/api/featuremaps", {"text": LENET_TEXT, "image": _lenet_image(), "layers": ["pool_2"]})
    assert status == 200 and [L["name"] for L in data["layers"]] == ["pool_2"]
    status, data = lenet.post("/api/featuremaps", {"text": LENET_TEXT, "image": _lenet_image(), "layers": ["nope"]})
    assert status == 422 and "no layer 'nope'" in data["error"]


def _copy_lenet(folder, name="lenet.cnn"):
    path = os.path.join(folder, name)
    shutil.copy(LENET, path)
    return path


def test_weights_beside_the_program_are_used_while_they_fit(tmp_path):
    path = _copy_lenet(tmp_path)
    trained = cnnc.compile(LENET, seed=7)
    trained.save_weights(tmp_path / "lenet.npz")
    x = digit()
    with Running(path) as s:
        _, data = s.post("/api/featuremaps", {"text": LENET_TEXT, "image": _lenet_image(x)})
        assert data["weights"] == {"kind": "file", "text": "the weights in lenet.npz"}
        probs = np.array(data["layers"][-1]["values"])
        assert np.allclose(probs, trained(x[None])[0], atol=1e-6)
        seeded = cnnc.compile(LENET, seed=0)(x[None])[0]
        assert np.abs(probs - seeded).max() > 100 * 1e-6
        # the program edited so that the file no longer fits: seeded, and the page says why
        edited = LENET_TEXT.replace("dense 64 relu", "dense 32 relu")
        _, data = s.post("/api/featuremaps", {"text": edited, "image": _lenet_image(x)})
        assert data["weights"]["kind"] == "seeded"
        assert "lenet.npz does not fit the program as it is now" in data["weights"]["text"]
        # both formats beside it: which one is meant is not guessed
        trained.save_weights(tmp_path / "lenet.safetensors")
        _, data = s.post("/api/featuremaps", {"text": LENET_TEXT, "image": _lenet_image(x)})
        assert data["weights"]["kind"] == "seeded"
        assert "lenet.npz" in data["weights"]["text"] and "lenet.safetensors" in data["weights"]["text"]


# --- what it writes -------------------------------------------------------------------------

def _listing(folder):
    return sorted((p, os.path.getsize(os.path.join(folder, p))) for p in os.listdir(folder))


def test_nothing_is_written_unless_save(tmp_path):
    path = _copy_lenet(tmp_path)
    before = _listing(tmp_path)
    with Running(path) as s:
        s.post("/api/check", {"text": LENET_TEXT + "conv 8 3x3\n"})
        s.post("/api/featuremaps", {"text": LENET_TEXT, "image": _lenet_image()})
    assert _listing(tmp_path) == before


def test_save_writes_the_program_to_the_file_it_opened(tmp_path):
    path = _copy_lenet(tmp_path)
    with Running(path) as s:
        new = LENET_TEXT.replace("dense 64", "dense 128")
        status, data = s.post("/api/save", {"text": new})
        assert status == 200 and data["saved"] == str(path)
        assert open(path).read() == new
        assert sorted(os.listdir(tmp_path)) == ["lenet.cnn"]       # no temporary file left
        status, _ = s.post("/api/save", {"text": new + "# again\n"})   # its own last save is no change on disk
        assert status == 200 and open(path).read().endswith("# again\n")


def test_save_never_clobbers_a_file_changed_on_disk(tmp_path):
    path = _copy_lenet(tmp_path)
    with Running(path) as s:
        with open(path, "a") as f:
            f.write("# edited elsewhere\n")
        status, data = s.post("/api/save", {"text": "input 8x8x1\n"})
        assert status == 409 and "changed on disk" in data["error"]
        assert open(path).read().endswith("# edited elsewhere\n")


def test_save_without_a_file_needs_a_new_name_and_never_replaces_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.cnn").write_text("input 8x8x1\n")
    (tmp_path / "sub").mkdir()
    with Running(None) as s:
        status, data = s.post("/api/save", {"text": LENET_TEXT})
        assert status == 409 and "give the new file's name" in data["error"]
        for name, words in [("mine.cnn", "exists"), ("net.txt", "ends in .cnn"), ("/tmp/x.cnn", "absolute"),
                            ("../x.cnn", "leads out"), ("nofolder/x.cnn", "no folder")]:
            status, data = s.post("/api/save", {"text": LENET_TEXT, "name": name})
            assert status == 409 and words in data["error"], (name, data)
        assert (tmp_path / "mine.cnn").read_text() == "input 8x8x1\n"
        status, data = s.post("/api/save", {"text": LENET_TEXT, "name": "sub/net.cnn"})
        assert status == 200 and (tmp_path / "sub" / "net.cnn").read_text() == LENET_TEXT
        status, data = s.post("/api/save", {"text": LENET_TEXT + "# more\n"})   # now it is the file opened
        assert status == 200 and (tmp_path / "sub" / "net.cnn").read_text().endswith("# more\n")
    assert sorted(os.listdir(tmp_path)) == ["mine.cnn", "sub"]


def test_a_file_that_does_not_exist_yet_is_created_by_save(tmp_path):
    path = tmp_path / "new.cnn"
    with Running(str(path)) as s:
        _, info = s.get("/api/session")
        assert info["text"] == LENET_TEXT and info["opened"]
        assert not path.exists()
        status, _ = s.post("/api/save", {"text": "input 8x8x1\nconv 4 3x3\n"})
        assert status == 200 and path.read_text() == "input 8x8x1\nconv 4 3x3\n"


# --- training -------------------------------------------------------------------------------

def test_train_says_why_a_network_does_not_fit_the_digits():
    from cnnc.play.training import fits

    assert fits(cnnc.parse(LENET_TEXT)) is None
    assert "10 classes" in fits(cnnc.parse("input 28x28x1\nconv 4 3x3\nflatten\ndense 5"))
    assert "10 classes" in fits(cnnc.parse("input 28x28x1\nconv 4 3x3"))
    assert "channels" in fits(cnnc.parse("input 28x28x2\nflatten\ndense 10"))
    assert "larger than" in fits(cnnc.parse("input 6x6x1\nflatten\ndense 10"))
    assert "multiply-adds" in fits(cnnc.parse("input 224x224x3\nconv 256 3x3\nconv 256 3x3\nglobalpool\ndense 10"))


def test_train_runs_in_the_background_and_the_maps_then_use_the_trained_weights(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    from cnnc.play.training import digits

    text = open(os.path.join(ROOT, "examples", "digits", "digits.cnn")).read()
    path = tmp_path / "digits.cnn"
    path.write_text(text)
    with Running(str(path)) as s:
        status, data = s.post("/api/train", {"text": "input 28x28x1\nconv 4 3x3\nflatten\ndense 5"})
        assert status == 422 and "10 classes" in data["error"]
        status, _ = s.post("/api/train", {"text": text, "epochs": 0})
        assert status == 400
        status, data = s.post("/api/train", {"text": text, "epochs": 2})
        assert status == 200 and data["state"] == "running"
        status, data = s.post("/api/train", {"text": text})
        assert status == 409
        deadline = time.time() + 300
        while time.time() < deadline:
            _, st = s.get("/api/train")
            if st["state"] != "running":
                break
            time.sleep(0.5)
        assert st["state"] == "done", st
        assert st["epoch"] == st["epochs"] == 2 and st["accuracy"] > 0.5
        assert any(line.startswith("epoch 2/2") for line in st["lines"])
        x_te = digits((8, 8, 1))[1]
        _, data = s.post("/api/featuremaps", {"text": text, "image": image_payload(x_te[0])})
        assert data["weights"]["kind"] == "trained" and "test accuracy" in data["weights"]["text"]
        assert sorted(os.listdir(tmp_path)) == ["digits.cnn"]     # trained weights stay in memory


# --- the command ----------------------------------------------------------------------------

def test_the_page_opens_lenet_from_the_examples_without_a_file():
    from cnnc.play.session import lenet_text

    assert lenet_text() == LENET_TEXT


def test_a_taken_port_is_exit_2_with_a_clear_message(capsys):
    from cnnc.cli import main

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        assert main(["play", "--port", str(port), "--no-browser"]) == 2
    err = capsys.readouterr().err
    assert f"port {port} on 127.0.0.1 is taken" in err and "--port P" in err


def test_bad_usage_is_exit_2(tmp_path, capsys, monkeypatch):
    from cnnc.cli import main
    from cnnc.commands import play

    assert main(["play", "-", "--no-browser"]) == 2
    assert main(["play", str(tmp_path), "--no-browser"]) == 2
    with pytest.raises(SystemExit) as e:
        main(["play", "--port", "70000"])
    assert e.value.code == 2
    monkeypatch.setattr(play, "_assets_present", lambda: False)
    assert main(["play", "--no-browser", "--port", "0"]) == 2
    assert "pip install 'cnnc[play]'" in capsys.readouterr().err


def test_it_prints_its_address_and_ctrl_c_stops_it_cleanly(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT)
    p = subprocess.Popen([sys.executable, "-m", "cnnc", "play", LENET, "--port", "0", "--no-browser"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        line = p.stdout.readline()
        assert line.startswith("cnnc play: ") and "http://127.0.0.1:" in line and "?token=" in line
        time.sleep(0.3)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err
    assert os.listdir(tmp_path) == []


# --- the docs say what the code does --------------------------------------------------------

def test_the_docs_arithmetic_and_limits_are_the_codes():
    import re

    from cnnc.play import analysis, server, session, training

    doc = open(os.path.join(ROOT, "docs", "playground.md"), encoding="utf-8").read()
    rows = re.findall(r"^ *\| `([^`]+)` on (\S+) \| `([^`]+)`", doc, re.M)
    assert len(rows) == 6
    for statement, on, shown in rows:
        h, w = on.split("x")[:2]
        c = on.split("x")[2] if on.count("x") == 2 else "1"
        data = analysis.check(f"input {h}x{w}x{c}\n{statement}", "x.cnn")
        assert data["layers"][0]["arithmetic"] == [shown], statement
    for value in (session.MAX_PROGRAM_BYTES, server.MAX_BODY, F.MAX_IMAGE_VALUES, analysis.MAX_SHOWN_LAYERS,
                  F.MAX_MACS, F.MAX_VALUES, training.MAX_TRAIN_MACS):
        assert f"{value:,}" in doc, value
    assert f"first {F.MAX_CHANNELS}" in doc and f"{training.MAX_EPOCHS} epochs at most" in doc
    assert re.search(rf"It trains {training.EPOCHS}\s+epochs", doc)


def test_a_client_that_sends_nothing_holds_no_thread_forever(lenet):
    from cnnc.play import server as play_server

    assert play_server.Handler.timeout == play_server.READ_TIMEOUT_S
    with socket.create_connection(("127.0.0.1", lenet.port)) as idle:
        idle.sendall(b"POST /api/check HTTP/1.1\r\n")    # and then nothing
        status, data = lenet.post("/api/check", {"text": LENET_TEXT})   # others are answered meanwhile
        assert status == 200 and data["ok"]
