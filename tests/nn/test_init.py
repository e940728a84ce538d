"""nn.init against torch.nn.init: fans and gains equal to PyTorch's, the statistics of
every random initialiser against PyTorch's formulas, the deterministic ones equal to
PyTorch's, the generator story, and the layers' default init unchanged."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
from chainrule.nn import init

torch = pytest.importorskip("torch")

SHAPES = [(3, 5), (8, 3, 3, 3), (4, 2, 5), (6, 1, 2, 3, 4), (10, 1)]


def test_layers_default_init_is_unchanged():
    """The digest of these layers' initial weights under cr.manual_seed(0), as the code
    before nn.init grew generators drew them."""
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Conv2d(2, 3, 3), nn.Embedding(5, 2),
                          nn.Linear(3, 2, bias=False))
    h = hashlib.sha256()
    for k, v in model.state_dict().items():
        h.update(k.encode())
        h.update(v.numpy().tobytes())
    assert h.hexdigest() == "93906ba1c40c078515a48da38722cdf7fb2083bf97d1f9e75aad9fee25710fa0"


@pytest.mark.parametrize("shape", SHAPES)
def test_fans_equal_pytorchs(shape):
    want = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert init.fans(shape) == want
    assert init._calculate_fan_in_and_fan_out(nn.Parameter(np.zeros(shape))) == want


def test_fans_of_layers_weights_equal_pytorchs():
    for ours, theirs in ((nn.Linear(7, 3), torch.nn.Linear(7, 3)),
                         (nn.Conv2d(4, 6, 5), torch.nn.Conv2d(4, 6, 5)),
                         (nn.Conv2d(2, 8, (3, 1)), torch.nn.Conv2d(2, 8, (3, 1)))):
        assert init.fans(ours.weight.shape) == torch.nn.init._calculate_fan_in_and_fan_out(
            theirs.weight)


GAINS = [("linear", None), ("conv1d", None), ("conv2d", None), ("conv3d", None),
         ("conv_transpose2d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
         ("selu", None), ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", 0),
         ("leaky_relu", 3), ("leaky_relu", math.sqrt(5)), ("leaky_relu", 1e-3)]


@pytest.mark.parametrize("name,param", GAINS)
def test_gains_equal_pytorchs(name, param):
    assert init.calculate_gain(name, param) == torch.nn.init.calculate_gain(name, param)


def _draw(fn, shape, dtype=np.float64, **kw):
    t = nn.Parameter(np.zeros(shape, dtype))
    fn(t, generator=np.random.default_rng(0), **kw)
    return t.numpy()


def _uniform_ok(x, bound):
    """U(-bound, bound): inside it, near both ends, mean 0 and std bound / sqrt(3)."""
    se = bound / math.sqrt(3) / math.sqrt(x.size)
    assert np.abs(x).max() <= bound and np.abs(x).max() > 0.999 * bound
    assert abs(x.mean()) < 5 * se
    assert abs(x.std() - bound / math.sqrt(3)) < 0.01 * bound


def _normal_ok(x, std, mean=0.0):
    assert abs(x.mean() - mean) < 5 * std / math.sqrt(x.size)
    assert abs(x.std() / std - 1) < 0.01


SHAPE = (300, 200, 2)  # fan_in 400, fan_out 600
MODES = ["fan_in", "fan_out"]
NONLINEARITIES = [("leaky_relu", 0.0), ("leaky_relu", math.sqrt(5)), ("relu", 0.0), ("tanh", 0.0)]
XAVIER_GAINS = [1.0, 5 / 3]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("nonlinearity,a", NONLINEARITIES)
def test_kaiming_statistics(mode, nonlinearity, a):
    fan = 400 if mode == "fan_in" else 600
    gain = torch.nn.init.calculate_gain(nonlinearity, a)
    _uniform_ok(_draw(init.kaiming_uniform_, SHAPE, a=a, mode=mode, nonlinearity=nonlinearity),
                gain * math.sqrt(3 / fan))
    _normal_ok(_draw(init.kaiming_normal_, SHAPE, a=a, mode=mode, nonlinearity=nonlinearity),
               gain / math.sqrt(fan))


@pytest.mark.parametrize("gain", XAVIER_GAINS)
def test_xavier_uniform_normal_statistics(gain):
    _uniform_ok(_draw(init.xavier_uniform_, SHAPE, gain=gain), gain * math.sqrt(6 / 1000))
    _normal_ok(_draw(init.xavier_normal_, SHAPE, gain=gain), gain * math.sqrt(2 / 1000))
    _normal_ok(_draw(init.normal_, SHAPE, mean=0.3, std=2.0), 2.0, mean=0.3)
    x = _draw(init.uniform_, SHAPE, a=-0.5, b=0.5)
    _uniform_ok(x, 0.5)


def _truncated_moments(mean, std, a, b):
    """The truncated normal's mean and standard deviation (the textbook formulas)."""
    alpha, beta = (a - mean) / std, (b - mean) / std
    if alpha > 0:  # 1 - cdf loses the upper tail: use the mirror image
        m, s = _truncated_moments(-mean, std, -b, -a)
        return -m, s

    def pdf(z):
        return 0.0 if math.isinf(z) else math.exp(-z * z / 2) / math.sqrt(2 * math.pi)

    def cdf(z):
        return 0.5 * math.erfc(-z / math.sqrt(2))

    z = cdf(beta) - cdf(alpha)
    d = (pdf(alpha) - pdf(beta)) / z
    a_term = 0.0 if math.isinf(alpha) else alpha * pdf(alpha)
    b_term = 0.0 if math.isinf(beta) else beta * pdf(beta)
    var = 1 + (a_term - b_term) / z - d * d
    return mean + std * d, std * math.sqrt(var)


