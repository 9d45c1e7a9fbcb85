"""A damaged or hostile config.json is a clear WeightsError, never a raw Python exception:
hypothesis replaces or deletes one value anywhere in a real model description (a functional
model with a nested Sequential, joins, an operation node and batchnorm) and load_keras must
either load or refuse with WeightsError. 300 mutations: about 20 s on one core."""

from __future__ import annotations

import io
import json
import os
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cnnc
from cnnc.errors import WeightsError

os.environ["KERAS_BACKEND"] = "torch"
pytest.importorskip("h5py")
keras = pytest.importorskip("keras")
layers = keras.layers
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


PROGRAM = ("input 8x8x3; conv 4 3 padding=same relu; batchnorm\n"
           "residual { conv 4 3 padding=same; hard_sigmoid }\n"
           "concat { branch { pool 2 } branch { avgpool 2 } }\nglobalpool; dense 3 softmax")


@pytest.fixture(scope="module")
def original(tmp_path_factory):
    stem = keras.Sequential([layers.Conv2D(4, 3, padding="same", activation="relu"), layers.BatchNormalization()])
    inp = keras.Input((8, 8, 3))
    x = stem(inp)
    y = layers.ReLU(6.0)(layers.Conv2D(4, 3, padding="same")(x) + 3.0) * (1.0 / 6.0)
    x = layers.Add()([y, x])
    x = layers.Concatenate()([layers.MaxPooling2D()(x), layers.AveragePooling2D(2)(x)])
    out = layers.Dense(3, activation="softmax")(layers.GlobalAveragePooling2D()(x))
    path = tmp_path_factory.mktemp("fuzz") / "m.keras"
    keras.Model(inp, out).save(path)
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    cnnc.compile(cnnc.parse(PROGRAM)).load_keras(path)   # the unmutated file loads
    return members


def _paths(v, at=()):
    yield at
    if isinstance(v, dict):
        for k, x in v.items():
            yield from _paths(x, at + (k,))
    elif isinstance(v, list):
        for i, x in enumerate(v):
            yield from _paths(x, at + (i,))


JSON = st.recursive(st.none() | st.booleans() | st.integers(-5, 10 ** 9) | st.floats(allow_nan=False)
                    | st.text(max_size=6) | st.sampled_from(["same", "valid", "Conv2D", "__keras_tensor__", "relu"]),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                    max_leaves=6)


def _mutated(config, path, action, value):
    config = json.loads(json.dumps(config))
    if not path:
        return value
    parent = config
    for key in path[:-1]:
        parent = parent[key]
    if action == "delete":
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return config


def _load(members, config_text, tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, config_text if name == "config.json" else data)
    path = tmp_path / "mutant.keras"
    path.write_bytes(buf.getvalue())
    model = cnnc.compile(cnnc.parse(PROGRAM))
    try:
        model.load_keras(path)
    except WeightsError as e:
        assert str(e).strip() and "Traceback" not in str(e)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_one_value_changed_anywhere(original, tmp_path, data):
    config = json.loads(original["config.json"])
    paths = list(_paths(config))
    path = data.draw(st.sampled_from(paths))
    action = data.draw(st.sampled_from(["replace", "delete"])) if path else "replace"
    value = data.draw(JSON)
    _load(original, json.dumps(_mutated(config, path, action, value)), tmp_path)


@pytest.mark.parametrize("text", [
    "[" * 100_000 + "]" * 100_000,                      # deeper than json's recursion
    '{"class_name": "Functional", "config": {"layers": ' + "[" * 500 + "]" * 500 + "}}",
])
def test_deep_nesting_is_refused(original, tmp_path, text):
    with pytest.raises(WeightsError, match="config.json"):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            for name, data in original.items():
                z.writestr(name, text if name == "config.json" else data)
        (tmp_path / "deep.keras").write_bytes(buf.getvalue())
        cnnc.compile(cnnc.parse(PROGRAM)).load_keras(tmp_path / "deep.keras")


def test_a_model_nested_too_deep_is_refused(original, tmp_path):
    inner = json.loads(original["config.json"])
    config = inner
    for _ in range(12):
        config = {"class_name": "Sequential", "config": {"layers": [config]}}
    with pytest.raises(WeightsError, match="nest"):
        _load_strict(original, json.dumps(config), tmp_path)


def _load_strict(members, text, tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, text if name == "config.json" else data)
    (tmp_path / "n.keras").write_bytes(buf.getvalue())
    cnnc.compile(cnnc.parse(PROGRAM)).load_keras(tmp_path / "n.keras")
