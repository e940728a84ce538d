"""The conv, pooling and normalization layers' options against torch.nn with copied
weights: outputs, gradients, running statistics, state-dict names, and construction
errors. The cases are data (CONV2DS, POOLS, ...) and each check a ``*_case`` function
that takes a dtype and a ``compare``: tools/parity_report.py runs the same cases to
measure the differences that these tests bound."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn

torch = pytest.importorskip("torch")
tnn = torch.nn


def close(what, mine, theirs):
    np.testing.assert_allclose(mine, theirs, rtol=1e-7, atol=1e-10, err_msg=what)


def copy_into_torch(module, tmodule):
    mine, theirs = module.state_dict(), tmodule.state_dict()
    assert list(mine) == list(theirs)  # PyTorch's names, in PyTorch's order
    with torch.no_grad():
        for name, t in mine.items():
            theirs[name].copy_(torch.as_tensor(t.numpy()))


def run_both(module, tmodule, x, steps=1, compare=close):
    """``steps`` forward/backward passes of each on the same input in x's dtype (different
    each step); ``compare(what, mine, theirs)`` the outputs ("value"), the input and
    parameter gradients ("grad ..."), and the state dicts ("state ...")."""
    copy_into_torch(module, tmodule)
    rng = np.random.default_rng(0)
    for _ in range(steps):
        xs = (x + rng.standard_normal(x.shape)).astype(x.dtype)
        mine, theirs = cr.tensor(xs, requires_grad=True), torch.tensor(xs, requires_grad=True)
        out, tout = module(mine), tmodule(theirs)
        compare("value", out.numpy(), tout.detach().numpy())
        g = rng.standard_normal(out.shape).astype(x.dtype)
        out.backward(g)
        tout.backward(torch.as_tensor(g))
        compare("grad input", mine.grad.numpy(), theirs.grad.numpy())
        for (name, p), tp in zip(module.named_parameters(), tmodule.parameters()):
            compare(f"grad {name}", p.grad.numpy(), tp.grad.numpy())
    for (name, t), tt in zip(module.state_dict().items(), tmodule.state_dict().values()):
        compare(f"state {name}", t.numpy(), tt.numpy())


def _tdtype(dtype):
    return getattr(torch, np.dtype(dtype).name)


CONV2DS = [
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
CONV1DS = [
    dict(in_channels=4, out_channels=4, kernel_size=3, groups=4, padding="same", dilation=2),
    dict(in_channels=2, out_channels=3, kernel_size=3, stride=2, padding=1,
         padding_mode="reflect"),
    dict(in_channels=2, out_channels=4, kernel_size=2, padding="same",
         padding_mode="circular", groups=2, bias=False),
]


def conv2d_case(kwargs, dtype=np.float64, compare=close):
    cr.manual_seed(0)
    module = nn.Conv2d(**kwargs, dtype=dtype)
    tmodule = tnn.Conv2d(**kwargs, dtype=_tdtype(dtype))
    x = np.random.default_rng(1).standard_normal((2, kwargs["in_channels"], 7, 6))
    run_both(module, tmodule, x.astype(dtype), compare=compare)
    assert (module.bias is None) == (kwargs.get("bias") is False)


def conv1d_case(kwargs, dtype=np.float64, compare=close):
    cr.manual_seed(0)
    module = nn.Conv1d(**kwargs, dtype=dtype)
    tmodule = tnn.Conv1d(**kwargs, dtype=_tdtype(dtype))
    x = np.random.default_rng(1).standard_normal((3, kwargs["in_channels"], 9))
    run_both(module, tmodule, x.astype(dtype), compare=compare)


@pytest.mark.parametrize("kwargs", CONV2DS, ids=str)
def test_conv2d_layer_options_match_torch(kwargs):
    conv2d_case(kwargs)


@pytest.mark.parametrize("kwargs", CONV1DS, ids=str)
def test_conv1d_layer_options_match_torch(kwargs):
    conv1d_case(kwargs)


def test_conv_default_init_follows_the_group_fan_in():
    """fan_in of a grouped weight is in_channels / groups * kh * kw, as PyTorch's."""
    c = nn.Conv2d(8, 8, 3, groups=8)
    assert c.weight.shape == (8, 1, 3, 3)
    bound = 1 / np.sqrt(9)
    assert np.abs(c.weight.numpy()).max() <= bound and np.abs(c.weight.numpy()).max() > 0.8 * bound


