"""The language's limits (cnnc/limits.py, docs/language.md "Limits"): absurd numbers and
sizes are errors in the program's terms, the same limit holds wherever the input shape
comes from, oversized programs stop while they are read, and the front end does work in
proportion to the program (counted in function calls, never timed)."""

from __future__ import annotations

import contextlib
import io
import sys

import numpy as np
import pytest

import cnnc
from cnnc.backends.triton.policy import TRITON
from cnnc.cli import main
from cnnc.limits import MAX_LAYERS, MAX_SIZE, MAX_VALUES
from cnnc.passes.fusion import kernel_column
from cnnc.summary import RF_CAP, format_table, summary_dict

HUGE = "9" * 5000  # past Python's int-conversion limit (4300 digits)


def error_of(text, **kw) -> cnnc.CnncError:
    with pytest.raises(cnnc.CnncError) as e:
        cnnc.parse(text, **kw)
    return e.value


def cli(*argv) -> tuple:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(list(argv))
        except SystemExit as e:  # argparse's usage errors
            rc = e.code
    return rc, out.getvalue(), err.getvalue()


# --- numbers and sizes ------------------------------------------------------------------

PLACES = ["input 4x4x1; conv {N} 3x3", "input 4x4x1; conv 2 {N}x3", "input 4x4x1; conv 2 3 stride={N}",
          "input 4x4x1; conv 2 3 padding={N}", "input 4x4x1; pool {N}", "input 4x4x1; avgpool 2x{N}",
          "input 4x4x1; flatten; dense {N}", "input 4x4x1; repeat {N} {{ relu }}", "input {N}x4x1",
          "input 4x4x{N}"]


@pytest.mark.parametrize("number", [HUGE, "99999999999999999999", str(MAX_SIZE + 1)])
@pytest.mark.parametrize("place", PLACES)
def test_a_number_too_large_is_an_error_at_it(place, number):
    text = place.format(N=number)
    e = error_of(text, filename="f.cnn")
    word = text.rfind(" ", 0, text.index(number)) + 2  # the argument holding the number (an option: its key)
    assert (e.line, e.col) == (1, word), str(e)
    assert "at most" in e.message and "Exceeds the limit" not in e.message
    assert len(str(e)) < 300  # a 5000-digit number is abbreviated, not echoed


@pytest.mark.parametrize("text", ["input 4x4x1; dropout " + HUGE, "input 4x4x1; batchnorm eps=1" + HUGE,
                                  "input 4x4x1; dropout 0." + HUGE, "input 4x4x1; conv 2 3 " + HUGE * 2])
def test_other_long_numbers_are_errors(text):
    e = error_of(text)
    assert e.line == 1 and len(str(e)) < 400


def test_the_cli_reports_a_5000_digit_number_as_a_program_error(tmp_path):
    f = tmp_path / "n.cnn"
    f.write_text(f"input 8x8x1\nconv {HUGE} 3x3\n")
    rc, out, err = cli("shapes", str(f))
    assert rc == 1 and err.startswith(f"{f}:2:6: error: conv_1: the number of filters must be at most 1,048,576")


def test_sizes_at_the_limit_are_accepted():
    net = cnnc.parse(f"input 1x1x1; conv {MAX_SIZE} 1x1 stride={MAX_SIZE}")
    assert net.output_shape == (1, 1, MAX_SIZE)
    # padding is on every side: (2p + 1)^2 numbers must fit a tensor
    assert cnnc.parse("input 1x1x1; avgpool 1 padding=23000").output_shape == (46001, 46001, 1)
    assert cnnc.parse(f"input {MAX_SIZE}x1x1; pool {MAX_SIZE}x1").output_shape == (1, 1, 1)
    e = error_of(f"input 1x1x1; conv {MAX_SIZE + 1} 1x1")
    assert e.message == f"conv_1: the number of filters must be at most {MAX_SIZE:,}, got {MAX_SIZE + 1}"


# the input's limits: each size, and the numbers in one image
INPUTS = [((MAX_SIZE, 1, 1), True), ((MAX_SIZE + 1, 1, 1), False), ((1, 2, MAX_SIZE + 1), False),
          ((46341, 46341, 1), True), ((MAX_SIZE, MAX_SIZE, 1), True), ((MAX_SIZE, MAX_SIZE, 2), False),
          ((10**9, 10**9, 1), False), ((10**30, 1, 1), False)]


