"""`cnnc lsp`: the analysis behind each feature, then the real server driven over stdio by
a client (tests/lsp_client.py) through whole sessions, hostile input included."""

from __future__ import annotations

import json
import sys

import pytest

from cnnc.lsp.actions import fixes
from cnnc.lsp.completion import complete
from cnnc.lsp.document import Analysis, diagnostic_range
from cnnc.lsp.hover import hover, inlay_hints
from cnnc.lsp.semantic import classify, encode
from conftest import EXAMPLES, run_cnnc

LENET = (EXAMPLES / "lenet.cnn").read_text()
URI = "file:///work/lenet.cnn"

# the docs' program of Keras habits (docs/language.md, "What the checker tells you")
KERAS = """\
input 28x28x1
conv 32 3x3 strides=2 relu
conv 64 3 x 3 pading=same
conv 64 (3,3) padding="same"
flatten
dense 10 sofmax
"""


def _apply(text: str, edits) -> str:
    """`edits` ((line, col), (line, col), new) applied to text, 1-based, last first."""
    lines = text.split("\n")
    for (l0, c0), (l1, c1), new in sorted(edits, reverse=True):
        head, tail = lines[l0 - 1][:c0 - 1], lines[l1 - 1][c1 - 1:]
        lines[l0 - 1:l1] = (head + new + tail).split("\n")
    return "\n".join(lines)


# --- the analysis ---------------------------------------------------------------------

def test_diagnostics_are_those_of_cnnc_shapes(tmp_path):
    for text in (LENET, KERAS, "input 8x8x1\nconv 4 9x9\nresidual { conv 4 3x3 }\n"):
        path = tmp_path / "p.cnn"
        path.write_text(text)
        rc, out, _ = run_cnnc("shapes", str(path), "--json")
        expected = [(d["line"], d["col"], d["severity"], d["message"], d["hint"])
                    for d in json.loads(out)["diagnostics"]]
        got = [(d.line, d.col, d.severity, d.message, d.hint) for d in Analysis(text, str(path)).diagnostics]
        assert got == expected and got


def test_each_statement_knows_its_span_and_its_layers():
    a = Analysis((EXAMPLES / "cifar_resnet.cnn").read_text())
    first = a.statements[1]
    assert (first.kind, first.start, first.end) == ("conv", (3, 1), (3, 25))
    assert [n.name for n in first.nodes] == ["conv_1"]
    repeat = a.statements[4]
    assert repeat.kind == "repeat" and repeat.end == (7, 2) and repeat.nodes == []
    inner = repeat.children[0].children[0]
    assert [n.name for n in inner.nodes] == ["conv_2", "conv_4", "conv_6"]   # one per copy
    residual = a.statements[5]
    assert residual.end == (11, 2) and residual.out_at == (13, 2)            # through its shortcut
    assert [n.name for n in residual.nodes] == ["residual_4"]


def test_inlay_hints_give_each_statement_its_shape():
    a = Analysis(LENET)
    lines = LENET.split("\n")
    hints = inlay_hints(a)
    assert hints == [(3, 17, "→ 26x26x32"), (4, 7, "→ 13x13x32"), (5, 17, "→ 11x11x64"), (6, 7, "→ 5x5x64"),
                     (7, 8, "→ 1600"), (8, 14, "→ 64"), (9, 17, "→ 10")]
    assert all(col == len(lines[line - 1]) + 1 for line, col, _ in hints)   # at the statement's end
    other = Analysis(LENET.replace("28x28x1", "32x32x1"))
    assert inlay_hints(other)[0] == (3, 17, "→ 30x30x32")
    # semicolons: one hint per statement, repeats marked
    a = Analysis("input 8x8x2\nrepeat 2 { conv 2 3x3 padding=same; relu }\n")
    assert inlay_hints(a) == [(2, 35, "→ 8x8x2 (×2)"), (2, 41, "→ 8x8x2 (×2)"), (2, 43, "→ 8x8x2")]


