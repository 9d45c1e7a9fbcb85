"""`model.load_keras(path)`: the weights of a Keras 3 `.keras` file, matched to cnnc's layers.

A `.keras` file is a zip: `config.json` describes the model (its layers and how they connect),
`model.weights.h5` holds the arrays. This module reads both with the standard library and
h5py; Keras itself is never imported, nothing is unpickled and no code from the file runs
(a Lambda layer's bytecode is never looked at).

1. The zip's directory is checked first: the members it needs, and their sizes against what
   the network's weights can take, so a zip bomb costs neither memory nor disk.
2. The Keras graph is rebuilt from `config.json` (Sequential, Functional, and models nested in
   them), and each Keras layer is found in `model.weights.h5` where Keras puts it: under the
   snake-case name of its class, numbered in the order of `model.layers` (`layers/conv2d_3/vars/0`).
   Only the HDF5 directory is read here: names, shapes and dtypes.
3. The two graphs are matched by their structure, not by names or list order. Both are reduced
   to the layers that hold weights and the joins (a layer without weights needs no counterpart:
   activations, pooling, padding, flatten, dropout, reshape); then, from the outputs back to
   the inputs, each cnnc layer must meet a Keras layer of a kind that reads it (READERS) with
   arrays of exactly its shapes, a join must meet a join of the same kind with matching inputs;
   an Add or a Multiply may list its inputs in either order (Keras's ResNet adds the shortcut
   first), a Concatenate's order is the channel order and must agree. A Keras 1x1 Conv2D on a 1x1
   image (squeeze-and-excitation, MobileNetV3's head) reads into a cnnc `dense`: its kernel
   (1, 1, in, out) is the dense kernel (in, out). Keras preprocessing at the very input
   (Rescaling, Normalization) may have no counterpart: the program then starts after them, and
   a warning names them (their weights are not part of the cnnc model).
4. Only then are the arrays read, checked finite, and handed to `model.set_params`.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import warnings
import zipfile

import numpy as np

from ..errors import WeightsError
from ..optional import require
from ..runtime import hdf5
from ..runtime.files import NotRegularFile, TooManyMembers, open_regular, open_zip_file
from .importers.keras.description import MODELS as _MODELS
from .importers.keras.description import validate
from .importers.statement import Malformed

CONFIG, WEIGHTS = "config.json", "model.weights.h5"
CONFIG_LIMIT = 64 << 20          # bytes of config.json; DenseNet121's is about 1 MB
METADATA_SLACK = 16 << 20        # the HDF5 file's own structure, beyond its arrays
OPTIMIZER_FACTOR = 8             # optimizer slots (Adam: 2 per weight) and float64 arrays fit 8x float32


class Reader:
    """How a cnnc kind reads a Keras layer: the Keras classes that carry its weights (`accepts`
    may look closer). The arrays are the layer's own, in Keras's order, which is cnnc's;
    `integer` names those Keras stores as integers (Normalization's sample count)."""

    def __init__(self, classes, accepts=None, integer=()):
        self.classes = tuple(classes)
        self.accepts = accepts or (lambda node, k: k.cls in self.classes)
        self.integer = tuple(integer)


def _dense_accepts(node, k) -> bool:
    """Dense, or a 1x1 Conv2D applied to a 1x1 image (Keras's squeeze-and-excitation)."""
    if k.cls == "Dense":
        return True
    if k.cls != "Conv2D" or len(k.vars) < 1 or k.vars[0][0][:2] != (1, 1):
        return False
    return k.in_shape is None or tuple(k.in_shape[1:3]) == (1, 1)


def _conv_accepts(node, k) -> bool:
    """Conv2D, or a Dense applied to an image (ConvNeXt's pointwise layers): it acts on each
    pixel, as a 1x1 conv with stride 1, one group and a bias does."""
    if k.cls == "Conv2D":
        return True
    a = node.attrs
    return (k.cls == "Dense" and k.in_shape is not None and len(k.in_shape) == 4 and a["kernel"] == (1, 1)
            and a["stride"] == (1, 1) and a["groups"] == 1 and a["bias"])


# cnnc keyword -> how it reads a Keras layer. Joins: `ordered` (Concatenate) or either order.
READERS: dict = {
    "conv": Reader(("Conv2D", "Dense"), _conv_accepts),
    "dense": Reader(("Dense", "Conv2D"), _dense_accepts),
    "batchnorm": Reader(("BatchNormalization",)),
    "dwconv": Reader(("DepthwiseConv2D",)),
    "sepconv": Reader(("SeparableConv2D",)),
    "deconv": Reader(("Conv2DTranspose",)),
    **{"layernorm": Reader(("LayerNormalization",)), "layerscale": Reader(("LayerScale",)),   # the third edition
       "normalize": Reader(("Normalization",), integer=("count",))},
}


class Join:
    def __init__(self, classes, ordered: bool):
        self.classes, self.ordered = tuple(classes), ordered


JOINS: dict = {
    # InceptionResNetV2's scaled residual is a CustomScaleLayer([x, block]) (x + scale * block)
    "residual": Join(("Add", "CustomScaleLayer"), ordered=False),
    "add": Join(("Add",), ordered=False),
    "concat": Join(("Concatenate",), ordered=True),
    "scale": Join(("Multiply",), ordered=False),   # Multiply([x, gate]) in either order
    "multiply": Join(("Multiply",), ordered=False),
}

# Keras layers that may stand between the input and where the program starts, and the cnnc
# kinds (keyword -> Keras class) that do the same work when a program starts with them
PREPROCESSING = ("Rescaling", "Normalization")
PREPROCESSED_BY: dict = {"rescale": "Rescaling", "normalize": "Normalization"}


def load_keras(model, path) -> dict:
    """Set `model`'s params from the `.keras` file at `path`; returns {cnnc layer: its KLayer}."""
    params, pairs, skipped = read_keras(model.network, path)
    model.set_params(params, where=os.fspath(path))
    if skipped:
        warnings.warn(f"{os.fspath(path)}: the program starts after Keras's preprocessing "
                      f"{', '.join(k.describe() for k in skipped)}, which the cnnc model does not hold: "
                      f"give it inputs as they come out of them", stacklevel=3)
    return pairs


def read_keras(network, path):
    """(params in cnnc's names and Keras layouts, {cnnc layer: its KLayer}, the Keras preprocessing
    KLayers the program starts after, input first) from the `.keras` file at `path`."""
    require("h5py", "keras")   # a missing package is said before the file is read
    p = os.fspath(path)
    expected = sum(int(np.prod(s)) for s in network.param_shapes().values()) * 4
    with _open_zip(p) as zf:
        config = _read_config(zf, p)
        with _weights_file(zf, p, OPTIMIZER_FACTOR * expected + METADATA_SLACK) as fobj:
            with hdf5.open_indexed(fobj, f"{p}: {WEIGHTS}") as (h5, datasets):   # self-contained, checked first
                graph = KerasGraph(config, h5, p, datasets)
                pairs, skipped = match(network, graph, p)
                params = _read_arrays(network, graph, pairs, p)
    return params, pairs, skipped


# --- the zip -----------------------------------------------------------------------

MAX_ZIP_MEMBERS = 1024   # a .keras zip holds three files and some assets


def _open_zip(p):
    if os.path.isdir(p):
        raise WeightsError(f"{p}: is a directory, not a .keras file", unreadable=True)
    try:
        return open_zip_file(p, MAX_ZIP_MEMBERS)
    except NotRegularFile as e:
        raise WeightsError(f"{p}: is {e.what}, not a .keras file", unreadable=True) from None
    except TooManyMembers as e:
        raise WeightsError(f"{p}: not a .keras file ({e})", unreadable=True) from None
    except ValueError as e:   # a member name twice
        raise WeightsError(f"{p}: not a .keras file ({e})", unreadable=True) from None
    except FileNotFoundError:
        raise WeightsError(f"{p}: no such file", unreadable=True) from None
    except zipfile.BadZipFile:
        raise WeightsError(f"{p}: not a .keras file (a .keras file is a zip){_h5_hint(p)}", unreadable=True) from None
    except OSError as e:
        raise WeightsError(f"{p}: cannot read ({e.strerror or e})", unreadable=True) from None


def _h5_hint(p) -> str:
    """What an HDF5 file given for a .keras file most likely is, and what to pass instead.
    Keras 3's model.save_weights() writes NAME.weights.h5: the arrays without the layers'
    config that they are matched by; Keras 2 saved whole models as .h5."""
    if p.endswith(".weights.h5"):
        return (": it is a Keras 3 weights file (model.save_weights), the arrays without the model's "
                "config that cnnc matches them by; pass the .keras file that model.save('NAME.keras') writes")
    if p.endswith((".h5", ".hdf5")):
        return " (a Keras 2 .h5 model? load it in Keras and save it as .keras)"
    return ""


def _member(zf, name, p):
    try:
        return zf.getinfo(name)
    except KeyError:
        have = ", ".join(zf.namelist()[:6]) or "nothing"
        raise WeightsError(f"{p}: a .keras file holds {name}, this one does not (it has {have}); "
                           f"save the whole model with model.save('NAME.keras')", unreadable=True) from None


def _read_config(zf, p) -> dict:
    info = _member(zf, CONFIG, p)
    if info.file_size > CONFIG_LIMIT:
        raise WeightsError(f"{p}: {CONFIG} is {info.file_size:,} bytes, more than a model description takes "
                           f"({CONFIG_LIMIT:,})", unreadable=True)
    with zf.open(info) as f:
        text = f.read(CONFIG_LIMIT + 1)
    try:
        config = json.loads(text)
    except (ValueError, UnicodeDecodeError) as e:
        raise WeightsError(f"{p}: {CONFIG} is not valid JSON ({e})", unreadable=True) from None
    except RecursionError:
        raise WeightsError(f"{p}: {CONFIG} nests too deep to be a model description", unreadable=True) from None
    if not isinstance(config, dict):
        raise WeightsError(f"{p}: {CONFIG} does not describe a model", unreadable=True)
    try:
        validate(config)
    except Malformed as e:
        raise WeightsError(f"{p}: {CONFIG} is malformed: {e}", unreadable=True) from None
    return config


class _weights_file:
    """A seekable file object of model.weights.h5 inside the zip. Stored (uncompressed), as Keras
    writes it, it is read in place; compressed, it is unpacked into a temporary file, never
    past `limit` bytes: only its directory and the arrays the network needs are ever read."""

    def __init__(self, zf, p, limit):
        self.zf, self.p, self.limit = zf, p, limit
        self.tmp = None

    def __enter__(self):
        info = _member(self.zf, WEIGHTS, self.p)
        if info.compress_type == zipfile.ZIP_STORED:
            self.f = _Window(self.zf.filename, info, self.p)
            return self.f
        if info.file_size > self.limit:
            raise WeightsError(f"{self.p}: {WEIGHTS} unpacks to {info.file_size:,} bytes, more than this network's "
                               f"weights can take ({self.limit:,})", unreadable=True)
        self.tmp = tempfile.TemporaryFile()
        with self.zf.open(info) as src:
            copied = 0
            while True:
                chunk = src.read(1 << 20)
                if not chunk:
                    break
                copied += len(chunk)
                if copied > self.limit:   # the directory said less than there is
                    raise WeightsError(f"{self.p}: {WEIGHTS} unpacks to more than its stated size", unreadable=True)
                self.tmp.write(chunk)
        self.tmp.seek(0)
        self.f = self.tmp
        return self.f

    def __exit__(self, *exc):
        self.f.close()
        if self.tmp is not None:
            self.tmp.close()


class _Window:
    """The bytes of a stored zip member, read in place from the zip file (zipfile's own reader
    would read through everything before each seek)."""

    def __init__(self, filename, info, p):
        self.f = open_regular(filename)
        self.f.seek(info.header_offset)
        header = self.f.read(30)
        if len(header) != 30 or header[:4] != b"PK\x03\x04":
            self.f.close()
            raise WeightsError(f"{p}: the zip entry of {WEIGHTS} is damaged", unreadable=True)
        name_len, extra_len = int.from_bytes(header[26:28], "little"), int.from_bytes(header[28:30], "little")
        self.start = info.header_offset + 30 + name_len + extra_len
        self.size = info.file_size
        self.pos = 0

    def seek(self, offset, whence=0):
        base = (0, self.pos, self.size)[whence]
        self.pos = min(max(base + offset, 0), self.size)
        return self.pos

    def tell(self):
        return self.pos

    def read(self, n=-1):
        n = self.size - self.pos if n is None or n < 0 else min(n, self.size - self.pos)
        self.f.seek(self.start + self.pos)
        data = self.f.read(n)
        self.pos += len(data)
        return data

    def readinto(self, buf):
        """Straight into h5py's buffer: no copy through a bytes object (half the time of a read)."""
        view = memoryview(buf).cast("B")
        n = min(len(view), self.size - self.pos)
        self.f.seek(self.start + self.pos)
        got = self.f.readinto(view[:n])
        self.pos += got
        return got

    def close(self):
        self.f.close()


# --- the Keras graph -----------------------------------------------------------------

def to_snake_case(name: str) -> str:
    """Keras's rule for the HDF5 group of a layer of class `name` (keras.src.utils.naming)."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


class Unsupported(WeightsError):
    """A Keras model whose structure a cnnc network cannot have: several inputs or outputs, a
    layer called more than once."""


class KLayer:
    """One Keras layer (or operation) call: `inputs` are other KLayers' ids, `vars` the
    (shape, dtype) of each array in its HDF5 group, `in_shape` its input's shape if known."""

    __slots__ = ("id", "name", "cls", "config", "inputs", "group", "vars", "in_shapes", "nested", "op", "consts",
                 "const_first")

    def __init__(self, id, name, cls, config, op: bool = False):
        self.id, self.name, self.cls, self.config = id, name, cls, config
        self.op = op                # an operation node (`x + 3.0`), not a layer
        self.consts: list = []      # the constants an operation takes besides tensors
        self.const_first = False    # the constant comes first (`3.0 - x`)
        self.inputs: list = []
        self.group = None
        self.vars: list = []
        self.in_shapes: list = []   # the shape of each tensor it reads, where config.json says
        self.nested = False         # it holds weights in sub-layers of its own

    @property
    def in_shape(self):
        return self.in_shapes[0] if len(self.in_shapes) == 1 else None

    def describe(self) -> str:
        return f"'{self.name}' ({self.cls})"


class KerasGraph:
    """The Keras model as a DAG of KLayers: `.layers` (id -> KLayer), `.input`, `.output`.
    `datasets` is hdf5.open_indexed's {path: DatasetID} of the open file `h5`."""

    def __init__(self, config, h5, p, datasets):
        self.p, self.h5, self.datasets = p, h5, datasets
        self.nested = _groups_with_sub_layers(datasets)
        self.layers: dict = {}
        top = config.get("config", {})
        if config.get("class_name") not in _MODELS or not isinstance(top.get("layers"), list):
            raise WeightsError(f"{p}: {CONFIG} does not describe a Sequential or Functional model "
                               f"(class {config.get('class_name')!r})", unreadable=True)
        self.input, self.output = self._model(config, "", None)

    # a model (top-level or nested): returns (its input KLayer id, its output KLayer id)
    def _model(self, config, path, outer_input):
        cls, cfg = config.get("class_name"), config.get("config", {})
        entries = cfg.get("layers") or []
        if cls == "Sequential":
            return self._sequential(entries, path, outer_input)
        return self._functional(cfg, entries, path, outer_input)

    def _groups(self, entries, path, skip_first_input: bool):
        """HDF5 group of each entry: Keras numbers layers (not operations) per class, in list order."""
        used: dict = {}
        out = []
        for i, e in enumerate(entries):
            cls = e.get("class_name", "")
            if _is_op(e) or (skip_first_input and i == 0 and
                                                                        cls == "InputLayer"):
                out.append(None)   # an operation (x + 3.0): not a layer, holds nothing
                continue
            base = to_snake_case(cls)
            n = used.get(base)
            used[base] = 0 if n is None else n + 1
            out.append(f"{path}layers/{base}" + ("" if n is None else f"_{n + 1}"))
        return out

    def _new(self, e, group):
        name = e.get("name") or e.get("config", {}).get("name") or "?"
        k = KLayer(len(self.layers), name, e.get("class_name", "?"), e.get("config", {}), _is_op(e))
        self.layers[k.id] = k
        if group is not None:
            self._read_group(k, group)
        return k

    def _read_group(self, k, group):
        """k.vars and k.nested from the layer's HDF5 group: the arrays come from the index of the
        datasets the file's check opened, so only the `vars` group is opened here (h5py's group
        lookups cost a millisecond each, and a large network has ~2,000 of them)."""
        import h5py
        from h5py import h5i

        k.group = group
        k.nested = group.encode("utf-8") in self.nested   # arrays of its own sub-layers count as weights
        vid = _open_object(self.h5.id, f"{group}/vars")
        if vid is None or h5i.get_type(vid) != h5i.GROUP:
            return
        vars_ = h5py.Group(vid)
        stored = vars_.attrs.get("name")
        if stored is not None and _text(stored) != k.name:
            raise WeightsError(f"{self.p}: {WEIGHTS} holds layer '{_text(stored)}' where {CONFIG} puts "
                               f"{k.describe()}: the two do not belong together", unreadable=True)
        names: list = []
        vid.links.iterate(names.append)
        keys = sorted((n.decode("utf-8", "replace") for n in names), key=lambda s: int(s) if s.isdigit() else -1)
        if any(not s.isdigit() for s in keys) or keys != [str(i) for i in range(len(keys))]:
            raise WeightsError(f"{self.p}: the arrays of Keras layer {k.describe()} are named {keys}, "
                               f"not 0, 1, ...", unreadable=True)
        for s in keys:
            item = self.datasets.get(f"{group}/vars/{s}".encode("utf-8"))
            if item is None:   # a second hard link, or a soft one: the index holds the dataset's first path
                item = _open_object(vid, s)
            if item is None or h5i.get_type(item) != h5i.DATASET:
                raise WeightsError(f"{self.p}: {group}/vars/{s} is not an array", unreadable=True)
            ds = h5py.Dataset(item)
            k.vars.append((tuple(int(d) for d in ds.shape), ds))

    def _sequential(self, entries, path, outer_input):
        groups = self._groups(entries, path, skip_first_input=True)
        prev = outer_input
        first = None
        for e, group in zip(entries, groups):
            if e.get("class_name") == "InputLayer":
                if prev is None:
                    prev = self._new(e, None).id
                    first = prev
                continue
            if e.get("class_name") in _MODELS:
                inp, out = self._model(e, f"{group}/", prev)
                first = first if first is not None else inp
                prev = out
                continue
            k = self._new(e, group)
            if prev is None:   # no InputLayer: the first layer reads the model's input
                prev = first = self._new({"name": "input", "class_name": "InputLayer"}, None).id
            k.inputs = [prev]
            prev = k.id
        if prev is None:
            raise WeightsError(f"{self.p}: the Sequential model has no layers", unreadable=True)
        return (first if first is not None else prev), prev

    def _functional(self, cfg, entries, path, outer_input):
        groups = self._groups(entries, path, skip_first_input=False)
        ids: dict = {}
        inputs = []
        for e, group in zip(entries, groups):
            nodes = e.get("inbound_nodes") or []
            name = e.get("name") or e.get("config", {}).get("name")
            if e.get("class_name") == "InputLayer":
                k = self._new(e, group) if outer_input is None else None
                ids[name] = k.id if k is not None else outer_input
                inputs.append(ids[name])
                continue
            if len(nodes) != 1:
                raise Unsupported(f"{self.p}: Keras layer '{name}' is called {len(nodes)} times; a cnnc program "
                                  f"has one layer per call, so shared layers cannot be read")
            srcs = [ids.get(h[0]) for h in _tensors(nodes[0])]
            if any(s is None for s in srcs):
                raise WeightsError(f"{self.p}: Keras layer '{name}' reads a layer that comes later in "
                                   f"{CONFIG}", unreadable=True)
            if e.get("class_name") in _MODELS:
                if len(srcs) != 1:
                    raise Unsupported(f"{self.p}: nested model '{name}' takes {len(srcs)} inputs; "
                                      f"only one is read")
                ids[name] = self._model(e, f"{group}/", srcs[0])[1]
                continue
            k = self._new(e, group)
            k.inputs = srcs
            k.in_shapes = [h[3] for h in _tensors(nodes[0])]
            args = nodes[0].get("args") or []
            k.consts = [a for a in args if not isinstance(a, (dict, list))]
            k.const_first = bool(args) and not isinstance(args[0], (dict, list))
            ids[name] = k.id
        if len(inputs) != 1:
            raise Unsupported(f"{self.p}: the Keras model has {len(inputs)} inputs; a cnnc network has one")
        outs = cfg.get("output_layers")
        while isinstance(outs, list) and len(outs) == 1 and isinstance(outs[0], list):
            outs = outs[0]
        if isinstance(outs, list) and len(outs) > 1 and all(isinstance(o, list) for o in outs):
            raise Unsupported(f"{self.p}: the Keras model has {len(outs)} outputs; a cnnc network has one")
        if not (isinstance(outs, list) and outs and isinstance(outs[0], str)) or outs[0] not in ids:
            raise WeightsError(f"{self.p}: the Keras model must have one output (it has {outs!r})", unreadable=True)
        return inputs[0], ids[outs[0]]


def _open_object(loc, path: str):
    """The object at `path` under the h5py ObjectID `loc` (through hard links and soft links the
    file's check found inside it), or None."""
    from h5py import h5o

    try:
        return h5o.open(loc, path.encode("utf-8"))
    except (KeyError, ValueError):
        return None


def _groups_with_sub_layers(datasets) -> set:
    """The groups (paths as bytes) with an array in a subgroup other than `vars`: a layer made of
    other layers (each holding its own `vars`)."""
    out = set()
    for path in datasets:
        parts = path.split(b"/")
        for i in range(len(parts) - 2):   # parts[i + 1] is a group: an array lies below it
            if parts[i + 1] != b"vars":
                out.add(b"/".join(parts[:i + 1]))
    return out


def _is_op(entry) -> bool:
    """An operation node (`x + 3.0`, `inputs + layer(x)`): a class of keras.src.ops, not a layer."""
    return str(entry.get("module", "")).startswith("keras.src.ops")


def _text(v) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _tensors(node) -> list:
    """(layer, node index, tensor index, shape) of every Keras tensor a call reads, in order."""
    out = []

    def walk(v):
        if isinstance(v, dict):
            if v.get("class_name") == "__keras_tensor__":
                cfg = v.get("config", {})
                h = cfg.get("keras_history") or [None, 0, 0]
                out.append((h[0], h[1], h[2], cfg.get("shape")))
            else:
                for x in v.values():
                    walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    walk(node.get("args", []))
    walk(node.get("kwargs", {}))
    return out


# --- matching the two graphs -------------------------------------------------------------

class _Fail(Exception):
    def __init__(self, message, progress):
        super().__init__(message)
        self.message, self.progress = message, progress


def _skeleton_keras(graph):
    """Keras layer id -> the id of the layer that stands for it: itself if it holds weights, joins
    two or more tensors or is the input; else (no weights, one input) what its input stands for."""
    rep: dict = {}
    for k in graph.layers.values():   # created in topological order
        distinct = list(dict.fromkeys(k.inputs))
        if k.vars or k.nested or len(distinct) != 1:
            rep[k.id] = k.id
        else:
            rep[k.id] = rep[distinct[0]]
    return rep


def _skeleton_cnnc(net):
    rep: dict = {}
    for n in net.nodes:
        if n.params or n.spec.joins or not n.inputs:
            rep[n.name] = n
        else:
            rep[n.name] = rep[n.input.name]
    return rep


def match(net, graph, p):
    """{cnnc layer name: KLayer} for every cnnc layer with weights, and the Keras preprocessing
    layers the program starts after; WeightsError naming the layer where the graphs differ."""
    crep, krep = _skeleton_cnnc(net), _skeleton_keras(graph)
    K = graph.layers
    memo: dict = {}

    def kin(k):   # the skeleton inputs of a Keras layer
        return [K[krep[i]] for i in k.inputs]

    def cin(c):
        return [crep[i.name] for i in c.inputs]

    def eq(c, k) -> int:
        """How many layers the cones of c and k hold when they correspond; _Fail otherwise."""
        key = (c.name, k.id)
        if key in memo:
            r = memo[key]
            if isinstance(r, _Fail):
                raise r
            return r
        try:
            r = _eq(c, k)
        except _Fail as f:
            memo[key] = f
            raise
        memo[key] = r
        return r

    def _eq(c, k) -> int:
        if not c.inputs:   # the program's input
            if k.cls == "InputLayer":
                return 1
            if k.cls in PREPROCESSING and len(k.inputs) == 1:
                return eq(c, K[krep[k.inputs[0]]]) + 1
            raise _Fail(f"the program starts at its input where the Keras model still has {k.describe()}", 0)
        if k.cls == "InputLayer":
            raise _Fail(f"{c.name} ({_statement(c)}) has no counterpart: the Keras model reaches its input "
                        f"there", 0)
        if c.spec.joins:
            join = JOINS.get(c.kind)
            if join is None or k.cls not in join.classes or k.vars or not _channel_axis(k):
                raise _Fail(f"{c.name} ({c.kind} of {len(c.inputs)}) has no counterpart: the Keras model has "
                            f"{k.describe()} there", 0)
            mine, theirs = cin(c), kin(k)
            if len(mine) != len(theirs):
                raise _Fail(f"{c.name} joins {len(mine)} inputs, the Keras layer {k.describe()} "
                            f"{len(theirs)}", 0)
            orders = [theirs] if join.ordered or len(theirs) != 2 else [theirs, theirs[::-1]]
            best = None
            for order in orders:
                total = 1
                try:
                    for a, b in zip(mine, order):
                        total += eq(a, b)
                    return total
                except _Fail as f:
                    f = _Fail(f.message, f.progress + total)
                    best = f if best is None or f.progress > best.progress else best
            raise best
        reader = READERS.get(c.kind)
        if reader is None:
            raise WeightsError(f"{p}: cnnc does not read Keras weights into {c.kind} layers yet ({c.name})")
        if not reader.accepts(c, k):
            raise _Fail(f"{c.name} ({_statement(c)}) has no counterpart: the Keras model has {k.describe()} "
                        f"there", 0)
        theirs = kin(k)
        if len(theirs) != 1:
            raise _Fail(f"{c.name}: the Keras layer {k.describe()} reads {len(theirs)} tensors", 0)
        try:
            _check_shapes(c, k)
            wrong = None
        except _Fail as f:
            wrong = f
        try:   # a wrong shape here may come from a wrong layer before: name that one first
            below = eq(cin(c)[0], theirs[0])
        except _Fail as f:
            raise _Fail(f.message, f.progress + 1) from None
        if wrong is not None:
            raise _Fail(wrong.message, below)
        return below + 1

    def _check_shapes(c, k):
        mine = list(c.params.items())
        got = [s for s, _ in k.vars]
        if len(got) != len(mine):
            raise _Fail(f"{c.name} ({_statement(c)}) holds {len(mine)} arrays ({', '.join(s for s, _ in mine)}), "
                        f"the Keras layer {k.describe()} {len(got)}", 0)
        for (suffix, shape), theirs, (_, ds) in zip(mine, got, k.vars):
            if _keras_shape(theirs, shape) != tuple(shape):
                raise _Fail(f"{c.name}.{suffix} has shape {tuple(shape)} in the program, but the Keras layer "
                            f"{k.describe()} holds {theirs}", 0)
            if not _floating(ds) and suffix not in READERS[c.kind].integer:
                raise WeightsError(f"{p}: {c.name}.{suffix} (Keras layer {k.describe()}) is stored as {ds.dtype}, "
                                   f"not floating point", unreadable=True)

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20 * (len(net.nodes) + len(K)) + 1000))
    try:
        try:
            eq(crep[net.output.name], K[krep[graph.output]])
        except _Fail as f:
            raise WeightsError(f"{p}: the Keras model does not match the program: {f.message}") from None
        pairs: dict = {}
        taken: dict = {}
        edges: list = []
        _assign(crep[net.output.name], K[krep[graph.output]], memo, pairs, taken, crep, krep, K, edges)
    finally:
        sys.setrecursionlimit(limit)
    matched = {k.id for k in pairs.values()}   # an adapted Normalization read into a normalize
    skipped = [k for k in _preprocessing(net, graph) if k.id not in matched]
    from .importers.keras.agreement import check_agreement

    check_agreement(net, graph, crep, krep, edges, skipped, p)
    return pairs, skipped


