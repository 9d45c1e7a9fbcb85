"""`cnnc compile`: files written, exit codes, the import of what it writes, and nothing lost."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import cnnc
from cnnc.backends.carried.weights_io import params_digest
from cnnc.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LENET = os.path.join(ROOT, "examples", "lenet.cnn")


def run(args, cwd, capsys):
    old = os.getcwd()
    os.chdir(cwd)
    try:
        code = main(args)
    finally:
        os.chdir(old)
    out, err = capsys.readouterr()
    return code, out, err


def test_default_output_and_done_criterion(tmp_path, capsys):
    code, out, err = run(["compile", LENET], tmp_path, capsys)
    assert code == 0, err
    assert out.splitlines() == ["wrote lenet.py", "wrote lenet.npz"]
    assert "warning: pool_2" in err      # the program's warnings still show
    r = subprocess.run([sys.executable, "-c", "import sys; sys.modules['cnnc'] = None; import lenet, numpy as np; "
                        "print(lenet.load()(np.zeros((2,28,28,1),'float32')).shape)"],
                       cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "(2, 10)"


def test_output_weights_seed(tmp_path, capsys):
    (tmp_path / "out").mkdir()
    code, out, _ = run(["compile", LENET, "-o", "out/net.py", "--seed", "4"], tmp_path, capsys)
    assert code == 0 and (tmp_path / "out/net.npz").exists()
    seeded = cnnc.compile(LENET, seed=4)
    from numeric import assert_equal, assert_params_equal

    with np.load(tmp_path / "out/net.npz") as f:
        assert_params_equal(dict(f), seeded.params, other=cnnc.compile(LENET, seed=0).params)
    # --weights bakes given weights in (here: from another seed, as safetensors)
    pytest.importorskip("safetensors")
    other = cnnc.compile(LENET, seed=9)
    other.save_weights(tmp_path / "w.safetensors")
    code, _, _ = run(["compile", LENET, "-o", "w9.py", "--weights", "w.safetensors"], tmp_path, capsys)
    assert code == 0
    with np.load(tmp_path / "w9.npz") as f:
        assert_equal(f["conv_1.kernel"], other.params["conv_1.kernel"], other=seeded.params["conv_1.kernel"])
    # the module is the same code, with the digest of the weights beside it
    assert (tmp_path / "w9.py").read_text() == seeded.code.replace(
        "WEIGHTS_SHA256 = None", f"WEIGHTS_SHA256 = {params_digest(other.params)!r}")
    assert (tmp_path / "w9.py").read_text() == cnnc.compile(LENET, weights=tmp_path / "w.safetensors").source


def test_input_option(tmp_path, capsys):
    (tmp_path / "noinput.cnn").write_text("conv 4 3x3 relu\nglobalpool\n")
    code, _, err = run(["compile", "noinput.cnn"], tmp_path, capsys)
    assert code == 1 and "input" in err
    code, _, err = run(["compile", "noinput.cnn", "--input", "10x10x3"], tmp_path, capsys)
    assert code == 0, err
    assert "INPUT_SHAPE = (10, 10, 3)" in (tmp_path / "noinput.py").read_text()


def test_program_errors_exit_1(tmp_path, capsys):
    (tmp_path / "bad.cnn").write_text("input 8x8x1\nconv 4 9x9\n")
    code, out, err = run(["compile", "bad.cnn"], tmp_path, capsys)
    assert code == 1 and "bad.cnn:2:1: error:" in err and "Traceback" not in err
    assert not (tmp_path / "bad.py").exists()


def test_weights_that_do_not_fit_exit_1(tmp_path, capsys):
    np.savez(tmp_path / "w.npz", **{"conv_1.kernel": np.zeros((3, 3, 1, 32), np.float32)})
    code, _, err = run(["compile", LENET, "--weights", "w.npz"], tmp_path, capsys)
    assert code == 1 and "cnnc: error:" in err and "missing array 'conv_1.bias'" in err
    assert not (tmp_path / "lenet.py").exists()


@pytest.mark.parametrize("args", [
    ["compile", "missing.cnn"],
    ["compile", LENET, "--weights", "missing.npz"],
    ["compile", LENET, "--weights", "corrupt.npz"],
    ["compile", LENET, "-o", "no_such_dir/x.py"],
    ["compile", LENET, "-o", "lenet.txt"],
])
def test_unreadable_or_bad_usage_exit_2(tmp_path, capsys, args):
    (tmp_path / "corrupt.npz").write_bytes(b"junk")
    code, _, err = run(args, tmp_path, capsys)
    assert code == 2, err
    assert "cnnc: error:" in err and "Traceback" not in err


@pytest.mark.parametrize("args", [["compile"], ["compile", LENET, "--backend", "cuda"],
                                  ["compile", LENET, "--input", "28x28"], ["compile", LENET, "--seed", "x"],
                                  ["compile", LENET, "--seed", "-1"], ["check", LENET, "--seed", "-1"]])
def test_argparse_usage_exit_2(tmp_path, capsys, args):
    with pytest.raises(SystemExit) as e:
        run(args, tmp_path, capsys)
    assert e.value.code == 2


def test_cli_entry_point_subprocess(tmp_path):
    r = subprocess.run([sys.executable, "-m", "cnnc", "compile", LENET, "-o", "m.py"], cwd=tmp_path,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(tmp_path)) == ["m.npz", "m.py"]


def test_emit_onnx(tmp_path, capsys):
    pytest.importorskip("onnx")
    code, out, err = run(["compile", LENET, "--emit", "onnx"], tmp_path, capsys)
    assert code == 0, err
    assert out.splitlines() == ["wrote lenet.onnx"]
    assert (tmp_path / "lenet.onnx").stat().st_size > 100_000   # the weights are inside


def test_export_follows_the_backends_weights_ext(tmp_path):
    pytest.importorskip("safetensors")
    from cnnc.runtime.export import export_module

    model = cnnc.compile(LENET)
    model.module.WEIGHTS_EXT = ".safetensors"   # e.g. what the triton module declares
    written = export_module(model, tmp_path / "t.py")
    assert [os.path.basename(p) for p in written] == ["t.py", "t.safetensors"]
    other = cnnc.compile(LENET, seed=1)
    before = other.params["dense_2.kernel"].copy()
    other.load_weights(tmp_path / "t.safetensors")
    from numeric import assert_equal

    assert_equal(other.params["dense_2.kernel"], model.params["dense_2.kernel"], other=before)


@pytest.mark.parametrize("missing", ["torch", "triton"])
@pytest.mark.parametrize("args", [["compile", LENET, "--backend", "triton"], ["check", LENET]])
def test_triton_backend_without_its_packages_says_what_to_install(tmp_path, capsys, monkeypatch, args, missing):
    monkeypatch.setitem(sys.modules, missing, None)   # as if not installed
    code, _, err = run(args, tmp_path, capsys)
    assert code == 2 and "cnnc: error:" in err and f"needs {missing}" in err and "pip install 'cnnc[triton]'" in err, err
    assert not (tmp_path / "lenet.py").exists()


def test_out_of_memory_is_a_clear_error_not_an_internal_one(tmp_path, capsys, monkeypatch):
    import cnnc.runtime.model as runtime_model

    def too_big(*args, **kwargs):
        raise MemoryError("Unable to allocate 584. GiB")

    monkeypatch.setattr(runtime_model, "compile_model", too_big)
    code, _, err = run(["compile", LENET], tmp_path, capsys)
    assert code == 2 and "cnnc: error: out of memory: Unable to allocate 584. GiB" in err, err


# --- nothing lost: weights beside the output, inputs, all-or-none writes ---------------

SMALL = "input 8x8x1\nconv 4 3x3 relu\nflatten\ndense 3\n"


def _write(tmp_path, name, text=SMALL):
    (tmp_path / name).write_text(text)
    return name


def test_weights_beside_the_output_are_kept_when_they_fit(tmp_path, capsys):
    _write(tmp_path, "net.cnn")
    trained = cnnc.compile(cnnc.parse(SMALL), seed=42)
    trained.save_weights(tmp_path / "net.npz")
    before = (tmp_path / "net.npz").read_bytes()
    code, out, err = run(["compile", "net.cnn"], tmp_path, capsys)
    assert code == 0, err
    assert out.splitlines() == ["wrote net.py",
                                "kept net.npz (its weights fit the program; --force replaces them with fresh initial weights)"]
    assert (tmp_path / "net.npz").read_bytes() == before
    module = cnnc.runtime.model.exec_module((tmp_path / "net.py").read_text(), "numpy", "net")
    loaded = module.load(str(tmp_path / "net.npz"))
    from numeric import assert_equal

    assert_equal(loaded.params["conv_1.kernel"], trained.params["conv_1.kernel"],
                 other=cnnc.compile(cnnc.parse(SMALL), seed=0).params["conv_1.kernel"])   # fresh weights


def test_weights_beside_the_output_that_do_not_fit_are_never_replaced(tmp_path, capsys):
    _write(tmp_path, "net.cnn", SMALL.replace("conv 4", "conv 5"))
    cnnc.compile(cnnc.parse(SMALL), seed=42).save_weights(tmp_path / "net.npz")
    before = (tmp_path / "net.npz").read_bytes()
    code, out, err = run(["compile", "net.cnn"], tmp_path, capsys)
    assert code == 1 and out == ""   # weights that do not fit the program: exit 1, as the README says
    assert ("net.npz (beside the output) does not fit net.cnn ('conv_1.kernel' has shape (3, 3, 1, 4), "
            "expected (3, 3, 1, 5))") in err
    assert "--weights W" in err and "--force" in err
    assert (tmp_path / "net.npz").read_bytes() == before and not (tmp_path / "net.py").exists()
    # --seed asks for fresh weights: refused too, while the file is there
    code, _, err = run(["compile", "net.cnn", "--seed", "3"], tmp_path, capsys)
    assert code == 2 and "--seed asks for fresh initial weights" in err
    assert (tmp_path / "net.npz").read_bytes() == before
    # an unreadable file there is not replaced either
    (tmp_path / "net.npz").write_bytes(b"someone's notes")
    code, _, err = run(["compile", "net.cnn"], tmp_path, capsys)
    assert code == 2 and "refusing to replace it" in err and (tmp_path / "net.npz").read_bytes() == b"someone's notes"
    # --force says so
    code, out, _ = run(["compile", "net.cnn", "--force", "--seed", "3"], tmp_path, capsys)
    assert code == 0 and out.splitlines() == ["wrote net.py", "wrote net.npz"]
    from numeric import assert_equal

    with np.load(tmp_path / "net.npz") as f:
        assert_equal(f["conv_1.kernel"], cnnc.compile(cnnc.parse(_read(tmp_path / "net.cnn")), seed=3).params["conv_1.kernel"],
                     other=cnnc.compile(cnnc.parse(_read(tmp_path / "net.cnn")), seed=0).params["conv_1.kernel"])


def _read(path):
    return path.read_text()


def test_weights_given_that_are_the_file_beside_the_output_are_kept(tmp_path, capsys):
    _write(tmp_path, "net.cnn")
    cnnc.compile(cnnc.parse(SMALL), seed=1).save_weights(tmp_path / "net.npz")
    before = (tmp_path / "net.npz").read_bytes()
    code, out, err = run(["compile", "net.cnn", "--weights", "net.npz"], tmp_path, capsys)
    assert code == 0, err
    assert out.splitlines() == ["wrote net.py", "kept net.npz (the weights given)"]
    assert (tmp_path / "net.npz").read_bytes() == before


@pytest.mark.parametrize("program, args, what", [
    ("net.py", [], "program"),                                 # the default output is the program itself
    ("net.onnx", ["--emit", "onnx"], "program"),
    ("net.npz", ["-o", "net.py"], "program"),                  # the weights beside the output
    ("net.cnn", ["-o", "w.py", "--weights", "other.npz", "--backend", "numpy"], None),
])
def test_an_output_that_is_an_input_is_refused(tmp_path, capsys, program, args, what):
    _write(tmp_path, program)
    cnnc.compile(cnnc.parse(SMALL), seed=1).save_weights(tmp_path / "other.npz")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    code, _, err = run(["compile", program, *args], tmp_path, capsys)
    if what is None:
        assert code == 0, err
        return
    assert code == 2 and f"is the {what}; refusing to overwrite it" in err
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_module_and_weights_are_written_both_or_neither(tmp_path, capsys, monkeypatch):
    import cnnc.runtime.weights as W

    _write(tmp_path, "net.cnn")
    (tmp_path / "net.py").write_text("old module")
    real = W.writer

    def failing_writer(path, params):
        def write(tmp):
            real(path, params)(tmp)
            raise OSError(28, "No space left on device")
        return write
    monkeypatch.setattr(W, "writer", failing_writer)
    code, out, err = run(["compile", "net.cnn", "--force"], tmp_path, capsys)
    assert code == 2 and "cannot write net.py: No space left on device" in err
    assert (tmp_path / "net.py").read_text() == "old module"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.cnn", "net.py"]


@pytest.mark.parametrize("output, message", [
    ("out_dir.py", "it is a folder"),
    ("missing/net.py", "no folder missing"),
])
def test_outputs_are_checked_before_the_work(tmp_path, capsys, monkeypatch, output, message):
    import cnnc.runtime.model as runtime_model

    (tmp_path / "out_dir.py").mkdir()
    _write(tmp_path, "net.cnn")
    monkeypatch.setattr(runtime_model, "compile_model", lambda *a, **k: pytest.fail("compiled before checking"))
    code, _, err = run(["compile", "net.cnn", "-o", output], tmp_path, capsys)
    assert code == 2 and message in err


@pytest.mark.parametrize("output, message", [
    (".py", "the module has no name; choose another name, e.g. -o net.py"),
    ("class.py", "`import class` is not valid Python"),
    ("my-net.py", "`import my-net` is not valid Python, so the module could not be imported; "
                  "choose another name, e.g. -o my_net.py"),
    ("numpy.py", "a module named 'numpy' would shadow the module numpy"),
    ("torch.py", "would shadow the module torch"),
    ("os.py", "would shadow the module os"),
    ("sub/json.py", "choose another name, e.g. -o sub/json_net.py"),
])
def test_a_module_that_cannot_be_imported_as_named_is_refused(tmp_path, capsys, output, message):
    (tmp_path / "sub").mkdir()
    _write(tmp_path, "net.cnn")
    code, out, err = run(["compile", "net.cnn", "-o", output], tmp_path, capsys)
    assert code == 2 and message in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.cnn", "sub"] and not os.listdir(tmp_path / "sub")


def test_a_program_named_as_no_module_needs_o(tmp_path, capsys):
    _write(tmp_path, "my-net.cnn")
    code, _, err = run(["compile", "my-net.cnn"], tmp_path, capsys)
    assert code == 2 and "my-net.py: `import my-net` is not valid Python" in err and "-o my_net.py" in err
    code, out, err = run(["compile", "my-net.cnn", "-o", "my_net.py"], tmp_path, capsys)
    assert code == 0, err


def test_program_from_standard_input(tmp_path, capsys, monkeypatch):
    import io

    _write(tmp_path, "x")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(SMALL.encode())))
    code, _, err = run(["compile", "-"], tmp_path, capsys)
    assert code == 2 and "name the output with -o" in err
    code, out, err = run(["compile", "-", "-o", "net.py"], tmp_path, capsys)
    assert code == 0 and out.splitlines() == ["wrote net.py", "wrote net.npz"], err


@pytest.mark.parametrize("limit", ["weights", "model"])
def test_onnx_past_protobufs_limit_is_a_clear_error(tmp_path, capsys, monkeypatch, limit):
    """The 2 GiB limit, lowered: below LeNet's weights (found before building), or between its
    weights and the built model's size (found before writing)."""
    pytest.importorskip("onnx")
    import cnnc.bridges.onnx_export as E

    weights = sum(a.size * 4 for a in cnnc.compile(LENET).params.values())
    monkeypatch.setattr(E, "PROTOBUF_LIMIT", weights - 1 if limit == "weights" else weights + 100)
    code, out, err = run(["compile", LENET, "--emit", "onnx", "-o", "m.onnx"], tmp_path, capsys)
    assert code == 2 and out == ""
    assert "GiB one ONNX file can hold (protobuf's limit); compile it as a module instead" in err
    assert not os.listdir(tmp_path)


