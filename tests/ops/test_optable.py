"""Runs every row of the op table: gradcheck (1st and 2nd order), dtypes, and PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

from .optable import ROWS, make_inputs

torch = pytest.importorskip("torch")

ids = [r.id for r in ROWS]


@pytest.mark.parametrize("row", ROWS, ids=ids)
def test_gradcheck(row):
    inputs = [cr.tensor(x, requires_grad=True) for x in make_inputs(row)]
    assert cr.gradcheck(row.fn, inputs, **row.tol)


@pytest.mark.parametrize("row", [r for r in ROWS if r.second_order], ids=lambda r: r.id)
def test_gradgradcheck(row):
    inputs = [cr.tensor(x, requires_grad=True) for x in make_inputs(row, seed=1)]
    assert cr.gradgradcheck(row.fn, inputs, **row.tol)


def _run_chainrule(row, arrays, seed_grad):
    xs = [cr.tensor(a, requires_grad=True) for a in arrays]
    out = row.fn(*xs)
    out.backward(seed_grad)
    return out.numpy(), [x.grad.numpy() for x in xs]


def _run_torch(row, arrays, seed_grad):
    xs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = row.torch_fn(*xs)
    out.backward(torch.as_tensor(seed_grad))
    return out.detach().numpy(), [x.grad.numpy() for x in xs]


@pytest.mark.parametrize("row", [r for r in ROWS if r.torch_fn], ids=lambda r: r.id)
def test_matches_torch_float64(row):
    arrays = make_inputs(row, seed=2)
    ref_out = row.torch_fn(*[torch.tensor(a) for a in arrays]).numpy()
    g = np.random.default_rng(3).standard_normal(ref_out.shape)
    out, grads = _run_chainrule(row, arrays, g)
    t_out, t_grads = _run_torch(row, arrays, g)
    np.testing.assert_allclose(out, t_out, rtol=1e-6, atol=1e-12)
    assert out.shape == t_out.shape
    for mine, ref in zip(grads, t_grads):
        assert mine.shape == ref.shape
        np.testing.assert_allclose(mine, ref, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("row", [r for r in ROWS if r.torch_fn], ids=lambda r: r.id)
def test_float32_stays_float32(row):
    arrays = make_inputs(row, seed=4, dtype=np.float32)
    ref_out = row.torch_fn(*[torch.tensor(a) for a in arrays]).detach().numpy()
    g = np.random.default_rng(5).standard_normal(ref_out.shape).astype(np.float32)
    out, grads = _run_chainrule(row, arrays, g)
    t_out, t_grads = _run_torch(row, arrays, g)
    if row.id != "astype_roundtrip":
        assert out.dtype == np.float32, f"{row.id}: output upcast to {out.dtype}"
    for mine, a in zip(grads, arrays):
        assert mine.dtype == a.dtype, f"{row.id}: gradient dtype {mine.dtype}, input {a.dtype}"
    np.testing.assert_allclose(out, t_out, rtol=1e-5, atol=1e-6)
    for mine, ref in zip(grads, t_grads):
        np.testing.assert_allclose(mine, ref, rtol=1e-4, atol=1e-5)
