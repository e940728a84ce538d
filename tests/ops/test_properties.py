"""Invariants over hypothesis-generated shapes, axes and values."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr

BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / (b * b + 1.0),
    "maximum": cr.maximum,
    "minimum": cr.minimum,
    "where": lambda a, b: cr.where((a * b).numpy() > 0, a, b),
    "pow": lambda a, b: (a * a + 0.5) ** b,
}

pairs = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3)


def _arrays(shapes, seed):
    rng = np.random.default_rng(seed)
    # Distinct magnitudes keep maximum/minimum away from ties.
    return [rng.standard_normal(s) + 0.01 * rng.permutation(int(np.prod(s))).reshape(s)
            for s in shapes]


@given(pairs, st.sampled_from(sorted(BINARY)), st.integers(0, 2**16))
def test_binary_ops_gradients_have_input_shapes_and_pass_gradcheck(shapes, name, seed):
    a, b = _arrays(shapes.input_shapes, seed)
    ta, tb = cr.tensor(a, requires_grad=True), cr.tensor(b, requires_grad=True)
    out = BINARY[name](ta, tb)
    assert out.shape == np.broadcast_shapes(a.shape, b.shape)
    out.sum().backward()
    assert ta.grad.shape == a.shape and tb.grad.shape == b.shape
    assert cr.gradcheck(lambda x, y: BINARY[name](x, y), [a, b])


@given(hnp.array_shapes(min_dims=0, max_dims=4, max_side=4))
def test_grad_of_sum_is_ones(shape):
    x = cr.tensor(np.random.default_rng(0).standard_normal(shape), requires_grad=True)
    x.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones(shape))


@st.composite
def shape_and_axes(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, max_side=4))
    axes = draw(st.lists(st.integers(-len(shape), len(shape) - 1), unique_by=lambda a: a %
                         len(shape), max_size=len(shape)))
    return shape, (tuple(axes) if axes else None), draw(st.booleans())


REDUCTIONS = ["sum", "mean", "var", "logsumexp", "max"]


@given(shape_and_axes(), st.sampled_from(REDUCTIONS), st.integers(0, 2**16))
def test_reductions_over_any_axes_pass_gradcheck(sak, name, seed):
    shape, axes, keepdims = sak
    x = _arrays([shape], seed)[0]

    def f(t):
        return getattr(t, name)(axis=axes, keepdims=keepdims)

    out = f(cr.tensor(x))
    assert out.shape == np.asarray(getattr(np, name if name != "logsumexp" else "sum")(
        x, axis=axes, keepdims=keepdims)).shape
    assert cr.gradcheck(f, [x])


@given(hnp.array_shapes(min_dims=1, max_dims=4, max_side=4), st.randoms())
def test_transpose_gradient_is_the_inverse_permutation(shape, rnd):
    perm = list(range(len(shape)))
    rnd.shuffle(perm)
    x = cr.tensor(np.random.default_rng(1).standard_normal(shape), requires_grad=True)
    y = x.permute(*perm)  # transpose(0, 1) on 2-d is refused as ambiguous (see ops.shape)
    g = np.random.default_rng(2).standard_normal(y.shape)
    y.backward(g)
    np.testing.assert_array_equal(x.grad.numpy(), g.transpose(np.argsort(perm)))


UNARY = ["tanh", "sigmoid", "exp", "sin", "relu"]


@given(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), st.sampled_from(UNARY),
       st.floats(-3, 3), st.integers(0, 2**16))
def test_backward_is_linear_in_the_seed(shape, name, c, seed):
    rng = np.random.default_rng(seed)
    x0 = rng.standard_normal(shape)
    s1, s2 = rng.standard_normal(shape), rng.standard_normal(shape)

    def vjp(seed_grad):
        x = cr.tensor(x0, requires_grad=True)
        (getattr(x, name)() * 1.0).backward(seed_grad)
        return x.grad.numpy()

    np.testing.assert_allclose(vjp(s1 + c * s2), vjp(s1) + c * vjp(s2), rtol=1e-10, atol=1e-12)
