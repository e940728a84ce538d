"""Every op-table row through forward mode and vmap on other backends' arrays
(array-api-strict on its non-default device, where a hidden move to NumPy raises, and
PyTorch CPU tensors): the JVP against central finite differences in float64, against the
VJP by the identity <u, J v> = <J^T u, v> for random u, v, and equal to the NumPy run's
tangent to rounding; vmap and per-sample gradients (vmap of grad) equal to the Python
loop on NumPy, batched by the same rules as on NumPy (no op loops that NumPy batches).

A row must pass, or refuse with ``BackendError`` naming a primitive that is not portable
(``tests/ops/backends.run_or_refuse``); any other error, or a wrong number, fails.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import _backend as B
from chainrule import func

from ..func.test_vmap_optable import _batched_by_rules, _looped
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


# --- vmap: every row batched on the backend, equal to the NumPy loop ----------------------

N = 3  # samples


def _stacked(row, backend):
    samples = [make_inputs(row, seed=20 + b) for b in range(N)]
    loop = np.stack([_f_numpy(row, s) for s in samples])
    return [np.stack([s[i] for s in samples]) for i in range(len(row.shapes))], samples, loop


def _vmapped(row, backend, fn, arrays):
    out, looped = _looped(func.vmap(fn), *_on(arrays, backend))
    outs = out if isinstance(out, tuple) else (out,)
    for o in outs:
        assert o.backend == backend, f"{row.id}: the output left {backend} for {o.backend}"
    return out, looped


@pytest.mark.parametrize(("row", "backend"), CASES)
def test_vmap_equals_the_numpy_loop(row, backend):
    arrays, _, loop = _stacked(row, backend)
    result = run_or_refuse(row, lambda: _vmapped(row, backend, row.fn, arrays))
    if result is None:
        return
    out, looped = result
    assert out.shape == loop.shape
    np.testing.assert_allclose(host(out.data), loop, rtol=1e-9, atol=1e-12)
    _batched_by_rules(row, looped)


@pytest.mark.parametrize(("row", "backend"), CASES)
def test_per_sample_gradients_equal_the_numpy_loop(row, backend):
    arrays, samples, _ = _stacked(row, backend)
    nums = tuple(range(len(row.shapes)))

    def total(*xs):
        return (row.fn(*xs) * 1.5).sum()

    g = func.grad(total, argnums=nums)
    loop = [g(*[cr.tensor(a) for a in s]) for s in samples]
    result = run_or_refuse(row, lambda: _vmapped(row, backend, g, arrays))
    if result is None:
        return
    out, looped = result
    for i in nums:
        np.testing.assert_allclose(host(out[i].data), np.stack([r[i].numpy() for r in loop]),
                                   rtol=1e-8, atol=1e-10)
    _batched_by_rules(row, looped)


@pytest.mark.parametrize(("row", "backend"), CASES)
def test_jvp_float32_stays_float32(row, backend):
    arrays = make_inputs(row, seed=11, dtype=np.float32)
    vs = [v.astype(np.float32) for v in _directions(arrays, 12)]
    result = run_or_refuse(row, lambda: _jvp(row, backend, arrays, vs))
    if result is None:
        return
    out, tangent = result
    if row.id != "astype_roundtrip":
        assert B.dtype_name(tangent.dtype) == "float32", f"{row.id}: tangent is {tangent.dtype}"
    _, ref = func.jvp(row.fn, tuple(cr.tensor(a) for a in arrays),
                      tuple(cr.tensor(v) for v in vs))
    np.testing.assert_allclose(host(tangent.data), ref.numpy(), rtol=1e-4, atol=1e-5)
