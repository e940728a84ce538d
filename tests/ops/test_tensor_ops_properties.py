"""Invariants of the shape-varying tensor ops (einsum, gather, cumsum, sort) over
hypothesis-generated shapes, axes, indices and subscripts."""

from __future__ import annotations

import string

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr


def _values(shape, seed):
    return np.asarray(np.random.default_rng(seed).standard_normal(shape), dtype=np.float64)


@st.composite
def einsum_cases(draw):
    """1-3 operands over up to 4 letters (a letter may repeat in an operand: a diagonal),
    and an explicit output of distinct letters, or none (NumPy's implicit output)."""
    letters = string.ascii_lowercase[:draw(st.integers(1, 4))]
    size = {c: draw(st.integers(1, 3)) for c in letters}
    specs = draw(st.lists(st.text(alphabet=letters, max_size=3), min_size=1, max_size=3))
    used = sorted(set("".join(specs)))
    if draw(st.booleans()):
        out = "".join(draw(st.permutations(used))[:draw(st.integers(0, len(used)))])
        subscripts = ",".join(specs) + "->" + out
    else:
        subscripts = ",".join(specs)
    return subscripts, [tuple(size[c] for c in s) for s in specs]


@given(einsum_cases(), st.integers(0, 2**16))
def test_einsum_matches_numpy_and_torch_and_passes_gradcheck(case, seed):
    subscripts, shapes = case
    arrays = [_values(s, seed + i) for i, s in enumerate(shapes)]
    out = cr.einsum(subscripts, *[cr.tensor(a) for a in arrays])
    np.testing.assert_allclose(out.numpy(), np.einsum(subscripts, *arrays), atol=1e-12)
    xs = [cr.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    g = _values(out.shape, seed + 7)
    cr.einsum(subscripts, *xs).backward(g)
    torch.einsum(subscripts, *ts).backward(torch.tensor(g))
    for x, t in zip(xs, ts):
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), atol=1e-12)
    assert cr.gradcheck(lambda *zs: cr.einsum(subscripts, *zs), arrays)


@st.composite
def gather_cases(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    axis = dim % len(shape)
    index_shape = tuple(draw(st.integers(0 if d == axis else 1, 5 if d == axis else n))
                        for d, n in enumerate(shape))
    index = draw(hnp.arrays(np.int64, index_shape, elements=st.integers(0, shape[axis] - 1)))
    return shape, dim, index


@given(gather_cases(), st.integers(0, 2**16))
def test_gather_is_torch_gather_and_its_gradient_adds_back(case, seed):
    shape, dim, index = case
    x0 = _values(shape, seed)
    x = cr.tensor(x0, requires_grad=True)
    y = cr.gather(x, dim, index)
    t = torch.tensor(x0, requires_grad=True)
    ty = torch.gather(t, dim, torch.as_tensor(index))
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
    g = _values(y.shape, seed + 1)
    y.backward(g)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), atol=1e-12)
    # The gradient sums to the seed's sum: every g lands somewhere, repeats included.
    np.testing.assert_allclose(x.grad.numpy().sum(), g.sum(), atol=1e-9)
    assert cr.gradgradcheck(lambda z: cr.gather(z, dim, index) ** 2, [x0])


@given(hnp.array_shapes(min_dims=1, max_dims=4, max_side=4), st.data(), st.integers(0, 2**16))
def test_cumsum_gradient_is_the_reverse_running_sum(shape, data, seed):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    x0 = _values(shape, seed)
    x = cr.tensor(x0, requires_grad=True)
    y = x.cumsum(axis)
    np.testing.assert_allclose(y.numpy(), np.cumsum(x0, axis=axis), atol=1e-12)
    g = _values(shape, seed + 1)
    y.backward(g)
    reverse = np.flip(np.cumsum(np.flip(g, axis), axis=axis), axis)
    np.testing.assert_allclose(x.grad.numpy(), reverse, atol=1e-12)
    assert cr.gradcheck(lambda z: cr.cumsum(z, axis), [x0])


@given(hnp.array_shapes(min_dims=1, max_dims=3, max_side=5), st.data(), st.booleans(),
       st.integers(0, 2**16))
def test_sort_with_ties_is_torch_stable_sort_and_routes_each_gradient_home(shape, data,
                                                                           descending, seed):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    # Few distinct values: many ties, the case where "which element" matters.
    x0 = np.random.default_rng(seed).integers(-2, 3, shape).astype(np.float64)
    x = cr.tensor(x0, requires_grad=True)
    values, indices = x.sort(dim=axis, descending=descending)
    ref = torch.sort(torch.tensor(x0), dim=axis, descending=descending, stable=True)
    np.testing.assert_array_equal(values.numpy(), ref.values.numpy())
    np.testing.assert_array_equal(indices.numpy(), ref.indices.numpy())
    assert indices.dtype == np.int64
    np.testing.assert_array_equal(np.take_along_axis(x0, indices.numpy(), axis), values.numpy())
    g = _values(shape, seed + 1)
    values.backward(g)
    expected = np.zeros(shape)
    np.put_along_axis(expected, indices.numpy(), g, axis)  # a permutation: no repeats
    np.testing.assert_array_equal(x.grad.numpy(), expected)
    np.testing.assert_array_equal(cr.argsort(x0, dim=axis, descending=descending).numpy(),
                                  indices.numpy())
