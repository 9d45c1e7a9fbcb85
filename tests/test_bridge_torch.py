"""cnnc <-> PyTorch: to_torch matches the numpy reference, weights round-trip exactly,
a plain nn.Sequential's state_dict imports (with the flatten permute), mismatches are named."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import cnnc

torch = pytest.importorskip("torch")
nn = torch.nn
from numeric import another, assert_close, assert_equal  # noqa: E402

# Every statement of SPEC §1, each padding rule, blocks, activations on images and vectors.
PROGRAMS = {
    "conv_same_stride": "input 9x7x3; conv 4 3x2 stride=2 padding=same relu",
    "conv_same_asym": "input 8x8x2; conv 3 4 stride=2 padding=same sigmoid",
    "conv_int_pad": "input 9x7x3; conv 4 3 stride=2x1 padding=2 tanh",
    "conv_softmax": "input 6x6x3; conv 5 1 softmax",
    "pool_valid": "input 9x7x3; pool 2",
    "pool_same": "input 8x8x2; pool 3 stride=2 padding=same",
    "pool_same_rect": "input 8x7x2; pool 2 stride=2x1 padding=same",
    "pool_int_pad": "input 9x7x3; pool 3 padding=1",
    "avgpool_valid": "input 9x7x3; avgpool 2x3",
    "avgpool_same": "input 8x8x2; avgpool 3 stride=2 padding=same",
    "avgpool_same_s1": "input 6x5x2; avgpool 3 stride=1 padding=same",
    "avgpool_int_pad": "input 9x7x3; avgpool 3 stride=2 padding=1",
    "globalpool_dense": "input 5x5x4; globalpool; dense 3 sigmoid",
    "flatten_dense_dropout": "input 5x4x3; flatten; dense 6 relu; dropout 0.5; dense 3 softmax",
    "batchnorm_image": "input 5x4x3; conv 4 3 padding=same; batchnorm eps=1e-5; relu",
    "batchnorm_vector": "input 5x4x3; flatten; dense 8; batchnorm; tanh; sigmoid; linear; softmax",
    "residual": "input 8x8x4; residual { conv 4 3 padding=same relu; conv 4 3 padding=same }; relu\n"
                "residual { conv 8 3 stride=2 padding=same relu } shortcut { conv 8 1 stride=2 }",
    "concat": "input 8x8x6\nconcat {\n branch { conv 4 1x1 relu }\n branch { conv 3 1 relu; conv 5 3 padding=same relu }\n"
              " branch { pool 3 stride=1 padding=same; conv 2 1 relu }\n}\nglobalpool\ndense 10 softmax",
    "repeat": "input 6x6x2; repeat 2 { conv 2 3 padding=same relu }; flatten; dense 4",
    "lenet": open(__file__.rsplit("/tests/", 1)[0] + "/examples/lenet.cnn").read(),
    # the second edition
    "conv_dilated_grouped": "input 9x9x4; conv 6 3 dilation=2 padding=same groups=2 relu6; "
                            "conv 4 3x2 padding=1 bias=false leaky_relu",
    "conv_dilated_valid": "input 9x8x3; conv 2 2x3 dilation=2x1 elu",
    "dwconv": "input 8x7x3; dwconv 3 stride=2 padding=same multiplier=2 hard_swish; dwconv 3 padding=1 bias=false",
    "dwconv_dilated": "input 9x9x2; dwconv 3 dilation=2 padding=same gelu",
    "sepconv": "input 11x11x3; sepconv 5 3 stride=2 padding=same multiplier=2 silu; sepconv 4 3 dilation=2 bias=false",
    "deconv_same": "input 4x5x3; deconv 4 3 stride=2 padding=same relu; deconv 2 4 stride=2 padding=same",
    "deconv_small_kernel": "input 3x4x2; deconv 3 1 stride=2 padding=same; deconv 2 2x1 stride=3 bias=false hard_sigmoid",
    "deconv_valid": "input 3x3x2; deconv 3 3 stride=2 tanh; deconv 2 2 stride=1x2",
    "upsample": "input 3x4x2; upsample 2; upsample 2x3 mode=bilinear; upsample 3 mode=bilinear",
    "zeropad": "input 4x5x2; zeropad 1; zeropad top=2 right=1; conv 3 3; zeropad 2x1",
    "globalmaxpool": "input 5x6x3; conv 4 3 padding=same; globalmaxpool; dense 2 softmax",
    "rescale": "input 4x4x3; rescale 0.00392; rescale 2 offset=-1; conv 2 1",
    "batchnorm_no_scale_center": "input 5x4x3; conv 4 3 padding=same; batchnorm scale=false; relu; "
                                 "batchnorm center=false eps=1e-5; batchnorm scale=false center=false; "
                                 "flatten; batchnorm scale=false",
    "scale_se": "input 6x6x8; conv 8 1 swish; scale { globalpool; dense 2 relu; dense 8 hard_sigmoid }; "
                "scale { globalmaxpool; dense 8 sigmoid }",
    "softmax_image": "input 4x4x3; conv 5 1; softmax",
    "concat_identity": "input 5x5x3; concat { branch { } branch { conv 2 1 relu } }; "
                       "concat { branch { conv 1 3 padding=same } branch { } }",
}


def random_model(text, seed=0):
    """A compiled numpy model whose every parameter (biases, batchnorm stats too) is random."""
    model = cnnc.compile(cnnc.parse(text), backend="numpy", seed=seed)
    rng = np.random.default_rng(seed + 100)
    params = model.params.copy()
    for name, a in params.items():
        if name.endswith(".var"):
            params[name] = rng.uniform(0.5, 1.5, a.shape).astype(np.float32)
        elif not name.endswith(".kernel"):
            params[name] = (0.5 * rng.standard_normal(a.shape)).astype(np.float32)
    model.set_params(params)
    return model


def batch(model, n=3, seed=1):
    return np.random.default_rng(seed).standard_normal((n, *model.network.input_shape)).astype(np.float32)


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_to_torch_matches_numpy(name):
    model = random_model(PROGRAMS[name])
    x = batch(model)
    module = model.to_torch()
    assert not module.training  # inference form by default
    with torch.no_grad():
        got = module(torch.from_numpy(x)).numpy()
    want = model(x)
    assert got.shape == want.shape
    assert_close(got, want, other=model(another(x)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["batchnorm_image", "residual", "concat", "lenet", "dwconv", "sepconv", "deconv_same",
                                  "conv_dilated_grouped", "batchnorm_no_scale_center", "scale_se"])
def test_weights_round_trip_exactly(name):
    model = random_model(PROGRAMS[name])
    before = model.params.copy()
    other = random_model(PROGRAMS[name], seed=7)
    theirs = other.params.copy()           # what a load that did nothing would leave
    other.load_torch(model.to_torch())
    assert list(other.params) == list(before)
    for k, v in before.items():
        assert other.params[k].dtype == np.float32
        assert_equal(other.params[k], v, other=theirs[k], what=k)


def test_module_trains_with_any_optimizer_and_weights_come_back():
    model = random_model(PROGRAMS["batchnorm_vector"])
    module = model.to_torch()
    names = {n for n, _ in module.named_parameters()}
    assert {"layers.dense_1.weight", "layers.dense_1.bias", "layers.batchnorm_1.weight"} <= names
    opt = torch.optim.SGD(module.parameters(), lr=0.1)
    x = torch.from_numpy(batch(model, 8))
    y = torch.arange(8) % 8
    module.train()
    for _ in range(3):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(module.logits(x), y)
        loss.backward()
        assert all(p.grad is not None for p in module.parameters())
        opt.step()
    module.eval()
    model.load_torch(module)
    with torch.no_grad():
        assert_close(model(x.numpy()), module(x).numpy(), other=module(torch.from_numpy(another(x.numpy()))).numpy(),
                     rtol=1e-5, atol=1e-5)


def test_train_mode_uses_batch_statistics_and_dropout():
    model = random_model("input 4x4x2; conv 3 1; batchnorm; flatten; dropout 0.5; dense 2")
    module = model.to_torch()
    bn = module.module("batchnorm_1")
    x = torch.from_numpy(batch(model, 16)) * 3 + 2
    mean0 = bn.running_mean.clone()
    module.train()
    torch.manual_seed(0)
    a = module(x)
    b = module(x)
    assert not torch.allclose(a, b)                     # dropout is active
    assert not torch.allclose(bn.running_mean, mean0)   # running stats update like nn.BatchNorm2d
    module.eval()
    assert torch.equal(module(x), module(x))


def test_logits_drop_only_the_final_softmax():
    model = random_model(PROGRAMS["flatten_dense_dropout"])
    module = model.to_torch()
    x = torch.from_numpy(batch(model))
    with torch.no_grad():
        assert_close(torch.softmax(module.logits(x), 1).numpy(), module(x).numpy(),
                     other=module(torch.from_numpy(another(x.numpy()))).numpy(), rtol=0, atol=1e-6)


def lenet_sequential(bn=False):
    torch.manual_seed(0)
    layers = [nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU()]
    if bn:
        layers.append(nn.BatchNorm2d(64, eps=1e-3))
    layers += [nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1600, 64), nn.ReLU()]
    if bn:
        layers.append(nn.BatchNorm1d(64, eps=1e-3))
    layers += [nn.Linear(64, 10), nn.Softmax(dim=1)]
    seq = nn.Sequential(*layers)
    with torch.no_grad():  # non-trivial biases and statistics, so a wrong mapping shows
        for m in seq.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.bias.normal_(0, 0.1)
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.weight.uniform_(0.5, 1.5); m.bias.normal_(); m.running_mean.normal_(); m.running_var.uniform_(0.5, 2)
    return seq.eval()


LENET_BN = ("input 28x28x1; conv 32 3x3 relu; pool 2; conv 64 3x3 relu; batchnorm; pool 2; flatten; "
            "dense 64 relu; batchnorm; dense 10 softmax")


@pytest.mark.parametrize("bn", [False, True], ids=["lenet", "lenet_batchnorm"])
@pytest.mark.parametrize("as_state_dict", [False, True], ids=["module", "state_dict"])
def test_plain_sequential_imports_with_flatten_permute(bn, as_state_dict):
    seq = lenet_sequential(bn)
    model = cnnc.compile(cnnc.parse(LENET_BN if bn else PROGRAMS["lenet"]), seed=0)
    model.load_torch(seq.state_dict() if as_state_dict else seq)
    x = batch(model, 4)
    with torch.no_grad():
        want = seq(torch.from_numpy(x).permute(0, 3, 1, 2)).numpy()
        other = seq(torch.from_numpy(another(x)).permute(0, 3, 1, 2)).numpy()
    assert_close(model(x), want, other=other, rtol=1e-5, atol=1e-6)
    assert_equal(model.params["conv_1.kernel"], seq[0].weight.detach().numpy().transpose(2, 3, 1, 0),
                 other=seq[3].weight.detach().numpy()[:32, :1].transpose(2, 3, 1, 0))


def test_flatten_permute_is_needed():
    """Without the permute the dense kernel would be wrong: the rows really move."""
    seq = lenet_sequential()
    model = cnnc.compile(cnnc.parse(PROGRAMS["lenet"]), seed=0)
    model.load_torch(seq)
    plain = seq[7].weight.detach().numpy().T
    assert not np.array_equal(model.params["dense_1.kernel"], plain)
    # row (h, w, c) of cnnc's kernel is torch's column (c, h, w)
    h, w, c = 2, 3, 17
    assert_equal(model.params["dense_1.kernel"][(h * 5 + w) * 64 + c], plain[c * 25 + h * 5 + w],
                 other=plain[(h * 5 + w) * 64 + c])


# chains of layers that keep the features (flatten of a vector, dropout, activations,
# batchnorm) between the image and the dense: the dense rows still come from C, H, W order
SHAPE_ONLY_CHAINS = [
    ("flatten; flatten", [nn.Flatten(), nn.Flatten()]),
    ("flatten; dropout 0.5; flatten", [nn.Flatten(), nn.Dropout(0.5), nn.Flatten()]),
    ("relu; flatten; dropout 0.2; sigmoid; flatten", [nn.ReLU(), nn.Flatten(), nn.Dropout(0.2), nn.Sigmoid(),
                                                     nn.Flatten()]),
    ("dropout 0.1; flatten; batchnorm eps=1e-5; flatten; tanh", [nn.Dropout(0.1), nn.Flatten(), nn.BatchNorm1d(36),
                                                        nn.Flatten(), nn.Tanh()]),
]


@pytest.mark.parametrize("chain, torch_layers", SHAPE_ONLY_CHAINS, ids=[c for c, _ in SHAPE_ONLY_CHAINS])
def test_shape_only_layers_between_image_and_dense_keep_the_permute(chain, torch_layers):
    from numeric import another, assert_close, torch_calibrate

    torch.manual_seed(0)
    seq = nn.Sequential(nn.Conv2d(3, 4, 3), *torch_layers, nn.Linear(36, 6))
    x = np.random.default_rng(0).standard_normal((4, 5, 5, 3)).astype(np.float32)
    torch_calibrate(seq, torch.from_numpy(x).permute(0, 3, 1, 2))
    model = cnnc.compile(cnnc.parse(f"input 5x5x3; conv 4 3; {chain}; dense 6"), seed=0)
    model.load_torch(seq)

    def want(x):
        with torch.no_grad():
            return seq(torch.from_numpy(x).permute(0, 3, 1, 2)).numpy()
    assert_close(model(x), want(x), other=want(another(x)), rtol=1e-5, atol=1e-6)


def test_shape_mismatch_names_layer_and_both_shapes():
    model = cnnc.compile(cnnc.parse(PROGRAMS["lenet"]), seed=0)
    seq = nn.Sequential(nn.Conv2d(1, 16, 3), nn.Conv2d(16, 64, 3), nn.Flatten(), nn.Linear(1600, 64), nn.Linear(64, 10))
    with pytest.raises(ValueError) as e:
        model.load_torch(seq.state_dict())
    msg = str(e.value)
    assert "conv_1" in msg and "(16, 1, 3, 3)" in msg and "(32, 1, 3, 3)" in msg


def test_layer_count_mismatch_is_named():
    model = cnnc.compile(cnnc.parse(PROGRAMS["lenet"]), seed=0)
    seq = nn.Sequential(nn.Conv2d(1, 32, 3), nn.Flatten(), nn.Linear(1600, 10))
    with pytest.raises(ValueError, match=r"2 conv layer\(s\) \(conv_1, conv_2\).*1 Conv2d"):
        model.load_torch(seq)


def test_keras_layout_npz_imports(tmp_path):
    """A Keras-layout .npz written by another tool (plain np.savez) loads with load_weights."""
    source = random_model(PROGRAMS["batchnorm_image"], seed=3)
    path = tmp_path / "keras.npz"
    np.savez(path, **{k: np.asarray(v, dtype=np.float64) for k, v in source.params.items()})
    model = cnnc.compile(cnnc.parse(PROGRAMS["batchnorm_image"]), seed=0)
    model.load_weights(path)
    x = batch(model)
    assert_close(model(x), source(x), other=source(another(x)), rtol=1e-6, atol=1e-6)
    with torch.no_grad():
        assert_close(model.to_torch()(torch.from_numpy(x)).numpy(), source(x), other=source(another(x)),
                     rtol=1e-5, atol=1e-5)


def test_wrong_input_shape_is_a_value_error():
    module = random_model(PROGRAMS["lenet"]).to_torch()
    with pytest.raises(ValueError, match=r"\(N, 28, 28, 1\)"):
        module(torch.zeros(28, 28, 1))


@settings(max_examples=25, deadline=None, derandomize=True)
@given(kind=st.sampled_from(["conv", "pool", "avgpool"]), h=st.integers(3, 9), w=st.integers(3, 9),
       k=st.integers(1, 3), s=st.integers(1, 3), pad=st.sampled_from(["valid", "same", 0, 1, 2]))
def test_windows_match_numpy(kind, h, w, k, s, pad):
    head = "conv 3" if kind == "conv" else kind
    text = f"input {h}x{w}x2; {head} {k} stride={s} padding={pad}"
    try:
        model = random_model(text)
    except cnnc.CnncError:
        return  # the image collapses: nothing to compare
    x = batch(model, 2)
    with torch.no_grad():
        got = model.to_torch()(torch.from_numpy(x)).numpy()
    assert_close(got, model(x), other=model(another(x)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("text", [PROGRAMS["lenet"], "input 4x4x3; conv 2 1; flatten; batchnorm; relu; dense 3",
                                  PROGRAMS["sepconv"], PROGRAMS["deconv_same"], PROGRAMS["batchnorm_no_scale_center"],
                                  PROGRAMS["dwconv"]],
                         ids=["lenet", "flatten_batchnorm", "sepconv", "deconv", "batchnorm_no_scale_center", "dwconv"])
def test_state_dict_of_to_torch_module_round_trips(tmp_path, text):
    """torch.save(module.state_dict()) and back: no flatten permute on cnnc's own dense kernels,
    nor on a batchnorm right after a flatten."""
    model = random_model(text)
    path = tmp_path / "m.pt"
    torch.save(model.to_torch().state_dict(), path)
    other = random_model(text, seed=5)
    theirs = other.params.copy()
    other.load_torch(torch.load(path))
    for k, v in model.params.items():
        assert_equal(other.params[k], v, other=theirs[k], what=k)


def test_layer_names_that_clash_with_torch_attributes():
    model = random_model("input 6x6x1; training: conv 2 3 relu; keys: pool 2; train: relu; flatten; forward: dense 3")
    module = model.to_torch()
    x = batch(model)
    with torch.no_grad():
        assert_close(module(torch.from_numpy(x)).numpy(), model(x), other=model(another(x)), rtol=1e-5, atol=1e-5)
    assert module.train() is module and module.training and not module.eval().training   # the methods still work
    other = random_model("input 6x6x1; training: conv 2 3 relu; keys: pool 2; train: relu; flatten; forward: dense 3",
                         seed=2)
    theirs = other.params["forward.kernel"].copy()
    other.load_torch(module.state_dict())
    assert_equal(other.params["forward.kernel"], model.params["forward.kernel"], other=theirs)


def test_batchnorm_between_flatten_and_dense_is_permuted_too():
    """BatchNorm1d right after nn.Flatten also sees C, H, W order: its four vectors move with the dense rows."""
    torch.manual_seed(1)
    seq = nn.Sequential(nn.Conv2d(2, 3, 3), nn.Flatten(), nn.BatchNorm1d(27, eps=1e-3), nn.ReLU(), nn.Dropout(0.2),
                        nn.Linear(27, 4))
    with torch.no_grad():
        bn = seq[2]
        bn.weight.uniform_(0.5, 1.5); bn.bias.normal_(); bn.running_mean.normal_(); bn.running_var.uniform_(0.5, 2)
    seq.eval()
    model = cnnc.compile(cnnc.parse("input 5x5x2; conv 3 3; flatten; batchnorm; relu; dropout 0.2; dense 4"))
    model.load_torch(seq)
    x = batch(model)
    with torch.no_grad():
        want = seq(torch.from_numpy(x).permute(0, 3, 1, 2)).numpy()
        other = seq(torch.from_numpy(another(x)).permute(0, 3, 1, 2)).numpy()
    assert_close(model(x), want, other=other, rtol=1e-5, atol=1e-5)


TORCH_NAMES = ("input 8x8x3; c1: conv 4 3 stride=2 padding=same relu; pool 3 stride=2 padding=same; "
               "avgpool 2 stride=1 padding=same; residual { conv 4 3 padding=same relu; conv 4 3 padding=same; "
               "batchnorm }; dropout 0.2; globalpool; dense 5 softmax")


def test_every_layer_is_a_real_torch_module_under_its_name():
    model = random_model(TORCH_NAMES)
    module = model.to_torch()
    want = {"c1": nn.Conv2d, "pool_1": nn.MaxPool2d, "avgpool_1": nn.AvgPool2d, "conv_1": nn.Conv2d,
            "conv_2": nn.Conv2d, "batchnorm_1": nn.BatchNorm2d, "dropout_1": nn.Dropout, "dense_1": nn.Linear}
    assert list(module.layers) == [n.name for n in model.network.layers]
    for name, cls in want.items():
        assert isinstance(module.layers[name], cls), name
    text = str(module)
    assert "(c1): Conv2d(\n      3, 4, kernel_size=(3, 3), stride=(2, 2)" in text
    assert "(pad): ZeroPad2d((0, 1, 0, 1))" in text and "(activation): ReLU()" in text   # TF same: 1 at the bottom/right
    assert "(conv_1): Conv2d(\n      4, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1)" in text  # symmetric: torch's own
    assert "(activation): Softmax(dim=1)" in text and "(residual_1): Add()" in text


def test_hooks_see_each_layers_output_and_parameter_groups_work():
    model = random_model(TORCH_NAMES)
    module = model.to_torch()
    seen = {}
    for name in ("c1", "batchnorm_1", "residual_1", "dense_1"):
        module.layers[name].register_forward_hook(lambda m, args, out, name=name: seen.__setitem__(name, out))
    x = torch.from_numpy(batch(model))
    with torch.no_grad():
        other = module.activations(torch.from_numpy(another(x.numpy())))
        want = module.activations(x)          # last: the hooks keep what x gives
    for name, out in seen.items():
        got = out.permute(0, 2, 3, 1) if out.dim() == 4 else out
        assert_equal(got, want[name], other=other[name], what=name)
    frozen = module.layers["c1"].weight.detach().clone()
    opt = torch.optim.SGD([{"params": module.layers["c1"].parameters(), "lr": 0.0},
                           {"params": [p for n, p in module.named_parameters() if not n.startswith("layers.c1.")]}],
                          lr=0.1)
    module.train()
    module.logits(x).square().sum().backward()
    opt.step()
    assert torch.equal(module.layers["c1"].weight, frozen)


def test_module_moves_like_any_torch_module():
    """.double(), .to(...), torchinfo: nn.Module's own methods are not shadowed."""
    model = random_model(TORCH_NAMES)
    x = batch(model)
    module = model.to_torch().double()
    with torch.no_grad():
        y = module(torch.from_numpy(x))
    assert y.dtype == torch.float64
    assert_close(y.numpy(), model(x), other=model(another(x)), rtol=1e-5, atol=1e-5)
    module.to(torch.float32)
    torchinfo = pytest.importorskip("torchinfo")
    stats = torchinfo.summary(module, input_size=(2, 8, 8, 3), verbose=0)
    assert stats.total_params == model.network.trainable_params   # torchinfo counts parameters, not buffers
    assert "Conv2d" in str(stats) and "BatchNorm2d" in str(stats)


