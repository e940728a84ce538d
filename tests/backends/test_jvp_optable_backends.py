"""Every op-table row through forward mode on other backends' arrays (array-api-strict on
its non-default device, where a hidden move to NumPy raises, and PyTorch CPU tensors): the
JVP against central finite differences in float64, against the VJP by the identity
<u, J v> = <J^T u, v> for random u, v, and equal to the NumPy run's tangent to rounding.

A row must pass, or refuse with ``BackendError`` naming a primitive that is not portable
(``tests/ops/backends.run_or_refuse``); any other error, or a wrong number, fails.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import _backend as B
from chainrule import func

from ..ops.backends import BACKENDS, host, put, run_or_refuse
from ..ops.nn_optable import ROWS as NN_ROWS
from ..ops.optable import ROWS, make_inputs

pytest.importorskip("torch")

ALL = ROWS + NN_ROWS
CASES = [pytest.param(row, backend, id=f"{backend}-{row.id}") for backend in BACKENDS
         for row in ALL]


def _directions(arrays, seed):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(a.shape) for a in arrays]


def _on(arrays, backend):
    return tuple(cr.tensor(put(a, backend)) for a in arrays)


def _f_numpy(row, arrays):
    with cr.no_grad():
        return row.fn(*[cr.tensor(a) for a in arrays]).numpy().astype(np.float64)


def _jvp(row, backend, arrays, vs):
    out, tangent = func.jvp(row.fn, _on(arrays, backend), _on(vs, backend))
    assert out.backend == backend and tangent.backend == backend, (out.backend,
                                                                   tangent.backend)
    assert tangent.shape == out.shape
    assert B.same_dtype(tangent.dtype, out.dtype), (tangent.dtype, out.dtype)
    return out, tangent


@pytest.mark.parametrize(("row", "backend"), CASES)
def test_jvp_matches_finite_differences_and_numpy(row, backend):
    arrays = make_inputs(row, seed=6)
    vs = _directions(arrays, 7)
    result = run_or_refuse(row, lambda: _jvp(row, backend, arrays, vs))
    if result is None:
        return
    out, tangent = result
    eps = row.tol.get("eps", 1e-6)
    plus = _f_numpy(row, [a + eps * v for a, v in zip(arrays, vs)])
    minus = _f_numpy(row, [a - eps * v for a, v in zip(arrays, vs)])
    numeric = (plus - minus) / (2 * eps)
    np.testing.assert_allclose(host(out.data), _f_numpy(row, arrays), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(host(tangent.data), numeric, rtol=row.tol.get("rtol", 1e-3),
                               atol=row.tol.get("atol", 1e-5))
    _, ref = func.jvp(row.fn, tuple(cr.tensor(a) for a in arrays),
                      tuple(cr.tensor(v) for v in vs))
    np.testing.assert_allclose(host(tangent.data), ref.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(("row", "backend"), CASES)
def test_jvp_is_the_transpose_of_vjp(row, backend):
    arrays = make_inputs(row, seed=8)
    vs = _directions(arrays, 9)
    result = run_or_refuse(row, lambda: _jvp(row, backend, arrays, vs))
    if result is None:
        return
    _, jv = result
    u = np.random.default_rng(10).standard_normal(jv.shape)
    _, pull = func.vjp(row.fn, *_on(arrays, backend))
    jtu = pull(cr.tensor(put(u, backend)))
    left = float(np.sum(u * host(jv.data)))
    right = sum(float(np.sum(host(g.data) * v)) for g, v in zip(jtu, vs))
    rel = 1e-6 if "Cast" in row.covers else 1e-9
    assert left == pytest.approx(right, rel=rel, abs=rel)
