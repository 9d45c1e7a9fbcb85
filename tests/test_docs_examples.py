"""Every program the docs show as ```cnn parses, with the shapes its comments promise."""

from __future__ import annotations

import re

import pytest

import cnnc
from conftest import ROOT

DOCS = ["docs/language.md", "README.md"]


def _programs(path):
    text = (ROOT / path).read_text()
    return re.findall(r"^```cnn\n(.*?)^```", text, re.S | re.M)


@pytest.mark.parametrize("doc", DOCS)
def test_cnn_blocks_parse(doc):
    programs = _programs(doc)
    assert programs, f"{doc} shows no ```cnn program"
    for src in programs:
        net = cnnc.parse(src, filename=doc)
        assert net.layers


def test_the_modern_section_shows_every_new_statement():
    shown = "\n".join(_programs("docs/language.md"))
    kinds = {n.kind for src in _programs("docs/language.md") for n in cnnc.parse(src).layers}
    assert {"dwconv", "sepconv", "deconv", "upsample", "zeropad", "globalmaxpool", "rescale", "scale"} <= kinds
    for option in ("dilation=", "groups=", "bias=false", "mode=bilinear", "offset=", "top="):
        assert option in shown, option


def test_the_u_net_level_in_the_docs():
    src = next(p for p in _programs("docs/language.md") if "U-Net level" in p)
    net = cnnc.parse(src)
    assert net["concat_1"].out.dims == (64, 64, 64) and net.output_shape == (128, 128, 4)
