"""`cnnc train` and cnnc.training: it learns, it checks its data, it augments sensibly."""

import numpy as np
import pytest

import cnnc
from cnnc.cli import main

torch = pytest.importorskip("torch")

NET = "input 8x8x1\nconv 4 3x3 relu\npool 2\nflatten\ndense 2 softmax\n"


def synthetic(n=96, seed=0):
    """Two classes a CNN separates at once: a bright bar in the top half or in the bottom half."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.uniform(0, 0.3, (n, 8, 8, 1)).astype(np.float32)
    for i, label in enumerate(y):
        row = rng.integers(0, 3) + (5 if label else 0)
        x[i, row, 1:7, 0] += 1.0
    return x, y


def cross_entropy(probs, y):
    return float(-np.log(np.clip(probs[np.arange(len(y)), y], 1e-12, None)).mean())


@pytest.fixture
def files(tmp_path):
    net = tmp_path / "net.cnn"
    net.write_text(NET)
    x, y = synthetic()
    data = tmp_path / "data.npz"
    np.savez(data, x=x, y=y)
    return tmp_path, net, data, x, y


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_one_epoch_lowers_the_loss(files, capsys, suffix):
    tmp, net, data, x, y = files
    out = tmp / f"w{suffix}"
    rc = main(["train", str(net), "--data", str(data), "--epochs", "1", "--batch-size", "8", "--lr", "0.01",
               "--seed", "0", "--val-split", "0.25", "-o", str(out)])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "epoch 1/1" in captured.err and "val acc" in captured.err   # progress bar and validation on stderr
    assert f"wrote {out}" in captured.out
    before = cnnc.compile(str(net), seed=0)                  # the same seeded start as `cnnc train --seed 0`
    after = cnnc.compile(str(net), weights=str(out))
    assert cross_entropy(after(x), y) < cross_entropy(before(x), y) - 0.05


def test_train_api_history_and_start_weights(files):
    tmp, net, data, x, y = files
    model = cnnc.compile(str(net), seed=1)
    hist = cnnc.training.train(model, x, y, epochs=3, batch_size=16, lr=0.02, val_split=0.2, seed=0, verbose=False)
    assert [h["epoch"] for h in hist] == [1, 2, 3]
    assert hist[-1]["loss"] < hist[0]["loss"]
    assert hist[-1]["val_acc"] >= 0.9
    # --weights INIT starts from trained weights: the loss starts where the last run ended
    w = tmp / "init.npz"
    model.save_weights(w)
    rc = main(["train", str(net), "--data", str(data), "--epochs", "1", "--weights", str(w), "-o", str(tmp / "w2.npz")])
    assert rc == 0
    assert cross_entropy(cnnc.compile(str(net), weights=str(tmp / "w2.npz"))(x), y) < 0.3


def test_softmax_network_trains_on_logits():
    """The loss is cross-entropy of the logits: with a softmax output the gradient must not vanish."""
    x, y = synthetic(32)
    model = cnnc.compile(cnnc.parse(NET), seed=0)
    module = model.to_torch()
    logits = module.logits(torch.from_numpy(x))
    probs = module(torch.from_numpy(x))
    np.testing.assert_allclose(torch.softmax(logits, 1).detach().numpy(), probs.detach().numpy(), atol=1e-6)


BAD = {
    "missing_y": (dict(x=np.zeros((4, 8, 8, 1), np.float32)), "no array named 'y'"),
    "wrong_shape": (dict(x=np.zeros((4, 9, 8, 1), np.float32), y=np.zeros(4, int)), "(N, 8, 8, 1)"),
    "label_range": (dict(x=np.zeros((4, 8, 8, 1), np.float32), y=np.array([0, 1, 2, 1])), "labels must be in 0..1"),
    "label_float": (dict(x=np.zeros((4, 8, 8, 1), np.float32), y=np.array([0, 0.5, 1, 1])), "integer class labels"),
    "label_count": (dict(x=np.zeros((4, 8, 8, 1), np.float32), y=np.array([0, 1, 1])), "one per image"),
    "one_hot": (dict(x=np.zeros((4, 8, 8, 1), np.float32), y=np.eye(2)[[0, 1, 1, 0]]), "y.argmax(1)"),
    "nan": (dict(x=np.full((4, 8, 8, 1), np.nan, np.float32), y=np.array([0, 1, 1, 0])), "NaN"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_data_is_a_clear_usage_error(files, capsys, case):
    tmp, net, _, _, _ = files
    arrays, message = BAD[case]
    data = tmp / "bad.npz"
    np.savez(data, **arrays)
    rc = main(["train", str(net), "--data", str(data), "--epochs", "1", "-o", str(tmp / "w.npz")])
    err = capsys.readouterr().err
    assert rc == 2
    assert message in err and "Traceback" not in err
    assert not (tmp / "w.npz").exists()


@pytest.mark.parametrize("args, message", [
    (["--augment", "spin"], "unknown augmentation 'spin'"),
    (["--data", "missing.npz"], "no such file"),
    (["-o", "w.txt"], ".npz or .safetensors"),
])
def test_bad_options(files, capsys, args, message):
    tmp, net, data, _, _ = files
    base = {"--data": str(data), "-o": str(tmp / "w.npz")}
    extra = []
    for flag, value in zip(args[::2], args[1::2]):
        if flag in base:
            base[flag] = str(tmp / value)
        else:
            extra += [flag, value]
    argv = ["train", str(net), "--epochs", "1", *[a for kv in base.items() for a in kv], *extra]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_image_output_cannot_be_trained(tmp_path, capsys):
    net = tmp_path / "img.cnn"
    net.write_text("input 8x8x1; conv 2 3")
    data = tmp_path / "d.npz"
    np.savez(data, x=np.zeros((2, 8, 8, 1)), y=np.array([0, 1]))
    assert main(["train", str(net), "--data", str(data), "-o", str(tmp_path / "w.npz")]) == 2
    assert "ends in a vector of class scores" in capsys.readouterr().err


def test_augmentations_keep_shape_and_flip_mirrors():
    from cnnc.training import augment

    x = torch.from_numpy(synthetic(8)[0]).permute(0, 3, 1, 2)
    gen = torch.Generator().manual_seed(0)
    for kinds in (("rotate",), ("shift",), ("zoom",), ("rotate", "shift", "zoom")):
        y = augment(x, kinds, gen)
        assert y.shape == x.shape and not torch.allclose(x, y)
        assert float((y - x).abs().mean()) < float(x.abs().mean())  # small changes, not a new image
    flipped = augment(x, ("flip",), gen)
    for a, b in zip(x, flipped):  # each image is itself or its exact left-right mirror
        assert torch.allclose(a, b, atol=1e-5) or torch.allclose(torch.flip(a, [2]), b, atol=1e-5)
    assert not torch.allclose(flipped, x)


def test_data_that_is_not_an_npz_never_suggests_unpickling(tmp_path, capsys):
    net = tmp_path / "n.cnn"
    net.write_text("input 4x4x1; flatten; dense 2")
    data = tmp_path / "d.npz"
    data.write_bytes(b"not an npz")
    assert main(["train", str(net), "--data", str(data), "-o", str(tmp_path / "w.npz")]) == 2
    err = capsys.readouterr().err
    assert "pickled data is never loaded" in err and "allow_pickle" not in err


def test_an_output_that_cannot_be_written_is_refused_before_training(tmp_path, capsys, monkeypatch):
    import cnnc.training

    net = tmp_path / "n.cnn"
    net.write_text("input 4x4x1; flatten; dense 2")
    data = tmp_path / "d.npz"
    np.savez(data, x=np.zeros((4, 4, 4, 1)), y=np.array([0, 1, 0, 1]))
    monkeypatch.setattr(cnnc.training, "train", lambda *a, **k: pytest.fail("trained before checking -o"))
    assert main(["train", str(net), "--data", str(data), "-o", str(tmp_path / "no" / "w.npz")]) == 2
    assert "cnnc: error: cannot write" in capsys.readouterr().err
