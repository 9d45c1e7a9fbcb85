"""Fuzzing the front end: random and mutated programs.

The only failure ever allowed is a CnncError that has a position inside the text;
the CLI never prints a traceback and exits 0 or 1.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import cnnc
from conftest import EXAMPLES, run_cnnc

FUZZ = settings(derandomize=True, max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

num = st.one_of(st.integers(-3, 40).map(str), st.sampled_from(["0.5", "1e-5", "3x3", "2x1", "0x3", "3x3x3", "-2", "+4"]))
act = st.sampled_from(["relu", "sigmoid", "tanh", "softmax", "linear"])
opt = st.one_of(
    st.builds(lambda v: f"stride={v}", num), st.builds(lambda v: f"padding={v}", st.sampled_from(["valid", "same", "1", "0", "-1", "x"])),
    st.builds(lambda v: f"activation={v}", act), st.builds(lambda v: f"eps={v}", num))
stmt = st.one_of(
    st.builds(lambda *a: " ".join(["conv", *a]), num, num, st.lists(opt, max_size=2).map(" ".join), act),
    st.builds(lambda k, o: f"pool {k} {o}", num, st.lists(opt, max_size=2).map(" ".join)),
    st.builds(lambda k, o: f"avgpool {k} {o}", num, st.lists(opt, max_size=1).map(" ".join)),
    st.sampled_from(["globalpool", "flatten", "batchnorm", "batchnorm eps=1e-3", "dropout 0.5", "dropout 2",
                     "relu", "softmax", "input 8x8x1", "convv 3 3", "residual", "shortcut"]),
    st.builds(lambda n: f"dense {n}", num),
)


def blocks(children):
    body = st.lists(children, max_size=3).map(lambda xs: "{ " + "; ".join(xs) + " }")
    return st.one_of(
        st.builds(lambda b: f"residual {b}", body),
        st.builds(lambda b, s: f"residual {b} shortcut {s}", body, body),
        st.builds(lambda bs: "concat { " + " ".join(f"branch {b}" for b in bs) + " }", st.lists(body, max_size=3)),
        st.builds(lambda n, b: f"repeat {n} {b}", st.sampled_from(["1", "2", "3", "0", "x", "2x2"]), body),
    )


statement = st.recursive(stmt, blocks, max_leaves=12)
labelled = st.one_of(statement, st.builds(lambda n, s: f"{n}: {s}", st.sampled_from(["a", "b", "conv_1", "relu_2"]), statement))
program = st.builds(lambda h, w, c, ss, sep: f"input {h}x{w}x{c}{sep}" + sep.join(ss),
                    st.integers(1, 40), st.integers(1, 40), st.integers(1, 4),
                    st.lists(labelled, max_size=8), st.sampled_from(["\n", "; ", "\n\n  "]))


def check(text):
    """Parse `text`; return the network, or None after checking the error is well formed."""
    try:
        net = cnnc.parse(text, filename="f.cnn")
    except cnnc.CnncError as e:
        lines = text.split("\n")
        assert e.diagnostics and all(d.severity == "error" for d in e.diagnostics)
        for d in e.diagnostics:
            assert 1 <= d.line <= len(lines) + 1, (text, str(e))
            assert 1 <= d.col <= len(lines[d.line - 1]) + 2 if d.line <= len(lines) else d.col == 1, (text, str(e))
            assert d.format().startswith(f"f.cnn:{d.line}:{d.col}: error: ")
        return None
    # a network that parses is consistent with itself
    assert all(n.out is not None for n in net.nodes)
    assert net.total_params == sum(n.n_params for n in net.layers)
    mi = net.min_input()
    assert mi is not None and mi[0] <= net.input_shape[0] and mi[1] <= net.input_shape[1]
    from cnnc.summary import format_table, summary_dict
    assert len(summary_dict(net)["layers"]) == len(net.layers) and format_table(net)
    return net


@FUZZ
@given(program)
def test_random_programs(text):
    check(text)


def _mutate(text, ops):
    chars = list(text)
    for kind, pos, ch in ops:
        if not chars:
            break
        i = pos % len(chars)
        if kind == "delete":
            del chars[i]
        elif kind == "insert":
            chars.insert(i, ch)
        else:
            chars[i] = ch
    return "".join(chars)


SOURCES = [p.read_text() for p in sorted(EXAMPLES.glob("*.cnn")) if p.name != "resnet50.cnn"]
mutation = st.tuples(st.sampled_from(["delete", "insert", "replace"]), st.integers(0, 10_000),
                     st.sampled_from(list("{};:=x0123456789-. \n#abcz\t\x00é") + ["\r\n"]))


@FUZZ
@given(st.sampled_from(SOURCES), st.lists(mutation, min_size=1, max_size=6))
def test_mutated_examples(src, ops):
    check(_mutate(src, ops))


@pytest.mark.parametrize("seed", range(4))
def test_cli_never_prints_a_traceback(tmp_path, seed):
    import random

    rng = random.Random(seed)
    src = SOURCES[seed % len(SOURCES)]
    text = _mutate(src, [(rng.choice(["delete", "insert", "replace"]), rng.randrange(10_000), rng.choice("{}:=x9 \n"))
                         for _ in range(3)])
    f = tmp_path / "m.cnn"
    f.write_text(text)
    for extra in ([], ["--json"], ["--input", "9x9x2"]):
        rc, out, err = run_cnnc("shapes", str(f), *extra)
        assert rc in (0, 1), err
        assert "Traceback" not in out + err and "internal error" not in err
        if rc == 1:
            assert f"{f}:" in err and ": error: " in err
