"""Checkpoints of `cnnc train`: written each epoch without pickle, and a resumed run ends
exactly where the uninterrupted run does; a checkpoint that does not fit is refused."""

import json
import zipfile

import numpy as np
import pytest

import cnnc
from cnnc.cli import main

torch = pytest.importorskip("torch")

NET = "input 8x8x1\nconv 4 3x3 relu\nbatchnorm\npool 2\nflatten\ndropout 0.2\ndense 2 softmax\n"
OPTIONS = ["--epochs", "5", "--batch-size", "8", "--schedule", "cosine", "--augment", "rotate,shift",
           "--patience", "3", "--device", "cpu", "--threads", "1"]


def synthetic(n=80, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.uniform(0, 0.3, (n, 8, 8, 1)).astype(np.float32)
    for i, label in enumerate(y):
        x[i, rng.integers(0, 3) + (5 if label else 0), 1:7, 0] += 1.0
    return x, y


@pytest.fixture
def run(tmp_path):
    net = tmp_path / "net.cnn"
    net.write_text(NET)
    data = tmp_path / "data.npz"
    np.savez(data, x=synthetic()[0], y=synthetic()[1])

    def train(*extra, optimizer="adam"):
        return main(["train", str(net), "--data", str(data), *OPTIONS, "--optimizer", optimizer, *map(str, extra)])
    return tmp_path, train


def arrays(path):
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_a_resumed_run_ends_exactly_where_the_uninterrupted_one_does(run, monkeypatch, capsys, optimizer):
    tmp, train = run
    assert train("--checkpoint", tmp / "full.npz", "-o", tmp / "full.safetensors", optimizer=optimizer) == 0

    import cnnc.training.checkpoint as ckpt

    real = ckpt.write

    def interrupted(path, weights, opt, meta, best=None):
        real(path, weights, opt, meta, best)
        if meta["epoch"] == 2:
            raise KeyboardInterrupt  # killed right after epoch 2's checkpoint
    monkeypatch.setattr(ckpt, "write", interrupted)
    assert train("--checkpoint", tmp / "part.npz", "-o", tmp / "part.safetensors", optimizer=optimizer) == 130
    assert not (tmp / "part.safetensors").exists()
    assert json.loads(arrays(tmp / "part.npz")["meta"].tobytes())["epoch"] == 2
    monkeypatch.setattr(ckpt, "write", real)

    capsys.readouterr()
    assert train("--resume", tmp / "part.npz", "-o", tmp / "resumed.safetensors", optimizer=optimizer) == 0
    assert "resuming from" in capsys.readouterr().err
    full, resumed = (cnnc.compile(str(tmp / "net.cnn"), weights=str(tmp / f"{n}.safetensors")).params
                     for n in ("full", "resumed"))
    from numeric import assert_equal, assert_params_equal

    # the other weights: where both runs started (training moved them)
    assert_params_equal(resumed, full, other=cnnc.compile(str(tmp / "net.cnn"), seed=0).params)
    # the resumed run kept checkpointing into the file it resumed from: the same state as the full run's
    a, b = arrays(tmp / "full.npz"), arrays(tmp / "part.npz")
    assert sorted(a) == sorted(b)
    names = [k for k in a if k != "meta"]
    flat_a, flat_b = (np.concatenate([np.ravel(c[k]).astype(np.float64) for k in names]) for c in (a, b))
    start = {k: (np.ravel(cnnc.compile(str(tmp / "net.cnn"), seed=0).params[k.split("/", 1)[1]])
                 if k.startswith(("weights/", "best/")) else np.zeros(np.size(a[k]))) for k in names}
    # the other state: the starting weights and an empty optimizer
    assert_equal(flat_b, flat_a, other=np.concatenate([start[k].astype(np.float64) for k in names]))


def test_the_checkpoint_holds_arrays_and_json_only(run):
    tmp, train = run
    assert train("--checkpoint", tmp / "c.npz", "-o", tmp / "w.npz") == 0
    with zipfile.ZipFile(tmp / "c.npz") as z:
        assert all(n.endswith(".npy") for n in z.namelist())
    got = arrays(tmp / "c.npz")                              # allow_pickle=False reads every array
    assert all(a.dtype != object for a in got.values())
    meta = json.loads(got.pop("meta").tobytes().decode())
    assert meta["format"] == "cnnc-checkpoint" and meta["version"] == 1
    assert meta["options"]["optimizer"] == "adam" and meta["epoch"] == len(meta["history"])
    weights = cnnc.compile(str(tmp / "net.cnn"), seed=0).params
    assert {k[len("weights/"):] for k in got if k.startswith("weights/")} == set(weights)
    assert {k[len("best/"):] for k in got if k.startswith("best/")} == set(weights)     # --patience keeps the best
    assert {k.rsplit("/", 1)[1] for k in got if k.startswith("optimizer/")} == {"step", "exp_avg", "exp_avg_sq"}
    final = arrays(tmp / "w.npz")                            # -o: the best epoch's weights
    best = meta["best"]["epoch"]
    assert meta["history"][best - 1]["val_loss"] == min(h["val_loss"] for h in meta["history"])
    from numeric import assert_params_equal

    assert_params_equal(final, {k: got[f"best/{k}"] for k in final}, other=weights)   # not the initial ones


def test_a_checkpoint_that_does_not_fit_is_refused(run, capsys, monkeypatch):
    tmp, train = run
    assert train("--epochs", "2", "--checkpoint", tmp / "c.npz", "-o", tmp / "w.npz") == 0
    other = tmp / "other.cnn"
    other.write_text(NET.replace("conv 4", "conv 6"))
    other_data = tmp / "other.npz"
    np.savez(other_data, x=synthetic(seed=1)[0], y=synthetic(seed=1)[1])
    capsys.readouterr()

    def refused(argv, message):
        rc = main(["train", *map(str, argv)])
        err = capsys.readouterr().err
        assert rc == 2 and message in err and "Traceback" not in err, err

    base = [tmp / "net.cnn", "--data", tmp / "data.npz", *OPTIONS, "-o", tmp / "again.npz"]
    refused([*base, "--resume", tmp / "c.npz", "--optimizer", "sgd"], "resume it with optimizer adam")
    refused([*base, "--resume", tmp / "c.npz", "--seed", "1"], "was trained with seed 0, not 1")
    refused([*base, "--resume", tmp / "c.npz", "--val-split", "0.2"], "validation split 0.1, not 0.2")
    refused([*base, "--resume", tmp / "c.npz", "--epochs", "2"], "has already trained 2 epoch(s)")
    refused([*base, "--resume", tmp / "w.npz"], "not a cnnc checkpoint")
    refused([*base, "--resume", tmp / "missing.npz"], "no such file")
    refused([other, "--data", tmp / "data.npz", *OPTIONS, "--resume", tmp / "c.npz", "-o", tmp / "o.npz"],
            "was made for another network")
    refused([tmp / "net.cnn", "--data", other_data, *OPTIONS, "--resume", tmp / "c.npz", "-o", tmp / "o.npz"],
            "was trained on other data")
    c = arrays(tmp / "c.npz")
    c["optimizer/layers.conv_1.weight/exp_avg"] = np.zeros((1 << 10,), np.float32)   # a stray, wrong-shaped array
    np.savez(tmp / "bad.npz", **c)
    refused([*base, "--resume", tmp / "bad.npz"], "exp_avg")
    assert not (tmp / "again.npz").exists() and not (tmp / "o.npz").exists()
