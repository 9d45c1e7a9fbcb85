"""`cnnc shapes`: the table, --json, exit codes, and what it imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import EXAMPLES, ROOT, run_cnnc


def test_lenet_table():
    rc, out, err = run_cnnc("shapes", "examples/lenet.cnn")
    assert rc == 0
    for text in ("26x26x32", "13x13x32", "5x5x64", "1600", "121,930", "Smallest input: 10x10"):
        assert text in out
    lines = out.splitlines()
    assert lines[0].split()[:7] == ["layer", "kind", "output", "params", "MACs", "RF", "stride"]
    conv2 = next(line for line in lines if line.startswith("conv_2"))
    assert conv2.split()[:8] == ["conv_2", "conv", "relu", "11x11x64", "18,496", "2,230,272", "8x8", "2x2"]
    assert "examples/lenet.cnn:6:1: warning: pool_2" in err


def test_json_structure():
    rc, out, _ = run_cnnc("shapes", "examples/lenet.cnn", "--json")
    assert rc == 0
    data = json.loads(out)
    assert {"input", "output", "total_params", "total_macs", "min_input", "layers"} <= set(data)
    assert data["input"] == [28, 28, 1] and data["output"] == [10]
    assert data["total_params"] == 121_930 and data["total_macs"] == 2_528_000
    assert data["min_input"] == [10, 10]
    assert [layer["name"] for layer in data["layers"]] == [
        "conv_1", "pool_1", "conv_2", "pool_2", "flatten_1", "dense_1", "dense_2"]
    assert [layer["kind"] for layer in data["layers"]] == ["conv", "pool", "conv", "pool", "flatten", "dense", "dense"]
    first = data["layers"][0]
    assert first["output"] == [26, 26, 32] and first["params"] == 320 and first["macs"] == 26 * 26 * 32 * 9
    assert sum(layer["params"] for layer in data["layers"]) == data["total_params"]


def test_json_blocks_and_input_override(tmp_path):
    f = tmp_path / "net.cnn"
    f.write_text("residual { conv 3 3x3 padding=same }\nconcat { branch { relu } branch { pool 1 } }\n")
    rc, out, err = run_cnnc("shapes", str(f), "--json", "--input", "6x7x3")
    assert rc == 0, err
    data = json.loads(out)
    assert data["input"] == [6, 7, 3] and data["output"] == [6, 7, 6]
    assert [(layer["name"], layer["kind"]) for layer in data["layers"]] == [
        ("conv_1", "conv"), ("residual_1", "residual"), ("relu_1", "relu"), ("pool_1", "pool"),
        ("concat_1", "concat")]


@pytest.mark.parametrize("args,code,fragment", [
    (["shapes", "examples/lenet.cnn"], 0, None),
    (["shapes", "BAD"], 1, "BAD:3:1: error: dense_1: dense needs a vector"),
    (["shapes", "missing.cnn"], 2, "cannot read missing.cnn"),
    (["shapes", "examples"], 2, "cannot read examples"),
    (["shapes"], 2, "required"),
    (["shapes", "examples/lenet.cnn", "--input", "28x28"], 2, "HxWxC"),
    (["shapes", "examples/lenet.cnn", "--bogus"], 2, "unrecognized"),
    (["nosuchcommand"], 2, "unknown command 'nosuchcommand'"),
])
def test_exit_codes(tmp_path, args, code, fragment):
    bad = tmp_path / "bad.cnn"
    bad.write_text("input 8x8x1\nconv 2 3\ndense 3\n")
    args = [str(bad) if a == "BAD" else a for a in args]
    rc, out, err = run_cnnc(*args)
    assert rc == code, (out, err)
    if fragment:
        assert fragment.replace("BAD", str(bad)) in err
    assert "Traceback" not in out + err


def test_binary_file_is_a_usage_error(tmp_path):
    f = tmp_path / "x.cnn"
    f.write_bytes(b"\xff\xfe\x00\x81")
    rc, _, err = run_cnnc("shapes", str(f))
    assert rc == 2 and "cannot read" in err and "Traceback" not in err


def test_front_end_imports_nothing_heavy():
    code = (
        "import sys, io, contextlib\n"
        "import cnnc\n"
        "cnnc.parse(open('examples/keras/resnet50.cnn').read())\n"
        "from cnnc.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
        "    assert main(['shapes', 'examples/keras/resnet50.cnn']) == 0\n"
        "    assert main(['shapes', 'examples/lenet.cnn', '--json']) == 0\n"
        "heavy = sorted(m for m in ('numpy', 'torch', 'triton', 'lark') if m in sys.modules)\n"
        "print(heavy)\n")
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "[]"


@pytest.mark.parametrize("example", ["keras/resnet50.cnn", "keras/densenet121.cnn", "lenet.cnn"])
def test_the_command_loads_no_module_it_can_do_without(example):
    """The start-up budget (BENCHMARKS.md) has no room for `re` and the `enum` it imports
    (half of `python -c pass`), nor `importlib` and `warnings`: the command file pip
    installs, the lexer and the registry avoid them. -X importtime lists every import."""
    p = subprocess.run([sys.executable, "-X", "importtime", "cnnc/__main__.py", "shapes", f"examples/{example}"],
                       cwd=ROOT, capture_output=True, text=True, timeout=60, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert p.returncode == 0, p.stderr
    loaded = {line.split("|")[-1].strip() for line in p.stderr.splitlines() if line.startswith("import time:")}
    assert "cnnc.syntax" in loaded   # the listing is real
    assert loaded.isdisjoint({"re", "enum", "importlib", "warnings", "numpy", "torch", "triton", "lark"}), \
        sorted(loaded & {"re", "enum", "importlib", "warnings", "numpy", "torch", "triton", "lark"})


def test_the_installed_command_is_that_file():
    """pip installs cnnc/__main__.py as `cnnc` (pyproject.toml), its `#!python` made this
    environment's python: no launcher of its own runs before cnnc."""
    import shutil
    from pathlib import Path

    command = shutil.which("cnnc", path=str(Path(sys.executable).parent))
    if command is None:
        pytest.skip("cnnc is not installed in this environment")
    installed = Path(command).read_text().splitlines()
    source = (ROOT / "cnnc" / "__main__.py").read_text().splitlines()
    assert installed[0].startswith("#!") and "python" in installed[0]
    assert installed[1:] == source[1:]


