"""nn.functional against torch.nn.functional: shapes drawn by hypothesis, ties and NaN in
max-pooling, second derivatives through conv2d, dropout, dtypes and error messages."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
import chainrule.nn.functional as F

torch = pytest.importorskip("torch")
tf = torch.nn.functional


def _both(arrays):
    """The same float64 arrays as chainrule and torch leaves that require grad."""
    mine = [cr.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    return mine, theirs


def _check_against_torch(fn, tfn, arrays, seed=0, rtol=1e-7, atol=1e-10):
    mine, theirs = _both(arrays)
    out, tout = fn(*mine), tfn(*theirs)
    assert out.shape == tuple(tout.shape)
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=rtol, atol=atol)
    g = np.random.default_rng(seed).standard_normal(out.shape)
    out.backward(g)
    tout.backward(torch.as_tensor(g))
    for m, t in zip(mine, theirs):
        np.testing.assert_allclose(m.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=atol)


@st.composite
def conv_cases(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    h = draw(st.integers(max(1, kh - 2 * ph), 9))
    w = draw(st.integers(max(1, kw - 2 * pw), 9))
    n, c, o = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 4))
    bias = draw(st.booleans())
    square = draw(st.booleans())  # ints as well as pairs
    stride = sh if square and sh == sw else (sh, sw)
    padding = ph if square and ph == pw else (ph, pw)
    return (n, c, h, w), (o, c, kh, kw), bias, stride, padding


@settings(max_examples=40, deadline=None)
@given(conv_cases(), st.integers(0, 2**16))
def test_conv2d_matches_torch_for_any_shape(case, seed):
    xs, ws, bias, stride, padding = case
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(xs), rng.standard_normal(ws)]
    if bias:
        arrays.append(rng.standard_normal(ws[0]))
    _check_against_torch(lambda *a: F.conv2d(*a, stride=stride, padding=padding),
                         lambda *a: tf.conv2d(*a, stride=stride, padding=padding), arrays, seed)


@st.composite
def pool_cases(draw):
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = draw(st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    h, w = draw(st.integers(kh, 8)), draw(st.integers(kw, 8))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), h, w)
    return shape, (kh, kw), stride


@settings(max_examples=40, deadline=None)
@given(pool_cases(), st.integers(0, 2**16), st.booleans())
def test_pooling_matches_torch_for_any_shape(case, seed, ties):
    shape, k, stride = case
    rng = np.random.default_rng(seed)
    # ties=True: few distinct values, so windows tie; the first maximum must win, as torch's
    x = rng.integers(-2, 3, shape).astype(np.float64) if ties else rng.standard_normal(shape)
    _check_against_torch(lambda a: F.max_pool2d(a, k, stride),
                         lambda a: tf.max_pool2d(a, k, stride), [x], seed)
    _check_against_torch(lambda a: F.avg_pool2d(a, k, stride),
                         lambda a: tf.avg_pool2d(a, k, stride), [x], seed)


def test_max_pool_after_relu_routes_ties_like_torch():
    x = np.maximum(np.random.default_rng(0).standard_normal((4, 3, 8, 8)), 0)  # many zeros
    x[0, 0] = 0.0  # whole windows of zeros
    _check_against_torch(lambda a: F.max_pool2d(a, 2), lambda a: tf.max_pool2d(a, 2), [x])
    _check_against_torch(lambda a: F.max_pool2d(a, 3, 1), lambda a: tf.max_pool2d(a, 3, 1), [x])


def test_max_pool_propagates_nan_like_torch():
    x = np.arange(32, dtype=np.float64).reshape(1, 2, 4, 4)
    x[0, 0, 1, 0] = np.nan
    x[0, 1, 0, 2] = x[0, 1, 1, 2] = np.nan  # two in one window: torch routes to the last
    mine, theirs = _both([x])
    out, tout = F.max_pool2d(mine[0], 2), tf.max_pool2d(theirs[0], 2)
    np.testing.assert_array_equal(np.isnan(out.numpy()), np.isnan(tout.detach().numpy()))
    out.sum().backward()
    tout.sum().backward()
    np.testing.assert_array_equal(mine[0].grad.numpy(), theirs[0].grad.numpy())


def test_conv_net_second_derivative_matches_torch():
    """A gradient penalty, ||dL/dW||^2, differentiated again (create_graph) through conv2d,
    max-pooling, avg-pooling and cross-entropy."""
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((2, 2, 6, 6)), rng.standard_normal((3, 2, 3, 3)),
              rng.standard_normal(3)]
    y = np.array([1, 2])

    def penalty(lib, f, x, w, b, target):
        h = f.max_pool2d(f.conv2d(x, w, b, padding=1).tanh(), 2)
        logits = f.avg_pool2d(h, 3).reshape(2, 3)
        loss = f.cross_entropy(logits, target)
        (gw,) = lib(loss, w)
        return (gw * gw).sum()

    def cr_grad(loss, w):
        loss.backward(create_graph=True)  # w.grad is then a tensor with its own graph
        gw, w.grad = w.grad, None
        return (gw,)

    mine, theirs = _both(arrays)
    p = penalty(cr_grad, F, *mine, y)
    tp = penalty(lambda loss, w: torch.autograd.grad(loss, w, create_graph=True), tf,
                 *theirs, torch.as_tensor(y))
    np.testing.assert_allclose(p.item(), tp.item(), rtol=1e-9)
    for t in mine:
        t.grad = None
    p.backward()
    tp.backward()
    for m, t in zip(mine, theirs):
        np.testing.assert_allclose(m.grad.numpy(), t.grad.numpy(), rtol=1e-7, atol=1e-10)


def test_float32_cnn_gradients_stay_float32():
    rng = np.random.default_rng(1)
    x = cr.tensor(rng.standard_normal((2, 1, 8, 8)).astype(np.float32), requires_grad=True)
    w = cr.tensor(rng.standard_normal((4, 1, 3, 3)).astype(np.float32), requires_grad=True)
    b = cr.tensor(np.zeros(4, np.float32), requires_grad=True)
    h = F.max_pool2d(F.relu(F.conv2d(x, w, b, padding=1)), 2)
    h = F.avg_pool2d(F.gelu(h), 2).reshape(2, -1)
    loss = F.cross_entropy(h, np.array([0, 3])) + F.mse_loss(h, np.zeros((2, 16)))
    assert loss.dtype == np.float32
    loss.backward()
    assert {t.grad.dtype for t in (x, w, b)} == {np.dtype(np.float32)}


def test_dropout_mask_scale_seeding_and_identity():
    x = cr.ones(4000, requires_grad=True)
    cr.manual_seed(5)
    y = F.dropout(x, 0.3)
    cr.manual_seed(5)
    np.testing.assert_array_equal(F.dropout(x, 0.3).numpy(), y.numpy())  # the global RNG
    kept = y.numpy() != 0
    assert abs(kept.mean() - 0.7) < 0.03
    np.testing.assert_allclose(y.numpy()[kept], 1 / 0.7, rtol=1e-6)
    assert y.dtype == np.float32
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.numpy())  # the same mask and scale
    assert F.dropout(x, 0.3, training=False) is x
    assert F.dropout(x, 0.0) is x
    with pytest.raises(ValueError, match=r"dropout: p must be in \[0, 1\]"):
        F.dropout(x, 1.5)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_of_huge_logits_matches_torch(reduction):
    x = np.array([[1e4, -1e4, 3e3], [-5e3, 2e4, 2e4], [0.0, 1e-3, -1e4]])
    _check_against_torch(lambda a: F.cross_entropy(a, np.array([1, 2, 0]), reduction),
                         lambda a: tf.cross_entropy(a, torch.tensor([1, 2, 0]),
                                                    reduction=reduction), [x])


def test_bce_with_logits_is_stable_and_matches_torch():
    x = np.array([[-800.0, -30.0, 0.0, 30.0, 800.0]])
    t = np.array([[0.0, 1.0, 0.5, 0.0, 1.0]])
    _check_against_torch(lambda a: F.binary_cross_entropy_with_logits(a, t),
                         lambda a: tf.binary_cross_entropy_with_logits(a, torch.as_tensor(t)),
                         [x])


def test_errors_name_the_op_shapes_and_fix():
    x = cr.randn(32, 128)
    with pytest.raises(cr.ShapeError, match=r"linear: input has 128 features .* weight expects "
                                            r"64 \(weight shape \(10, 64\)\)"):
        F.linear(x, cr.randn(10, 64))
    with pytest.raises(cr.ShapeError, match=r"linear: bias has shape \(3,\)"):
        F.linear(x, cr.randn(10, 128), cr.randn(3))
    with pytest.raises(cr.ShapeError, match=r"conv2d: input has 3 channels .* expects 1"):
        F.conv2d(cr.randn(2, 3, 8, 8), cr.randn(4, 1, 3, 3))
    with pytest.raises(cr.ShapeError, match=r"conv2d: expected x \(N, C, H, W\)"):
        F.conv2d(cr.randn(3, 8, 8), cr.randn(4, 3, 3, 3))
    with pytest.raises(cr.ShapeError, match="kernel is larger than the padded input"):
        F.conv2d(cr.randn(1, 1, 2, 2), cr.randn(1, 1, 3, 3))
    with pytest.raises(ValueError, match="conv2d: stride must be an int >= 1"):
        F.conv2d(cr.randn(1, 1, 4, 4), cr.randn(1, 1, 3, 3), stride=0)
    with pytest.raises(ValueError, match="max_pool2d: kernel_size must be"):
        F.max_pool2d(cr.randn(1, 1, 4, 4), (2, 2, 2))
    with pytest.raises(cr.ShapeError, match="avg_pool2d: window 5x5 is larger"):
        F.avg_pool2d(cr.randn(1, 1, 4, 4), 5)
    with pytest.raises(cr.ShapeError, match=r"mse_loss: prediction \(2, 1\) and target \(2,\)"):
        F.mse_loss(cr.randn(2, 1), np.zeros(2))
    with pytest.raises(IndexError, match="nll_loss: target class -3 is out of range"):
        F.nll_loss(cr.randn(2, 4), np.array([0, -3]))
    with pytest.raises(cr.ShapeError, match="expected 2 targets"):
        F.cross_entropy(cr.randn(2, 4), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="gelu: approximate must be"):
        F.gelu(x, approximate="fast")


def test_mse_loss_keeps_float32_with_float64_targets():
    pred = cr.tensor(np.ones((3, 2), np.float32), requires_grad=True)
    loss = F.mse_loss(pred, np.zeros((3, 2)))  # a float64 target, as NumPy makes them
    assert loss.dtype == np.float32
    loss.backward()
    assert pred.grad.dtype == np.float32
    np.testing.assert_allclose(pred.grad.numpy(), np.full((3, 2), 2 / 6), rtol=1e-6)
