"""The losses' default calls stay bitwise what they were before their options existed.

The README's measured accuracies rest on these paths (cross_entropy with class targets,
no weight, no smoothing, nothing ignored; nll_loss, mse_loss and
binary_cross_entropy_with_logits without options). Each is compared with np.array_equal,
value and gradient, float32 and float64, every reduction, against a copy of the code as it
was (ops/loss.py and nn/functional.py at commit 3e87a20), evaluated on the same inputs.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F

REDUCTIONS = ("mean", "sum", "none")
DTYPES = (np.float32, np.float64)


# --- the code as it was: forward and vjp on arrays ----------------------------------------


def cross_entropy_then(x, t, reduction, g):
    n = x.shape[0]
    rows = np.arange(n)
    m = x.max(axis=1, keepdims=True)
    shifted = x - m
    e = np.exp(shifted)
    s = e.sum(axis=1, keepdims=True)
    losses = np.log(s[:, 0]) - shifted[rows, t]
    p = e / s
    if reduction == "none":
        value = losses
    else:
        total = losses.sum()
        value = total / n if reduction == "mean" else total
    d = p.copy()
    d[np.arange(n), t] -= 1
    if reduction == "none":
        return value, d * g.reshape(n, 1)
    return value, d * (g / n if reduction == "mean" else g)


def mse_then(p, t, reduction, g):
    d = p - t
    if reduction == "none":
        value = d * d
    else:
        total = np.vdot(d, d)
        value = total / d.size if reduction == "mean" else total
    scale = g * (2.0 / d.size) if reduction == "mean" else g * 2.0
    dp = d * scale
    return value, dp, -dp


def bce_with_logits_then(x, t, reduction, g):
    from chainrule.ops import generic

    losses = np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))
    if reduction == "none":
        value = losses
    else:
        total = losses.sum()
        value = total / losses.size if reduction == "mean" else total
    d = generic.sigmoid(x) - t
    return value, (d * (g / x.size) if reduction == "mean" else d * g)


def nll_then(log_probs, t, reduction):
    """nll_loss was a composition: the same ops, called as it called them."""
    picked = -log_probs[np.arange(len(t)), t]
    if reduction == "mean":
        return picked.mean()
    return picked.sum() if reduction == "sum" else picked


# --- the comparisons -----------------------------------------------------------------------


def _seed(shape, dtype):
    return np.random.default_rng(7).standard_normal(shape).astype(dtype)


def _same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype, (a.dtype, b.dtype)
    assert np.array_equal(a, b), np.abs(a.astype(np.float64) - b).max()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("call", ["F", "module", "int32_tensor_targets"])
def test_cross_entropy_default_path_is_bitwise_unchanged(dtype, reduction, call):
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((37, 10)) * 3).astype(dtype)
    t = rng.integers(0, 10, 37)
    logits = cr.tensor(x, requires_grad=True)
    if call == "F":
        loss = F.cross_entropy(logits, t, reduction=reduction)
    elif call == "module":
        loss = nn.CrossEntropyLoss(reduction=reduction)(logits, t)
    else:
        loss = F.cross_entropy(logits, cr.tensor(t.astype(np.int32)), reduction=reduction)
    assert loss.grad_fn.name == "CrossEntropy"  # the original primitive, not a new path
    g = _seed(loss.shape, dtype)
    loss.backward(g)
    value, grad = cross_entropy_then(x, t, reduction, g)
    _same(loss.numpy(), value)
    _same(logits.grad.numpy(), grad)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("target_grad", [False, True])
def test_mse_loss_default_path_is_bitwise_unchanged(dtype, reduction, target_grad):
    rng = np.random.default_rng(2)
    p, t = rng.standard_normal((13, 7)).astype(dtype), rng.standard_normal((13, 7))
    pred = cr.tensor(p, requires_grad=True)
    # a float64 NumPy target is cast to the prediction's dtype, as it was
    target = cr.tensor(t.astype(dtype), requires_grad=True) if target_grad else t
    loss = (nn.MSELoss(reduction) if target_grad else
            lambda a, b: F.mse_loss(a, b, reduction))(pred, target)
    g = _seed(loss.shape, dtype)
    loss.backward(g)
    value, dp, dt = mse_then(p, t.astype(dtype), reduction, g)
    _same(loss.numpy(), value)
    _same(pred.grad.numpy(), dp)
    if target_grad:
        _same(target.grad.numpy(), dt)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_default_path_is_bitwise_unchanged(dtype, reduction):
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((13, 7)) * 5).astype(dtype)
    t = (rng.random((13, 7)) > 0.5).astype(np.float64)
    logits = cr.tensor(x, requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(logits, t, reduction=reduction)
    assert loss.grad_fn.name == "BCEWithLogits"
    g = _seed(loss.shape, dtype)
    loss.backward(g)
    value, grad = bce_with_logits_then(x, t.astype(dtype), reduction, g)
    _same(loss.numpy(), value)
    _same(logits.grad.numpy(), grad)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_default_path_is_bitwise_unchanged(dtype, reduction):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((11, 6)).astype(dtype)
    t = rng.integers(0, 6, 11)
    results = []
    for fn in (lambda lp: F.nll_loss(lp, t, reduction=reduction),
               lambda lp: nll_then(lp, t, reduction)):
        logits = cr.tensor(x, requires_grad=True)
        loss = fn(F.log_softmax(logits, axis=1))
        loss.backward(_seed(loss.shape, dtype))
        results.append((loss.numpy(), logits.grad.numpy()))
    _same(results[0][0], results[1][0])
    _same(results[0][1], results[1][1])


def test_cross_entropy_default_second_order_is_the_original_composition():
    """Under create_graph the default path's vjp computes softmax(x) with recorded ops
    (CrossEntropy.vjp): the gradient of <dL/dx, v> equals the one through the composition
    written out (logsumexp minus the picked logit), to float64 rounding. Second order is no
    path of the README's training runs, so this one is not bitwise."""
    rng = np.random.default_rng(5)
    x, t = rng.standard_normal((6, 4)), rng.integers(0, 4, 6)
    v = rng.standard_normal((6, 4))
    results = []
    for fn in (lambda a: F.cross_entropy(a, t),
               lambda a: (a.logsumexp(axis=1) - a[np.arange(6), t]).mean()):
        logits = cr.tensor(x, requires_grad=True)
        (grad,) = cr.autograd.grad(fn(logits), logits, create_graph=True)
        (grad * v).sum().backward()
        results.append(logits.grad.numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-12, atol=1e-15)