def test_a_half_written_program_still_has_shapes():
    a = Analysis("input 28x28x1\nconv 8 3x3 relu\npool 2 stride=\nconv 4 3x3\nflatten\ndense")
    assert any(d.severity == "error" for d in a.diagnostics)
    assert inlay_hints(a)[0] == (2, 16, "→ 26x26x8")
    assert hover(a, 2, 1)[0].count("26x26x8") == 1


def test_hover_shows_shape_parameters_macs_receptive_field_and_fusion():
    a = Analysis(LENET)
    text, (start, end) = hover(a, 5, 3)
    assert (start, end) == ((5, 1), (5, 17))
    for part in ("**conv_2**: conv → **11x11x64**", "input: pool_1 13x13x32", "parameters: 18,496 (kernel 3x3x32x64, bias 64)",
                 "MACs: 2,230,272", "receptive field: 8x8, stride 2x2", "fused into Triton kernel k2: conv_2(relu) > pool_2"):
        assert part in text, text
    assert "receptive field: all" in hover(a, 8, 1)[0]
    text, _ = hover(Analysis((EXAMPLES / "cifar_resnet.cnn").read_text()), 4, 1)
    assert "its body 3 times in a row" in text and "holds 18 layers, 14,304 parameters" in text
    assert hover(a, 1, 2) is None   # on a comment
    assert hover(Analysis("# only a comment\n"), 1, 3) is None


def test_completion_by_position():
    a = Analysis("input 28x28x1\nc1: conv 8 3x3 \nconv 8 3x3 padding=\npool 2; \nrelu # x\n")
    labels = lambda items: [i.label for i in items]                       # noqa: E731
    start = labels(complete(a, 4, 9))                                     # after `;`
    assert "conv" in start and "residual" in start and "repeat" in start and "relu" in start
    assert labels(complete(a, 2, 5)) == labels(complete(a, 4, 9))         # after a label
    after = labels(complete(a, 2, 16))
    assert "stride=" in after and "padding=" in after and "relu" in after and "conv" not in after
    assert labels(complete(a, 3, 20)) == ["valid", "same"]
    assert complete(a, 5, 9) == []                                        # in a comment
    b = Analysis("input 8x8x1\nconv 4 3x3 relu stride=2 \n")
    rest = labels(complete(b, 2, 26))
    assert "stride=" not in rest and "relu" not in rest and "padding=" in rest


def test_quick_fixes_apply_the_hints():
    a = Analysis(KERAS)
    fixed = KERAS
    edits = []
    for d in a.diagnostics:
        found = fixes(a, d)
        assert found, d
        if d.severity == "error":
            edits += found[0][1]
    fixed = _apply(KERAS, edits)
    assert fixed == ("input 28x28x1\nconv 32 3x3 stride=2 relu\nconv 64 3x3 padding=same\n"
                     "conv 64 3x3 padding=same\nflatten\ndense 10 softmax\n")
    assert [d.severity for d in Analysis(fixed).diagnostics] == ["warning"]   # conv_1 drops a row: its fix
    (warning,) = Analysis(fixed).diagnostics
    assert fixes(Analysis(fixed), warning)[0][0] == "Add padding=same"


def test_quick_fixes_for_statements_and_padding():
    text = "input 32x32x16\nConv2D 16 3x3\nresidual { conv 16 3x3 }\npool 2 padding=valid\n"
    a = Analysis(text)
    titles = {d.line: fixes(a, d) for d in a.diagnostics}
    assert titles[2][0][0] == "Change to 'conv'"
    fixed = _apply(text, [e for d in a.diagnostics for e in fixes(a, d)[0][1]])
    assert fixed == "input 32x32x16\nconv 16 3x3\nresidual { conv 16 3x3 padding=same }\npool 2 padding=valid\n"
    b = Analysis("input 11x11x1\npool 2 padding=valid\n")
    (d,) = b.diagnostics
    assert _apply(b.text, fixes(b, d)[0][1]) == "input 11x11x1\npool 2 padding=same\n"


