"""The generated numpy module on its own: importable without cnnc, deterministic,
the same numbers as cnnc.compile, readable (a function per group, source lines)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import cnnc
from cnnc.backends import numpy as numpy_backend
from cnnc.runtime.export import export_module
from numeric import another, assert_close, assert_equal

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESNET = os.path.join(ROOT, "examples", "cifar_resnet.cnn")
LENET = os.path.join(ROOT, "examples", "lenet.cnn")

RUN_ALONE = r"""
import sys, json
sys.modules['cnnc'] = None          # importing cnnc now fails: the module must not need it
sys.path[:] = [p for p in sys.path if 'site-packages' in p or p.endswith('.zip') or 'lib/python' in p]
sys.path.insert(0, {folder!r})
import numpy as np
import {name} as m
model = m.load()
x = np.load({x!r}, allow_pickle=False)
np.save({y!r}, model(x))
trace = {{}}
m.forward(model.state, x.astype(np.float32), trace)
print(json.dumps(sorted(trace)))
"""


@pytest.mark.parametrize("path", [LENET, RESNET])
def test_module_runs_without_cnnc_and_matches(tmp_path, path):
    model = cnnc.compile(path, seed=5)
    name = "net_" + os.path.splitext(os.path.basename(path))[0]
    written = export_module(model, tmp_path / f"{name}.py")
    assert [os.path.basename(p) for p in written] == [f"{name}.py", f"{name}.npz"]
    x = np.random.default_rng(0).standard_normal((3, *model.network.input_shape)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    code = RUN_ALONE.format(folder=str(tmp_path), name=name, x=str(tmp_path / "x.npy"), y=str(tmp_path / "y.npy"))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                       env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert r.returncode == 0, r.stderr
    y = np.load(tmp_path / "y.npy")
    assert_equal(y, model(x), other=model(another(x)))
    assert set(json.loads(r.stdout)) == set(model.trace(x))


def test_generated_source_is_deterministic():
    text = open(RESNET).read()
    a = numpy_backend.generate(cnnc.parse(text, filename="r.cnn"))
    b = numpy_backend.generate(cnnc.parse(text, filename="r.cnn"))
    assert a == b
    # and a fresh interpreter (other hash seeds) writes the same bytes
    code = ("import cnnc; from cnnc.backends import numpy as nb; import sys; "
            f"sys.stdout.write(nb.generate(cnnc.parse(open({RESNET!r}).read(), filename='r.cnn')))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={**os.environ, "PYTHONHASHSEED": "123"})
    assert r.returncode == 0, r.stderr
    assert r.stdout == a


def test_one_function_per_group_with_source_lines():
    net = cnnc.parse_file(LENET)
    src = numpy_backend.generate(net)
    # conv+relu+pool fused, dense+relu, dense+softmax: four layer functions
    assert src.count("\ndef layer_") == 4
    assert "# line 3: conv_1 = conv 32 3x3 relu" in src
    assert "# line 4: pool_1 = pool 2" in src
    assert "# line 7: flatten_1 = flatten" in src
    assert "import cnnc" not in src and "from cnnc" not in src
    compile(src, "lenet.py", "exec")


def test_batchnorm_folding_only_when_sound():
    net = cnnc.parse("input 8x8x3\nconv 4 3x3\nbatchnorm\nconv 4 3x3 relu\nbatchnorm\nflatten\ndense 3\nbatchnorm")
    src = numpy_backend.generate(net)
    assert "conv_1 with batchnorm_1 folded in" in src
    assert "dense_1 with batchnorm_3 folded in" in src
    assert "def layer_batchnorm_2(" in src      # after a relu: not foldable
    assert "def layer_batchnorm_1(" not in src


def test_user_names_cannot_break_the_module():
    # layer names that are Python keywords or shadow the module's own names
    text = "input 6x6x1\nnp: conv 2 3x3\nforward: relu\nclass: flatten\nprepare: dense 2\ns: softmax"
    net = cnnc.parse(text)
    model = cnnc.compile(net)
    y = model(np.random.default_rng(0).standard_normal((2, 6, 6, 1)).astype(np.float32))
    assert y.shape == (2, 2)
    assert_close(y.sum(1), np.ones(2), other=y[:, 0], rtol=0, atol=1e-6)   # probabilities, not one of them


def test_comment_text_is_safe(tmp_path):
    # the filename is user text: it may only appear in a comment, made one line
    weird = tmp_path / "evil\nimport os\n.cnn"
    weird.write_text("input 4x4x1; relu")
    src = cnnc.compile(weird).source
    assert "evil import os .cnn" in src and "evil\n" not in src
    compile(src, "x.py", "exec")


def test_options_are_rejected():
    with pytest.raises(cnnc.CnncError, match="no option 'fast'"):
        cnnc.compile(cnnc.parse("input 4x4x1; relu"), fast=True)


def test_numpy_path_never_imports_torch_or_triton(tmp_path):
    code = ("import sys, cnnc, numpy as np; m = cnnc.compile(%r); m(np.zeros((1, 32, 32, 3))); "
            "m.save_weights(%r); print(sorted(k for k in sys.modules if k.split('.')[0] in ('torch', 'triton')))"
            % (RESNET, str(tmp_path / "w.npz")))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_residual_add_fuses_into_the_block_after_its_shortcut():
    net = cnnc.parse("input 8x8x4\nresidual {\n conv 8 3x3 stride=2 padding=same relu\n conv 8 3x3 padding=same\n}"
                     " shortcut { conv 8 1x1 stride=2 }\nrelu")
    src = numpy_backend.generate(net)
    assert "def layer_conv_2(s, x, skip):" in src          # the block's last conv adds the shortcut
    fwd = src[src.index("def forward("):]
    assert fwd.index("layer_conv_3(s,") < fwd.index("layer_conv_2(s,")   # the shortcut runs first
    trace = cnnc.compile(net).trace(np.ones((1, 8, 8, 4), np.float32))
    assert list(trace) == ["input", "conv_1", "conv_3", "relu_1"]
