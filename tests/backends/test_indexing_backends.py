"""Indexing, sorting, einsum and norm on PyTorch and array-api-strict (device1), against
NumPy's own results: repeated indices must ACCUMULATE in every gradient (the scatter-add is
each library's own, or array-api-strict's segment sum), masks and negative steps follow
NumPy's rules, and what still has no path refuses with a typed error."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.ops import positions

torch = pytest.importorskip("torch")
xs = pytest.importorskip("array_api_strict")
DEVICE1 = xs.Device("device1")
BACKENDS = ["torch", "array_api_strict"]


def put(array, backend):
    if backend == "torch":
        return torch.asarray(array)
    return xs.asarray(array, device=DEVICE1)


def grads_on(backend, fn, *arrays, seed=0):
    """fn's output and the gradients of its inputs on ``backend`` (NumPy arrays back),
    seeded with one random output gradient."""
    ins = [cr.tensor(a if backend == "numpy" else put(a, backend), requires_grad=True)
           for a in arrays]
    out = fn(*ins)
    assert out.backend == backend
    g = np.random.default_rng(seed).standard_normal(out.shape)
    out.backward(g if backend == "numpy" else put(g, backend))
    for t in ins:
        assert t.grad.backend == backend
    return out.numpy(), [t.grad.numpy() for t in ins]


def same_as_numpy(fn, *arrays, rtol=1e-12):
    ref_out, ref_grads = grads_on("numpy", fn, *arrays)
    for backend in BACKENDS:
        out, grads = grads_on(backend, fn, *arrays)
        np.testing.assert_allclose(out, ref_out, rtol=rtol, atol=1e-14)
        for mine, ref in zip(grads, ref_grads):
            np.testing.assert_allclose(mine, ref, rtol=rtol, atol=1e-14)
    return ref_out, ref_grads


RNG = np.random.default_rng(7)
X = RNG.standard_normal((5, 4))


@pytest.mark.parametrize("index", [
    np.array([0, 2, 2, 1, 0, 2, 2, 2]),                    # one row taken five times
    np.array([[4, 4], [4, 0]]),                             # a 2-d index, repeats
    (np.array([1, 1, 3]), np.array([2, 2, 0])),             # the same element twice
    (slice(None), np.array([3, 3, 3, 0])),                  # columns, repeated
    (np.array([0, 0]), slice(None, None, -2)),              # advanced and a negative step
])
def test_repeated_indices_accumulate_in_the_backward_of_getitem(index):
    _, (grad,) = same_as_numpy(lambda x: x[index], X)
    # The rows taken k times get k gradients: NumPy's np.add.at is the reference above; the
    # sum of the gradient is the sum of the seed, so nothing was dropped by an overwrite.
    g = np.random.default_rng(0).standard_normal(X[index].shape)
    assert np.isclose(grad.sum(), g.sum())


def test_masks_and_negative_steps_follow_numpy():
    mask = X > 0.3
    same_as_numpy(lambda x: x[mask] * 2, X)
    same_as_numpy(lambda x: x[::-1, 1::-1], X)
    same_as_numpy(lambda x: x[None, 3, ::-2], X)
    same_as_numpy(lambda x: x[..., np.array([True, False, True, True])], X)


def test_gather_scatter_add_index_add_index_select_with_repeats():
    idx = np.array([[0, 1, 1, 0], [4, 4, 4, 2]])
    same_as_numpy(lambda x: cr.gather(x, 0, idx), X)
    same_as_numpy(lambda x, s: cr.scatter_add(x, 0, idx, s), X, RNG.standard_normal((2, 4)))
    same_as_numpy(lambda x, s: cr.index_add(x, 1, [3, 3, 0], s), X,
                  RNG.standard_normal((5, 3)))
    same_as_numpy(lambda x: cr.index_select(x, 0, [2, 2, 2, 1]), X)


def test_an_index_of_the_tensors_own_library_is_read_once_on_the_host():
    for backend in BACKENDS:
        x = cr.tensor(put(X, backend), requires_grad=True)
        idx = cr.tensor(put(np.array([1, 1, 4]), backend))
        x[idx].sum().backward()
        assert x.grad.numpy()[:, 0].tolist() == [0.0, 2.0, 0.0, 0.0, 1.0]


def test_setitem_on_a_tensor_that_requires_grad():
    def fn(x, v):
        y = x * 1.0
        y[np.array([3, 0]), 1:] = v
        y[4] = 0.5  # basic, a number
        return y * y

    same_as_numpy(fn, X, RNG.standard_normal((1, 3)))
    for backend in BACKENDS:  # only the last write would survive: no gradient is right
        y = cr.tensor(put(X, backend), requires_grad=True) * 1.0
        with pytest.raises(ValueError, match="more than once"):
            y[np.array([1, 1])] = 0.0


def test_segment_sum_is_exact_where_running_totals_would_round():
    # Positions 1 and 2 collect 1.0 + 1.0 each after a huge value at position 0: a
    # cumsum-and-difference would lose them to rounding; each row's own sum does not.
    values = np.array([1e16, 1.0, 1.0, 1.0, 1.0, -3.0])
    flat = np.array([0, 1, 2, 1, 2, 0])
    out = positions.segment_sum(xs, DEVICE1, put(values, "array_api_strict"), 4, flat)
    assert np.asarray(out.to_device(xs.Device("CPU_DEVICE"))).tolist() == \
        [1e16 - 3.0, 2.0, 2.0, 0.0]


def test_flat_positions_are_numpys_indexing():
    shape = (3, 4, 2)
    base = np.arange(24).reshape(shape)
    for index in [np.array([2, 0, 2]), (slice(None, None, -1), None, 1), base % 3 == 0,
                  (Ellipsis, np.array([[1], [0]])), (np.array([0, 2]), slice(1, 3),
                                                       np.array([1, 0]))]:
        np.testing.assert_array_equal(positions.flat_positions(shape, index), base[index])
    with pytest.raises(IndexError):
        positions.flat_positions(shape, np.array([3]))


@pytest.mark.parametrize("backend", BACKENDS)
def test_sort_argsort_topk_give_the_librarys_indices_stably(backend):
    data = np.array([[3.0, 1.0, 3.0, 2.0, 1.0], [0.0, 5.0, 5.0, -1.0, 5.0]])
    x = cr.tensor(put(data, backend), requires_grad=True)
    for descending in (False, True):
        values, indices = cr.sort(x, dim=1, descending=descending)
        want = np.argsort(-data if descending else data, axis=1, kind="stable")
        assert indices.backend == backend
        np.testing.assert_array_equal(indices.numpy(), want)
        np.testing.assert_array_equal(cr.argsort(x, dim=1, descending=descending).numpy(),
                                      want)
        np.testing.assert_array_equal(values.numpy(), np.take_along_axis(data, want, 1))
    top = cr.topk(x, 2, dim=1)
    top.values.sum().backward()  # ties: the lowest index gets the gradient
    assert x.grad.numpy().tolist() == [[1, 0, 1, 0, 0], [0, 1, 1, 0, 0]]
    assert cr.sort(cr.tensor(put(np.array(2.0), backend))).indices.backend == backend


@pytest.mark.parametrize("spec,shapes", [
    ("ij,jk->ik", [(3, 4), (4, 2)]), ("bij,bjk->bik", [(2, 3, 4), (2, 4, 2)]),
    ("ii->i", [(3, 3)]), ("iij->ji", [(3, 3, 2)]), ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("i,j->ij", [(3,), (2,)]), ("...i,i", [(2, 3), (3,)]), ("ij->", [(3, 4)]),
    ("bi,bj->b", [(4, 3), (4, 2)]), ("ij,kj->ij", [(3, 4), (1, 4)]),  # k of size 1
])
def test_einsum_on_every_backend(spec, shapes):
    arrays = [RNG.standard_normal(s) for s in shapes]
    same_as_numpy(lambda *ts: cr.einsum(spec, *ts), *arrays, rtol=1e-10)


@pytest.mark.parametrize("p", [2, 1, 3, 0.5, float("inf"), -float("inf")])
def test_norm_on_every_backend(p):
    data = RNG.standard_normal((3, 4))
    data[0, 0] = 0.0
    same_as_numpy(lambda x: cr.norm(x, p, dim=1), data, rtol=1e-10)


def test_what_still_has_no_path_refuses_with_a_typed_error():
    x = cr.tensor(put(X, "array_api_strict"), requires_grad=True)
    with pytest.raises(cr.BackendError, match=r"^erf: no path for array_api_strict .*help: "):
        F.gelu(x)


@pytest.mark.parametrize("backend", BACKENDS)
def test_gather_and_masked_fill_take_an_index_or_mask_of_the_tensors_library(backend):
    x = cr.tensor(put(X, backend), requires_grad=True)
    idx = cr.tensor(put(np.array([[4, 4, 0, 1]]), backend))
    mask = cr.tensor(put(X > 0, backend))
    (cr.gather(x, 0, idx).sum() + cr.masked_fill(x, mask, 0.0).sum()).backward()
    want = (X <= 0).astype(float)
    want[0, 2] += 1
    want[1, 3] += 1
    want[4, :2] += 1
    np.testing.assert_array_equal(x.grad.numpy(), want)


def test_a_mask_needs_no_data_dependent_shapes():
    # The mask is read on the host and becomes positions there: the library only ever sees
    # a take of a known length, so array-api-strict without data-dependent shapes (as some
    # devices are) still runs x[mask], and its gradient.
    mask = X > 0
    with xs.ArrayAPIStrictFlags(data_dependent_shapes=False, boolean_indexing=False):
        x = cr.tensor(put(X, "array_api_strict"), requires_grad=True)
        x[mask].sum().backward()
        got = x.grad.numpy()
    np.testing.assert_array_equal(got, mask.astype(float))