def test_one_input_limit_for_the_statement_input_and_the_option(tmp_path):
    f = tmp_path / "r.cnn"
    f.write_text("relu\n")
    for dims, ok in INPUTS:
        size = "x".join(map(str, dims))
        results = {}
        try:
            results["statement"] = cnnc.parse(f"input {size}; relu").input_shape
        except cnnc.CnncError as e:
            results["statement"] = e.message
        try:
            results["input="] = cnnc.parse("relu", input=dims).input_shape
        except cnnc.CnncError as e:
            results["input="] = e.message
        rc, out, err = cli("shapes", str(f), "--input", size)
        if ok:
            assert results == {"statement": dims, "input=": dims} and rc == 0, size
        else:
            assert rc == 2 and "--input" in err and "at most" in err, size
            assert "at most" in results["statement"] and "at most" in results["input="], size
            assert results["statement"].removeprefix("input: ") == results["input="]


def test_input_shapes_that_are_not_whole_numbers():
    for dims in [(float("inf"), 1, 1), (float("nan"), 1, 1), (1e300, 1, 1), (2.5, 1, 1), (10**5000, 1, 1)]:
        e = error_of("relu", input=dims)
        assert e.line == 1 and len(str(e)) < 300
    assert cnnc.parse("relu", input=(np.int64(3), 4.0, "2")).input_shape == (3, 4, 2)


@pytest.mark.parametrize("text, what", [
    ("input 1048576x1048576x1; conv 2 1x1", "its output 1048576x1048576x2 would hold 2,199,023,255,552 numbers"),
    ("input 1024x1024x2; flatten; dense 1048576", "its kernel 2097152x1048576 would hold 2,199,023,255,552 weights"),
    ("input 2x1x1048576; conv 1048576 2x1", "its kernel 2x1x1048576x1048576 would hold"),
    ("input 8x8x1; avgpool 1000000 padding=1000000 stride=1000000", "its padding makes the padded input 2000008x2000008x1"),
    ("input 1048576x1048576x1; concat { branch { } branch { } }", "concat_1: its output 1048576x1048576x2"),
])
def test_tensors_past_the_limit_are_errors_at_their_layer(text, what):
    e = error_of(text)
    assert what in e.message and f"{MAX_VALUES:,}" in e.message
    assert e.col == text.index(text.split("; ")[1 if "concat" in text else -1]) + 1


def test_a_network_at_the_limits_compiles_and_runs_everywhere(tmp_path):
    """What `cnnc shapes` accepts, later stages build: sizes at MAX_SIZE in numpy, PyTorch, ONNX
    (and one past them `cnnc shapes` refuses)."""
    assert "at most" in error_of(f"input {MAX_SIZE}x1x1; pool 2x1 stride={MAX_SIZE + 1}x1").message
    net = cnnc.parse(f"input {MAX_SIZE}x1x1; pool 2x1 stride={MAX_SIZE}x1; conv {MAX_SIZE} 1x1 padding=1; "
                     f"globalpool; dense 3")
    model = cnnc.compile(net, backend="numpy", seed=0)
    x = np.random.default_rng(0).standard_normal((1, MAX_SIZE, 1, 1)).astype(np.float32)
    y = model(x)
    assert y.shape == (1, 3) and np.isfinite(y).all()
    from numeric import assert_close

    # the answer for a bright image: the network reads two pixels, and averages the one it
    # keeps with eight padded ones, so noise of the same spread hardly moves it
    other = model(np.full_like(x, 10.0))
    torch = pytest.importorskip("torch")
    assert_close(model.to_torch()(torch.from_numpy(x)).detach().numpy(), y, other=other, rtol=1e-4, atol=1e-5)
    ort = pytest.importorskip("onnxruntime")
    model.to_onnx(tmp_path / "m.onnx")
    sess = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    assert_close(sess.run(None, {"input": x})[0], y, other=other, rtol=1e-4, atol=1e-5)


