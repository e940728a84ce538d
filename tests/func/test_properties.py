"""Forward-mode invariants over hypothesis-generated broadcastable shapes: the tangent has
the output's shape, is linear in the direction, equals finite differences, is the transpose
of the VJP, and a missing (zero) tangent on one input is the same as passing zeros."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr
from chainrule import func

from ..ops.test_properties import BINARY, _arrays

pairs = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3)


def _jvp(name, a, b, va, vb):
    return func.jvp(BINARY[name], (cr.tensor(a), cr.tensor(b)), (cr.tensor(va), cr.tensor(vb)))


@settings(deadline=None, max_examples=60)
@given(pairs, st.sampled_from(sorted(BINARY)), st.integers(0, 2**16))
def test_binary_jvp_shape_linearity_and_finite_differences(shapes, name, seed):
    a, b = _arrays(shapes.input_shapes, seed)
    va, vb = _arrays(shapes.input_shapes, seed + 1)
    out, t = _jvp(name, a, b, va, vb)
    assert t.shape == out.shape == np.broadcast_shapes(a.shape, b.shape)
    _, t2 = _jvp(name, a, b, 2 * va, 2 * vb)
    _, ta = _jvp(name, a, b, va, np.zeros_like(vb))
    _, tb = _jvp(name, a, b, np.zeros_like(va), vb)
    np.testing.assert_allclose(t2.numpy(), 2 * t.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ta.numpy() + tb.numpy(), t.numpy(), rtol=1e-12, atol=1e-12)
    f = BINARY[name]
    eps = 1e-6
    plus = f(cr.tensor(a + eps * va), cr.tensor(b + eps * vb)).numpy()
    minus = f(cr.tensor(a - eps * va), cr.tensor(b - eps * vb)).numpy()
    np.testing.assert_allclose(t.numpy(), (plus - minus) / (2 * eps), rtol=1e-4, atol=1e-5)


@settings(deadline=None, max_examples=60)
@given(pairs, st.sampled_from(sorted(BINARY)), st.integers(0, 2**16))
def test_binary_jvp_is_the_transpose_of_vjp(shapes, name, seed):
    a, b = _arrays(shapes.input_shapes, seed)
    va, vb = _arrays(shapes.input_shapes, seed + 1)
    _, t = _jvp(name, a, b, va, vb)
    u = np.random.default_rng(seed).standard_normal(t.shape)
    _, pull = func.vjp(BINARY[name], cr.tensor(a), cr.tensor(b))
    ga, gb = pull(cr.tensor(u))
    assert ga.shape == a.shape and gb.shape == b.shape
    left = np.sum(u * t.numpy())
    right = np.sum(ga.numpy() * va) + np.sum(gb.numpy() * vb)
    np.testing.assert_allclose(left, right, rtol=1e-9, atol=1e-9)


@settings(deadline=None, max_examples=40)
@given(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), st.integers(0, 2**16))
def test_vmap_equals_the_loop(shape, seed):
    x = np.random.default_rng(seed).standard_normal(shape)

    def f(r):
        return (r.tanh() * r).sum() * r

    out = func.vmap(f)(cr.tensor(x)).numpy()
    loop = np.stack([f(cr.tensor(r)).numpy() for r in x])
    np.testing.assert_array_equal(out, loop)


def _mapped(x, n, dim, seed):
    """``n`` samples of an operand shaped like ``x``, stacked along ``dim`` (None: one
    operand shared by all the samples)."""
    if dim is None:
        return x, [x] * n
    rng = np.random.default_rng(seed)
    samples = [x + rng.standard_normal(x.shape) for _ in range(n)]
    return np.stack(samples, axis=dim), samples


@settings(deadline=None, max_examples=80)
@given(pairs, st.sampled_from(sorted(set(BINARY) - {"where"})), st.integers(1, 3),
       st.data(), st.integers(0, 2**16))
def test_vmap_of_binary_ops_over_any_in_dims_equals_the_loop(shapes, name, n, data, seed):
    """Broadcast operands, each mapped along any axis or not at all; out_dims any axis;
    values and per-sample gradients equal the loop's (``where``, whose condition reads
    values, is the loop by construction)."""
    a, b = _arrays(shapes.input_shapes, seed)
    dims = [data.draw(st.one_of(st.none(), st.integers(0, x.ndim)), label=f"in_dim{i}")
            for i, x in enumerate((a, b))]
    if dims == [None, None]:
        dims[0] = 0
    (ba, sa), (bb, sb) = _mapped(a, n, dims[0], seed + 1), _mapped(b, n, dims[1], seed + 2)
    f = BINARY[name]
    out_nd = len(np.broadcast_shapes(a.shape, b.shape))
    out_dim = data.draw(st.integers(-out_nd - 1, out_nd), label="out_dim")
    out = func.vmap(f, in_dims=tuple(dims), out_dims=out_dim)(cr.tensor(ba), cr.tensor(bb))
    loop = np.stack([f(cr.tensor(x), cr.tensor(y)).numpy() for x, y in zip(sa, sb)],
                    axis=out_dim)
    np.testing.assert_allclose(out.numpy(), loop, rtol=1e-12, atol=1e-12)

    def total(x, y):
        return (f(x, y) * f(x, y)).sum()

    g = func.vmap(func.grad(total, argnums=(0, 1)), in_dims=tuple(dims))(cr.tensor(ba),
                                                                         cr.tensor(bb))
    for k, (x, y) in enumerate(zip(sa, sb)):
        ga, gb = func.grad(total, argnums=(0, 1))(cr.tensor(x), cr.tensor(y))
        np.testing.assert_allclose(g[0].numpy()[k], ga.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(g[1].numpy()[k], gb.numpy(), rtol=1e-10, atol=1e-12)


@settings(deadline=None, max_examples=60)
@given(hnp.array_shapes(min_dims=1, max_dims=4, max_side=3), st.integers(1, 3), st.data(),
       st.integers(0, 2**16))
def test_vmap_of_reductions_and_shape_ops_over_any_in_dim(shape, n, data, seed):
    x = np.random.default_rng(seed).standard_normal(shape)
    dim = data.draw(st.integers(-len(shape) - 1, len(shape)), label="in_dim")
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    batch, samples = _mapped(x, n, dim % (len(shape) + 1), seed + 1)

    def f(r):
        s = r.logsumexp(axis=axis, keepdims=True) + r.max(axis=axis, keepdims=True)
        return (r - s).swapaxes(0, -1).reshape(-1)[::2].cumsum(0)

    out = func.vmap(f, in_dims=dim)(cr.tensor(batch))
    loop = np.stack([f(cr.tensor(r)).numpy() for r in samples])
    np.testing.assert_allclose(out.numpy(), loop, rtol=1e-12, atol=1e-12)
