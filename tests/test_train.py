"""`cnnc train` and cnnc.training: it learns, it checks its data, it augments sensibly."""

import numpy as np
import pytest

import cnnc
import cnnc.training  # a submodule: `import cnnc` alone does not load it
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
    from numeric import another, assert_close

    other = module(torch.from_numpy(another(x))).detach().numpy()
    assert_close(torch.softmax(logits, 1).detach().numpy(), probs.detach().numpy(), other=other, rtol=0, atol=1e-6)


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
    from numeric import assert_sensitive

    for a, b in zip(x, flipped):  # each image is itself or its exact left-right mirror
        assert torch.allclose(a, b, atol=1e-5) or torch.allclose(torch.flip(a, [2]), b, atol=1e-5)
        assert_sensitive(a, torch.flip(a, [2]), atol=1e-5)   # and the two are far apart
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


# -- options: adam/sgd, schedules, early stopping, the test set -----------------------------

def test_schedules_set_the_learning_rate_of_each_epoch():
    from cnnc.training import Options

    def rates(schedule, epochs=8, optimizer="adam", lr=None):
        o = Options(epochs=epochs, schedule=schedule, optimizer=optimizer, lr=lr).checked()
        return [o.lr_at(e) for e in range(1, epochs + 1)]

    assert rates("none") == [0.001] * 8
    assert rates("none", optimizer="sgd") == [0.01] * 8            # Keras's SGD default
    # step: /10 after half the epochs, /100 after three quarters
    assert rates("step", lr=1.0) == pytest.approx([1, 1, 1, 1, 0.1, 0.1, 0.01, 0.01])
    cos = rates("cosine", lr=1.0)                                  # CosineAnnealingLR(T_max=8), per epoch
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(torch.optim.SGD([torch.zeros(1)], lr=1.0), T_max=8)
    want = []
    for _ in range(8):
        want.append(sched.get_last_lr()[0])
        sched.optimizer.step()
        sched.step()
    assert cos == pytest.approx(want) and cos[0] == 1.0 and cos[-1] > 0


@pytest.mark.parametrize("optimizer, state_key, momentum", [("adam", "exp_avg", None), ("sgd", "momentum_buffer", 0.9)])
def test_optimizer_choice_reaches_torch(files, monkeypatch, optimizer, state_key, momentum):

    tmp, net, _, x, y = files
    made = []
    real = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD}[optimizer]

    def spy(params, **kw):
        made.append(kw)
        opt = real(params, **kw)
        made.append(opt)
        return opt
    monkeypatch.setattr(torch.optim, {"adam": "Adam", "sgd": "SGD"}[optimizer], spy)
    model = cnnc.compile(str(net), seed=0)
    hist = cnnc.training.train(model, x, y, epochs=2, optimizer=optimizer, schedule="cosine", verbose=False,
                               device="cpu")
    kw, opt = made
    assert kw.get("momentum") == momentum
    assert [h["lr"] for h in hist] == pytest.approx([kw["lr"], kw["lr"] / 2])   # cosine over 2 epochs
    assert all(state_key in s for s in opt.state.values()) and opt.state


def test_early_stopping_keeps_the_best_epoch(files):
    from cnnc.training import evaluate, split

    tmp, net, _, x, y = files
    model = cnnc.compile(str(net), seed=0)
    hist = cnnc.training.train(model, x, y, epochs=40, lr=0.05, val_split=0.25, patience=2, verbose=False,
                               device="cpu")
    losses = [h["val_loss"] for h in hist]
    assert hist.stopped_early and len(hist) < 40
    best = int(np.argmin(losses)) + 1
    assert hist.best_epoch == best and len(hist) == best + 2       # two epochs without improvement, then stop
    _, _, xv, yv = split(x, y, 0.25, 0)
    assert evaluate(model, xv, yv, device="cpu")["loss"] == pytest.approx(losses[best - 1], rel=1e-5)


def test_cli_options_early_stopping_and_test_set(files, capsys):
    tmp, net, data, x, y = files
    test = tmp / "test.npz"
    xt, yt = synthetic(40, seed=5)
    np.savez(test, x=xt, y=yt)
    out = tmp / "w.safetensors"
    rc = main(["train", str(net), "--data", str(data), "--test", str(test), "--epochs", "40", "--optimizer", "sgd",
               "--lr", "0.2", "--schedule", "step", "--patience", "2", "--val-split", "0.25", "--device", "cpu",
               "--threads", "1", "-o", str(out)])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "early stopping after epoch" in captured.err
    acc = float(captured.out.split("test accuracy ")[1].split()[0])
    model = cnnc.compile(str(net), weights=str(out))
    assert acc == pytest.approx(float((model(xt).argmax(1) == yt).mean()), abs=1e-4)   # the weights written
    assert acc >= 0.9


