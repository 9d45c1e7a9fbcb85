"""The language's syntax: every statement and option, positions, and the parser itself.

The parser runs lark-generated LALR tables (cnnc/parse_tables.py) with a small
driver; these tests check the tables are current with grammars/cnn.lark and that
the driver accepts, rejects and builds exactly what lark's own parser does.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

import cnnc
from cnnc.syntax import Block, Layer, parse_program
from test_fuzz import program as fuzz_program

STATEMENTS = {
    "conv 32 3x3": {"filters": 32, "kernel": (3, 3), "stride": (1, 1), "padding": "valid", "activation": "linear"},
    "conv 8 3x5 stride=2 padding=same relu": {"filters": 8, "kernel": (3, 5), "stride": (2, 2),
                                              "padding": "same", "activation": "relu"},
    "conv 8 3 stride=2x1 padding=1 activation=tanh": {"filters": 8, "kernel": (3, 3), "stride": (2, 1),
                                                      "padding": 1, "activation": "tanh"},
    "conv 8 sigmoid 1": {"filters": 8, "kernel": (1, 1), "stride": (1, 1), "padding": "valid",
                         "activation": "sigmoid"},
    "pool 2": {"kernel": (2, 2), "stride": (2, 2), "padding": "valid"},
    "pool 3 stride=1 padding=same": {"kernel": (3, 3), "stride": (1, 1), "padding": "same"},
    "avgpool 2x1 padding=0": {"kernel": (2, 1), "stride": (2, 1), "padding": 0},
    "globalpool": {},
    "batchnorm": {"eps": 0.001},
    "batchnorm eps=1.001e-5": {"eps": 1.001e-5},
    "dropout 0.25": {"rate": 0.25},
    "dropout 0": {"rate": 0.0},
    **{a: {"activation": a} for a in ("relu", "sigmoid", "tanh", "softmax", "linear")},
}


@pytest.mark.parametrize("stmt", list(STATEMENTS))
def test_every_statement_and_option(stmt):
    net = cnnc.parse(f"input 16x16x4\n{stmt}\n")
    node = net.layers[0]
    assert node.kind == stmt.split()[0] and (node.line, node.col) == (2, 1)
    for k, v in STATEMENTS[stmt].items():
        assert node.attrs[k] == v, k


def test_flatten_dense_and_names():
    net = cnnc.parse("input 4x4x2\nflatten\nfc: dense 10 relu\nout : dense 3 activation=softmax\n")
    assert [(n.name, n.kind, n.attrs.get("units"), n.activation) for n in net.layers] == [
        ("flatten_1", "flatten", None, "linear"), ("fc", "dense", 10, "relu"), ("out", "dense", 3, "softmax")]


def test_separators_comments_whitespace_and_positions():
    text = "# a comment\n\n  input\t28x28x1   # trailing\r\nconv 4 3 ; relu;;\n  c1:pool 2\n"
    prog = parse_program(text)
    assert [(type(s).__name__, s.kind, s.line, s.col) for s in prog.statements] == [
        ("Layer", "input", 3, 3), ("Layer", "conv", 4, 1), ("Layer", "relu", 4, 12), ("Layer", "pool", 5, 3)]
    assert prog.statements[3].name == "c1" and (prog.statements[3].kind_line, prog.statements[3].kind_col) == (5, 6)
    assert cnnc.parse(text).output_shape == (13, 13, 4)


def test_blocks_parse_nested_and_on_one_line():
    prog = parse_program("input 8x8x1\nresidual { conv 8 3x3 } shortcut { conv 8 1x1 }\n"
                         "concat { branch { relu } branch { repeat 2 { conv 1 1; relu } } }\n"
                         "r: residual {\n  relu\n}\n")
    kinds = [(s.kind, type(s).__name__) for s in prog.statements]
    assert kinds == [("input", "Layer"), ("residual", "Block"), ("shortcut", "Block"), ("concat", "Block"),
                     ("residual", "Block")]
    concat = prog.statements[3]
    assert [b.kind for b in concat.body] == ["branch", "branch"]
    rep = concat.body[1].body[0]
    assert rep.kind == "repeat" and rep.count.text == "2" and [s.kind for s in rep.body] == ["conv", "relu"]
    assert prog.statements[4].name == "r" and (prog.statements[4].line, prog.statements[4].col) == (4, 1)


@pytest.mark.parametrize("text,line,col", [
    ("input 8x8x1\nconv 8 3 {\n", 2, 10),
    ("input 8x8x1\nconv: 3\n", 2, 7),
    ("input 8x8x1\n= 3\n", 2, 1),
    ("input 8x8x1\nresidual { relu\n", 3, 1),
    ("input 8x8x1\nconv 8 3\n relu: \n", 3, 8),
    ("input 8x8x1\nconv 8 3 ! \n", 2, 10),
    ("input 8x8x1\nconcat { branch { relu } } }\n", 2, 28),
])
def test_syntax_errors_are_positioned(text, line, col):
    with pytest.raises(cnnc.CnncError) as e:
        cnnc.parse(text)
    assert (e.value.line, e.value.col) == (line, col) and "syntax error" in e.value.message


def test_parse_tables_are_current():
    from cnnc import make_parse_tables

    assert make_parse_tables.OUT.read_text() == make_parse_tables.generate(), \
        "grammars/cnn.lark changed: run `python -m cnnc.make_parse_tables`"


# --- the driver against lark itself ----------------------------------------------

def _lark_parse(text):
    """Parse with lark's own LALR parser and the same AST callbacks."""
    from lark import Lark, Transformer
    from lark.exceptions import UnexpectedInput

    from cnnc import syntax

    global _LARK
    if _LARK is None:
        class ToAst(Transformer):
            pass
        for name, fn in syntax.CALLBACKS.items():
            setattr(ToAst, name, staticmethod(fn))
        _LARK = Lark(syntax._grammar_path().read_text(), parser="lalr", transformer=ToAst(),
                     maybe_placeholders=False)
    try:
        return _LARK.parse(text + "\n")
    except UnexpectedInput as e:
        at_end = getattr(getattr(e, "token", None), "type", None) == "$END" or not (e.line and e.line > 0)
        return ("error", None, None) if at_end else ("error", e.line, e.column)


