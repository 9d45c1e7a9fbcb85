"""load_torch refuses torch layers that fit the program's shapes but compute something else:
each weighted module's configuration is compared with the layer it fills (swapped same-shaped
layers, a stride, a padding, an epsilon), and an nn.Sequential's whole run (activations and
pooling included); a difference names both sides. The equivalences load and agree with torch."""

from __future__ import annotations

import numpy as np
import pytest

import cnnc

torch = pytest.importorskip("torch")
nn = torch.nn


def refused(program, module) -> str:
    model = cnnc.compile(cnnc.parse(program))
    before = {k: v.copy() for k, v in model.params.items()}
    with pytest.raises(ValueError) as e:
        model.load_torch(module)
    assert all(np.array_equal(before[k], v) for k, v in model.params.items()), "nothing loads on a refusal"
    return str(e.value)


def test_swapped_same_shaped_layers_are_refused():
    m = nn.Sequential(nn.Conv2d(4, 4, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1))
    msg = refused("input 16x16x4; conv 4 3 padding=1 relu; conv 4 3 stride=2 padding=1", m)
    assert "conv_1" in msg and "torch layer '0'" in msg and "stride=2" in msg, msg


def test_swapped_layers_in_a_custom_module_are_refused():
    class Net(nn.Module):   # registration order is not forward order; only weighted layers compare
        def __init__(self):
            super().__init__()
            self.wide = nn.Conv2d(3, 3, 3, dilation=2)
            self.narrow = nn.Conv2d(3, 3, 3)

        def forward(self, x):
            return self.wide(torch.relu(self.narrow(x)))

    msg = refused("input 12x12x3; conv 3 3 relu; conv 3 3 dilation=2", Net())
    assert "conv_1" in msg and "'wide'" in msg and "dilation" in msg, msg


@pytest.mark.parametrize("module, program, words", [
    (lambda: nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4, eps=1e-5)), "conv 4 3; batchnorm",
     ["batchnorm_1", "eps=0.001", "eps=1e-05"]),
    (lambda: nn.Sequential(nn.Conv2d(3, 4, 3), nn.Tanh()), "conv 4 3 relu", ["conv_1: the program has relu",
                                                                            "(Tanh()) has tanh"]),
    (lambda: nn.Sequential(nn.Conv2d(3, 4, 3), nn.MaxPool2d(3, 1)), "conv 4 3; pool 2 stride=1",
     ["pool_1", "MaxPool2d"]),
    (lambda: nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(144, 2)),
     "conv 4 3; flatten; dense 2", ["torch layer '1' (ReLU()", "no counterpart"]),
    (lambda: nn.Sequential(nn.Conv2d(3, 4, 3, padding=2)), "conv 4 3 padding=1", ["zero padding 1,1,1,1",
                                                                                   "zero padding 2,2,2,2"]),
])
def test_a_difference_names_both_sides(module, program, words):
    msg = refused(f"input 8x8x3; {program}", module())
    for w in words:
        assert w in msg, msg


def test_a_module_from_to_torch_of_another_network_is_refused():
    other = cnnc.compile(cnnc.parse("input 8x8x3; conv 4 3 stride=2"))
    msg = refused("input 8x8x3; conv 4 3", cnnc.bridges.to_torch(other))
    assert "conv_1 is `conv 4 3x3`" in msg and "`conv 4 3x3 stride=2`" in msg, msg


@pytest.mark.parametrize("module, program", [
    # padding='same' is the padding it works out to; Hardswish is hard_swish; Dropout is nothing
    (lambda: nn.Sequential(nn.Conv2d(3, 4, 3, padding="same"), nn.Hardswish(), nn.Dropout(0.2),
                           nn.Conv2d(4, 4, 3, padding=1, groups=4), nn.ReLU6()),
     "conv 4 3 padding=same hard_swish; dwconv 3 padding=same relu6"),
    # ZeroPad2d + a valid conv is integer padding; a global average pool and flatten
    (lambda: nn.Sequential(nn.ZeroPad2d(1), nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                           nn.Linear(4, 2)),
     "conv 4 3 padding=1; globalpool; dense 2"),
])
def test_equivalences_load_and_agree(module, program):
    torch.manual_seed(0)
    m = module().eval()
    model = cnnc.compile(cnnc.parse(f"input 8x8x3; {program}"))
    model.load_torch(m)
    x = np.random.default_rng(1).standard_normal((2, 8, 8, 3)).astype(np.float32)

    def theirs(a):
        with torch.no_grad():
            y = m(torch.from_numpy(a).permute(0, 3, 1, 2)).numpy()
        return y.transpose(0, 2, 3, 1) if y.ndim == 4 else y

    want = theirs(x)
    np.testing.assert_allclose(model(x), want, rtol=1e-4, atol=1e-5)
    assert np.abs(theirs(x * 4 + 1) - want).max() > 100 * (1e-5 + 1e-4 * np.abs(want).max())
