"""`cnnc graph` and `cnnc featuremaps` write valid files; the DOT holds the whole DAG with its shapes."""

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import cnnc
from cnnc.cli import main

pytest.importorskip("matplotlib")

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
PNG = b"\x89PNG\r\n\x1a\n"


def parse_dot(text):
    """A small DOT reader for what to_dot writes: (node ids, [(src, dst, label)])."""
    assert text.startswith("digraph ") and text.rstrip().endswith("}")
    assert text.count("{") == text.count("}")
    q = r'"((?:[^"\\]|\\.)*)"'
    nodes = set(re.findall(rf"^\s*{q} \[label=", text, re.M))
    nodes |= set(re.findall(rf'^\s*{q} \[shape=plaintext', text, re.M))
    edges = re.findall(rf"^\s*{q} -> {q} \[label={q}(?:, style=dashed, color={q})?\];$", text, re.M)
    body = [ln for ln in text.splitlines()[1:-1] if ln.strip()]
    assert len(body) == 3 + len(nodes) + len(edges), "every line is a node, an edge or a default"
    return nodes, [(a, b, lab.strip()) for a, b, lab, _ in edges]


@pytest.mark.parametrize("program", ["lenet.cnn", "inception.cnn", "cifar_resnet.cnn", "unet.cnn",
                                     "keras/mobilenet_v3_small.cnn"])
def test_dot_has_every_node_and_shaped_edge(program):
    from cnnc.pictures import to_dot

    net = cnnc.parse_file(EXAMPLES / program)
    nodes, edges = parse_dot(to_dot(net))
    assert nodes == {n.name for n in net.nodes} | {"output"}
    want = {(i.name, n.name, str(i.out)) for n in net.nodes for i in n.inputs}
    want.add((net.output.name, "output", str(net.output.out)))
    assert set(edges) == want and len(edges) == len(want)


@pytest.mark.parametrize("ext", [".svg", ".png", ".dot"])
def test_graph_command_writes_valid_files(tmp_path, capsys, ext):
    out = tmp_path / f"net{ext}"
    assert main(["graph", str(EXAMPLES / "inception.cnn"), "-o", str(out), "--renderer", "auto"]) == 0
    assert capsys.readouterr().out == f"wrote {out}\n"
    assert os.listdir(tmp_path) == [out.name]   # only the file asked for
    if ext == ".dot":
        parse_dot(out.read_text())
    if ext == ".png":
        assert out.read_bytes()[:8] == PNG
    if ext == ".svg":
        assert ET.parse(out).getroot().tag.endswith("svg")


def test_graph_bad_usage(tmp_path, capsys):
    assert main(["graph", str(EXAMPLES / "lenet.cnn"), "-o", str(tmp_path / "net.gif")]) == 2
    assert ".svg, .png or .dot" in capsys.readouterr().err
    assert main(["graph", str(tmp_path / "none.cnn"), "-o", str(tmp_path / "net.svg")]) == 2


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fm")
    net = tmp / "small.cnn"
    net.write_text("input 8x8x1\nconv 6 3x3 padding=same relu\npool 2\nflatten\ndense 10 softmax\n")
    model = cnnc.compile(str(net), seed=0)
    weights = tmp / "w.safetensors"
    model.save_weights(weights)
    img = np.zeros((8, 8, 1), np.float32)
    img[1:7, 3:5] = 1.0  # a "1"
    np.save(tmp / "one.npy", img)
    return tmp, net, weights, model, img


def test_feature_maps_are_the_layers_output(trained):
    from cnnc.pictures import feature_maps

    _, _, _, model, img = trained
    x = img[None]
    conv = feature_maps(model, x, "conv_1")
    assert conv.shape == (1, 8, 8, 6) and conv.min() >= 0  # after relu
    pooled = conv.reshape(1, 4, 2, 4, 2, 6).max(axis=(2, 4))
    from numeric import another, assert_close

    assert_close(pooled, model.trace(x)["pool_1"], other=model.trace(another(x))["pool_1"], rtol=1e-6, atol=1e-6)
    # by hand: channel k at a pixel is relu(sum of the 3x3 window times the kernel + bias)
    k, b = model.params["conv_1.kernel"], model.params["conv_1.bias"]
    padded = np.pad(img[..., 0], 1)
    want = max(0.0, float((padded[3:6, 2:5] * k[:, :, 0, 2]).sum() + b[2]))
    assert conv[0, 3, 2, 2] == pytest.approx(want, abs=1e-5)


