"""The layer registry is open: every kind has a lowering in every backend and bridge, the
activations have every backend's form in one table, and backends and bridges never
branch on a kind's name (`kind == "conv"`): they look kinds up in their LOWERINGS."""

from __future__ import annotations

import ast
import os

import pytest

from cnnc.layers import ACTIVATIONS, KINDS, Epilogue, Prologue, Role

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _tables():
    from cnnc.backends import numpy as numpy_backend
    from cnnc.backends import triton as triton_backend

    tables = {"numpy backend": numpy_backend.LOWERINGS, "triton backend": triton_backend.LOWERINGS}
    try:
        from cnnc.bridges import onnx_export
        tables["onnx bridge"] = onnx_export.LOWERINGS
    except ImportError:
        pass
    try:
        from cnnc.bridges import torch_module
        tables["torch bridge"] = torch_module.LOWERINGS
    except ImportError:
        pass
    return tables


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_has_a_lowering_everywhere(kind):
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    tables = _tables()
    assert len(tables) == 4
    for where, table in tables.items():
        assert kind in table, f"{kind} has no lowering in the {where}"


def test_no_backend_lowers_a_kind_the_registry_does_not_know():
    for where, table in _tables().items():
        assert set(table) <= set(KINDS), f"{where}: {sorted(set(table) - set(KINDS))}"


# kinds (and options of kinds, `conv dilation=`) whose lowering is still being built, per
# table: shrinks to nothing
PENDING: dict = {}

# how each table's require_lowerings call names it (cnnc/backends/pending.py PENDING_OPTIONS)
_WHERE = {"numpy backend": "numpy backend", "triton backend": "triton backend", "torch bridge": "PyTorch bridge",
          "onnx bridge": "ONNX export"}


def test_pending_lowerings_are_exactly_the_known_ones():
    from cnnc.backends.pending import PENDING_OPTIONS, Pending

    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    found = {}
    for where, table in _tables().items():
        kinds = [k for k, v in table.items() if isinstance(v, Pending)]
        options = [f"{k} {o}=" for k, opts in PENDING_OPTIONS.get(_WHERE[where], {}).items() for o in opts]
        if kinds or options:
            found[where] = sorted(kinds + options)
    assert found == PENDING
    assert set(PENDING_OPTIONS) <= set(_WHERE.values())


def test_pending_options_name_real_options():
    from cnnc.backends.pending import PENDING_OPTIONS

    for where, kinds in PENDING_OPTIONS.items():
        for kind, options in kinds.items():
            assert set(options) <= set(KINDS[kind].options), (where, kind)


def test_a_pending_option_is_a_clear_error(monkeypatch):
    import cnnc
    from cnnc.backends import pending

    monkeypatch.setitem(pending.PENDING_OPTIONS, "numpy backend", {"conv": ("dilation", "bias")})
    cnnc.compile(cnnc.parse("input 8x8x1\nconv 2 3x3 dilation=1 bias=true\n"))   # the defaults, written out
    net = cnnc.parse("input 8x8x1\nconv 2 3x3\nconv 2 3x3 dilation=2x1\n")
    with pytest.raises(cnnc.CnncError, match="conv_2: the numpy backend does not compile conv with dilation=2x1 yet") as e:
        cnnc.compile(net)
    assert (e.value.line, e.value.col) == (3, 1)
    with pytest.raises(cnnc.CnncError, match="conv with bias=false yet"):
        cnnc.compile(cnnc.parse("input 8x8x1\nconv 2 3x3 bias=false\n"))


def test_a_pending_kind_is_a_clear_error(monkeypatch):
    import cnnc
    from cnnc.backends import numpy as numpy_backend
    from cnnc.backends.pending import Pending

    monkeypatch.setitem(numpy_backend.LOWERINGS, "relu", Pending("numpy backend"))
    net = cnnc.parse("input 4x4x1\nconv 2 3x3\nrelu\n")
    with pytest.raises(cnnc.CnncError, match="relu_1: the numpy backend does not compile relu layers yet") as e:
        cnnc.compile(net)
    assert (e.value.line, e.value.col) == (3, 1)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_every_activation_has_every_backends_form(name):
    a = ACTIVATIONS[name]
    assert isinstance(a.numpy, tuple) and isinstance(a.triton, tuple)
    assert callable(a.torch) and callable(a.onnx)
    assert isinstance(a.monotone, bool) and a.keras
    assert name in KINDS, "every activation can be written alone"


def test_roles_are_enumerations():
    for kind, spec in KINDS.items():
        assert isinstance(spec.role, Role), kind
        assert (spec.epilogue is None) == (spec.role is not Role.EPILOGUE), kind
        assert spec.epilogue is None or isinstance(spec.epilogue, Epilogue), kind
        assert (spec.prologue is None) == (spec.role is not Role.PROLOGUE), kind
        assert spec.prologue is None or isinstance(spec.prologue, Prologue), kind


def _kind_comparisons(path):
    """`x.kind == "..."`, `kind in ("...", ...)`, `x.kind != ...`: branching on a kind's name."""
    tree = ast.parse(open(path, encoding="utf-8").read())
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        sides = [node.left, *node.comparators]
        names_kind = any((isinstance(s, ast.Attribute) and s.attr == "kind"
                          and not (isinstance(s.value, ast.Attribute) and s.value.attr == "dtype"))  # numpy's dtype.kind
                         or (isinstance(s, ast.Name) and s.id == "kind") for s in sides)
        strings = any(isinstance(s, ast.Constant) and isinstance(s.value, str) for s in sides) or any(
            isinstance(s, (ast.Tuple, ast.List, ast.Set)) and any(isinstance(e, ast.Constant) and isinstance(e.value, str)
                                                                 for e in s.elts) for s in sides)
        if names_kind and strings:
            found.append(f"{os.path.relpath(path, ROOT)}:{node.lineno}")
    return found


def test_backends_and_bridges_never_branch_on_a_kind_name():
    found = []
    for folder in ("cnnc/backends", "cnnc/bridges"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, folder)):
            for f in files:
                if f.endswith(".py"):
                    found += _kind_comparisons(os.path.join(dirpath, f))
    assert not found, "kind-name comparisons (use the LOWERINGS table or a registry fact): " + ", ".join(found)


def test_the_static_check_would_catch_one(tmp_path):
    p = tmp_path / "x.py"
    p.write_text('if node.kind == "conv":\n    pass\nif kind in ("pool", "avgpool"):\n    pass\n'
                 'if a.dtype.kind in "biuf":\n    pass\n')
    assert len(_kind_comparisons(str(p))) == 2