def test_semantic_tokens_give_every_word_its_role():
    a = Analysis("c1: conv 8 3x3 stride=2 padding=same relu  # x\nresidual { relu }\n")
    roles = [(col, role, decl) for _, col, _, role, decl in classify(a)]
    assert roles == [(1, "variable", True), (3, "operator", False), (5, "keyword", False), (10, "number", False),
                     (12, "number", False), (16, "property", False), (22, "operator", False), (23, "number", False),
                     (25, "property", False), (32, "operator", False), (33, "enumMember", False),
                     (38, "function", False), (44, "comment", False), (1, "keyword", False), (12, "keyword", False)]
    assert encode([(1, 1, 2, "variable", True), (1, 5, 4, "keyword", False), (2, 3, 1, "number", False)]) == \
        [0, 0, 2, 5, 1, 0, 4, 4, 0, 0, 1, 2, 1, 1, 0]


def test_diagnostic_ranges_cover_what_they_name():
    a = Analysis("input 4x4x1\nconv 8 9x9 relu\n")
    (d,) = a.diagnostics
    assert diagnostic_range(d, a) == ((2, 1), (2, 16))


def test_an_internal_error_is_a_diagnostic_not_a_crash(monkeypatch):
    import cnnc.graph

    def broken(*a, **k):
        raise KeyError("boom")

    monkeypatch.setattr(cnnc.graph, "analyse", broken)
    a = Analysis(LENET)
    assert [d.message for d in a.diagnostics] == ["internal error: KeyError: 'boom' (a bug in cnnc)"]


def test_any_text_gets_answers_not_exceptions():
    """Fuzzed text (tests/fuzz_programs.py: valid, nearly valid and mangled programs, and the
    third edition's): every feature answers at every position of every line."""
    import random

    from fuzz_programs import Seeded, any_program

    for seed in range(120):
        text = any_program(Seeded(seed))
        a = Analysis(text)
        rng = random.Random(seed)
        inlay_hints(a)
        encode(classify(a))
        for d in a.diagnostics:
            diagnostic_range(d, a)
            fixes(a, d)
        for _ in range(6):
            line = rng.randint(1, len(a.lines))
            col = rng.randint(1, len(a.lines[line - 1]) + 1)
            hover(a, line, col)
            complete(a, line, col)


# --- the server over stdio ---------------------------------------------------------------

pygls = pytest.importorskip("pygls")
from lsp_client import Client  # noqa: E402

CNNC = [sys.executable, "-m", "cnnc", "lsp"]


@pytest.fixture
def client():
    c = Client(CNNC)
    yield c
    c.close()


def _pos(line, character):
    return {"line": line, "character": character}


def _doc(uri=URI):
    return {"textDocument": {"uri": uri}}


