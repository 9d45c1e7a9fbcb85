"""Definitions (`def NAME PARAM... { BODY }`) and integer expressions: a program with
definitions is the same network as the program written out (layer names, kinds, shapes,
parameters, `cnnc shapes --json` apart from positions), for hand-written networks and for
generated ones, whose written-out form the test makes itself by plain text substitution;
and every diagnostic: unknown, recursive or later definitions, wrong arguments, bad
parameter names, expressions of the wrong type, division by zero, the layer limits --
each inside a use naming both the place in the definition and the use."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import given, settings, strategies as st

import cnnc
from conftest import errors_of, run_cnnc


def layers(text: str) -> list:
    """What must agree between a program and its written-out form: every node's name, kind,
    inputs, output, parameter shapes, attributes, MACs and block depth."""
    net = cnnc.parse(text)
    return [(n.name, n.kind, [i.name for i in n.inputs], n.out, n.params, n.attrs, n.macs, n.depth)
            for n in net.nodes]


def same_network(with_defs: str, written: str) -> None:
    got, want = layers(with_defs), layers(written)
    assert [g[0] for g in got] == [w[0] for w in want]
    assert got == want


BOTTLENECK = """input 56x56x64
def bottleneck filters stride=1 {
  conv filters 1x1 bias=false; batchnorm; relu
  conv filters 3x3 stride=stride padding=same bias=false; batchnorm; relu
  conv filters*4 1x1 bias=false; batchnorm
}
residual { bottleneck 64 } shortcut { conv 256 1x1 bias=false; batchnorm }
repeat 2 { residual { bottleneck 64 } }
bottleneck 128 stride=2
"""

BOTTLENECK_WRITTEN = """input 56x56x64
residual {
  conv 64 1x1 bias=false; batchnorm; relu
  conv 64 3x3 stride=1 padding=same bias=false; batchnorm; relu
  conv 256 1x1 bias=false; batchnorm
} shortcut { conv 256 1x1 bias=false; batchnorm }
repeat 2 { residual {
  conv 64 1x1 bias=false; batchnorm; relu
  conv 64 3x3 stride=1 padding=same bias=false; batchnorm; relu
  conv 256 1x1 bias=false; batchnorm
} }
conv 128 1x1 bias=false; batchnorm; relu
conv 128 3x3 stride=2 padding=same bias=false; batchnorm; relu
conv 512 1x1 bias=false; batchnorm
"""


def test_the_bottleneck_is_the_network_written_out():
    same_network(BOTTLENECK, BOTTLENECK_WRITTEN)
    net = cnnc.parse(BOTTLENECK)
    assert net.output_shape == (28, 28, 512) and net["conv_4"].kind == "conv"
    assert not any(n.kind == "bottleneck" for n in net.nodes)


def test_shapes_json_is_the_written_out_programs_apart_from_positions(tmp_path):
    a, b = tmp_path / "defs.cnn", tmp_path / "written.cnn"
    a.write_text(BOTTLENECK)
    b.write_text(BOTTLENECK_WRITTEN)

    def without_positions(path):
        rc, out, err = run_cnnc("shapes", str(path), "--json")
        assert rc == 0, err
        data = json.loads(out)
        data.pop("file")
        for layer in data["layers"]:
            layer.pop("line")
        for d in data.get("diagnostics", []):
            for key in ("file", "line", "col", "notes"):
                d.pop(key, None)
        return data

    assert without_positions(a) == without_positions(b)


@pytest.mark.parametrize("with_defs,written", [
    # expressions, min/max, an activation and a padding as parameters, defaults overridden by name
    ("input 8x8x16\ndef se c r=4 act=relu { globalpool; dense max(1, c//r) act; dense c sigmoid }\n"
     "scale { se 16 }\nscale { se 16 r=32 act=silu }",
     "input 8x8x16\nscale { globalpool; dense 4 relu; dense 16 sigmoid }\n"
     "scale { globalpool; dense 1 silu; dense 16 sigmoid }"),
    ("input 9x9x3\ndef c2 f k pad=same { conv (f+1)*2 k padding=pad; conv f-1 1; conv min(f, 3) 1x1 }\n"
     "c2 4 3x3; c2 2 1 pad=valid",
     "input 9x9x3\nconv 10 3x3 padding=same; conv 3 1; conv 3 1x1\nconv 6 1 padding=valid; conv 1 1; conv 2 1x1"),
    # a definition that uses an earlier one, inside blocks and repeats; a repeat count that is a parameter
    ("input 8x8x4\ndef unit f { conv f 3 padding=same; relu }\ndef stage f n { unit f; repeat n { residual { unit f } } }\n"
     "stage 4 2\nconcat { branch { stage 2 1 } branch { } }",
     "input 8x8x4\nconv 4 3 padding=same; relu\nrepeat 2 { residual { conv 4 3 padding=same; relu } }\n"
     "concat { branch { conv 2 3 padding=same; relu; repeat 1 { residual { conv 2 3 padding=same; relu } } } "
     "branch { } }"),
    # the label of a use names the layer its body ends in (a join when it ends in a block)
    ("input 8x8x4\ndef unit f { conv f 3 padding=same; relu }\ndef res f { residual { conv f 1 } }\n"
     "u: unit 4\nr: res 4\nadd u r",
     "input 8x8x4\nconv 4 3 padding=same; u: relu\nr: residual { conv 4 1 }\nadd u r"),
    # from= and named joins inside a body; parameters that are names of the program's layers
    ("input 8x8x4\ndef fork f { a: conv f 1; b: conv f 3 padding=same from=a; add a b }\n"
     "def join x y { concat x y }\np: conv 4 1\nq: fork 4\njoin p q",
     "input 8x8x4\np: conv 4 1\nq_a: conv 4 1; q_b: conv 4 3 padding=same from=q_a\n"
     "q: add q_a q_b\nconcat p q"),
    # a parameter standing alone is the activation it is bound to: on its own line, after `;`, with the
    # statement's arguments, from a default, passed on by an enclosing definition, labelled
    ("input 8x8x4\ndef blk c act { conv c 3x3 act\n  act }\ndef unit c act=relu { conv c 1; batchnorm; act }\n"
     "def outer a { unit 4 a; blk 4 act=a }\ndef leaky a { t: a slope=0.01; relu from=t }\n"
     "blk 4 relu\nunit 4\nunit 4 hard_swish\nouter leaky_relu\nleaky leaky_relu",
     "input 8x8x4\nconv 4 3x3 relu\nrelu\nconv 4 1; batchnorm; relu\nconv 4 1; batchnorm; hard_swish\n"
     "conv 4 1; batchnorm; leaky_relu\nconv 4 3x3 leaky_relu; leaky_relu\n"
     "leaky_1_t: leaky_relu slope=0.01; relu from=leaky_1_t"),
    # the label of a use names its last layer whatever the body ends with: a parameter standing alone,
    # a repeat (the last statement of its last copy), a repeat of a repeat, a use that ends in a repeat
    ("input 8x8x4\ndef unit c act=relu { conv c 1; act }\ndef stack f n { conv f 1; repeat n { conv f 1; relu } }\n"
     "def deep { repeat 2 { repeat 2 { conv 4 1 } } }\ndef outer { stack 4 2 }\n"
     "u: unit 4 silu\ns: stack 4 3\nd: deep\no: outer\nrepeat 2 { r: stack 4 1 }\nadd u s d o",
     "input 8x8x4\nconv 4 1; u: silu\nconv 4 1; conv 4 1; relu; conv 4 1; relu; conv 4 1; s: relu\n"
     "conv 4 1; conv 4 1; conv 4 1; d: conv 4 1\nconv 4 1; conv 4 1; relu; conv 4 1; o: relu\n"
     "repeat 2 { conv 4 1; conv 4 1; r: relu }\nadd u s d o"),
])
def test_definitions_are_their_bodies_written_at_the_use(with_defs, written):
    same_network(with_defs, written)


def test_labels_in_a_body_are_local_to_each_use():
    """A labelled layer inside a use is named USE_LABEL: the use's label, or DEF_N (the
    definition's Nth unlabelled use); in a repeat each copy gets its own."""
    net = cnnc.parse("input 8x8x4\ndef fork f { a: conv f 1; b: conv f 1 from=a; add a b }\n"
                     "fork 4\nx: fork 4\nrepeat 2 { y: fork 4 }\nfork 4\n")
    names = [n.name for n in net.layers if n.kind == "conv"]
    assert names == ["fork_1_a", "fork_1_b", "x_a", "x_b", "y_1_a", "y_1_b", "y_2_a", "y_2_b", "fork_2_a",
                     "fork_2_b"]
    assert net["x"].kind == "add" and net["y_2"].kind == "add"
    assert len({n.name for n in net.nodes}) == len(net.nodes)
    weights = cnnc.compile(net, seed=0).params
    assert "x_a.kernel" in weights and "fork_2_b.bias" in weights