@pytest.mark.parametrize("image", ["npy", "png"])
def test_featuremaps_command_writes_png(trained, capsys, image):
    import matplotlib.pyplot as plt

    tmp, net, weights, _, img = trained
    path = tmp / "one.npy"
    if image == "png":
        path = tmp / "one.png"
        plt.imsave(path, img[..., 0], cmap="gray", vmin=0, vmax=1)
    out = tmp / f"maps_{image}.png"
    rc = main(["featuremaps", str(net), "--weights", str(weights), "--image", str(path), "--layer", "conv_1",
               "-o", str(out)])
    assert rc == 0, capsys.readouterr().err
    assert "6 channels of 8x8" in capsys.readouterr().out
    assert out.read_bytes()[:8] == PNG


@pytest.mark.parametrize("layer, message", [("dense_1", "not an image"), ("conv_9", "no layer 'conv_9'")])
def test_featuremaps_bad_layer(trained, capsys, layer, message):
    tmp, net, weights, _, _ = trained
    rc = main(["featuremaps", str(net), "--weights", str(weights), "--image", str(tmp / "one.npy"),
               "--layer", layer, "-o", str(tmp / "m.png")])
    assert rc == 2 and message in capsys.readouterr().err


def test_featuremaps_wrong_image_shape(trained, capsys):
    tmp, net, weights, _, _ = trained
    np.save(tmp / "big.npy", np.zeros((9, 9, 1)))
    rc = main(["featuremaps", str(net), "--weights", str(weights), "--image", str(tmp / "big.npy"),
               "--layer", "conv_1", "-o", str(tmp / "m.png")])
    assert rc == 2 and "the network takes 8x8x1" in capsys.readouterr().err


def test_missing_matplotlib_is_a_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "matplotlib", None)  # import matplotlib now fails
    rc = main(["graph", str(EXAMPLES / "lenet.cnn"), "-o", str(tmp_path / "net.png"), "--renderer", "matplotlib"])
    err = capsys.readouterr().err
    assert rc == 2 and "pip install 'cnnc[pictures]'" in err and "Traceback" not in err
    assert "-o NAME.dot writes the DOT text without it" in err
    assert not os.listdir(tmp_path)


@pytest.mark.parametrize("program", ["inception.cnn", "cifar_resnet.cnn"])
def test_layout_routes_skip_edges_beside_the_boxes(program):
    from cnnc.pictures import layout

    net = cnnc.parse_file(EXAMPLES / program)
    pos, routes = layout(net)
    rows = {}
    for name, (x, d) in pos.items():
        rows.setdefault(d, []).append(x)
    for n in net.nodes:
        for i in n.inputs:
            assert pos[n.name][1] > pos[i.name][1]            # edges point down
            via = routes[(i.name, n.name)]
            assert len(via) == pos[n.name][1] - pos[i.name][1] - 1
            for k, x in enumerate(via, pos[i.name][1] + 1):  # a skip edge's point never sits on a box
                assert all(abs(x - bx) >= 1 - 1e-9 for bx in rows[k])
    assert any(routes.values())


def test_read_image_refuses_what_is_not_a_plain_numpy_file(tmp_path):
    from cnnc.pictures import read_image

    junk = tmp_path / "junk.npy"
    junk.write_bytes(b"not numpy at all")
    with pytest.raises(ValueError, match="pickled data is never loaded") as e:
        read_image(junk, (4, 4, 1))
    assert "allow_pickle" not in str(e.value)   # numpy's advice to unpickle is not passed on
    archive = tmp_path / "archive.npy"
    with open(archive, "wb") as f:
        np.savez(f, x=np.zeros((4, 4, 1)))
    with pytest.raises(ValueError, match="an .npz archive"):
        read_image(archive, (4, 4, 1))
    good = tmp_path / "good.npz"
    np.savez(good, x=np.ones((4, 4)))
    assert read_image(good, (4, 4, 1)).shape == (1, 4, 4, 1)