def test_a_whole_session(client):
    """initialize, open, change, hover, inlay hints, completion, formatting, shutdown."""
    caps = client.initialize()["capabilities"]
    for cap in ("hoverProvider", "inlayHintProvider", "completionProvider", "documentFormattingProvider",
                "definitionProvider", "documentSymbolProvider", "semanticTokensProvider", "codeActionProvider"):
        assert caps.get(cap), cap
    published = client.open(URI, LENET)
    (warning,) = published["diagnostics"]
    # `cnnc shapes` says examples/lenet.cnn:6:1: warning: pool_2 ...: character = COL - 1
    assert warning["range"]["start"] == _pos(5, 0) and warning["severity"] == 2
    assert warning["message"].startswith("pool_2: pool on 11x11 drops the last row and column")

    # an edit that breaks the shapes: the new diagnostics are pushed
    client.notify("textDocument/didChange", {
        "textDocument": {"uri": URI, "version": 2},
        "contentChanges": [{"range": {"start": _pos(2, 5), "end": _pos(2, 7)}, "text": "3200000"}]})
    published = client.wait_for("textDocument/publishDiagnostics", lambda p: p.get("version") == 2)
    error = published["diagnostics"][0]
    assert error["severity"] == 1 and "must be at most 1,048,576, got 3200000" in error["message"]
    assert error["range"]["start"] == _pos(2, 5)
    client.notify("textDocument/didChange", {
        "textDocument": {"uri": URI, "version": 3},
        "contentChanges": [{"text": LENET.replace("conv 32 3x3 relu", "conv   32 3x3 relu padding=same")}]})
    published = client.wait_for("textDocument/publishDiagnostics", lambda p: p.get("version") == 3)
    assert published["diagnostics"] == []

    result = client.request("textDocument/hover", {**_doc(), "position": _pos(4, 3)})
    assert "**conv_2**: conv → **12x12x64**" in result["contents"]["value"]
    assert result["range"] == {"start": _pos(4, 0), "end": _pos(4, 16)}

    hints = client.request("textDocument/inlayHint", {**_doc(), "range": {"start": _pos(0, 0), "end": _pos(9, 0)}})
    assert [(h["position"]["line"], h["label"]) for h in hints] == [
        (2, "→ 28x28x32"), (3, "→ 14x14x32"), (4, "→ 12x12x64"), (5, "→ 6x6x64"), (6, "→ 2304"), (7, "→ 64"),
        (8, "→ 10")]
    assert hints[0]["position"] == _pos(2, 31)

    items = client.request("textDocument/completion", {**_doc(), "position": _pos(3, 7)})["items"]
    assert {"stride=", "padding="} <= {i["label"] for i in items}
    items = client.request("textDocument/completion", {**_doc(), "position": _pos(9, 0)})["items"]
    assert {"conv", "residual", "dense"} <= {i["label"] for i in items}

    edits = client.request("textDocument/formatting", {**_doc(), "options": {"tabSize": 2, "insertSpaces": True}})
    assert edits == [{"range": {"start": _pos(2, 0), "end": _pos(2, 31)}, "newText": "conv 32 3x3 relu padding=same"}]

    symbols = client.request("textDocument/documentSymbol", _doc())
    assert [s["name"] for s in symbols] == ["input", "conv_1", "pool_1", "conv_2", "pool_2", "flatten_1", "dense_1",
                                            "dense_2"]
    assert symbols[1]["detail"] == "conv → 28x28x32"
    tokens = client.request("textDocument/semanticTokens/full", _doc())["data"]
    comment = len(LENET.split("\n")[0])
    assert len(tokens) % 5 == 0 and tokens[:10] == [0, 0, comment, 6, 0, 1, 0, 5, 0, 0]   # a comment, `input`
    assert client.shutdown() == 0


def test_quick_fixes_and_definitions_over_the_wire(client):
    client.initialize()
    uri = "file:///work/keras.cnn"
    published = client.open(uri, KERAS)
    assert [d["severity"] for d in published["diagnostics"]] == [2, 1, 1, 1, 1, 1, 1]   # a warning, 6 errors
    actions = client.request("textDocument/codeAction", {
        **_doc(uri), "range": {"start": _pos(1, 0), "end": _pos(1, 0)},
        "context": {"diagnostics": published["diagnostics"][:2]}})
    assert [a["title"] for a in actions] == ["Add padding=same", "Write stride=2"]
    assert actions[1]["kind"] == "quickfix" and actions[1]["diagnostics"][0]["range"]["start"] == _pos(1, 12)
    (edit,) = actions[1]["edit"]["changes"][uri]
    assert edit == {"range": {"start": _pos(1, 12), "end": _pos(1, 21)}, "newText": "stride=2"}
    client.open("file:///work/r.cnn", "input 8x8x4\nc1: conv 4 3x3 padding=same\nresidual { conv 4 1x1 }\n")
    loc = client.request("textDocument/definition", {**_doc("file:///work/r.cnn"), "position": _pos(1, 1)})
    assert loc is None   # a label is its own definition
    assert client.shutdown() == 0