def test_a_definition_alone_makes_no_layer_and_may_come_before_the_input():
    assert [n.kind for n in cnnc.parse("def d f { conv f 1 }\ninput 4x4x1\nrelu\n").layers] == ["relu"]
    assert len(cnnc.parse("input 4x4x1\ndef d f { conv f 1 }\n").layers) == 0


def test_expressions_compute_with_whole_numbers_anywhere():
    net = cnnc.parse("input 8x8x3\nconv 2*3+1 (1+2)\ndense 10//3 relu\nrepeat 1+1 { relu }\n".replace(
        "dense", "flatten; dense"))
    assert net["conv_1"].attrs["filters"] == 7 and net["conv_1"].attrs["kernel"] == (3, 3)
    assert net["dense_1"].attrs["units"] == 3 and [n.kind for n in net.layers][-2:] == ["relu", "relu"]
    # a sign glued to a number is the number's; between two words it is an operator
    prog = cnnc.syntax.parse_program("input 8x8x3\ndef d c { conv c-1 1; conv c -1 }\n")
    args = prog.statements[1].body[0].args
    assert (args[0].value.kind, args[0].value.text) == ("expr", "c-1")
    assert [a.value.text for a in prog.statements[1].body[1].args] == ["c", "-1"]


def test_a_list_value_is_one_argument():
    prog = cnnc.syntax.parse_program("input 8x8x3\nrescale 1 offset=0.5,0.25,1e-3\n")
    v = prog.statements[1].args[1].value
    assert (v.kind, v.text, [i.text for i in v.items]) == ("list", "0.5,0.25,1e-3", ["0.5", "0.25", "1e-3"])
    # in a body, a list's items may be parameters and expressions
    from cnnc.definitions import evaluate

    v = cnnc.syntax.parse_program("def d c { x a=1,c*2,c }\n").statements[0].body[0].args[0].value
    out = evaluate(v, {"c": cnnc.syntax.Value("3", "number", 1, 1)}, None)
    assert (out.kind, out.text) == ("list", "1,6,3")