def _preprocessing(net, graph) -> list:
    """The Keras preprocessing layers right after the input (Rescaling, Normalization) that the
    program's own first layers (before any with weights) do not stand for."""
    consumers: dict = {}
    for k in graph.layers.values():
        for i in dict.fromkeys(k.inputs):
            consumers.setdefault(i, []).append(k)
    head, k = [], graph.layers[graph.input]
    while len(consumers.get(k.id, ())) == 1 and consumers[k.id][0].cls in PREPROCESSING:
        k = consumers[k.id][0]
        head.append(k)
    mine, n = set(), net.input
    while len(net.consumers(n)) == 1 and not net.consumers(n)[0].params and not net.consumers(n)[0].spec.joins:
        n = net.consumers(n)[0]
        mine.add(PREPROCESSED_BY.get(n.kind))
    return [k for k in head if k.cls not in mine]


def _assign(c, k, memo, pairs, taken, crep, krep, K, edges):
    """Walk the matched graphs again and record each pair (an Add's inputs in the order that matched),
    and each matched edge into them: (cnnc node, its input index, KLayer, its input index)."""
    stack = [(c, k)]
    seen = set()
    while stack:
        c, k = stack.pop()
        if (c.name, k.id) in seen:
            continue
        seen.add((c.name, k.id))
        if not c.inputs:
            continue
        if c.params:
            if pairs.get(c.name, k) is not k or taken.get(k.id, c.name) != c.name:
                raise WeightsError(f"the Keras model's structure is ambiguous at {c.name}: it could read "
                                   f"{k.describe()} or {pairs.get(c.name, k).describe()}")
            pairs[c.name], taken[k.id] = k, c.name
        mine = [crep[i.name] for i in c.inputs]
        order = list(range(len(k.inputs)))
        theirs = [K[krep[i]] for i in k.inputs]
        if c.spec.joins and len(theirs) == 2 and not JOINS[c.kind].ordered:
            if not isinstance(memo.get((mine[0].name, theirs[0].id)), int) or \
                    not isinstance(memo.get((mine[1].name, theirs[1].id)), int):
                theirs, order = theirs[::-1], order[::-1]
        edges.extend((c, i, k, j) for i, j in enumerate(order))
        stack.extend(zip(mine, theirs))