_LARK = None


def _ours(text):
    try:
        return parse_program(text)
    except cnnc.CnncError as e:
        if e.message.startswith("unknown statement"):
            # `repet {`: we name the misspelt word; lark stops at the '{' after it
            return ("error", e.line, None)
        return ("error", e.line, e.col)


def _same(a, b):
    if isinstance(a, tuple) or isinstance(b, tuple):
        if not (isinstance(a, tuple) and isinstance(b, tuple)):
            return False
        # lark puts an error at the end of input at its last token; ours at the end of the text
        return a[1:] == b[1:] or b[1] is None or (a[2] is None and a[1] <= b[1])
    return a.statements == b.statements


WORDS = ["input", "conv", "pool", "relu", "residual", "shortcut", "concat", "branch", "repeat", "x",
         "3x3", "28x28x1", "2", "-1", "0.5", "1e-5", "same", "stride=2", "padding=same", "a:", ":", "=",
         "{", "}", ";", "\n", "# c\n", " ", "\t", "@", "3x", "activation=relu",
         # the third edition: definitions, expressions, lists, named joins
         "def", "add", "multiply", "from=a", "f", "c-1", "f*4", "//", "*", "+", "-", "(", ")", ",", "min(", "max",
         "1,2,3", "scale=0.17"]


@settings(derandomize=True, max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=25))
def test_driver_agrees_with_lark(words):
    text = " ".join(words)
    ours, theirs = _ours(text), _lark_parse(text)
    assert _same(ours, theirs), (text, ours, theirs)


LABELLED = """input 8x8x1
a: conv 8 3x3 relu; b : pool 2 stride=1
r: residual { c: conv 8 3 padding=same } shortcut { conv 8 1 }
k: concat { branch { relu } branch { d: dense 3 } }
repeat 2 { e: relu }
"""

THIRD = """input 8x8x1
def blk f k=3 act=relu { conv f*2-1 k padding=same act; dense max(1, f//4) from=a; repeat f+1 { relu } }
u: blk 4 k=1
add u a; concat a u; multiply a u; add { branch { } branch { relu } }
residual scale=0.17 from=u { relu }
rescale 1 offset=0.5,0.25,(1+2)*3
"""


@pytest.mark.parametrize("name", ["lenet.cnn", "keras/resnet50.cnn", "inception.cnn", "cifar_resnet.cnn", "labelled",
                                  "third"])
def test_driver_agrees_with_lark_on_examples(name):
    from conftest import EXAMPLES

    text = {"labelled": LABELLED, "third": THIRD}.get(name) or (EXAMPLES / name).read_text()
    ours = _ours(text).statements
    assert ours == _lark_parse(text).statements
    if name == "labelled":
        assert [s.name for s in ours] == [None, "a", "b", "r", None, "k", None]