# --- generated programs: definitions against the written-out text ----------------------

# statement templates of a body: {f} is the parameter f, {k} the parameter k (a size)
TEMPLATES = [
    ("conv f k padding=same", lambda f, k, a: f"conv {f} {k} padding=same"),
    ("conv f*2 1", lambda f, k, a: f"conv {f * 2} 1"),
    ("conv max(1, f//2) 1 relu", lambda f, k, a: f"conv {max(1, f // 2)} 1 relu"),
    ("conv f+1-1 k stride=2 padding=same", lambda f, k, a: f"conv {f} {k} stride=2 padding=same"),
    ("batchnorm", lambda f, k, a: "batchnorm"),
    ("relu", lambda f, k, a: "relu"),
    ("residual { conv f 1 }", lambda f, k, a: f"residual {{ conv {f} 1 }}"),
    ("residual scale=0.5 { relu }", lambda f, k, a: "residual scale=0.5 { relu }"),
    ("concat { branch { } branch { conv min(f, 3) k padding=same } }",
     lambda f, k, a: f"concat {{ branch {{ }} branch {{ conv {min(f, 3)} {k} padding=same }} }}"),
    ("add { branch { } branch { relu } }", lambda f, k, a: "add { branch { } branch { relu } }"),
    ("repeat 2 { conv f 1 }", lambda f, k, a: f"conv {f} 1\nconv {f} 1"),   # (unrolled: a label goes on the last)
    ("a", lambda f, k, a: a),
    ("conv f 1 a; a", lambda f, k, a: f"conv {f} 1 {a}\n{a}"),
    ("repeat 2 { conv f 1; a }", lambda f, k, a: f"conv {f} 1\n{a}\nconv {f} 1\n{a}"),
]


@settings(derandomize=True, max_examples=60, deadline=None)
@given(body=st.lists(st.sampled_from(range(len(TEMPLATES))), min_size=1, max_size=5),
       uses=st.lists(st.tuples(st.integers(1, 6), st.sampled_from(["1", "3", "3x1"]), st.booleans(),
                               st.sampled_from([None, "relu", "hard_swish", "leaky_relu"]), st.booleans()),
                     min_size=1, max_size=4),
       inner=st.booleans())