@pytest.mark.parametrize("mean,std,a,b", [
    (0.0, 1.0, -2.0, 2.0), (0.0, 0.02, -0.04, 0.04), (0.0, 1.0, 0.0, math.inf),
    (0.0, 1.0, 1.0, 3.0), (0.0, 1.0, 4.0, 6.0), (0.0, 1.0, -9.0, -7.5), (3.0, 2.0, -1.0, 10.0),
    (0.0, 1.0, 0.5, 0.6), (1.0, 0.5, -math.inf, 0.0), (0.0, 1.0, 8.0, 9.0)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_trunc_normal_statistics_and_bounds(mean, std, a, b, dtype):
    x = _draw(init.trunc_normal_, (400, 500), dtype=dtype, mean=mean, std=std, a=a, b=b)
    assert x.dtype == dtype
    assert x.min() >= dtype(a) and x.max() <= dtype(b)
    m, s = _truncated_moments(mean, std, a, b)
    assert abs(x.mean() - m) < 5 * s / math.sqrt(x.size)
    assert abs(x.std() / s - 1) < 0.01


NDTRI_P = np.concatenate([np.logspace(-300, -1, 500), np.linspace(1e-4, 1 - 1e-4, 5001)])
TRUNC_DRAW = dict(std=0.02, a=-0.04, b=0.04)  # drawn (400, 500) by both libraries
QUANTILES = [0.05, 0.25, 0.5, 0.75, 0.95]


def test_the_normal_quantile_behind_trunc_normal():
    p = NDTRI_P
    want = torch.special.ndtri(torch.tensor(p)).numpy()
    np.testing.assert_allclose(init._normal_quantile(p), want, rtol=1.2e-9, atol=1e-12)


def test_trunc_normal_agrees_with_pytorchs_draws():
    ours = _draw(init.trunc_normal_, (400, 500), **TRUNC_DRAW)
    torch.manual_seed(0)
    theirs = torch.nn.init.trunc_normal_(torch.empty(400, 500, dtype=torch.float64),
                                         **TRUNC_DRAW).numpy()
    assert abs(ours.std() / theirs.std() - 1) < 0.01
    np.testing.assert_allclose(np.quantile(ours, QUANTILES), np.quantile(theirs, QUANTILES),
                               atol=4e-4)


ORTHOGONAL_SHAPES = [(3, 5), (5, 3), (6, 6), (4, 2, 3, 3), (20, 2, 2)]
ORTHOGONAL_GAINS = [1.0, 2.0]


@pytest.mark.parametrize("shape", ORTHOGONAL_SHAPES)
@pytest.mark.parametrize("gain", ORTHOGONAL_GAINS)
def test_orthogonal(shape, gain):
    w = _draw(init.orthogonal_, shape, gain=gain).reshape(shape[0], -1)
    gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    np.testing.assert_allclose(gram, gain ** 2 * np.eye(len(gram)), atol=1e-12)


def test_orthogonal_is_uniform_over_signs():
    """R's diagonal fixes Q's signs: without that, QR's convention would bias the entries."""
    firsts = [_draw_seeded(init.orthogonal_, (4, 4), seed)[0, 0] for seed in range(400)]
    assert abs(np.mean(np.sign(firsts))) < 0.2


def _draw_seeded(fn, shape, seed, **kw):
    t = nn.Parameter(np.zeros(shape))
    return fn(t, generator=np.random.default_rng(seed), **kw).numpy()


SPARSITIES = [0.0, 0.1, 0.5, 1.0]


@pytest.mark.parametrize("sparsity", SPARSITIES)
def test_sparse(sparsity):
    x = _draw(init.sparse_, (50, 400), sparsity=sparsity, std=0.3)
    zeros = math.ceil(sparsity * 50)
    assert ((x == 0).sum(axis=0) == zeros).all()
    if zeros < 50:
        _normal_ok(x[x != 0], 0.3)


EYE_DIRAC = [((3, 5), None), ((5, 3), None), ((4, 4), None), ((4, 3, 5), 1),
             ((6, 4, 3, 3), 2), ((4, 4, 2, 3, 4), 1), ((6, 2, 3, 2), 3)]  # groups None: eye_


@pytest.mark.parametrize("shape,groups", EYE_DIRAC)
def test_eye_and_dirac_equal_pytorchs(shape, groups):
    t = nn.Parameter(np.full(shape, 7.0))
    ref = torch.full(shape, 7.0, dtype=torch.float64)
    if groups is None:
        init.eye_(t)
        torch.nn.init.eye_(ref)
    else:
        init.dirac_(t, groups=groups)
        torch.nn.init.dirac_(ref, groups=groups)
    np.testing.assert_array_equal(t.numpy(), ref.numpy())


def test_constant_ones_zeros_take_pytorchs_names():
    t = nn.Parameter(np.zeros((2, 3), np.float32))
    assert (init.constant_(t, val=0.5).numpy() == 0.5).all()
    assert (init.constant_(t, value=0.25).numpy() == 0.25).all()
    assert (init.ones_(t).numpy() == 1).all() and (init.zeros_(t).numpy() == 0).all()
    assert t.dtype == np.float32


def test_a_generator_draws_reproducibly_and_leaves_the_global_one_alone():
    cr.manual_seed(5)
    expected_next = cr.rand(3).numpy()
    cr.manual_seed(5)
    a = _draw(init.kaiming_normal_, (4, 6))
    b = _draw(init.kaiming_normal_, (4, 6))
    assert (a == b).all()
    assert (cr.rand(3).numpy() == expected_next).all()
    cr.manual_seed(5)
    c = init.kaiming_normal_(nn.Parameter(np.zeros((4, 6)))).numpy()
    assert not (a == c).all()


def test_init_writes_in_place_without_a_graph():
    w = nn.Parameter(np.zeros((3, 4), np.float32))
    before = w._version
    out = init.xavier_uniform_(w)
    assert out is w and w.is_leaf and w.grad_fn is None and w.dtype == np.float32
    assert w._version > before
    y = (w * w).sum()
    init.orthogonal_(w)
    with pytest.raises(cr.BackwardError, match="modified by an inplace operation"):
        y.backward()


def _raises(error, match, fn):
    with pytest.raises(error, match=match) as info:
        fn()
    assert "help:" in str(info.value), str(info.value)


def test_bad_input_is_refused_with_help():
    w = nn.Parameter(np.zeros((4, 3)))
    _raises(TypeError, "NumPy Generator", lambda: init.normal_(w, generator=torch.Generator()))
    _raises(TypeError, "expected a tensor", lambda: init.xavier_uniform_(np.zeros((3, 3))))
    _raises(ValueError, "at least 2 axes", lambda: init.kaiming_uniform_(nn.Parameter(
        np.zeros(3))))
    _raises(ValueError, "mode must be", lambda: init.kaiming_normal_(w, mode="fan"))
    _raises(ValueError, "unknown nonlinearity", lambda: init.calculate_gain("swish"))
    _raises(ValueError, "negative slope", lambda: init.calculate_gain("leaky_relu", True))
    _raises(ValueError, "2 axes", lambda: init.eye_(nn.Parameter(np.zeros((2, 2, 2)))))
    _raises(ValueError, "3 or 4 or 5 axes", lambda: init.dirac_(w))
    _raises(ValueError, "divides", lambda: init.dirac_(nn.Parameter(np.zeros((5, 2, 3))), 2))
    _raises(ValueError, "sparsity", lambda: init.sparse_(w, 1.5))
    _raises(ValueError, "std > 0 and a < b", lambda: init.trunc_normal_(w, a=1.0, b=-1.0))
    _raises(ValueError, "at least 2 axes", lambda: init.orthogonal_(nn.Parameter(np.zeros(3))))
    _raises(TypeError, "give the value once", lambda: init.constant_(w))