def test_without_pygls_the_command_names_the_extra(tmp_path):
    (tmp_path / "pygls").mkdir()
    (tmp_path / "pygls" / "__init__.py").write_text("raise ImportError('no pygls here')\n")
    import os
    import subprocess

    from conftest import ROOT
    env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{tmp_path}")
    p = subprocess.run([sys.executable, "-m", "cnnc", "lsp"], capture_output=True, text=True, env=env, timeout=60,
                       stdin=subprocess.DEVNULL)
    assert p.returncode == 2 and "pip install 'cnnc[lsp]'" in p.stderr, p.stderr


# --- hostile input --------------------------------------------------------------------------

def test_a_hundred_thousand_layers(client):
    client.initialize()
    text = "input 8x8x1\n" + "relu\n" * 100_000
    published = client.open("file:///work/big.cnn", text)
    assert published["diagnostics"] == []
    hints = client.request("textDocument/inlayHint", {**_doc("file:///work/big.cnn"),
                                                      "range": {"start": _pos(50_000, 0), "end": _pos(50_010, 0)}},
                           timeout=120)
    assert len(hints) == 11 and hints[0]["label"] == "→ 8x8x1"
    over = "input 8x8x1\n" + "relu\n" * 100_001
    client.notify("textDocument/didChange", {"textDocument": {"uri": "file:///work/big.cnn", "version": 2},
                                              "contentChanges": [{"text": over}]})
    published = client.wait_for("textDocument/publishDiagnostics", lambda p: p.get("version") == 2, timeout=120)
    assert "more than 100,000 layers" in published["diagnostics"][0]["message"]
    assert client.shutdown(timeout=120) == 0


def test_an_invalid_utf8_byte_and_a_lone_surrogate(client):
    client.initialize()
    body = json.dumps({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
        "uri": "file:///work/bad.cnn", "languageId": "cnn", "version": 1, "text": "input 8x8x1\nconv 4 3x3 XX\n"}}})
    client.send_raw(body.encode("utf-8").replace(b"XX", b"\xff\xfe"))
    # the server is still there, and a document with a character no program holds is reported
    published = client.open("file:///work/sur.cnn", "input 8x8x1\nconv 4 3x3 \udcff\n")
    assert published["diagnostics"][0]["message"].startswith("syntax error: unexpected character")
    assert published["diagnostics"][0]["range"]["start"] == _pos(1, 11)
    result = client.request("textDocument/hover", {**_doc("file:///work/sur.cnn"), "position": _pos(1, 2)})
    assert result is None or "conv" in result["contents"]["value"]
    assert client.shutdown() == 0


def test_a_huge_line(client):
    client.initialize()
    text = "input 8x8x1\n" + "conv 8 3x3 " * 200_000 + "\n"
    published = client.open("file:///work/line.cnn", text)
    assert "more than 1,000 words" in published["diagnostics"][0]["message"]
    hover_result = client.request("textDocument/hover", {**_doc("file:///work/line.cnn"), "position": _pos(1, 5)},
                                  timeout=120)
    assert hover_result is None or "contents" in hover_result
    client.request("textDocument/semanticTokens/full", _doc("file:///work/line.cnn"), timeout=120)
    assert client.shutdown(timeout=120) == 0


def test_garbage_and_requests_out_of_order(client):
    client.initialize()
    client.send_raw(b"{not json")
    assert client.request_raw("textDocument/hover", {**_doc("file:///nowhere.cnn"), "position": _pos(0, 0)})
    client.open("file:///work/e.cnn", "")
    for method in ("textDocument/inlayHint", "textDocument/documentSymbol", "textDocument/semanticTokens/full"):
        params = {**_doc("file:///work/e.cnn")}
        if method == "textDocument/inlayHint":
            params["range"] = {"start": _pos(0, 0), "end": _pos(99, 0)}
        client.request(method, params)
    assert client.request("textDocument/hover", {**_doc("file:///work/e.cnn"), "position": _pos(40, 7)}) is None
    assert client.shutdown() == 0