def test_generated_definitions_are_the_program_written_out(body, uses, inner):
    """Random bodies of the templates above, used with random arguments (positional or by
    name, an activation or its default, at the top level or inside a repeat), labelled or
    not (a label names the last layer, which a later statement reads with from=); the
    oracle is the same text with each use replaced by its body, the parameters substituted,
    expressions computed by Python, and the use's label on the last statement."""
    defs = "def blk f k=3 a=relu {\n" + "\n".join(TEMPLATES[i][0] for i in body) + "\n}\n"
    head = "input 12x12x4\nconv 4 1\n"
    prog, written = [head, defs], [head]
    for j, (f, k, by_name, a, labelled) in enumerate(uses):
        args = f"{f} k={k}" if by_name else f"{f} {k}"
        if a is not None:
            args += f" a={a}" if by_name else f" {a}"
        expanded = "\n".join(TEMPLATES[i][1](f, k, a or "relu") for i in body)
        use = f"blk {args}"
        if labelled:
            lines = expanded.split("\n")
            expanded = "\n".join(lines[:-1] + [f"u{j}: {lines[-1]}"]) + f"\nrelu from=u{j}"
            use = f"u{j}: {use}\nrelu from=u{j}"
        if inner:
            prog.append(f"repeat 1 {{ {use} }}\n")
            written.append(f"repeat 1 {{\n{expanded}\n}}\n")
        else:
            prog.append(use + "\n")
            written.append(expanded + "\n")
    try:
        want = layers("".join(written))
    except cnnc.CnncError as e:   # the written-out program is wrong: so is the one with the definition
        got = errors_of("".join(prog))
        assert [d.message for d in got.diagnostics] == [d.message for d in e.diagnostics]
        return
    assert layers("".join(prog)) == want


# --- diagnostics ------------------------------------------------------------------------

DEF = "input 8x8x3\ndef blk f k=3 {\n  conv f k padding=same\n  relu\n}\n"

