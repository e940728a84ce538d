"""The conv, pooling and normalization layers' options against torch.nn with copied
weights: outputs, gradients, running statistics, state-dict names, and construction
errors."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn

torch = pytest.importorskip("torch")
tnn = torch.nn


def copy_into_torch(module, tmodule):
    mine, theirs = module.state_dict(), tmodule.state_dict()
    assert list(mine) == list(theirs)  # PyTorch's names, in PyTorch's order
    with torch.no_grad():
        for name, t in mine.items():
            theirs[name].copy_(torch.as_tensor(t.numpy()))


def run_both(module, tmodule, x, steps=1):
    """``steps`` forward/backward passes of each on the same float64 input (different each
    step); outputs, input and parameter gradients, and state dicts must agree."""
    copy_into_torch(module, tmodule)
    rng = np.random.default_rng(0)
    for _ in range(steps):
        xs = x + rng.standard_normal(x.shape)
        mine, theirs = cr.tensor(xs, requires_grad=True), torch.tensor(xs, requires_grad=True)
        out, tout = module(mine), tmodule(theirs)
        np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-7, atol=1e-10)
        g = rng.standard_normal(out.shape)
        out.backward(g)
        tout.backward(torch.as_tensor(g))
        np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=1e-7,
                                   atol=1e-10)
        for (name, p), tp in zip(module.named_parameters(), tmodule.parameters()):
            np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-7,
                                       atol=1e-10, err_msg=name)
    for (name, t), tt in zip(module.state_dict().items(), tmodule.state_dict().values()):
        np.testing.assert_allclose(t.numpy(), tt.numpy(), rtol=1e-7, atol=1e-10,
                                   err_msg=name)


CONVS = [
    dict(in_channels=4, out_channels=6, kernel_size=3, groups=2, dilation=2, padding="same"),
    dict(in_channels=3, out_channels=6, kernel_size=(3, 2), groups=3, stride=(2, 1),
         padding=(1, 0), bias=False),
    dict(in_channels=2, out_channels=3, kernel_size=4, padding="same", padding_mode="reflect"),
    dict(in_channels=2, out_channels=3, kernel_size=3, padding=2, padding_mode="replicate",
         stride=2),
    dict(in_channels=2, out_channels=2, kernel_size=(2, 3), padding=(1, 3),
         padding_mode="circular", dilation=(1, 2)),
    dict(in_channels=2, out_channels=4, kernel_size=3, padding="valid", bias=False),
]


@pytest.mark.parametrize("kwargs", CONVS, ids=str)
def test_conv2d_layer_options_match_torch(kwargs):
    cr.manual_seed(0)
    module = nn.Conv2d(**kwargs, dtype=cr.float64)
    tmodule = tnn.Conv2d(**kwargs, dtype=torch.float64)
    x = np.random.default_rng(1).standard_normal((2, kwargs["in_channels"], 7, 6))
    run_both(module, tmodule, x)
    assert (module.bias is None) == (kwargs.get("bias") is False)


@pytest.mark.parametrize("kwargs", [
    dict(in_channels=4, out_channels=4, kernel_size=3, groups=4, padding="same", dilation=2),
    dict(in_channels=2, out_channels=3, kernel_size=3, stride=2, padding=1,
         padding_mode="reflect"),
    dict(in_channels=2, out_channels=4, kernel_size=2, padding="same",
         padding_mode="circular", groups=2, bias=False),
], ids=str)
def test_conv1d_layer_options_match_torch(kwargs):
    cr.manual_seed(0)
    module = nn.Conv1d(**kwargs, dtype=cr.float64)
    tmodule = tnn.Conv1d(**kwargs, dtype=torch.float64)
    run_both(module, tmodule, np.random.default_rng(1).standard_normal((3, kwargs[
        "in_channels"], 9)))


def test_conv_default_init_follows_the_group_fan_in():
    """fan_in of a grouped weight is in_channels / groups * kh * kw, as PyTorch's."""
    c = nn.Conv2d(8, 8, 3, groups=8)
    assert c.weight.shape == (8, 1, 3, 3)
    bound = 1 / np.sqrt(9)
    assert np.abs(c.weight.numpy()).max() <= bound and np.abs(c.weight.numpy()).max() > 0.8 * bound


