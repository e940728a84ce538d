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