ERRORS = [
    # (name, text, line, col, fragments of the first error's message)
    ("unknown definition", DEF + "bkl 4\n", 6, 1, ["unknown statement 'bkl'", "did you mean 'blk'?"]),
    ("missing argument", DEF + "blk\n", 6, 1, ["blk is missing its f", "usage: blk F [k=3]"]),
    ("extra argument", DEF + "blk 4 3 5\n", 6, 9, ["blk takes 2 arguments, got one more: '5'"]),
    ("unknown parameter", DEF + "blk 4 kk=3\n", 6, 7, ["blk has no parameter 'kk'", "did you mean k=?"]),
    ("argument twice", DEF + "blk 4 f=5\n", 6, 7, ["blk: 'f' is given twice"]),
    ("recursive", "input 8x8x3\ndef d f { conv f 1; d f }\nd 2\n", 2, 21, ["'d' uses itself", "cannot be recursive"]),
    ("later definition", "input 8x8x3\ndef a { b }\ndef b { relu }\na\n", 2, 9,
     ["'b' is defined later, at line 3", "only the definitions before it"]),
    ("used before its definition", "input 8x8x3\nd\ndef d { relu }\n", 2, 1,
     ["'d' is used before its definition at line 3"]),
    ("definition in a block", "input 8x8x3\nresidual { def d { relu } }\n", 2, 12,
     ["a definition belongs at the top level"]),
    ("duplicate definition", "input 8x8x3\ndef d { relu }\ndef d { relu }\n", 3, 5,
     ["duplicate definition 'd' (first defined at line 2)"]),
    ("definition named like a statement", "input 8x8x3\ndef conv f { relu }\n", 2, 5,
     ["cannot define 'conv'", "statement of the language"]),
    ("parameter named like a keyword", "input 8x8x3\ndef d residual { relu }\n", 2, 7,
     ["a parameter cannot be named 'residual'", "a block of the language"]),
    ("parameter named like an activation", "input 8x8x3\ndef d relu { conv 2 1 }\n", 2, 7,
     ["a parameter cannot be named 'relu'", "an activation"]),
    ("parameter named like a value word", "input 8x8x3\ndef d f same { relu }\n", 2, 9,
     ["a parameter cannot be named 'same'", "a value word"]),
    ("parameter named like a statement", "input 8x8x3\ndef d dense { relu }\n", 2, 7,
     ["a parameter cannot be named 'dense'"]),
    ("parameter twice", "input 8x8x3\ndef d f f { relu }\n", 2, 9, ["parameter 'f' is given twice"]),
    ("default before a required one", "input 8x8x3\ndef d k=3 f { relu }\n", 2, 11,
     ["'f' has no default but comes after 'k'", "parameters without a default come first"]),
    ("a number as a parameter", "input 8x8x3\ndef d 3 { relu }\n", 2, 7, ["a parameter is a name"]),
    ("division by zero", DEF.replace("conv f k", "conv f//(k-3) k") + "blk 4\n", 3, 8, ["division by zero in f//(k-3)"]),
    ("a size in an expression", DEF.replace("conv f k", "conv k*2 3") + "blk 4 3x3\n", 3, 8,
     ["'k' is 3x3, a size; expressions compute with whole numbers"]),
    ("a decimal in an expression", DEF.replace("conv f k", "conv f*2 k") + "blk 0.5\n", 3, 8,
     ["'f' is 0.5, not a whole number"]),
    ("a word in an expression", "input 8x8x3\nconv q*2 3\n", 2, 6, ["'q' in an expression is not a number"]),
    ("a parameter of the wrong type", DEF + "blk 3x3\n", 3, 8,
     ["conv_1: the number of filters must be a positive integer, got '3x3'"]),
    ("a negative value through a parameter", DEF + "blk 4-6\n", 3, 8,
     ["conv_1: the number of filters must be a positive integer, got -2"]),
    ("repeat count from a parameter", "input 8x8x3\ndef d n { repeat n { relu } }\nd 0\n", 2, 18,
     ["repeat count must be a positive integer, got '0'"]),
    ("a number standing alone", "input 8x8x3\ndef d c act { conv c 1\n  act }\nd 4 5\n", 3, 3,
     ["'act' stands alone as a statement, so it must be an activation, but this use gives it 5 (a number)",
      "the activations are linear, relu"]),
    ("a statement standing alone", "input 8x8x3\ndef d c act=relu { conv c 1; act }\nd 4 act=batchnorm\n", 2, 30,
     ["'act' stands alone as a statement", "gives it batchnorm (not an activation)"]),
    ("a size standing alone", "input 8x8x3\ndef d k { conv 2 k; k }\nd 3x3\n", 2, 21, ["gives it 3x3 (a size)"]),
    ("an activation's option it does not take", "input 8x8x3\ndef d act { act slope=0.1 }\nd relu\n", 2, 17,
     ["unknown option 'slope' for relu"]),
]


@pytest.mark.parametrize("name,text,line,col,fragments", ERRORS, ids=[e[0] for e in ERRORS])
def test_error(name, text, line, col, fragments):
    e = errors_of(text)
    assert (e.line, e.col) == (line, col), str(e)
    for f in fragments:
        assert f in e.message, (f, str(e))


def test_a_diagnostic_inside_a_use_names_the_definition_and_the_use(tmp_path):
    text = DEF.replace("relu", "dense 4") + "conv 3 1\nb: blk 4 k=1\n"
    e = errors_of(text, filename="u.cnn")
    d = e.diagnostics[0]
    # (the use's label names the layer its body ends in: the dense is `b`)
    assert (d.line, d.col) == (4, 3) and "b: dense needs a vector" in d.message
    assert d.notes == ((7, 1, "in use of 'blk'"),)
    assert str(e).splitlines()[:2] == [d.format().splitlines()[0], "u.cnn:7:1: note: in use of 'blk'"]
    # the command line shows both places, and --json carries both
    path = tmp_path / "u.cnn"
    path.write_text(text)
    rc, out, err = run_cnnc("shapes", str(path), "--json")
    assert rc == 1 and f"{path}:4:3: error: b: dense" in err and f"{path}:7:1: note: in use of 'blk'" in err
    diag = json.loads(out)["diagnostics"][0]
    assert (diag["line"], diag["col"]) == (4, 3)
    assert diag["notes"] == [{"file": str(path), "line": 7, "col": 1, "message": "in use of 'blk'"}]


def test_a_wrong_argument_notes_the_definition():
    e = errors_of(DEF + "blk 4 kk=3\n")
    assert e.diagnostics[0].notes == ((2, 1, "'blk' is defined here"),)