def test_patience_needs_a_validation_set(files, capsys):
    tmp, net, data, _, _ = files
    assert main(["train", str(net), "--data", str(data), "--patience", "2", "--val-split", "0", "-o",
                 str(tmp / "w.npz")]) == 2
    assert "validation split" in capsys.readouterr().err


def test_training_is_deterministic_for_a_seed(files):
    tmp, net, _, x, y = files
    runs = []
    for _ in range(2):
        model = cnnc.compile(str(net), seed=3)
        cnnc.training.train(model, x, y, epochs=2, augment_with=("rotate", "shift"), seed=3, verbose=False,
                            device="cpu", threads=1)
        runs.append({k: v.tobytes() for k, v in model.params.items()})
    assert runs[0] == runs[1]


def test_progress_bar_is_tqdm_on_a_terminal_only(files):
    import io

    tmp, net, _, x, y = files

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    pytest.importorskip("tqdm")
    for stream, bar in ((Terminal(), True), (io.StringIO(), False)):
        cnnc.training.train(cnnc.compile(str(net)), x, y, epochs=1, progress=stream, device="cpu")
        text = stream.getvalue()
        assert "epoch 1/1: loss" in text
        assert ("img/s" in text or "100%" in text) == bar and ("\r" in text) == bar


# -- nonsense numbers, non-finite training, files that must not be lost ----------------------

@pytest.mark.parametrize("flag, value, message", [
    ("--lr", "inf", "learning rate must be a finite number > 0"),
    ("--lr", "nan", "learning rate must be a finite number > 0"),
    ("--lr", "0", "learning rate must be a finite number > 0"),
    ("--lr", "-0.1", "learning rate must be a finite number > 0"),
    ("--epochs", "0", "epochs must be a whole number >= 1"),
    ("--batch-size", "0", "batch size must be a whole number >= 1"),
    ("--val-split", "1", "validation split"),
    ("--val-split", "nan", "validation split"),
    ("--val-split", "-0.5", "validation split"),
    ("--patience", "0", "patience must be"),
    ("--threads", "0", "threads must be"),
])
def test_nonsense_numbers_are_usage_errors_before_training(files, capsys, monkeypatch, flag, value, message):
    tmp, net, data, _, _ = files
    monkeypatch.setattr(cnnc.training, "train", lambda *a, **k: pytest.fail("trained with a nonsense option"))
    rc = main(["train", str(net), "--data", str(data), flag, value, "-o", str(tmp / "w.npz")])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and "Traceback" not in err
    assert not (tmp / "w.npz").exists()


def test_a_diverging_run_stops_with_exit_1_and_writes_nothing(files, capsys):
    tmp, net, data, _, _ = files
    init = tmp / "init.npz"
    cnnc.compile(str(net), seed=0).save_weights(init)
    before = init.read_bytes()
    rc = main(["train", str(net), "--data", str(data), "--epochs", "3", "--lr", "1e30", "--weights", str(init),
               "--checkpoint", str(tmp / "c.npz"), "-o", str(init)])
    err = capsys.readouterr().err
    assert rc == 1, err
    assert "diverged in epoch 1" in err and "NaN or infinite" in err and "Traceback" not in err
    assert init.read_bytes() == before                      # the init weights, which -o named, untouched
    assert sorted(p.name for p in tmp.iterdir()) == ["data.npz", "init.npz", "net.cnn"]


def test_the_api_raises_training_error_and_keeps_the_weights(files):
    tmp, net, _, x, y = files
    model = cnnc.compile(str(net), seed=0)
    before = {k: v.copy() for k, v in model.params.items()}
    with pytest.raises(cnnc.training.TrainingError, match="diverged"):
        cnnc.training.train(model, x, y, epochs=2, lr=1e30, verbose=False, device="cpu")
    from numeric import assert_params_equal

    assert_params_equal(model.params, before, other=cnnc.compile(str(net), seed=1).params)   # not other weights


def test_output_may_be_the_init_weights_continuing_training_in_place(files, capsys):
    tmp, net, data, x, y = files
    w = tmp / "w.npz"
    cnnc.compile(str(net), seed=0).save_weights(w)
    loss0 = cross_entropy(cnnc.compile(str(net), weights=str(w))(x), y)
    assert main(["train", str(net), "--data", str(data), "--epochs", "2", "--lr", "0.01", "--weights", str(w),
                 "-o", str(w)]) == 0, capsys.readouterr().err
    assert cross_entropy(cnnc.compile(str(net), weights=str(w))(x), y) < loss0 - 0.05
    assert sorted(p.name for p in tmp.iterdir()) == ["data.npz", "net.cnn", "w.npz"]   # no temporary left