SECOND_EDITION_TORCH = ("input 6x6x3; dwconv 3 padding=1 multiplier=2 relu6; sepconv 8 3; deconv 4 2 stride=2; "
                        "conv 4 3 dilation=2 padding=2 groups=2 bias=false; batchnorm scale=false center=false eps=1e-5")


def second_edition_sequential():
    torch.manual_seed(3)
    seq = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1, groups=3), nn.ReLU6(),
                        nn.Conv2d(6, 6, 3, groups=6, bias=False), nn.Conv2d(6, 8, 1),
                        nn.ConvTranspose2d(8, 4, 2, stride=2),
                        nn.Conv2d(4, 4, 3, padding=2, dilation=2, groups=2, bias=False),
                        nn.BatchNorm2d(4, affine=False))
    with torch.no_grad():
        seq[-1].running_mean.normal_(); seq[-1].running_var.uniform_(0.5, 2)
    return seq.eval()


@pytest.mark.parametrize("as_state_dict", [False, True], ids=["module", "state_dict"])
def test_plain_network_of_second_edition_layers_imports(as_state_dict):
    """groups=C convs are dwconv, a depthwise + 1x1 pair is a sepconv, ConvTranspose2d a deconv."""
    seq = second_edition_sequential()
    model = cnnc.compile(cnnc.parse(SECOND_EDITION_TORCH), seed=0)
    model.load_torch(seq.state_dict() if as_state_dict else seq)
    x = batch(model, 2)
    with torch.no_grad():
        want = seq(torch.from_numpy(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).numpy()
        other = seq(torch.from_numpy(another(x)).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).numpy()
    assert_close(model(x), want, other=other, rtol=1e-5, atol=1e-5)


def test_a_bias_the_program_does_not_have_must_be_zero():
    seq = second_edition_sequential()
    with torch.no_grad():
        seq[5].bias = nn.Parameter(torch.ones(4))   # the program says bias=false
    model = cnnc.compile(cnnc.parse(SECOND_EDITION_TORCH), seed=0)
    with pytest.raises(ValueError, match=r"conv_1 has no bias .* torch layer '5' has a bias that is not all 0"):
        model.load_torch(seq)
    seq = second_edition_sequential()
    model = cnnc.compile(cnnc.parse(SECOND_EDITION_TORCH.replace("sepconv 8 3", "sepconv 8 3; sepconv 8 1")), seed=0)
    with pytest.raises(ValueError, match=r"dwconv/sepconv/deconv/conv layer\(s\) .* a sepconv reads two"):
        model.load_torch(seq)


@pytest.mark.parametrize("source", ["plain", "cnnc_module", "cnnc_state_dict"])
def test_complex_weights_are_refused_named(source):
    """A complex tensor once lost its imaginary part on the way to float32, silently."""
    model = cnnc.compile(cnnc.parse(LENET_BN), seed=0)
    before = model.params.copy()
    if source == "plain":
        sd = lenet_sequential(bn=True).state_dict()
        key = "3.weight"
    else:
        sd = model.to_torch().state_dict()
        key = next(k for k in sd if k.endswith("weight"))
    sd[key] = sd[key].to(torch.complex64)
    what = sd
    if source == "cnnc_module":
        module = model.to_torch()
        getattr(module.layers, key.split(".")[1]).weight = nn.Parameter(sd[key])
        what = module
    with pytest.raises(ValueError, match=rf"'{key}' holds complex numbers"):
        model.load_torch(what)
    assert all(np.array_equal(model.params[k], v) for k, v in before.items())   # nothing loaded


@pytest.mark.parametrize("source", ["plain", "cnnc_module"])
def test_negative_batchnorm_variance_is_refused_named(source):
    model = cnnc.compile(cnnc.parse(LENET_BN), seed=0)
    if source == "plain":
        what = lenet_sequential(bn=True)
        bn = what[5]
    else:
        what = model.to_torch()
        bn = what.layers.batchnorm_1
    with torch.no_grad():
        bn.running_var[3] = -0.5
    with pytest.raises(ValueError, match=r"batchnorm_1\.var \(the BatchNorm's running_var\) has negative values "
                                         r"\(the smallest is -0\.5\)"):
        model.load_torch(what)


def test_to_torch_parameters_have_standard_strides():
    """DDP compares the gradients' strides with its buckets': a (1, 108) weight made by a
    transpose kept strides (1, 1), which torch calls contiguous, and DDP warned
    "grad strides do not match bucket view strides"."""
    model = random_model("input 6x6x3; conv 4 1; dwconv 3 padding=same; sepconv 5 3; deconv 2 1 stride=2; conv 3 3; "
                         "batchnorm; flatten; dense 1; dense 2")

    def standard(shape):
        strides = [1] * len(shape)
        for i in range(len(shape) - 2, -1, -1):
            strides[i] = strides[i + 1] * shape[i + 1]
        return tuple(strides)
    bad = [(n, tuple(p.shape), p.stride()) for n, p in model.to_torch().named_parameters()
           if p.stride() != standard(tuple(p.shape))]
    assert bad == []