def test_nested_uses_note_every_use_innermost_first():
    text = ("input 4x4x3\ndef inner f { conv f 3 }\ndef outer f { inner f\n  inner f }\n"
            "outer 4\n")
    e = errors_of(text)
    d = e.diagnostics[0]
    assert (d.line, d.col) == (2, 15) and "the image collapses" in d.message
    assert d.notes == ((4, 3, "in use of 'inner'"), (5, 1, "in use of 'outer'"))


def test_an_error_in_a_repeated_use_is_reported_once():
    e = errors_of(DEF + "repeat 5 { blk 0 }\n")
    assert len(e.diagnostics) == 1 and e.diagnostics[0].notes == ((6, 12, "in use of 'blk'"),)


def test_a_parameter_standing_alone_is_an_error_at_the_definition_with_the_use_noted():
    """The statement in the body leads (its line and column), the use is the note; a use
    repeated by `repeat` reports once; the shape passes on as an activation's would, so what
    follows is checked for its own mistakes only."""
    text = "input 8x8x3\ndef d c act { conv c 1\n  act }\nconv 2 1\nrepeat 3 { d 4 5 }\ndense 2\n"
    e = errors_of(text)
    first, second = e.diagnostics
    assert (first.line, first.col, first.notes) == (3, 3, ((5, 12, "in use of 'd'"),))
    assert (second.line, second.col) == (6, 1) and "dense needs a vector but gets an image 8x8x4" in second.message


def test_a_parameter_may_stand_alone_in_an_unused_definition_and_shadows_a_definition():
    assert len(cnnc.parse("input 8x8x3\ndef d act { act }\n").layers) == 0
    net = cnnc.parse("input 8x8x3\ndef unit { conv 2 1 }\ndef d unit { unit }\nd hard_swish\nunit\n")
    assert [n.kind for n in net.layers] == ["hard_swish", "conv"]


def test_an_unused_definition_is_still_checked_for_unknown_statements():
    e = errors_of("input 8x8x3\ndef d { covn 3 3 }\nrelu\n")
    assert (e.line, e.col) == (2, 9) and "did you mean 'conv'?" in e.message


def test_option_names_are_allowed_as_parameters():
    net = cnnc.parse("input 8x8x3\ndef d stride padding scale=0.5 activation=relu mode=nearest {\n"
                     "  conv 4 3 stride=stride padding=padding activation\n"
                     "  residual scale=scale { conv 4 1 }\n  upsample 2 mode=mode\n}\nd 2 same\n")
    assert net.output_shape == (8, 8, 4) and net["residual_1"].attrs["scale"] == 0.5


def test_a_warning_inside_a_use_carries_its_note():
    net = cnnc.parse("input 9x9x1\ndef p { pool 2 }\np\n")
    assert [w.notes for w in net.warnings] == [((3, 1, "in use of 'p'"),)]


# --- limits: expansion counts while the program is read ---------------------------------------

def test_definitions_that_unroll_past_the_limit_are_refused_fast():
    """Ten uses of a definition of ten uses of ... : 10^8 layers, refused before any is built."""
    lines = ["input 8x8x1", "def d0 { relu }"]
    for i in range(1, 9):
        lines.append(f"def d{i} {{ " + "; ".join([f"d{i - 1}"] * 10) + " }")
    lines.append("d8")
    t = time.perf_counter()
    e = errors_of("\n".join(lines) + "\n")
    assert time.perf_counter() - t < 2.0
    assert "more than 100,000 layers" in e.message
    # a definition whose one use is too large is said to be so where it is written
    e = errors_of("input 8x8x1\ndef big { repeat 60000 { relu }; repeat 60000 { relu } }\n")
    assert "one use of 'big' makes more than 100,000 layers" in e.message


def test_a_repeat_count_from_a_parameter_is_limited_as_it_unrolls():
    t = time.perf_counter()
    e = errors_of("input 8x8x1\ndef d n { repeat n { repeat n { relu } } }\nd 1000\n")
    assert time.perf_counter() - t < 30
    assert "more than 100,000 layers" in e.message


def test_uses_nested_too_deep_are_refused():
    lines = ["input 8x8x1", "def d0 { relu }"] + [f"def d{i} {{ residual {{ d{i - 1} }} }}" for i in range(1, 60)]
    e = errors_of("\n".join(lines + ["d59"]) + "\n")
    assert "nested more than 50 deep" in e.message