@pytest.mark.parametrize("make", [
    lambda m: m.MaxPool2d(3, 2, padding=1, ceil_mode=True),
    lambda m: m.MaxPool2d((2, 3), dilation=(2, 1), padding=(1, 1)),
    lambda m: m.AvgPool2d(3, 2, padding=1, ceil_mode=True, count_include_pad=False),
    lambda m: m.AvgPool2d(2, padding=1, divisor_override=3),
    lambda m: m.AdaptiveAvgPool2d((3, None)),
    lambda m: m.AdaptiveMaxPool2d(4),
    lambda m: m.Upsample(scale_factor=2),
    lambda m: m.Upsample(size=(5, 9), mode="nearest-exact"),
], ids=["max_ceil", "max_dilation", "avg_ceil_exclude", "avg_divisor", "adaptive_avg",
        "adaptive_max", "upsample_2x", "upsample_size"])
def test_pool_and_upsample_layers_match_torch(make):
    x = np.random.default_rng(2).standard_normal((2, 3, 7, 6))
    run_both(make(nn), make(tnn), x)


@pytest.mark.parametrize("make", [
    lambda m: m.MaxPool1d(3, 2, padding=1, ceil_mode=True),
    lambda m: m.AvgPool1d(4, 3, padding=2, count_include_pad=False),
    lambda m: m.Upsample(scale_factor=1.5),
], ids=["max1d", "avg1d", "upsample1d"])
def test_1d_pool_layers_match_torch(make):
    run_both(make(nn), make(tnn), np.random.default_rng(3).standard_normal((2, 3, 10)))


@pytest.mark.parametrize("kwargs, shape", [
    (dict(), (6, 3, 5)),  # (N, C, L): statistics over N and L
    (dict(momentum=None), (6, 3, 5)),  # cumulative average
    (dict(affine=False), (6, 3)),
    (dict(affine=False), (6, 3, 4)),
    (dict(track_running_stats=False), (6, 3, 4)),
    (dict(affine=False, track_running_stats=False, momentum=None), (5, 3)),
], ids=str)
def test_batchnorm1d_options_match_torch_in_training_and_eval(kwargs, shape):
    module = nn.BatchNorm1d(3, **kwargs, dtype=cr.float64)
    tmodule = tnn.BatchNorm1d(3, **kwargs, dtype=torch.float64)
    x = np.random.default_rng(4).standard_normal(shape) * 2 + 1
    run_both(module, tmodule, x, steps=3)  # running statistics over three batches
    module.eval()
    tmodule.eval()
    run_both(module, tmodule, x)  # running ones, or the batch's without them
    assert (module.weight is None) == (kwargs.get("affine") is False)


def test_batchnorm2d_without_running_stats_uses_the_batch_in_eval():
    module = nn.BatchNorm2d(2, track_running_stats=False, dtype=cr.float64).eval()
    tmodule = tnn.BatchNorm2d(2, track_running_stats=False, dtype=torch.float64).eval()
    run_both(module, tmodule, np.random.default_rng(5).standard_normal((3, 2, 4, 4)))
    assert list(module.state_dict()) == ["weight", "bias"]  # no running statistics
    with pytest.raises(ValueError, match="more than one value per channel"):
        nn.BatchNorm1d(3, track_running_stats=False).eval()(cr.randn(1, 3))


@pytest.mark.parametrize("make, shape", [
    (lambda m: m.LayerNorm(5, elementwise_affine=False), (3, 5)),
    (lambda m: m.LayerNorm((2, 5), bias=False), (3, 2, 5)),
    (lambda m: m.LayerNorm((4, 3), eps=1e-3), (2, 4, 3)),
    (lambda m: m.GroupNorm(2, 6), (3, 6, 4, 2)),
    (lambda m: m.GroupNorm(3, 3, affine=False), (2, 3, 5)),
    (lambda m: m.GroupNorm(1, 4, eps=1e-2), (2, 4, 3, 3)),
], ids=["ln_no_affine", "ln_no_bias", "ln_eps", "gn", "gn_no_affine", "gn_one_group"])
def test_layernorm_and_groupnorm_match_torch(make, shape):
    module = make(nn).double()
    tmodule = make(tnn).double()
    with torch.no_grad():  # weights away from 1 and 0, so that they are checked too
        for p in tmodule.parameters():
            p.copy_(torch.randn(p.shape, dtype=torch.float64))
    copy_back = {k: v.numpy() for k, v in tmodule.state_dict().items()}
    module.load_state_dict(copy_back)
    run_both(module, tmodule, np.random.default_rng(6).standard_normal(shape))