@pytest.mark.parametrize("case, message", [
    ("o_is_data", "is the training data; refusing to overwrite it"),
    ("o_is_test", "is the test data; refusing"),
    ("o_is_program", "is the program; refusing"),
    ("o_is_resume", "is the checkpoint to resume from; refusing"),
    ("checkpoint_is_data", "is the training data; refusing"),
    ("checkpoint_is_weights", "is the initial weights (--weights); refusing"),
    ("checkpoint_is_o", "is also the checkpoint"),
    ("checkpoint_folder_missing", "cannot write"),
    ("checkpoint_not_npz", "a checkpoint is an .npz file"),
    ("resume_and_weights", "give one"),
])
def test_outputs_that_would_destroy_inputs_are_refused_before_training(files, capsys, monkeypatch, case, message):
    tmp, net, data, _, _ = files
    prog = tmp / "prog.npz"                                  # a program whose name a weights file could take
    prog.write_text(NET)
    test, w, ckpt = tmp / "test.npz", tmp / "w.npz", tmp / "c.npz"
    np.savez(test, x=np.zeros((2, 8, 8, 1)), y=np.array([0, 1]))
    cnnc.compile(str(net), seed=0).save_weights(w)
    ckpt.write_bytes(b"a checkpoint")
    argv = {"o_is_data": ["--data", data, "-o", data],
            "o_is_test": ["--data", data, "--test", test, "-o", test],
            "o_is_program": ["--data", data, "-o", prog],
            "o_is_resume": ["--data", data, "--resume", ckpt, "-o", ckpt],
            "checkpoint_is_data": ["--data", data, "--checkpoint", data, "-o", tmp / "out.npz"],
            "checkpoint_is_weights": ["--data", data, "--weights", w, "--checkpoint", w, "-o", tmp / "out.npz"],
            "checkpoint_is_o": ["--data", data, "--checkpoint", tmp / "out.npz", "-o", tmp / "out.npz"],
            "checkpoint_folder_missing": ["--data", data, "--checkpoint", tmp / "no" / "c.npz", "-o", tmp / "o.npz"],
            "checkpoint_not_npz": ["--data", data, "--checkpoint", tmp / "c.safetensors", "-o", tmp / "o.npz"],
            "resume_and_weights": ["--data", data, "--resume", ckpt, "--weights", w, "-o", tmp / "o.npz"],
            }[case]
    program = prog if case == "o_is_program" else net
    snapshot = {p.name: p.read_bytes() for p in tmp.iterdir()}
    monkeypatch.setattr(cnnc.training, "train", lambda *a, **k: pytest.fail("trained before refusing"))
    rc = main(["train", str(program), *map(str, argv)])
    err = capsys.readouterr().err
    assert rc == 2 and message in err, err
    assert {p.name: p.read_bytes() for p in tmp.iterdir()} == snapshot


@pytest.mark.parametrize("case, message", [
    ("truncated", "damaged or truncated .npz"),
    ("truncated_member", "damaged or truncated .npz"),
    ("npy", "a single .npy array, not an .npz"),
    ("folder", "it is a folder"),
    ("pickled", "x must be numeric, got dtype object"),   # refused from the header, never unpickled
    ("wrong_shape_header", "must have shape (N, 8, 8, 1) for this network, got (1000000, 28, 28, 1)"),
])
def test_unreadable_data_is_exit_2_never_an_internal_error(files, capsys, case, message):
    tmp, net, data, x, y = files
    bad = tmp / "bad.npz"
    whole = data.read_bytes()
    if case == "truncated":
        bad.write_bytes(whole[:len(whole) // 2])
    elif case == "truncated_member":                         # the zip directory intact, a member cut short
        import zipfile
        with zipfile.ZipFile(data) as z, zipfile.ZipFile(bad, "w") as out:
            out.writestr("y.npy", z.read("y.npy"))
            out.writestr("x.npy", z.read("x.npy")[:200])
    elif case == "npy":
        bad = tmp / "x.npy"
        np.save(bad, x)
    elif case == "folder":
        bad = tmp / "folder.npz"
        bad.mkdir()
    elif case == "pickled":
        np.savez(bad, x=np.array([object()] * 4, dtype=object), y=y[:4])
    elif case == "wrong_shape_header":              # 3 GB announced, 16 bytes there: refused from the header
        import io
        import zipfile
        from numpy.lib import format as npy
        header, labels = io.BytesIO(), io.BytesIO()
        npy.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (10**6, 28, 28, 1)})
        np.save(labels, np.zeros(10**6, np.int64))
        with zipfile.ZipFile(bad, "w") as out:
            out.writestr("x.npy", header.getvalue() + bytes(16))
            out.writestr("y.npy", labels.getvalue())
    rc = main(["train", str(net), "--data", str(bad), "--epochs", "1", "-o", str(tmp / "w.npz")])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert message in err and "internal error" not in err and "Traceback" not in err