def _channel_axis(k) -> bool:
    """A Concatenate joins on the last axis (channels), as cnnc's concat does."""
    if "axis" not in k.config:
        return True
    axis = k.config["axis"]
    rank = len(k.in_shapes[0]) if k.in_shapes and isinstance(k.in_shapes[0], list) else None
    return axis == -1 or (rank is not None and axis == rank - 1)


def _keras_shape(theirs, mine) -> tuple:
    """A Keras array's shape as cnnc reads it: a 1x1 Conv2D kernel (1, 1, in, out) is a dense (in, out),
    and a Dense kernel (in, out) on an image a 1x1 conv's (1, 1, in, out)."""
    if len(mine) == 2 and len(theirs) == 4 and theirs[:2] == (1, 1):
        return theirs[2:]
    if len(mine) == 4 and len(theirs) == 2 and tuple(mine[:2]) == (1, 1):
        return (1, 1, *theirs)
    return tuple(theirs)


def _statement(node) -> str:
    from ..layers import statement

    return statement(node)


# --- the arrays ------------------------------------------------------------------------

def _read_arrays(net, graph, pairs, p) -> dict:
    params = {}
    for node in net.layers:
        if not node.params:
            continue
        k = pairs[node.name]
        for (suffix, shape), (_, ds) in zip(node.params.items(), k.vars):
            params[f"{node.name}.{suffix}"] = _array(ds, shape, f"{node.name}.{suffix}", k, p)
    return {name: params[name] for name in net.param_shapes()}


def _bfloat16(ds) -> bool:
    """Keras stores bfloat16 arrays as 2-byte values marked with a `dtype` attribute."""
    return _text(ds.attrs.get("dtype", "")) == "bfloat16" and ds.dtype.itemsize == 2


def _floating(ds) -> bool:
    return ds.dtype.kind == "f" or _bfloat16(ds)


def _array(ds, shape, name, k, p) -> np.ndarray:
    """One array, whose shape and dtype were checked from the directory: read, as float32, finite."""
    bf16 = _bfloat16(ds)
    a = np.asarray(ds[()])
    if bf16:   # bfloat16 is the top half of a float32
        a = (np.ascontiguousarray(a).view(np.uint16).astype(np.uint32) << 16).view(np.float32)
    a = np.asarray(a, dtype=np.float32).reshape(shape)
    if not np.isfinite(a).all():
        raise WeightsError(f"{p}: {name} (Keras layer {k.describe()}) holds NaN or infinite values")
    return a
