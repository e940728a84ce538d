"""jvp and vmap over hypothesis-generated broadcastable shapes and batch axes on other
backends (array-api-strict on its non-default device, PyTorch CPU tensors): the same
numbers as the NumPy run, the result in the inputs' library. tests/func/test_properties.py
checks the NumPy run itself (finite differences, linearity, the loop)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr
from chainrule import func

from ..func.test_properties import _mapped
from ..ops.backends import BACKENDS, host, put
from ..ops.test_properties import BINARY, _arrays

pytest.importorskip("torch")

pairs = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3)


def _same(mine, ref, backend):
    assert mine.backend == backend and mine.shape == ref.shape
    np.testing.assert_allclose(host(mine.data), ref.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(deadline=None, max_examples=30)
@given(shapes=pairs, name=st.sampled_from(sorted(BINARY)), seed=st.integers(0, 2**16))
def test_binary_jvp_and_vjp_equal_numpys(backend, shapes, name, seed):
    a, b = _arrays(shapes.input_shapes, seed)
    va, vb = _arrays(shapes.input_shapes, seed + 1)
    f = BINARY[name]
    on = [cr.tensor(put(z, backend)) for z in (a, b, va, vb)]
    out, t = func.jvp(f, tuple(on[:2]), tuple(on[2:]))
    ref_out, ref_t = func.jvp(f, (cr.tensor(a), cr.tensor(b)), (cr.tensor(va), cr.tensor(vb)))
    _same(out, ref_out, backend)
    _same(t, ref_t, backend)
    u = np.random.default_rng(seed).standard_normal(t.shape)
    grads = func.vjp(f, *on[:2])[1](cr.tensor(put(u, backend)))
    refs = func.vjp(f, cr.tensor(a), cr.tensor(b))[1](cr.tensor(u))
    for g, r in zip(grads, refs):
        _same(g, r, backend)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(deadline=None, max_examples=30)
@given(shapes=pairs, name=st.sampled_from(sorted(set(BINARY) - {"where"})),
       n=st.integers(1, 3), data=st.data(), seed=st.integers(0, 2**16))
def test_vmap_of_binary_ops_over_any_in_dims_equals_numpys(backend, shapes, name, n, data,
                                                           seed):
    a, b = _arrays(shapes.input_shapes, seed)
    dims = [data.draw(st.one_of(st.none(), st.integers(0, x.ndim)), label=f"in_dim{i}")
            for i, x in enumerate((a, b))]
    if dims == [None, None]:
        dims[0] = 0
    ba, bb = _mapped(a, n, dims[0], seed + 1)[0], _mapped(b, n, dims[1], seed + 2)[0]
    out_nd = len(np.broadcast_shapes(a.shape, b.shape))
    out_dim = data.draw(st.integers(-out_nd - 1, out_nd), label="out_dim")
    f = BINARY[name]

    def total(x, y):
        return (f(x, y) * f(x, y)).sum()

    for fn in (func.vmap(f, in_dims=tuple(dims), out_dims=out_dim),
               func.vmap(func.grad(total, argnums=(0, 1)), in_dims=tuple(dims))):
        mine = fn(cr.tensor(put(ba, backend)), cr.tensor(put(bb, backend)))
        ref = fn(cr.tensor(ba), cr.tensor(bb))
        for m, r in zip(mine if isinstance(mine, tuple) else (mine,),
                        ref if isinstance(ref, tuple) else (ref,)):
            _same(m, r, backend)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(deadline=None, max_examples=30)
@given(shape=hnp.array_shapes(min_dims=1, max_dims=4, max_side=3), n=st.integers(1, 3),
       data=st.data(), seed=st.integers(0, 2**16))
def test_vmap_of_reductions_and_shape_ops_over_any_in_dim(backend, shape, n, data, seed):
    x = np.random.default_rng(seed).standard_normal(shape)
    dim = data.draw(st.integers(-len(shape) - 1, len(shape)), label="in_dim")
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    batch = _mapped(x, n, dim % (len(shape) + 1), seed + 1)[0]

    def f(r):
        s = r.logsumexp(axis=axis, keepdims=True) + r.max(axis=axis, keepdims=True)
        return (r - s).swapaxes(0, -1).reshape(-1)[::2].cumsum(0)

    _same(func.vmap(f, in_dims=dim)(cr.tensor(put(batch, backend))),
          func.vmap(f, in_dims=dim)(cr.tensor(batch)), backend)
