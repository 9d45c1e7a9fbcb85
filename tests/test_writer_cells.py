"""The program writer's definitions for runs with named inputs (cnnc/bridges/importers/cells.py),
on imported networks built directly (no Keras, no ONNX: milliseconds): NASNet-like cells, each
reading the cell before it and the one before that, are written as one definition with a name
parameter and a use per cell; a run whose inner layer is read from after it is no unit; and
every program reads back as the network it was written from (the graphs are compared node by
node, as the weights are named)."""

from __future__ import annotations

import re

import pytest

import cnnc
from cnnc.bridges.importers.ir import Network
from cnnc.bridges.importers.statement import Op
from cnnc.bridges.importers.weights import pair_nodes
from cnnc.bridges.importers.writer import write


class Layer:
    """What a converter keeps of a source layer: its name (labels and definitions are named
    from it)."""

    def __init__(self, name):
        self.name = name


def _branch(net, x, name, filters=4):
    x = net.statement(Op("relu", origin=Layer(f"{name}_relu")), x)
    return net.statement(Op("conv", {"filters": filters, "kernel": (3, 3), "padding": "same"},
                            origin=Layer(f"{name}_conv")), x)


def cells(n, reads_inside=False):
    """n cells: cell k adds a branch of the cell before it and one of the cell before that
    (the input for the first); with `reads_inside`, the last cell also adds the first cell's
    first branch."""
    net = Network((8, 8, 4), name="cells")
    x, p, first = net.input, net.input, None
    for k in range(n):
        a = _branch(net, x, f"left_{k}")
        b = _branch(net, p, f"right_{k}")
        first = first or a
        inputs = [a, b] + ([first] if reads_inside and k == n - 1 else [])
        x, p = net.join("add", inputs, origin=Layer(f"cell_{k}")), x
    net.output = net.statement(Op("globalpool", origin=Layer("pool")), x)
    return net


def written(net):
    text = write(net, ["cells: a test"])
    pair_nodes(net, cnnc.parse(text))   # raises when the program is another network
    return text


def code(text):
    return [x for x in text.splitlines() if x.strip() and not x.startswith("#")]


def test_cells_become_one_definition_with_a_name_parameter():
    text = written(cells(6))
    cell = re.search(r"^def (\w+) (\w+) \{\n(.*?)\n\}", text, re.M | re.S)
    assert cell, text
    name, param, body = cell.groups()
    assert f"from={param}" in body, text   # the cell before last, read by name
    uses = re.findall(rf"^(?:(\w+): )?{name} (\w+)\b", text, re.M)
    assert len(uses) == 6, text
    labels = {label for label, _ in uses if label} | {"input"}
    assert all(arg in labels for _, arg in uses), text   # each use names the cell two back
    assert len(code(text)) == 16, text   # input, two definitions (9 lines), six uses


def test_a_run_whose_inner_layer_is_read_later_is_no_unit():
    text = written(cells(10, reads_inside=True))
    # the first cell's left branch is read by the last cell: the first cell is written out,
    # its branch labelled outside any use; the cells between are uses of a definition
    assert re.search(r"^left_0_conv: ", text, re.M), text
    assert re.search(r"^def \w+ prev \{", text, re.M), text
    assert "left_0_conv" in code(text)[-1], text


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7])
def test_any_number_of_cells_reads_back(n):
    written(cells(n))
    written(cells(n, reads_inside=True))