LAYER_ERRORS = [
    (lambda: nn.Conv2d(3, 4, 3, groups=2), "in_channels=3 must be divisible by groups=2"),
    (lambda: nn.Conv2d(4, 3, 3, groups=2), "out_channels=3 must be divisible by groups=2"),
    (lambda: nn.Conv2d(4, 4, 3, stride=2, padding="same"),
     "padding='same' is not supported for strided convolutions"),
    (lambda: nn.Conv2d(4, 4, 3, padding=-1), "Conv2d: padding must be an int >= 0"),
    (lambda: nn.Conv2d(4, 4, 3, padding_mode="mirror"), "padding_mode must be one of"),
    (lambda: nn.Conv1d(4, 4, (3, 3)), "Conv1d: kernel_size must be an int >= 1 or a 1-tuple"),
    (lambda: nn.MaxPool2d(2, padding=-1), "MaxPool2d: padding must be an int >= 0"),
    (lambda: nn.GroupNorm(3, 4), r"num_channels \(4\) must be divisible by num_groups \(3\)"),
    (lambda: nn.Conv2d(2, 4, 3, padding=3, padding_mode="reflect")(cr.randn(1, 2, 3, 3)),
     "mode='reflect' needs padding at most 2"),
    (lambda: nn.BatchNorm1d(3)(cr.randn(2, 3, 4, 4)), r"expected \(N, C\) or \(N, C, L\)"),
    (lambda: nn.Upsample(scale_factor=2, mode="bicubic")(cr.randn(1, 1, 2, 2)),
     "mode 'bicubic' is not supported"),
]


@pytest.mark.parametrize("call, message", LAYER_ERRORS, ids=[m for _, m in LAYER_ERRORS])
def test_bad_layer_arguments_get_a_clear_error_with_help(call, message):
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    assert info.match(message)
    assert "help:" in str(info.value)


def test_new_layers_state_dict_names_match_torch():
    def build(m):
        return m.Sequential(m.Conv1d(2, 4, 3, groups=2, bias=False), m.BatchNorm1d(4),
                            m.GroupNorm(2, 4), m.BatchNorm1d(4, affine=False),
                            m.BatchNorm1d(4, track_running_stats=False), m.MaxPool1d(2),
                            m.LayerNorm(3, elementwise_affine=False))

    assert list(build(nn).state_dict()) == list(build(tnn).state_dict())


def test_functional_batch_norm_updates_running_statistics_like_torch():
    import chainrule.nn.functional as F

    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 3, 5)) * 3 + 2
    rm, rv = cr.zeros(3, dtype=cr.float64), cr.ones(3, dtype=cr.float64)
    trm, trv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    version = rm._vc[0]
    y = F.batch_norm(x, rm, rv, training=True, momentum=0.3)
    ty = torch.nn.functional.batch_norm(torch.tensor(x), trm, trv, training=True, momentum=0.3)
    np.testing.assert_allclose(y.numpy(), ty.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(rm.numpy(), trm.numpy(), rtol=1e-12)
    np.testing.assert_allclose(rv.numpy(), trv.numpy(), rtol=1e-12)
    assert rm._vc[0] > version  # written in place: a saved copy of it would be caught
    np.testing.assert_allclose(F.batch_norm(x, rm, rv).numpy(),
                               torch.nn.functional.batch_norm(torch.tensor(x), trm, trv).numpy(),
                               rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="training=False normalises with running_mean"):
        F.batch_norm(x, None, None)
    with pytest.raises(cr.ShapeError, match=r"running_mean has shape \(4,\)"):
        F.batch_norm(x, cr.zeros(4), cr.ones(4), training=True)