def test_a_byte_order_mark_is_not_part_of_the_program(tmp_path):
    net = cnnc.parse("\ufeffinput 4x4x1\nrelu")
    assert net.output_shape == (4, 4, 1)
    e = error_of("\ufeffinput 4x4x1; conv 0 3")
    assert (e.line, e.col) == (1, 19)  # columns as an editor shows them, without the mark
    f = tmp_path / "bom.cnn"
    f.write_text("input 4x4x1\nrelu\n", encoding="utf-8-sig")
    assert f.read_bytes().startswith(b"\xef\xbb\xbf")
    assert cli("shapes", str(f))[0] == 0
    assert "unexpected character" in error_of("input 4x4x1\n\ufeffrelu").message  # only at the start


# --- programs too large, stopped while reading ---------------------------------------------

@pytest.fixture
def small_limits(monkeypatch):
    """The layer limit lowered to 1,000, as the parser and the graph read it (a test at
    100,000 costs seconds; one below keeps the real size)."""
    import cnnc.graph
    import cnnc.syntax

    monkeypatch.setattr(cnnc.syntax, "MAX_LAYERS", 1000)
    monkeypatch.setattr(cnnc.graph, "MAX_NODES", 1000)
    return 1000


def test_the_layer_limit_counts_layers_not_the_input(small_limits):
    net = cnnc.parse(f"input 1x1x1; repeat {small_limits} {{ relu }}")
    assert len(net.layers) == small_limits
    text = f"input 1x1x1; repeat {small_limits} {{ relu }}; relu"
    e = error_of(text)
    assert e.message == "the program unrolls to more than 1,000 layers" and e.col == text.rindex("relu") + 1
    text = "input 1x1x1; repeat 2 { " + "relu; " * 501 + "}"
    assert error_of(text).message == "the program unrolls to more than 1,000 layers"
    # every join counts: 333 blocks of 3 layers are 999, a 334th is too many
    for block in ("residual { relu; relu }", "concat { branch { relu; relu } }", "scale { globalpool; dense 1 }"):
        assert len(cnnc.parse(f"input 2x2x1; repeat 333 {{ {block} }}").layers) == 999
        assert "more than 1,000" in error_of(f"input 2x2x1; repeat 334 {{ {block} }}").message
    assert len(cnnc.parse("input 1x1x1; " + "relu\n" * 1000).layers) == 1000


@pytest.mark.parametrize("text, message, line, col", [
    ("input 1x1x1\n" + "relu\n" * 1001, "the program has more than 1,000 layers", 1002, 1),
    ("input 1x1x1\n" + "repeat 1 {}\n" * 1001, "the program has more than 1,000 blocks", 1002, 1),
    ("input 1x1x1\n" + "concat { branch { relu } }\n" * 501, "the program has more than 1,000 blocks", 502, 10),
    ("input 1x1x1\n" + "residual {" * 51, "blocks are nested more than 50 deep", 2, 51 * 10),
    ("input 1x1x1\nconv" + " 1" * 1000, "a statement of more than 1,000 words", 2, 1),
])
def test_a_program_too_large_stops_where_the_limit_is_passed(small_limits, text, message, line, col):
    # the text goes on with a character no program may hold: reading stopped before it
    e = error_of(text + "\n\x00 and much more")
    assert (e.message, e.line, e.col) == (message, line, col)


def test_ten_million_layers_stop_at_the_real_limit():
    """`relu;` ten million times was read whole (5.9 GB) before: now reading stops at the
    100,001st layer (the rest, here a character no program may hold, is never reached)."""
    text = "input 1x1x1; " + "relu;" * (MAX_LAYERS + 1) + "\x00" + "relu;" * 1000
    e = error_of(text)
    assert (e.message, e.line, e.col) == (f"the program has more than {MAX_LAYERS:,} layers", 1, 14 + 5 * MAX_LAYERS)


# --- work in proportion to the program -------------------------------------------------------

class _OverBudget(Exception):
    pass


@contextlib.contextmanager
def calls(budget=float("inf")):
    """Counts Python and builtin function calls (generator steps too) inside the block;
    raises _OverBudget past `budget`. Work measured without a clock."""
    count = [0]

    def profile(frame, event, arg):
        if event in ("call", "c_call"):
            count[0] += 1
            if count[0] > budget:
                raise _OverBudget(f"more than {budget:,} calls")

    sys.setprofile(profile)
    try:
        yield count
    finally:
        sys.setprofile(None)


def shapes_work(text) -> int:
    """Calls made by what `cnnc shapes` does: parse, shapes, the table, the kernel column."""
    with calls() as n:
        net = cnnc.parse(text)
        format_table(net, extra={"kernel": kernel_column(net, TRITON)})
        summary_dict(net)
    return n[0]


