"""The shape of a Keras model description (`config.json`), checked before anything walks it.

The reader (keras_import.KerasGraph) and the converters read a few fields of the JSON: each
model's `class_name`, `config.layers`, each layer's `class_name`, `name`, `module`, `config`
and `inbound_nodes`, the tensors a call reads (`__keras_tensor__` with `keras_history` and
`shape`) and a model's `input_layers`/`output_layers`. `validate` checks every one of them
has the type the reader expects, that the JSON nests at most MAX_DEPTH levels and models at
most MAX_MODEL_DEPTH, and raises Malformed naming where it found what: a hostile or damaged
file gets a clear error, never a Python exception from deep inside the reader.
"""

from __future__ import annotations

from ..statement import Malformed
from .settings import check_structure

MAX_MODEL_DEPTH = 8
MODELS = ("Functional", "Sequential", "Model")


def validate(config) -> None:
    check_structure(config)
    _model(config, "the model", 0)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _fail(where, what, v) -> Malformed:
    text = repr(v)
    return Malformed(f"{where} is {text if len(text) <= 40 else text[:37] + '...'}, not {what}")


def _dict(v, where) -> dict:
    if not isinstance(v, dict):
        raise _fail(where, "an object", v)
    return v


def _optional_str(e, key, where) -> None:
    if key in e and e[key] is not None and not isinstance(e[key], str):
        raise _fail(f"{where}'s {key}", "a string", e[key])


def _model(m, where, depth) -> None:
    if depth > MAX_MODEL_DEPTH:
        raise Malformed(f"models nest more than {MAX_MODEL_DEPTH} deep")
    _dict(m, where)
    if not isinstance(m.get("class_name"), str):
        raise _fail(f"{where}'s class_name", "a string", m.get("class_name"))
    cfg = _dict(m.get("config", {}), f"{where}'s config")
    layers = cfg.get("layers", [])
    if not isinstance(layers, list):
        raise _fail(f"{where}'s layers", "a list", layers)
    for key in ("input_layers", "output_layers"):
        _names(cfg.get(key), f"{where}'s {key}")
    for i, e in enumerate(layers):
        w = f"layer {i} of {where}"
        _dict(e, w)
        if not isinstance(e.get("class_name"), str):
            raise _fail(f"{w}'s class_name", "a string", e.get("class_name"))
        _optional_str(e, "module", w)
        _optional_str(e, "name", w)
        c = _dict(e.get("config", {}), f"{w}'s config")
        _optional_str(c, "name", w)
        if not isinstance(e.get("name") or c.get("name") or "", str):
            raise _fail(f"{w}'s name", "a string", e.get("name"))
        nodes = e.get("inbound_nodes", [])
        if not isinstance(nodes, list):
            raise _fail(f"{w}'s inbound_nodes", "a list", nodes)
        for node in nodes:
            _dict(node, f"a call of {w}")
            if not isinstance(node.get("args", []), list):
                raise _fail(f"the args of a call of {w}", "a list", node.get("args"))
            _dict(node.get("kwargs", {}), f"the kwargs of a call of {w}")
            _tensors(node, w)
        if e["class_name"] in MODELS:
            _model(e, f"model {e.get('name') or c.get('name')!r}", depth + 1)


def _names(v, where) -> None:
    """A model's inputs/outputs: [name, node, tensor], or lists of those."""
    stack = [v]
    while stack:
        x = stack.pop()
        if x is None or isinstance(x, str) or _is_int(x):
            continue
        if not isinstance(x, list):
            raise _fail(where, "a list of layer names", x)
        stack.extend(x)


def _tensors(node, where) -> None:
    stack = [node.get("args", []), node.get("kwargs", {})]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            if v.get("class_name") == "__keras_tensor__":
                _tensor(v, where)
            else:
                stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)


def _tensor(v, where) -> None:
    cfg = _dict(v.get("config", {}), f"a tensor {where} reads")
    h = cfg.get("keras_history")
    if not (isinstance(h, list) and len(h) == 3 and isinstance(h[0], str) and _is_int(h[1]) and _is_int(h[2])
            and h[1] >= 0 and h[2] >= 0):
        raise _fail(f"the keras_history of a tensor {where} reads", "[layer name, node, tensor]", h)
    shape = cfg.get("shape")
    if shape is not None and not (isinstance(shape, list) and all(d is None or (_is_int(d) and d >= 0)
                                                                   for d in shape)):
        raise _fail(f"the shape of a tensor {where} reads", "a list of sizes", shape)