def test_graph_never_writes_or_replaces_a_dot_it_was_not_asked_for(tmp_path, capsys):
    dot = tmp_path / "g.dot"
    dot.write_text("my own notes")
    assert main(["graph", str(EXAMPLES / "lenet.cnn"), "-o", str(tmp_path / "g.svg"), "--renderer", "matplotlib"]) == 0
    assert dot.read_text() == "my own notes"
    assert sorted(os.listdir(tmp_path)) == ["g.dot", "g.svg"]


def test_graph_pictures_are_the_same_bytes_every_time(tmp_path, capsys, monkeypatch):
    """No date, no random ids: the same network draws the same file (docs/images stay unchanged)."""
    files = []
    for k in range(2):
        monkeypatch.setenv("SOURCE_DATE_EPOCH", str(1_700_000_000 + 86_400 * k))   # two different days
        out = tmp_path / f"g{k}.svg"
        assert main(["graph", str(EXAMPLES / "inception.cnn"), "-o", str(out), "--renderer", "matplotlib"]) == 0
        files.append(out.read_bytes())
    assert files[0] == files[1]


@pytest.mark.parametrize("ext", [".svg", ".pdf"])
def test_feature_map_pictures_are_the_same_bytes_every_time(tmp_path, monkeypatch, ext):
    from cnnc.pictures import draw_feature_maps

    maps = np.random.default_rng(0).random((6, 6, 4)).astype(np.float32)
    for k, name in enumerate("ab"):
        monkeypatch.setenv("SOURCE_DATE_EPOCH", str(1_700_000_000 + 86_400 * k))
        draw_feature_maps(maps, tmp_path / f"{name}{ext}", title="t")
    assert (tmp_path / f"a{ext}").read_bytes() == (tmp_path / f"b{ext}").read_bytes()
    assert sorted(os.listdir(tmp_path)) == [f"a{ext}", f"b{ext}"]   # no temporary file left


def _featuremaps(trained, image, out="m.png"):
    tmp, net, weights, _, _ = trained
    return main(["featuremaps", str(net), "--weights", str(weights), "--image", str(image), "--layer", "conv_1",
                 "-o", str(tmp / out) if "/" not in out else out])


@pytest.mark.parametrize("content, message", [
    (b"not a png at all", "not a readable PNG image"),
    (PNG + b"\0" * 10, "not a readable PNG image"),
])
def test_featuremaps_a_png_that_is_not_one_is_a_clear_error(trained, capsys, content, message):
    tmp = trained[0]
    fake = tmp / "fake.png"
    fake.write_bytes(content)
    assert _featuremaps(trained, fake) == 2
    err = capsys.readouterr().err
    assert message in err and "internal error" not in err


@pytest.mark.parametrize("shape, message", [
    ((0, 8, 8, 1), "holds no images"),
    ((3, 9, 9, 1), "the image has shape (3, 9, 9, 1), but the network takes 8x8x1"),
])
def test_featuremaps_an_empty_batch_is_a_clear_error(trained, capsys, shape, message):
    tmp = trained[0]
    np.save(tmp / "batch.npy", np.zeros(shape, np.float32))
    assert _featuremaps(trained, tmp / "batch.npy") == 2
    assert message in capsys.readouterr().err


def test_featuremaps_reads_one_image_of_a_large_batch(trained, capsys):
    """Only the first image is read: a file that declares a huge batch costs one image of memory."""
    import io
    import zipfile

    tmp, _, _, model, img = trained
    f = io.BytesIO()
    np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (2 ** 28, 8, 8, 1)})
    with zipfile.ZipFile(tmp / "data.npz", "w") as z:
        z.writestr("x.npy", f.getvalue() + img.astype(np.float32).tobytes())
        z.writestr("y.npy", b"")
    from cnnc.pictures import read_image
    from numeric import another, assert_equal

    assert_equal(read_image(tmp / "data.npz", (8, 8, 1)), img[None], other=another(img[None]))