def test_onnx_takes_the_weights_beside_the_output_and_says_so(tmp_path, capsys):
    pytest.importorskip("onnx")
    _write(tmp_path, "net.cnn")
    cnnc.compile(cnnc.parse(SMALL), seed=42).save_weights(tmp_path / "net.npz")
    code, out, err = run(["compile", "net.cnn", "--emit", "onnx"], tmp_path, capsys)
    assert code == 0 and out == "wrote net.onnx (the weights of net.npz, beside the output)\n", err
    import onnx
    from onnx import numpy_helper

    got = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(tmp_path / "net.onnx")).graph.initializer}
    trained = cnnc.compile(cnnc.parse(SMALL), seed=42).params["dense_1.kernel"]
    assert any(np.array_equal(a, trained) or np.array_equal(a, trained.T) for a in got.values())
    code, out, err = run(["compile", "net.cnn", "--emit", "onnx", "--force", "-o", "f.onnx"], tmp_path, capsys)
    assert code == 0 and out == "wrote f.onnx\n" and "note: f.onnx holds fresh initial weights, seed 0" in err


# --- where the weights come from: --weights, beside the output, beside the program, fresh --

def _kernel(path):
    from cnnc.runtime.weights import read_file

    return read_file(path)["conv_1.kernel"]


def test_trained_weights_of_the_other_format_are_converted_not_replaced_by_fresh_ones(tmp_path, capsys):
    pytest.importorskip("safetensors")
    _write(tmp_path, "net.cnn")
    trained = cnnc.compile(cnnc.parse(SMALL), seed=42)
    trained.save_weights(tmp_path / "net.safetensors")   # what `cnnc train ... -o net.safetensors` leaves
    code, out, err = run(["compile", "net.cnn"], tmp_path, capsys)
    assert code == 0, err
    assert out.splitlines() == ["wrote net.py", "wrote net.npz (the weights of net.safetensors, beside the output)"]
    np.testing.assert_array_equal(_kernel(tmp_path / "net.npz"), trained.params["conv_1.kernel"])
    fresh = cnnc.compile(cnnc.parse(SMALL), seed=0).params["conv_1.kernel"]
    assert np.abs(fresh - trained.params["conv_1.kernel"]).max() > 0.1
    # now both formats lie there: which is meant cannot be known
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    code, out, err = run(["compile", "net.cnn", "-o", "other.py"], tmp_path, capsys)
    assert code == 2 and out == "" and "both net.npz and net.safetensors lie beside the program" in err
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_the_triton_backend_takes_trained_npz_weights(tmp_path, capsys):
    pytest.importorskip("torch")
    pytest.importorskip("triton")
    pytest.importorskip("safetensors")
    _write(tmp_path, "net.cnn")
    trained = cnnc.compile(cnnc.parse(SMALL), seed=42)
    trained.save_weights(tmp_path / "net.npz")
    code, out, err = run(["compile", "net.cnn", "--backend", "triton", "-o", "gpu.py"], tmp_path, capsys)
    assert code == 0, err
    assert out.splitlines() == ["wrote gpu.py", "wrote gpu.safetensors (the weights of net.npz, beside the program)"]
    np.testing.assert_array_equal(_kernel(tmp_path / "gpu.safetensors"), trained.params["conv_1.kernel"])
    assert (tmp_path / "net.npz").read_bytes() and not (tmp_path / "net.safetensors").exists()