def test_shapes_of_every_example_via_cli():
    for path in sorted(EXAMPLES.rglob("*.cnn")):
        rc, out, err = run_cnnc("shapes", str(path.relative_to(ROOT)))
        assert rc == 0 and "Total params:" in out and "Smallest input:" in out, err


@pytest.mark.parametrize("argv", [
    ["shapes", "a.cnn"], ["shapes", "a.cnn", "--json"], ["shapes", "--json", "a.cnn"],
    ["shapes", "a.cnn", "--input", "5x6x2"], ["shapes", "--input=5x6x2", "a.cnn", "--json"],
    ["shapes", "a.cnn", "--input", "5x6"], ["shapes", "a.cnn", "--js"], ["shapes"], ["shapes", "a", "b"],
    ["shapes", "a.cnn", "--input"], ["shapes", "-h"], ["compile", "a.cnn"], ["shapes", "a.cnn", "--json", "--json"],
    ["shapes", "-"], ["shapes", "-", "-q"], ["shapes", "--quiet", "a.cnn", "--werror"], ["-q", "shapes", "a.cnn"],
    ["shapes", "a.cnn", "-"],
])
def test_plain_shapes_arguments_read_as_argparse_reads_them(argv, capsys):
    """The argparse-free fast path for `cnnc shapes` gives argparse's namespace, or defers to it."""
    from cnnc.cli import _parse_with_argparse, _plain_shapes_args

    fast = _plain_shapes_args(argv)
    try:
        slow = vars(_parse_with_argparse(argv)[0])
    except SystemExit:
        slow = None
    if fast is not None:
        assert vars(fast) == slow
    capsys.readouterr()


def test_warnings_are_printed_with_errors(tmp_path):
    f = tmp_path / "w.cnn"
    f.write_text("input 11x11x1\npool 2\nconv 8 9x9\n")
    rc, out, err = run_cnnc("shapes", str(f))
    assert rc == 1 and out == ""
    lines = err.splitlines()
    assert lines[0].startswith(f"{f}:2:1: warning: pool_1") and lines[1].startswith(f"{f}:3:1: error: conv_1")