@pytest.mark.parametrize("n", [3, 70000])
def test_a_fortran_order_batch_gives_its_first_image(tmp_path, n):
    """Any memory layout: the first image of a Fortran-order batch (its values N apart) is
    read in bounded memory, for a few images and for more than a chunk's worth."""
    import tracemalloc

    from cnnc.pictures import read_image
    from numeric import assert_equal

    rng = np.random.default_rng(0)
    batch = np.asfortranarray(rng.standard_normal((n, 4, 3, 2)).astype(np.float32))
    np.save(tmp_path / "f.npy", batch)
    tracemalloc.start()
    try:
        got = read_image(tmp_path / "f.npy", (4, 3, 2))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert got.shape == (1, 4, 3, 2) and peak < 4 << 20
    assert n == 3 or batch.nbytes > 4 << 20      # the large batch would not fit in that bound
    assert_equal(got, batch[:1], other=batch[1:2])


def test_a_fortran_order_header_claiming_a_huge_batch_is_a_truncated_file(tmp_path):
    """It once read the whole declared batch: 'out of memory'. Now one image and a skip."""
    from cnnc.pictures import read_image

    img = np.random.default_rng(0).standard_normal((2, 8, 8, 1)).astype(np.float32)
    with open(tmp_path / "huge.npy", "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": True, "shape": (10 ** 9, 8, 8, 1)})
        f.write(img.tobytes(order="F"))
    with pytest.raises(ValueError, match="cut short"):
        read_image(tmp_path / "huge.npy", (8, 8, 1))


@pytest.mark.parametrize("what", ["program", "weights", "image"])
def test_featuremaps_refuses_to_write_over_an_input(trained, capsys, what, tmp_path):
    import shutil

    tmp, net, weights, _, _ = trained
    # copies with a picture's extension, so that only the input rule stops them
    prog, w, image = tmp_path / "n.cnn", tmp_path / "w.npz", tmp_path / "one.png"
    shutil.copy(net, prog)
    cnnc.compile(str(net), seed=0).save_weights(w)
    import matplotlib.pyplot as plt
    plt.imsave(image, np.zeros((8, 8)), cmap="gray")
    target = {"program": tmp_path / "n.png", "weights": tmp_path / "w.png", "image": image}[what]
    if what == "program":
        os.symlink(prog, target)
    if what == "weights":
        os.symlink(w, target)
    before = target.read_bytes()
    rc = main(["featuremaps", str(prog), "--weights", str(w), "--image", str(image), "--layer", "conv_1",
               "-o", str(target)])
    assert rc == 2 and f"is the {what}; refusing to overwrite it" in capsys.readouterr().err
    assert target.read_bytes() == before


def test_graph_refuses_to_write_over_its_program(tmp_path, capsys):
    prog = tmp_path / "net.dot"
    prog.write_text("input 8x8x1; conv 2 3x3")
    assert main(["graph", str(prog), "-o", str(prog)]) == 2
    assert "is the program; refusing to overwrite it" in capsys.readouterr().err
    assert prog.read_text() == "input 8x8x1; conv 2 3x3"


def test_the_scale_blocks_gate_is_dashed_and_every_new_kind_is_drawn(tmp_path):
    from cnnc.pictures import draw_graph, to_dot

    net = cnnc.parse("input 16x16x4\nzeropad 1\ndwconv 3 stride=2 relu6\nsepconv 8 3 padding=same\n"
                     "se: scale { globalmaxpool; dense 2 relu; dense 8 hard_sigmoid }\n"
                     "deconv 4 2 stride=2\nupsample 2 mode=bilinear\nrescale 0.5\n"
                     "concat { branch { } branch { conv 4 3 padding=same dilation=2 groups=2 bias=false } }")
    dot = to_dot(net)
    dashed = [ln for ln in dot.splitlines() if "style=dashed" in ln]
    assert dashed == ['  "dense_2" -> "se" [label=" 8", style=dashed, color="#b9770e"];']
    assert '"se" [label="se\\nscale: sepconv_1 * dense_2", shape=ellipse' in dot
    for stmt in ("zeropad 1", "dwconv 3x3 stride=2 relu6", "deconv 4 2x2 stride=2", "upsample 2 mode=bilinear",
                 "globalmaxpool", "rescale 0.5", "conv 4 3x3 padding=same dilation=2 groups=2 bias=false"):
        assert stmt in dot, stmt
    written = draw_graph(net, tmp_path / "net.png", use_graphviz=False)
    assert (tmp_path / "net.png").read_bytes()[:8] == PNG and written == [str(tmp_path / "net.png")]