def test_the_programs_own_weights_are_used_for_an_output_elsewhere(tmp_path, capsys):
    (tmp_path / "src").mkdir()
    (tmp_path / "out").mkdir()
    _write(tmp_path, "src/net.cnn")
    trained = cnnc.compile(cnnc.parse(SMALL), seed=42)
    trained.save_weights(tmp_path / "src" / "net.npz")
    code, out, err = run(["compile", "src/net.cnn", "-o", "out/m.py"], tmp_path, capsys)
    assert code == 0, err
    assert out.splitlines() == ["wrote out/m.py", "wrote out/m.npz (the weights of src/net.npz, beside the program)"]
    np.testing.assert_array_equal(_kernel(tmp_path / "out" / "m.npz"), trained.params["conv_1.kernel"])
    # the weights beside the output come first
    other = cnnc.compile(cnnc.parse(SMALL), seed=7)
    other.save_weights(tmp_path / "out" / "m.npz")
    code, out, _ = run(["compile", "src/net.cnn", "-o", "out/m.py"], tmp_path, capsys)
    assert code == 0 and out.splitlines()[1].startswith("kept out/m.npz")
    # --seed asks for fresh weights while the program's own are there: refused, nothing written
    code, out, err = run(["compile", "src/net.cnn", "-o", "out/n.py", "--seed", "3"], tmp_path, capsys)
    assert code == 2 and "src/net.npz lies beside the program, and --seed asks for fresh" in err
    assert not (tmp_path / "out" / "n.py").exists()
    # --force: fresh weights, and compile says so
    code, out, err = run(["compile", "src/net.cnn", "-o", "out/n.py", "--force", "--seed", "3"], tmp_path, capsys)
    assert code == 0 and out.splitlines() == ["wrote out/n.py", "wrote out/n.npz"]
    assert "note: out/n.npz holds fresh initial weights, seed 3: --force" in err
    # the program's own weights that do not fit: exit 1, naming the misfit
    _write(tmp_path, "src/net.cnn", SMALL.replace("conv 4", "conv 5"))
    code, out, err = run(["compile", "src/net.cnn", "-o", "out/k.py"], tmp_path, capsys)
    assert code == 1 and "src/net.npz (beside the program) does not fit" in err and "(3, 3, 1, 5)" in err


