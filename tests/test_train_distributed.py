"""`torchrun --nproc-per-node 2 -m cnnc train ...` on the CPU (gloo) and the digits data:
DistributedDataParallel with no other change, the same steps as one process on the
same global batch, and only rank 0 prints and writes."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import cnnc
from cnnc.cli import main

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")
if not torch.distributed.is_available() or not torch.distributed.is_gloo_available():
    pytest.skip("torch.distributed with gloo is not available", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[1]
DIGITS = ROOT / "examples" / "digits" / "digits.cnn"
# digits.cnn without batchnorm and dropout: nothing that differs between one process and
# two (batch statistics per process, dropout masks per process), so the runs must agree
PLAIN = """input 8x8x1
conv 16 3x3 padding=same relu
pool 2
conv 32 3x3 padding=same relu
pool 2
flatten
dense 10 softmax
"""


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    tmp = tmp_path_factory.mktemp("digits")
    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[..., None]
    x_tr, x_te, y_tr, y_te = train_test_split(x, d.target, test_size=0.2, random_state=0, stratify=d.target)
    np.savez(tmp / "train.npz", x=x_tr, y=y_tr)
    np.savez(tmp / "test.npz", x=x_te, y=y_te)
    (tmp / "plain.cnn").write_text(PLAIN)
    return tmp


def torchrun(out_dir, *args, timeout=240):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    for var in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(var, None)
    for attempt in range(2):
        p = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                            "-m", "cnnc", "train", *map(str, args)],
                           capture_output=True, text=True, cwd=out_dir, env=env, timeout=timeout)
        # --standalone picks a free port for its store; another process can take it before
        # gloo binds (a race of the machine, not of cnnc): that one failure is retried once
        if p.returncode == 0 or not any(s in p.stderr for s in TRANSIENT):
            break
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout, p.stderr


TRANSIENT = ("Address already in use", "EADDRINUSE", "DistNetworkError", "RendezvousConnectionError",
             "Connection reset by peer", "Connection refused")


def test_two_gloo_processes_take_the_steps_of_one(digits, capsys):
    common = ["--data", digits / "train.npz", "--test", digits / "test.npz", "--epochs", "3", "--lr", "0.005",
              "--batch-size", "32", "--augment", "rotate,shift,zoom", "--device", "cpu", "--threads", "1"]
    out, err = torchrun(digits, digits / "plain.cnn", *common, "--checkpoint", digits / "ddp.ckpt.npz",
                        "-o", digits / "ddp.npz")
    # rank 0 alone reports and writes
    assert out.count("wrote ") == 1 and out.count("test accuracy") == 1
    assert err.count("epoch 3/3:") == 1
    assert main(["train", str(digits / "plain.cnn"), *map(str, common), "-o", str(digits / "one.npz")]) == 0
    single = capsys.readouterr().out
    ddp_w, one_w = (cnnc.compile(str(digits / "plain.cnn"), weights=str(digits / n)).params
                    for n in ("ddp.npz", "one.npz"))
    from numeric import assert_close, flat

    start = cnnc.compile(str(digits / "plain.cnn"), seed=0).params
    # the same updates, up to the order of float additions; far from where training started
    assert_close(flat(ddp_w, one_w), flat(one_w), other=flat(start, one_w), rtol=0, atol=1e-5)

    def accuracy(text):
        return float(text.split("test accuracy ")[1].split()[0])
    assert abs(accuracy(out) - accuracy(single)) <= 0.01
    assert accuracy(single) > 0.8                               # it learned: chance is 0.1
    assert sorted(p.name for p in digits.iterdir() if "ddp" in p.name) == ["ddp.ckpt.npz", "ddp.npz"]


def test_batchnorm_and_dropout_train_under_ddp(digits):
    """digits.cnn (batchnorm: statistics per process, running averages kept equal) trains too."""
    out, err = torchrun(digits, DIGITS, "--data", digits / "train.npz", "--test", digits / "test.npz",
                        "--epochs", "3", "--lr", "0.002", "--device", "cpu", "-o", digits / "bn.safetensors")
    assert out.count("wrote ") == 1
    assert float(out.split("test accuracy ")[1].split()[0]) > 0.8
    model = cnnc.compile(str(DIGITS), weights=str(digits / "bn.safetensors"))
    assert all(np.all(np.isfinite(v)) for v in model.params.values())
