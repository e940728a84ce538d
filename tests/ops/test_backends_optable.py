"""The op table (optable.py, nn_optable.py) again on other backends' arrays: float64
gradcheck of first and second derivatives, the PyTorch comparison, and float32 kept float32,
each on array-api-strict arrays on its non-default device and on PyTorch CPU tensors.

A row whose primitives are all ``portable`` must pass; a row with a primitive that is not
(yet) must either pass or refuse with ``BackendError`` (docs/backends.md, from the same
flags), never give another error or a wrong number.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import _backend as B

from .backends import BACKENDS, host, put, run_or_refuse
from .nn_optable import ROWS as NN_ROWS
from .optable import ROWS, make_inputs

torch = pytest.importorskip("torch")

ALL = ROWS + NN_ROWS
CASES = [pytest.param(row, backend, id=f"{backend}-{row.id}") for backend in BACKENDS
         for row in ALL]
ORACLE = [c for c in CASES if c.values[0].torch_fn]


def _inputs(row, backend, seed, dtype=np.float64):
    return [cr.tensor(put(a, backend), requires_grad=True)
            for a in make_inputs(row, seed=seed, dtype=dtype)]


@pytest.mark.parametrize(("row", "backend"), CASES)
def test_gradcheck(row, backend):
    inputs = _inputs(row, backend, 0)
    assert run_or_refuse(row, lambda: cr.gradcheck(row.fn, inputs, **row.tol)) in (True, None)


@pytest.mark.parametrize(("row", "backend"), [c for c in CASES if c.values[0].second_order])
def test_gradgradcheck(row, backend):
    inputs = _inputs(row, backend, 1)
    assert run_or_refuse(row, lambda: cr.gradgradcheck(row.fn, inputs, **row.tol)) in (True,
                                                                                       None)


def _run(row, backend, arrays, seed_grad):
    xs = [cr.tensor(put(a, backend), requires_grad=True) for a in arrays]
    out = row.fn(*xs)
    assert out.backend == backend, f"{row.id}: the output left {backend} for {out.backend}"
    out.backward(put(seed_grad, backend))
    for x in xs:
        assert x.grad.backend == backend
    return out, [x.grad for x in xs]


def _torch(row, arrays, seed_grad):
    xs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = row.torch_fn(*xs)
    out.backward(torch.as_tensor(seed_grad))
    return out.detach().numpy(), [x.grad.numpy() for x in xs]


@pytest.mark.parametrize(("row", "backend"), ORACLE)
def test_matches_torch_float64(row, backend):
    arrays = make_inputs(row, seed=2)
    ref_out = row.torch_fn(*[torch.tensor(a) for a in arrays]).detach().numpy()
    g = np.random.default_rng(3).standard_normal(ref_out.shape)
    result = run_or_refuse(row, lambda: _run(row, backend, arrays, g))
    if result is None:
        return
    out, grads = result
    t_out, t_grads = _torch(row, arrays, g)
    assert out.shape == t_out.shape
    np.testing.assert_allclose(host(out.data), t_out, rtol=1e-6, atol=1e-12)
    for mine, ref in zip(grads, t_grads):
        assert mine.shape == ref.shape
        np.testing.assert_allclose(host(mine.data), ref, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize(("row", "backend"), ORACLE)
def test_float32_stays_float32(row, backend):
    arrays = make_inputs(row, seed=4, dtype=np.float32)
    ref_out = row.torch_fn(*[torch.tensor(a) for a in arrays]).detach().numpy()
    g = np.random.default_rng(5).standard_normal(ref_out.shape).astype(np.float32)
    result = run_or_refuse(row, lambda: _run(row, backend, arrays, g))
    if result is None:
        return
    out, grads = result
    t_out, t_grads = _torch(row, arrays, g)
    if row.id != "astype_roundtrip":
        assert B.dtype_name(out.dtype) == "float32", f"{row.id}: output is {out.dtype}"
    for mine in grads:
        assert B.dtype_name(mine.dtype) == "float32", f"{row.id}: gradient is {mine.dtype}"
    np.testing.assert_allclose(host(out.data), t_out, rtol=1e-5, atol=1e-6)
    for mine, ref in zip(grads, t_grads):
        np.testing.assert_allclose(host(mine.data), ref, rtol=1e-4, atol=1e-5)
