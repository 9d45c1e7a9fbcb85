"""The CLI in its ecosystem's conventions: `-` for stdin, -V, did-you-mean, examples in
--help, -q and --werror, each warning once, NO_COLOR-aware colour only on a terminal,
and a clear error (exit 2) when the output cannot be written."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import ROOT, run_cnnc

WARNS = "input 11x11x1\npool 2\nflatten\ndense 2\n"   # pool 2 on 11x11 drops a row: one warning


def _cnnc(*args, stdin=None, env=None, cwd=None):
    e = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    p = subprocess.run([sys.executable, "-m", "cnnc", *args], input=stdin, capture_output=True, text=True,
                       cwd=cwd or ROOT, env=e, timeout=60)
    return p.returncode, p.stdout, p.stderr


def test_dash_reads_the_program_from_standard_input():
    rc, out, err = _cnnc("shapes", "-", stdin=WARNS)
    assert rc == 0 and "Total params: 52" in out, err
    assert err.startswith("<stdin>:2:1: warning: pool_1")
    rc, out, err = _cnnc("shapes", "-", "--json", stdin="input 8x8x1\nconv 2 9x9\n")
    assert rc == 1 and "<stdin>:2:1: error: conv_1" in err


def test_version():
    for flag in ("-V", "--version"):
        rc, out, _ = _cnnc(flag)
        assert rc == 0 and out.strip() == f"cnnc {__import__('cnnc').__version__}"


@pytest.mark.parametrize("typed, meant", [("shape", "shapes"), ("complie", "compile"), ("grpah", "graph"),
                                          ("featuremap", "featuremaps")])
def test_did_you_mean_for_commands(typed, meant):
    rc, out, err = _cnnc(typed, "examples/lenet.cnn")
    assert rc == 2 and out == ""
    assert f"cnnc: error: unknown command '{typed}'; did you mean '{meant}'?" in err


def test_an_unknown_command_far_from_any_lists_them():
    rc, _, err = _cnnc("frobnicate")
    assert rc == 2 and "the commands are shapes, compile, check, train, graph, featuremaps" in err


def test_help_has_examples_and_points_to_the_docs():
    rc, out, _ = _cnnc("--help")
    assert rc == 0
    assert "examples:" in out and "cnnc shapes examples/lenet.cnn" in out and "| cnnc shapes -" in out
    assert "docs/" in out and "README.md" in out and "cnnc COMMAND --help" in out
    rc, out, _ = _cnnc("compile", "--help")
    assert rc == 0 and "    cnnc compile lenet.cnn -o out/net.py --weights trained.npz" in out  # kept as written


@pytest.mark.parametrize("where", ["after", "before"])
def test_quiet_prints_no_warnings(tmp_path, where):
    (tmp_path / "w.cnn").write_text(WARNS)
    args = ["shapes", "w.cnn", "-q"] if where == "after" else ["-q", "shapes", "w.cnn"]
    rc, out, err = _cnnc(*args, cwd=tmp_path)
    assert rc == 0 and err == "" and "Total params" in out
    rc, out, err = _cnnc("--quiet", "compile", "w.cnn", cwd=tmp_path)
    assert rc == 0 and err == "" and out.splitlines() == ["wrote w.py", "wrote w.npz"]


@pytest.mark.parametrize("command", [["shapes", "w.cnn"], ["compile", "w.cnn"], ["graph", "w.cnn", "-o", "g.dot"]])
def test_werror_makes_warnings_errors_and_writes_nothing(tmp_path, command):
    (tmp_path / "w.cnn").write_text(WARNS)
    rc, out, err = _cnnc(*command, "--werror", cwd=tmp_path)
    assert rc == 1 and out == ""
    assert err.startswith("w.cnn:2:1: error: pool_1: pool on 11x11 drops the last row and column") and \
        err.rstrip().endswith("[--werror]")
    assert sorted(os.listdir(tmp_path)) == ["w.cnn"]
    clean = tmp_path / "clean.cnn"
    clean.write_text("input 8x8x1\nconv 2 3x3\n")
    rc, _, err = _cnnc(command[0], "clean.cnn", *command[2:], "--werror", cwd=tmp_path)
    assert rc == 0, err


def test_each_warning_is_printed_once_per_command(capsys):
    import cnnc
    from cnnc.commands import common

    net = cnnc.parse(WARNS, filename="w.cnn")
    common.set_warnings()
    common.print_warnings(net)
    common.print_warnings(net)      # e.g. the same network checked again within a command
    common.print_diagnostics(net.warnings)
    err = capsys.readouterr().err
    assert err.count("warning: pool_1") == 1
    common.set_warnings()            # the next command prints it again
    common.print_warnings(net)
    assert capsys.readouterr().err.count("warning: pool_1") == 1


def _on_a_terminal(args, env):
    """stderr of `cnnc ARGS` when stderr is a terminal (a pseudo-terminal)."""
    import pty

    master, slave = pty.openpty()
    e = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM")}
    e.update(PYTHONPATH=str(ROOT), TERM="xterm", **env)
    p = subprocess.Popen([sys.executable, "-m", "cnnc", *args], stdout=subprocess.PIPE, stderr=slave, cwd=ROOT, env=e)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    p.wait(timeout=60)
    os.close(master)
    return p.returncode, b"".join(chunks).decode()


def test_colour_on_a_terminal_only_and_never_with_no_color():
    rc, err = _on_a_terminal(["shapes", "examples/lenet.cnn"], {})
    assert rc == 0
    assert "\x1b[1mexamples/lenet.cnn:6:1:\x1b[0m \x1b[1;35mwarning:\x1b[0m pool_2" in err
    rc, err = _on_a_terminal(["shapes", "examples/lenet.cnn"], {"NO_COLOR": "1"})
    assert rc == 0 and "examples/lenet.cnn:6:1: warning: pool_2" in err and "\x1b[" not in err
    rc, err = _on_a_terminal(["shapes", "missing.cnn"], {})
    assert rc == 2 and "\x1b[1mcnnc:\x1b[0m \x1b[1;31merror:\x1b[0m cannot read missing.cnn" in err
    rc, out, err = run_cnnc("shapes", "examples/lenet.cnn")    # a pipe: plain
    assert rc == 0 and "\x1b[" not in out + err


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
@pytest.mark.parametrize("args", [["shapes", "examples/lenet.cnn"], ["shapes", "examples/lenet.cnn", "--json"],
                                  ["compile", "--plan", "examples/lenet.cnn"], ["--help"], ["compile", "--help"],
                                  ["--version"]])
def test_an_output_that_cannot_be_written_is_a_clear_error(args):
    with open("/dev/full", "w") as full:
        p = subprocess.run([sys.executable, "-m", "cnnc", *args], stdout=full, stderr=subprocess.PIPE, text=True,
                           cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=60)
    assert p.returncode == 2
    assert "cnnc: error: cannot write the output: No space left on device" in p.stderr
    assert "Traceback" not in p.stderr and "Exception ignored" not in p.stderr


def test_plain_shapes_spellings_skip_argparse():
    code = ("import sys, io, contextlib\n"
            "from cnnc.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
            "    assert main(['shapes', 'examples/lenet.cnn', '-q']) == 0\n"
            "    assert main(['shapes', '--werror', 'examples/keras/resnet50.cnn', '--json']) == 0\n"
            "print(sorted(m for m in ('argparse', 'difflib') if m in sys.modules))\n")
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "[]"


def test_errors_past_fifty_are_counted_not_printed(tmp_path, capsys):
    from cnnc.cli import main

    prog = tmp_path / "many.cnn"
    prog.write_text("input 8x8x1\n" + "conv 0 3x3\n" * 120)
    assert main(["shapes", str(prog)]) == 1
    err = capsys.readouterr().err
    assert err.count(": error: conv_") == 50
    assert "cnnc: error: 70 more errors not shown (the first 50 are above; --json lists them all)" in err
    assert main(["shapes", str(prog), "--json"]) == 1
    import json

    assert len(json.loads(capsys.readouterr().out)["diagnostics"]) == 120
