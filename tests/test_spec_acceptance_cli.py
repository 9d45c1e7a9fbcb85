"""Black-box acceptance tests of the `cnnc` command line against SPEC.md §2 (and §3's `import lenet`).

Each test runs the installed `cnnc` console script (or `python -m cnnc` when it is not on PATH) in a
separate process. Expected values are counted here by hand or by brute force over the SPEC formulas.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import cnnc

LENET = """# LeNet for MNIST: the Keras model from the course notes
input 28x28x1
conv 32 3x3 relu
pool 2
conv 64 3x3 relu
pool 2
flatten
dense 64 relu
dense 10 softmax
"""

_SCRIPT = Path(sys.executable).with_name("cnnc")
CNNC = [str(_SCRIPT)] if _SCRIPT.exists() else ([shutil.which("cnnc")] if shutil.which("cnnc")
                                                 else [sys.executable, "-m", "cnnc"])


def cnnc_cli(*args, cwd=None):
    p = subprocess.run([*CNNC, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=120)
    assert "Traceback" not in p.stderr + p.stdout, p.stderr
    return p.returncode, p.stdout, p.stderr


def num(s):
    return int(s.replace(",", "").replace("_", ""))


@pytest.fixture(scope="module")
def lenet_file(tmp_path_factory):
    d = tmp_path_factory.mktemp("prog")
    p = d / "lenet.cnn"
    p.write_text(LENET)
    return p


# hand-counted LeNet: (name, output, params, macs)
LENET_ROWS = [
    ("conv_1", [26, 26, 32], 3 * 3 * 1 * 32 + 32, 26 * 26 * 32 * 3 * 3 * 1),
    ("pool_1", [13, 13, 32], 0, 0),
    ("conv_2", [11, 11, 64], 3 * 3 * 32 * 64 + 64, 11 * 11 * 64 * 3 * 3 * 32),
    ("pool_2", [5, 5, 64], 0, 0),
    ("flatten_1", [1600], 0, 0),
    ("dense_1", [64], 1600 * 64 + 64, 1600 * 64),
    ("dense_2", [10], 64 * 10 + 10, 64 * 10),
]
LENET_PARAMS = sum(r[2] for r in LENET_ROWS)
LENET_MACS = sum(r[3] for r in LENET_ROWS)


# ----------------------------------------------------------------------------- cnnc shapes

def test_shapes_json(lenet_file):
    rc, out, err = cnnc_cli("shapes", lenet_file, "--json")
    assert rc == 0, err
    d = json.loads(out)
    assert d["input"] == [28, 28, 1]
    assert d["output"] == [10]
    assert d["total_params"] == LENET_PARAMS == 121930
    assert d["total_macs"] == LENET_MACS
    assert d["min_input"] == [10, 10]
    rows = [r for r in d["layers"] if r["name"] != "input"]
    assert [(r["name"], r["output"], r["params"], r["macs"]) for r in rows] == \
        [tuple(r) for r in map(list, LENET_ROWS)]
    for r in d["layers"]:
        assert {"name", "kind", "output", "params", "macs"} <= set(r)
    kinds = {r["name"]: r["kind"] for r in rows}
    assert kinds["conv_1"].startswith("conv") and kinds["pool_1"].startswith("pool")
    assert kinds["dense_2"].startswith("dense") and kinds["flatten_1"] == "flatten"


def test_shapes_table(lenet_file):
    rc, out, err = cnnc_cli("shapes", lenet_file)
    assert rc == 0, err
    lines = out.splitlines()
    for name, shape, params, macs in LENET_ROWS:
        row = next((ln for ln in lines if ln.split() and ln.split()[0] == name), None)
        assert row is not None, f"no row for {name}:\n{out}"
        assert "x".join(map(str, shape)) in row.split()
        numbers = [num(t) for t in row.split() if re.fullmatch(r"[\d,_]+", t)]
        assert params in numbers and macs in numbers, row
    text = out.replace(",", "").replace("_", "")
    assert str(LENET_PARAMS) in text and str(LENET_MACS) in text
    assert "10x10" in out


def test_shapes_input_override_and_missing_input(tmp_path):
    p = tmp_path / "noinput.cnn"
    p.write_text("conv 4 3\npool 2\nflatten\ndense 2\n")
    rc, out, err = cnnc_cli("shapes", p, "--json")
    assert rc == 1 and re.search(r"noinput\.cnn:\d+:\d+: error: ", err + out)
    rc, out, err = cnnc_cli("shapes", p, "--input", "10x12x3", "--json")
    assert rc == 0, err
    d = json.loads(out)
    assert d["input"] == [10, 12, 3] and d["output"] == [2]
    flat = next(r for r in d["layers"] if r["name"] == "flatten_1")
    assert flat["output"] == [4 * 5 * 4]


# a network whose accepted heights are not an interval: concat needs floor == ceil (even sizes)
MIN_PROG = """input 12x16x1
conv 4 3x1
concat {
  branch { pool 2 }
  branch { conv 4 1 stride=2 padding=same }
}
conv 4 3 stride=1x2
flatten
dense 2
"""


def _ok_axis(n, axis):
    """My own model of MIN_PROG along one axis: True when no statement errs."""
    def out(n, k, s, p):
        if p == "valid":
            return (n - k) // s + 1
        return -(-n // s)
    k1 = 3 if axis == 0 else 1
    n = out(n, k1, 1, "valid")
    if n <= 0:
        return False
    a, b = out(n, 2, 2, "valid"), out(n, 1, 2, "same")
    if a <= 0 or a != b:
        return False
    s3 = 1 if axis == 0 else 2
    return out(a, 3, s3, "valid") > 0


def test_min_input_brute_force(tmp_path):
    want = [next(n for n in range(1, 300) if _ok_axis(n, ax)) for ax in (0, 1)]
    assert want == [8, 6]
    p = tmp_path / "m.cnn"
    p.write_text(MIN_PROG)
    rc, out, err = cnnc_cli("shapes", p, "--json")
    assert rc == 0, err
    assert json.loads(out)["min_input"] == want
    # and cross-check the brute force against the language itself at the boundaries
    for ax, n in ((0, want[0]), (1, want[1])):
        shape = [12, 16, 1]
        shape[ax] = n
        cnnc.parse(MIN_PROG, input=tuple(shape))
        shape[ax] = n - 1
        with pytest.raises(cnnc.CnncError):
            cnnc.parse(MIN_PROG, input=tuple(shape))


def test_min_input_non_square(tmp_path):
    p = tmp_path / "ns.cnn"
    p.write_text("input 40x40x2\nconv 2 5x1\npool 2x3\nconv 2 3x3 stride=2\nflatten\ndense 1\n")
    want = []
    for ax in (0, 1):
        for n in range(1, 200):
            k1 = 5 if ax == 0 else 1
            a = n - k1 + 1
            b = (a - (2 if ax == 0 else 3)) // (2 if ax == 0 else 3) + 1 if a > 0 else 0
            c = (b - 3) // 2 + 1 if b > 0 else 0
            if a > 0 and b > 0 and c > 0:
                want.append(n)
                break
    rc, out, err = cnnc_cli("shapes", p, "--json")
    assert rc == 0, err
    assert json.loads(out)["min_input"] == want == [10, 9]


def test_shapes_error_exit_1_and_location(tmp_path):
    p = tmp_path / "bad.cnn"
    p.write_text("input 8x8x1\nconv 4 3\n\ndense 10\n")
    rc, out, err = cnnc_cli("shapes", p)
    assert rc == 1
    assert re.search(r"bad\.cnn:4:1: error: .*dense_1", err + out)


def test_shapes_warnings_exit_0(tmp_path):
    p = tmp_path / "warn.cnn"
    p.write_text("input 11x11x1\npool 2\nflatten\ndense 4 softmax\ndense 2\n")
    rc, out, err = cnnc_cli("shapes", p)
    assert rc == 0
    assert re.search(r"warn\.cnn:2:\d+: warning: ", err + out), err
    assert re.search(r"warn\.cnn:4:\d+: warning: .*softmax", err + out), err
    assert "error:" not in err + out


def test_shapes_no_warnings_for_clean_program(tmp_path):
    p = tmp_path / "clean.cnn"
    p.write_text("input 12x12x1\nconv 4 3 relu\npool 2\nflatten\ndropout 0.5\ndense 4 softmax\n")
    rc, out, err = cnnc_cli("shapes", p)
    assert rc == 0 and "warning:" not in err + out


@pytest.mark.parametrize("args", [
    ["shapes", "DOES_NOT_EXIST.cnn"],
    ["shapes", "."],
    [],
    ["shapes"],
    ["shapes", "PROG", "--bogus"],
    ["shapes", "PROG", "--input", "12x"],
    ["frobnicate", "PROG"],
    ["compile", "DOES_NOT_EXIST.cnn"],
    ["compile", "PROG", "--backend", "fortran"],
])
def test_bad_usage_and_unreadable_exit_2(args, lenet_file, tmp_path):
    args = [str(lenet_file) if a == "PROG" else a for a in args]
    rc, out, err = cnnc_cli(*args, cwd=tmp_path)
    assert rc == 2, (args, rc, out, err)


def test_unreadable_file_permissions(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root can read anything")
    p = tmp_path / "locked.cnn"
    p.write_text(LENET)
    p.chmod(0)
    rc, out, err = cnnc_cli("shapes", p)
    assert rc == 2


# ----------------------------------------------------------------------------- cnnc compile

def test_compile_default_output_in_cwd_and_import_lenet(lenet_file, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    rc, out, err = cnnc_cli("compile", lenet_file, cwd=work)
    assert rc == 0, err
    assert (work / "lenet.py").is_file()
    assert "lenet.py" in out
    written = sorted(p.name for p in work.iterdir())
    others = [n for n in written if n != "lenet.py" and not n.startswith("__pycache__")]
    assert others, "no weights file beside the module"
    assert any(n in out for n in others), (out, others)
    assert not (lenet_file.parent / "lenet.py").exists()

    # `import lenet; lenet.load()` from another folder; compare with the Python API on the same weights
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    x = np.random.default_rng(0).random((2, 28, 28, 1)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    code = ("import sys, numpy as np\nsys.path.insert(0, sys.argv[1])\nimport lenet\n"
            "m = lenet.load()\nnp.save(sys.argv[2], m(np.load(sys.argv[3])))\n"
            "np.savez(sys.argv[4], **{k: np.asarray(v) for k, v in m.params.items()})\n")
    p = subprocess.run([sys.executable, "-c", code, str(work), str(tmp_path / "y.npy"),
                        str(tmp_path / "x.npy"), str(tmp_path / "p.npz")],
                       cwd=elsewhere, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    y = np.load(tmp_path / "y.npy")
    assert y.shape == (2, 10)
    ref = cnnc.compile(cnnc.parse(LENET), backend="numpy", weights=str(tmp_path / "p.npz"))
    from numeric import another, assert_close

    assert_close(y, ref(x), other=ref(another(x)), rtol=1e-5, atol=1e-6)


def test_compile_o_and_weights(lenet_file, tmp_path):
    src = cnnc.compile(cnnc.parse(LENET), seed=11)
    w = tmp_path / "given.npz"
    src.save_weights(str(w))
    outdir = tmp_path / "out"
    outdir.mkdir()
    rc, out, err = cnnc_cli("compile", lenet_file, "-o", outdir / "mynet.py", "--weights", w, cwd=tmp_path)
    assert rc == 0, err
    assert (outdir / "mynet.py").is_file() and "mynet.py" in out
    assert not (tmp_path / "lenet.py").exists()
    code = ("import sys, numpy as np\nsys.path.insert(0, sys.argv[1])\nimport mynet\n"
            "m = mynet.load()\nnp.savez(sys.argv[2], **{k: np.asarray(v) for k, v in m.params.items()})\n")
    p = subprocess.run([sys.executable, "-c", code, str(outdir), str(tmp_path / "got.npz")],
                       cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    from numeric import assert_params_equal

    with np.load(tmp_path / "got.npz") as got:
        assert set(got.files) == set(src.params)
        # the other weights: what the program's own seed would have given
        assert_params_equal(dict(got), src.params, other=cnnc.compile(cnnc.parse(LENET), seed=0).params)


def test_compile_bad_program_exit_1(tmp_path):
    p = tmp_path / "bad.cnn"
    p.write_text("input 8x8x1\nconv 4 3\ndense 10\n")
    rc, out, err = cnnc_cli("compile", p, cwd=tmp_path)
    assert rc == 1 and re.search(r"bad\.cnn:3:1: error: ", err + out)
    assert not (tmp_path / "bad.py").exists()


BLOCKS = """input 8x8x3
residual { conv 3 3 padding=same relu; conv 3 3 padding=same }
concat { branch { conv 2 1 } branch { pool 3 stride=1 padding=same } }
batchnorm
globalpool
dense 4
"""


def test_shapes_json_blocks(tmp_path):
    p = tmp_path / "blocks.cnn"
    p.write_text(BLOCKS)
    rc, out, err = cnnc_cli("shapes", p, "--json")
    assert rc == 0, err
    d = json.loads(out)
    rows = {r["name"]: r for r in d["layers"]}
    want = {
        "conv_1": ([8, 8, 3], 3 * 3 * 3 * 3 + 3, 64 * 3 * 9 * 3),
        "conv_2": ([8, 8, 3], 3 * 3 * 3 * 3 + 3, 64 * 3 * 9 * 3),
        "residual_1": ([8, 8, 3], 0, 0),
        "conv_3": ([8, 8, 2], 3 * 2 + 2, 64 * 2 * 3),
        "pool_1": ([8, 8, 3], 0, 0),
        "concat_1": ([8, 8, 5], 0, 0),
        "batchnorm_1": ([8, 8, 5], 4 * 5, 0),
        "globalpool_1": ([5], 0, 0),
        "dense_1": ([4], 5 * 4 + 4, 5 * 4),
    }
    assert {k: (r["output"], r["params"], r["macs"]) for k, r in rows.items() if k != "input"} == want
    assert rows["residual_1"]["kind"] == "residual" and rows["concat_1"]["kind"] == "concat"
    order = [r["name"] for r in d["layers"]]
    pos = order.index
    assert pos("conv_1") < pos("conv_2") < pos("residual_1") < pos("concat_1")
    assert pos("conv_3") < pos("concat_1") and pos("pool_1") < pos("concat_1")
    assert pos("concat_1") < pos("batchnorm_1") < pos("globalpool_1") < pos("dense_1") == len(order) - 1
    assert d["total_params"] == sum(v[1] for v in want.values())
    assert d["total_macs"] == sum(v[2] for v in want.values())
    assert d["min_input"] == [1, 1] and d["output"] == [4] and d["input"] == [8, 8, 3]


def test_stride_dropping_rows_warns(tmp_path):
    p = tmp_path / "s.cnn"
    p.write_text("input 8x9x1\nconv 2 3 stride=2\nflatten\n")     # 8 rows: windows cover 0..6, row 7 lost
    rc, out, err = cnnc_cli("shapes", p)
    assert rc == 0 and re.search(r"s\.cnn:2:\d+: warning: ", err + out), err


def test_compile_input_option_and_bad_weights(lenet_file, tmp_path):
    p = tmp_path / "noin.cnn"
    p.write_text("conv 2 3 relu\nglobalpool\ndense 2\n")
    rc, out, err = cnnc_cli("compile", p, "--input", "6x7x3", cwd=tmp_path)
    assert rc == 0, err
    code = ("import sys, numpy as np\nsys.path.insert(0, sys.argv[1])\nimport noin\n"
            "print(noin.load()(np.zeros((3, 6, 7, 3), 'float32')).shape)\n")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True,
                       cwd=tmp_path, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "(3, 2)", r.stderr
    bad = tmp_path / "bad.npz"
    np.savez(bad, **{"conv_1.kernel": np.zeros((3, 3, 3, 3), np.float32)})
    rc, out, err = cnnc_cli("compile", p, "--input", "6x7x3", "--weights", bad, "-o", tmp_path / "x.py",
                            cwd=tmp_path)
    assert rc != 0 and "conv_1.kernel" in err + out


def test_garbage_file_no_traceback(tmp_path):
    p = tmp_path / "g.cnn"
    p.write_bytes(b"\xff\xfe\x00input 8x8x1\n\x80\x81")
    rc, out, err = cnnc_cli("shapes", p)
    assert rc in (1, 2)


def test_numpy_backend_and_shapes_need_only_numpy(lenet_file, tmp_path):
    """SPEC §4: the numpy backend needs only numpy. Block torch/triton imports and use everything."""
    rc, out, err = cnnc_cli("compile", lenet_file, cwd=tmp_path)
    assert rc == 0, err
    code = (
        "import sys\n"
        "for m in ('torch', 'triton'):\n    sys.modules[m] = None\n"
        "import numpy as np, cnnc\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "import lenet\n"
        "x = np.zeros((1, 28, 28, 1), 'float32')\n"
        "assert lenet.load()(x).shape == (1, 10)\n"
        "assert cnnc.compile(sys.argv[2], backend='numpy', seed=0)(x).shape == (1, 10)\n"
        "print('ok')\n")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path), str(lenet_file)], capture_output=True,
                       text=True, cwd=tmp_path, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def test_compile_output_must_not_need_cwd_of_compile(lenet_file, tmp_path):
    """The module finds its weights beside itself even after both move to another folder."""
    a = tmp_path / "a"
    a.mkdir()
    rc, out, err = cnnc_cli("compile", lenet_file, cwd=a)
    assert rc == 0, err
    b = tmp_path / "b"
    shutil.copytree(a, b)
    shutil.rmtree(a)
    code = ("import sys, numpy as np\nsys.path.insert(0, sys.argv[1])\nimport lenet\n"
            "print(lenet.load()(np.zeros((2, 28, 28, 1), 'float32')).shape)\n")
    r = subprocess.run([sys.executable, "-c", code, str(b)], capture_output=True, text=True, cwd=tmp_path,
                       timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "(2, 10)", r.stderr