LONG = [  # chains of plain statements, of residuals, of joins; repeated and written out
    "input 8x8x1; repeat {n} {{ relu }}",
    "input 8x8x1; repeat {half} {{ residual {{ relu }} }}",
    "input 8x8x2; repeat {half} {{ conv 2 3x3 padding=same; residual {{ batchnorm; relu }} }}",
    "input 8x8x2; repeat {half} {{ concat {{ branch {{ }} branch {{ }} }}; conv 2 1x1 }}",
    "input 8x8x1; repeat {n} {{ pool 2 padding=same }}",
    "input 8x8x1\n{written}",
]


def test_the_front_end_does_linear_work():
    """Twice the layers, about twice the work (the planner was quadratic on a chain of epilogues)."""
    ratios = {}
    for template in LONG:
        def program(n):
            return template.format(n=n, half=n // 2, written="relu\nbatchnorm\n" * (n // 2))
        ratios[template] = shapes_work(program(2000)) / shapes_work(program(1000))
    assert all(r < 2.25 for r in ratios.values()), ratios


@pytest.mark.parametrize("text", [
    "input 8x8x1; repeat 100000 { repeat 100000 { repeat 100000 { } } }; relu",
    "input 8x8x1; repeat 100000 { repeat 100000 { a: repeat 100000 { } } }; relu",
    "input 8x8x1\n" + "x" * 1_000_000,                 # an unknown word, a megabyte long
    "input 8x8x1\n" + ";" * 1_000_000 + "relu",        # a million empty statements
])
def test_degenerate_programs_cost_little(text):
    with calls(budget=50_000):
        try:
            cnnc.parse(text)
        except cnnc.CnncError:
            pass


def test_fractional_strides_stop_growing():
    """Stride 3 and upsample 2 never cancel: (3/2)^2000 passed a float's range at the join
    (OverflowError, exit 3), and its digits grew without end."""
    net = cnnc.parse("input 4x4x1; repeat 2000 { conv 1 1 stride=3 padding=same; upsample 2 }; residual { }")
    row = summary_dict(net)["layers"][-1]
    assert row["name"] == "residual_1" and max(row["stride"]) <= RF_CAP
    assert "residual_1" in format_table(net)


def test_receptive_fields_stop_growing():
    """2^15000 cannot be printed (and took quadratic time); the table shows the cap."""
    net = cnnc.parse("input 8x8x1; repeat 15000 { pool 2 padding=same }")
    table = format_table(net)
    assert f"{RF_CAP}x{RF_CAP}" in next(row for row in table.splitlines() if row.startswith("pool_15000 "))
    assert summary_dict(net)["layers"][-1]["stride"] == [RF_CAP, RF_CAP]
    strides = [r["stride"][0] for r in summary_dict(net)["layers"][50:54]]
    assert strides == [2**51, 2**52, RF_CAP, RF_CAP]


class _Spy(str):
    """A program text that adds up how much of itself str.count() scans."""
    scanned = 0

    def count(self, sub, start=0, end=None):
        end = len(self) if end is None else end
        _Spy.scanned += max(end - start, 0)
        return str.count(self, sub, start, end)


def test_quoted_values_are_read_in_one_pass():
    """`padding="same"` on 20,000 lines: each error's line was counted from the start of
    the text (quadratic: 40,000 lines took 9 s of CPU); now one pass over it."""
    from cnnc.errors import Reporter
    from cnnc.syntax import _read_habits

    text = _Spy("input 4x4x1\n" + 'conv 1 (1, 1) padding="same"\n' * 2000)
    _Spy.scanned = 0
    report = Reporter("f.cnn")
    _read_habits(text, report)
    assert len(report.errors) == 4000 and report.errors[-1].line == 2001
    assert _Spy.scanned <= 2 * len(text)


@pytest.mark.parametrize("text", ["input 8x8x1; zeropad " + HUGE, "input 8x8x1; zeropad 2x" + HUGE,
                                  "input 8x8x1; zeropad top=" + HUGE, f"input 8x8x1; zeropad left={MAX_SIZE + 1}"])
def test_the_second_editions_pixel_counts_have_the_same_limit(text):
    e = error_of(text)
    assert "at most 1,048,576" in e.message and len(str(e)) < 300