def test_cnnc_compile_of_a_path_takes_the_programs_own_weights(tmp_path):
    pytest.importorskip("safetensors")
    _write(tmp_path, "net.cnn")
    trained = cnnc.compile(cnnc.parse(SMALL), seed=42)
    trained.save_weights(tmp_path / "net.safetensors")
    model = cnnc.compile(tmp_path / "net.cnn")
    assert model.weights_source == f"{tmp_path / 'net.safetensors'}, beside the program"
    np.testing.assert_array_equal(model.params["conv_1.kernel"], trained.params["conv_1.kernel"])
    given = cnnc.compile(tmp_path / "net.cnn", weights=cnnc.compile(cnnc.parse(SMALL), seed=3).params)
    assert given.weights_source == "the weights given"
    assert np.abs(given.params["conv_1.kernel"] - trained.params["conv_1.kernel"]).max() > 0.1
    parsed = cnnc.compile(cnnc.parse_file(tmp_path / "net.cnn"), seed=0)   # a Network: no file to look beside
    assert parsed.weights_source == "fresh initial weights (seed 0)"
    trained.save_weights(tmp_path / "net.npz")
    with pytest.raises(cnnc.CnncError, match="both .*net.npz and .*net.safetensors lie beside the program"):
        cnnc.compile(tmp_path / "net.cnn")
