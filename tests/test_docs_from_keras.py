"""The program docs/bridges.md shows for MobileNetV2 is what `cnnc from-keras` writes."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

os.environ["KERAS_BACKEND"] = "torch"
pytest.importorskip("h5py")
keras = pytest.importorskip("keras")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


ROOT = Path(__file__).resolve().parent.parent


def test_the_mobilenet_v2_program_in_the_docs(tmp_path):
    from cnnc.bridges.importers.keras.model import convert

    doc = (ROOT / "docs" / "bridges.md").read_text(encoding="utf-8")
    shown = re.search(r"<!-- from-keras: MobileNetV2 -->\n```\n(.*?)```", doc, re.S).group(1)
    path = tmp_path / "mobilenet_v2.keras"
    keras.applications.MobileNetV2(weights=None).save(path)
    text, _ = convert(path)
    assert text == shown