POOLS = {  # each built by make(nn) and make(torch.nn)
    "max_ceil": lambda m: m.MaxPool2d(3, 2, padding=1, ceil_mode=True),
    "max_dilation": lambda m: m.MaxPool2d((2, 3), dilation=(2, 1), padding=(1, 1)),
    "avg_ceil_exclude": lambda m: m.AvgPool2d(3, 2, padding=1, ceil_mode=True,
                                              count_include_pad=False),
    "avg_divisor": lambda m: m.AvgPool2d(2, padding=1, divisor_override=3),
    "adaptive_avg": lambda m: m.AdaptiveAvgPool2d((3, None)),
    "adaptive_max": lambda m: m.AdaptiveMaxPool2d(4),
    "upsample_2x": lambda m: m.Upsample(scale_factor=2),
    "upsample_size": lambda m: m.Upsample(size=(5, 9), mode="nearest-exact"),
}
POOLS_1D = {
    "max1d": lambda m: m.MaxPool1d(3, 2, padding=1, ceil_mode=True),
    "avg1d": lambda m: m.AvgPool1d(4, 3, padding=2, count_include_pad=False),
    "upsample1d": lambda m: m.Upsample(scale_factor=1.5),
}


def pool_case(name, dtype=np.float64, compare=close):
    make, shape, seed = ((POOLS[name], (2, 3, 7, 6), 2) if name in POOLS
                         else (POOLS_1D[name], (2, 3, 10), 3))
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    run_both(make(nn), make(tnn), x, compare=compare)


@pytest.mark.parametrize("name", [*POOLS, *POOLS_1D])
def test_pool_and_upsample_layers_match_torch(name):
    pool_case(name)


BATCHNORM1DS = [
    (dict(), (6, 3, 5)),  # (N, C, L): statistics over N and L
    (dict(momentum=None), (6, 3, 5)),  # cumulative average
    (dict(affine=False), (6, 3)),
    (dict(affine=False), (6, 3, 4)),
    (dict(track_running_stats=False), (6, 3, 4)),
    (dict(affine=False, track_running_stats=False, momentum=None), (5, 3)),
]


def batchnorm1d_case(kwargs, shape, dtype=np.float64, compare=close):
    module = nn.BatchNorm1d(3, **kwargs, dtype=dtype)
    tmodule = tnn.BatchNorm1d(3, **kwargs, dtype=_tdtype(dtype))
    x = (np.random.default_rng(4).standard_normal(shape) * 2 + 1).astype(dtype)
    run_both(module, tmodule, x, steps=3, compare=compare)  # running stats over 3 batches
    module.eval()
    tmodule.eval()
    run_both(module, tmodule, x, compare=compare)  # running ones, or the batch's without them
    assert (module.weight is None) == (kwargs.get("affine") is False)


@pytest.mark.parametrize("kwargs, shape", BATCHNORM1DS, ids=str)
def test_batchnorm1d_options_match_torch_in_training_and_eval(kwargs, shape):
    batchnorm1d_case(kwargs, shape)


def batchnorm2d_untracked_case(dtype=np.float64, compare=close):
    """BatchNorm2d(track_running_stats=False) in eval: the batch's statistics."""
    module = nn.BatchNorm2d(2, track_running_stats=False, dtype=dtype).eval()
    tmodule = tnn.BatchNorm2d(2, track_running_stats=False, dtype=_tdtype(dtype)).eval()
    x = np.random.default_rng(5).standard_normal((3, 2, 4, 4)).astype(dtype)
    run_both(module, tmodule, x, compare=compare)
    return module


def test_batchnorm2d_without_running_stats_uses_the_batch_in_eval():
    module = batchnorm2d_untracked_case()
    assert list(module.state_dict()) == ["weight", "bias"]  # no running statistics
    with pytest.raises(ValueError, match="more than one value per channel"):
        nn.BatchNorm1d(3, track_running_stats=False).eval()(cr.randn(1, 3))


NORMS = {  # name: (make, input shape)
    "ln_no_affine": (lambda m: m.LayerNorm(5, elementwise_affine=False), (3, 5)),
    "ln_no_bias": (lambda m: m.LayerNorm((2, 5), bias=False), (3, 2, 5)),
    "ln_eps": (lambda m: m.LayerNorm((4, 3), eps=1e-3), (2, 4, 3)),
    "gn": (lambda m: m.GroupNorm(2, 6), (3, 6, 4, 2)),
    "gn_no_affine": (lambda m: m.GroupNorm(3, 3, affine=False), (2, 3, 5)),
    "gn_one_group": (lambda m: m.GroupNorm(1, 4, eps=1e-2), (2, 4, 3, 3)),
}


def norm_case(name, dtype=np.float64, compare=close):
    make, shape = NORMS[name]
    module, tmodule = make(nn).to(dtype), make(tnn).to(_tdtype(dtype))
    torch.manual_seed(0)
    with torch.no_grad():  # weights away from 1 and 0, so that they are checked too
        for p in tmodule.parameters():
            p.copy_(torch.randn(p.shape, dtype=p.dtype))
    module.load_state_dict({k: v.numpy() for k, v in tmodule.state_dict().items()})
    x = np.random.default_rng(6).standard_normal(shape).astype(dtype)
    run_both(module, tmodule, x, compare=compare)


@pytest.mark.parametrize("name", NORMS)
def test_layernorm_and_groupnorm_match_torch(name):
    norm_case(name)


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