def test_ast_types():
    prog = parse_program("input 8x8x1\nresidual { relu }\n")
    assert isinstance(prog.statements[0], Layer) and isinstance(prog.statements[1], Block)


@settings(derandomize=True, max_examples=150, deadline=None)
@given(fuzz_program)  # programs with blocks, labels, options (many well formed)
def test_driver_agrees_with_lark_on_generated_programs(text):
    ours, theirs = _ours(text), _lark_parse(text)
    assert _same(ours, theirs), (text, ours, theirs)


@pytest.mark.parametrize("name", ["lenet.cnn", "keras/resnet50.cnn", "inception.cnn", "cifar_resnet.cnn"])
def test_statement_text_reads_back_as_the_same_layer(name):
    """layers.statement(node) -- what code comments, plans and pictures show -- parses
    back into the same kind and attributes."""
    from conftest import EXAMPLES

    from cnnc.layers import statement

    net = cnnc.parse((EXAMPLES / name).read_text())
    for n in net.layers:
        if n.spec.joins:
            assert statement(n).startswith(f"{n.kind}: ") and all(i.name in statement(n) for i in n.inputs)
            continue
        dims = n.inputs[0].out.dims
        head = f"input 1x1x{dims[0]}\nflatten" if len(dims) == 1 else "input " + "x".join(map(str, dims))
        back = cnnc.parse(f"{head}\n{statement(n)}").layers[-1]
        assert (back.kind, back.attrs) == (n.kind, n.attrs), statement(n)


# --- the plain-statement reader against the LALR steps alone ---------------------------

def _drive_result(text, plain):
    from cnnc.syntax import _drive

    try:
        return _drive(text + "\n", plain=plain)
    except Exception as e:   # _SyntaxError / _TooLarge: where and why
        tok = getattr(e, "token", None)
        return (type(e).__name__, getattr(e, "char", None), tok and (tok.type, tok.value, tok.line, tok.column),
                sorted(getattr(e, "expected", ()) or ()),
                [(t.type, t.value, t.line, t.column) for t in getattr(e, "statement", ())], getattr(e, "line", None))


PLAIN_WORDS = WORDS + ["\n", "\n", ";", "k=1,2", "x=3x3", "y = 4", " , ", "=a", "add", "concat", "min", "\t",
                       "# note\n", "q:", "r :", "scale", "a,b", "1,", ",2", "k=", "-2x3", "{", "}", "{\n", "}\n",
                       "residual {", "repeat 2 {", "add {", "b: branch {", "def"]


@settings(derandomize=True, max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(PLAIN_WORDS), max_size=30), st.sampled_from([" ", "", "  "]))
def test_plain_statements_read_as_the_lalr_steps_read_them(words, gap):
    """plain_statements.read reads most statements without the parser's steps; whatever it takes
    must be the same Layer (positions included), and what it declines the same error."""
    text = gap.join(words)
    assert _drive_result(text, True) == _drive_result(text, False), text


def test_plain_statements_are_read_by_the_plain_reader(monkeypatch):
    """The fast path is taken (a test that cannot see it would pass with it switched off)."""
    from cnnc import plain_statements

    taken = []
    real = plain_statements.read

    def counting(*args):
        found = real(*args)
        taken.append(found is not None)
        return found

    monkeypatch.setattr(plain_statements, "read", counting)
    prog = parse_program("input 8x8x1\nc: conv 8 3x3 stride=1 padding=same; relu # x\n"
                         "rescale 1 offset=0.5,0.25\nr: residual { relu\n conv 8 1 }\nconv 4*2 3\n"
                         "repeat 2 { residual { relu } }\n")
    assert [type(s).__name__ for s in prog.statements] == ["Layer"] * 4 + ["Block", "Layer", "Block"]
    # input, conv, relu, rescale and the residual block by the plain reader; `conv 4*2` (an
    # expression) and the repeat (a block in its body) by the LALR steps, which hand the
    # inner residual block back to it
    assert taken == [True, True, True, True, True, False, False, True]
    assert prog.statements[4].body[1].kind == "conv" and prog.statements[4].body[1].line == 5


@settings(derandomize=True, max_examples=300, deadline=None)
@given(fuzz_program)  # programs with blocks, labels, options (many well formed)
def test_plain_blocks_read_as_the_lalr_steps_read_them(text):
    assert _drive_result(text, True) == _drive_result(text, False), text