# --- the third edition: definitions, expressions, named inputs and joins ------------------

DEFS = """\
input 32x32x3
def bottleneck filters stride=1 {
  conv filters 1x1; relu
  c: conv filters*2 3x3 stride=stride padding=same
}
b1: bottleneck 16
bottleneck 8 stride=2
add b1 b1
conv 4 1x1 from=b1
"""


def test_uses_of_definitions_have_shapes_hover_and_completion():
    a = Analysis(DEFS)
    assert a.diagnostics == []
    hints = dict(((line, label) for line, _, label in inlay_hints(a)))
    assert hints[6] == "→ 32x32x32" and hints[7] == "→ 16x16x16" and hints[8] == "→ 32x32x32"
    assert hints[4] == "→ 32x32x32 … 16x16x16 (×2)"        # the body's statement, once per use
    text, _ = hover(a, 6, 6)
    assert "a use of `bottleneck`: 3 layers, 4,704 parameters" in text and "**b1**: conv → **32x32x32**" in text
    assert "used 2 times" in hover(a, 2, 6)[0]
    labels = lambda items: [i.label for i in items]                     # noqa: E731
    assert "bottleneck" in labels(complete(a, 10, 1))
    assert labels(complete(a, 7, 23)) == ["from="]                        # stride= is given
    assert labels(complete(a, 8, 5))[-3:] == ["conv_2", "relu_2", "bottleneck_1_c"]
    assert "b1" in labels(complete(Analysis(DEFS + "conv 4 1x1 from=\n"), 10, 17))
    roles = {(line, col): (role, decl) for line, col, _, role, decl in classify(a)}
    assert roles[(2, 5)] == ("function", True) and roles[(2, 16)] == ("parameter", True)
    assert roles[(4, 11)] == ("parameter", False) and roles[(6, 5)] == ("function", False)
    assert roles[(9, 17)] == ("variable", False)


def test_the_server_shows_an_error_in_a_definition_at_its_use_too(client):
    client.initialize()
    uri = "file:///work/d.cnn"
    published = client.open(uri, "input 8x8x4\ndef block f {\n  conv f 9x9\n}\nb1: block 4\n")
    inside, at_use = published["diagnostics"]
    assert inside["range"]["start"] == _pos(2, 2) and at_use["range"] == {"start": _pos(4, 0), "end": _pos(4, 11)}
    assert inside["message"] == at_use["message"] and "the image collapses" in inside["message"]
    assert inside["relatedInformation"] == [{"location": {"uri": uri, "range": at_use["range"]},
                                             "message": "in use of 'block'"}]
    assert at_use["relatedInformation"][0]["location"]["range"]["start"] == _pos(2, 2)
    client.open("file:///work/defs.cnn", DEFS)
    doc = _doc("file:///work/defs.cnn")
    to_def = client.request("textDocument/definition", {**doc, "position": _pos(6, 3)})
    assert to_def["range"] == {"start": _pos(1, 4), "end": _pos(1, 14)}          # the use -> def bottleneck
    to_label = client.request("textDocument/definition", {**doc, "position": _pos(8, 17)})
    assert to_label["range"] == {"start": _pos(5, 0), "end": _pos(5, 17)}        # from=b1 -> b1: bottleneck 16
    to_join_input = client.request("textDocument/definition", {**doc, "position": _pos(7, 4)})
    assert to_join_input["range"] == to_label["range"]                            # add b1 b1
    symbols = client.request("textDocument/documentSymbol", doc)
    assert [(s["name"], s["kind"]) for s in symbols[:3]] == [("input", 14), ("bottleneck", 12), ("b1", 13)]
    assert client.shutdown() == 0
