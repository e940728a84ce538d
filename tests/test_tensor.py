"""Tensor creation, dtypes, conversion, operators with NumPy and Python numbers, errors."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.errors import ShapeError


def test_dtypes_follow_the_contract():
    assert cr.tensor(1.5).dtype == np.float32
    assert cr.tensor([1.0, 2.0]).dtype == np.float32
    assert cr.tensor([1, 2]).dtype == np.int64
    assert cr.tensor(np.ones(2, dtype=np.float64)).dtype == np.float64
    assert cr.tensor([1, 2], dtype=cr.float64).dtype == np.float64
    assert cr.zeros(2, 3).dtype == np.float32 and cr.zeros((2, 3)).shape == (2, 3)
    assert cr.arange(5).dtype == np.int64 and cr.arange(0.0, 1.0, 0.5).dtype == np.float32


def test_tensor_copies_its_ndarray():
    a = np.ones(3)
    t = cr.tensor(a)
    a[0] = 5
    assert t.numpy()[0] == 1


def test_attributes():
    t = cr.tensor(np.zeros((2, 3)), requires_grad=True)
    assert t.shape == (2, 3) and t.ndim == 2 and t.size == 6 and len(t) == 2
    assert t.is_leaf and t.grad is None and t.grad_fn is None
    u = t * 2
    assert not u.is_leaf and u.grad_fn is not None and u.grad_fn.name == "Mul"
    assert (t.sum() + 1).item() == 1.0


def test_factories_are_seeded():
    cr.manual_seed(3)
    a = cr.randn(4, 2)
    b = cr.rand(3)
    cr.manual_seed(3)
    np.testing.assert_array_equal(a.numpy(), cr.randn(4, 2).numpy())
    np.testing.assert_array_equal(b.numpy(), cr.rand(3).numpy())
    assert cr.eye(3).numpy().trace() == 3
    assert cr.full((2,), 7.0).numpy().tolist() == [7.0, 7.0]
    x = cr.ones(2, 2, dtype=cr.float64)
    for like in (cr.zeros_like, cr.ones_like, cr.rand_like, cr.randn_like):
        y = like(x)
        assert y.shape == (2, 2) and y.dtype == np.float64
    assert cr.full_like(x, 2.0).numpy().sum() == 8.0
    assert cr.zeros(2, requires_grad=True).requires_grad


def test_python_numbers_and_ndarrays_on_both_sides_keep_float32():
    t = cr.tensor([1.0, 2.0], requires_grad=True)
    for out in (t + 1, 1 + t, t * 2.5, 2.5 * t, t / 2, 2 / t, t - 1, 1 - t, t**2, 2**t):
        assert isinstance(out, cr.Tensor) and out.dtype == np.float32
    arr = np.array([3.0, 4.0], dtype=np.float32)
    for out in (arr + t, t + arr, arr * t, arr @ t, arr / t, arr - t):
        assert isinstance(out, cr.Tensor)
    (arr * t).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), arr)


def test_comparisons_give_boolean_tensors_without_grad():
    t = cr.tensor([1.0, -1.0], requires_grad=True)
    m = t > 0
    assert m.dtype == bool and not m.requires_grad
    assert (t == t).numpy().all()
    assert {t: 1}[t] == 1  # hashable by identity


def test_shape_errors_name_the_op_and_shapes_and_help():
    with pytest.raises(ShapeError, match=r"matmul: \(3, 4\) @ \(5, 2\): inner sizes 4 and 5.*help"):
        cr.zeros(3, 4) @ cr.zeros(5, 2)
    with pytest.raises(ShapeError, match=r"add.*\(3, 4\).*\(5,\).*help"):
        cr.zeros(3, 4) + cr.zeros(5)
    with pytest.raises(ShapeError, match="reshape.*12 elements"):
        cr.zeros(3, 4).reshape(5, 2)
    with pytest.raises(ShapeError, match="permutation"):
        cr.zeros(3, 4).transpose(0, 0)
    with pytest.raises(ShapeError, match="squeeze"):
        cr.zeros(3, 4).squeeze(0)
    with pytest.raises(ShapeError, match="concatenate"):
        cr.concatenate([cr.zeros(3, 4), cr.zeros(2, 3)], axis=0)
    with pytest.raises(ShapeError, match="broadcast_to"):
        cr.zeros(3).broadcast_to((2, 4))


def test_sigmoid_is_finite_for_huge_inputs_in_both_precisions():
    for dtype in (np.float32, np.float64):
        x = cr.tensor(np.array([-1e4, -50.0, 0.0, 50.0, 1e4], dtype=dtype), requires_grad=True)
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            y = x.sigmoid()
            y.sum().backward()
        assert np.isfinite(y.numpy()).all() and np.isfinite(x.grad.numpy()).all()
        assert y.numpy()[0] == 0.0 and y.numpy()[-1] == 1.0 and y.numpy()[2] == 0.5


def test_logsumexp_never_overflows():
    x = cr.tensor(np.array([[1e4, 1e4 + 1.0], [-1e4, -1e4]], dtype=np.float32), requires_grad=True)
    with np.errstate(over="raise"):
        y = x.logsumexp(axis=1)
        y.sum().backward()
    np.testing.assert_allclose(y.numpy(), [1e4 + 1 + np.log1p(np.exp(-1)), -1e4 + np.log(2)])
    # float32 resolves 1e4 only to ~1e-3, so the softmax weights are that exact
    np.testing.assert_allclose(x.grad.numpy().sum(axis=1), [1.0, 1.0], rtol=1e-3)
    inf = cr.tensor(np.array([-np.inf, -np.inf]))
    assert inf.logsumexp().item() == -np.inf


def test_max_splits_gradient_among_ties():
    x = cr.tensor(np.array([1.0, 3.0, 3.0, 0.0]), requires_grad=True)
    x.max().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 0.5, 0.5, 0])


def test_maximum_ties_split_evenly_like_torch():
    torch = pytest.importorskip("torch")
    a, b = np.array([1.0, 2.0, 3.0]), np.array([1.0, 5.0, 3.0])
    ta, tb = cr.tensor(a, requires_grad=True), cr.tensor(b, requires_grad=True)
    cr.maximum(ta, tb).sum().backward()
    pa, pb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    torch.maximum(pa, pb).sum().backward()
    np.testing.assert_array_equal(ta.grad.numpy(), pa.grad.numpy())
    np.testing.assert_array_equal(tb.grad.numpy(), pb.grad.numpy())


def test_where_accepts_tensor_or_ndarray_conditions_but_not_floats():
    a, b = cr.tensor([1.0, 2.0]), cr.tensor([3.0, 4.0])
    assert cr.where(np.array([True, False]), a, b).tolist() == [1.0, 4.0]
    assert cr.where(a > 1.5, a, b).tolist() == [3.0, 2.0]
    with pytest.raises(TypeError, match="boolean"):
        cr.where(np.array([1.0, 0.0]), a, b)


def test_indexing_forms():
    x = cr.tensor(np.arange(12.0).reshape(3, 4))
    assert x[1].tolist() == [4.0, 5.0, 6.0, 7.0]
    assert x[..., -1].tolist() == [3.0, 7.0, 11.0]
    assert x[None].shape == (1, 3, 4)
    assert x[cr.tensor([2, 0])].shape == (2, 4)
    assert x[x > 9].tolist() == [10.0, 11.0]
    assert [row.shape for row in x] == [(4,)] * 3


def test_repr_and_conversions():
    t = cr.tensor([1.0, 2.0], requires_grad=True)
    assert "requires_grad=True" in repr(t)
    assert "grad_fn=<Mul>" in repr(t * 2)
    assert float(cr.tensor(2.5)) == 2.5 and int(cr.tensor(3)) == 3
    with pytest.raises(ValueError, match="one-element"):
        t.item()
    assert t.astype(np.float64).dtype == np.float64
    assert t.astype(np.int64).dtype == np.int64 and not t.astype(np.int64).requires_grad


def test_argmax_argmin_have_no_grad():
    x = cr.tensor(np.array([[1.0, 5.0], [7.0, 2.0]]), requires_grad=True)
    assert x.argmax(axis=1).tolist() == [1, 0] and not x.argmax().requires_grad
    assert x.argmin().item() == 0


def test_stack_pad_concatenate_values():
    a, b = cr.tensor([1.0, 2.0]), cr.tensor([3.0, 4.0])
    assert cr.stack([a, b], axis=1).tolist() == [[1.0, 3.0], [2.0, 4.0]]
    assert cr.concatenate([a, b]).tolist() == [1.0, 2.0, 3.0, 4.0]
    assert cr.pad(a, (1, 2), value=9).tolist() == [9.0, 1.0, 2.0, 9.0, 9.0]


def test_the_names_other_modules_import_stay_in_chainrule_tensor():
    # tensor.py's mixins live beside it; what the ops, engine and layers import stays here.
    from chainrule.tensor import Tensor, _wrap, as_operand, as_tensor, register_engine

    data = np.ones(2)
    assert type(_wrap(data)) is Tensor and _wrap(data).data is data
    assert as_tensor(data).data is data and as_operand(1.5) == 1.5
    assert isinstance(as_operand([1.0]), np.ndarray) and callable(register_engine)


def test_a_tensor_has_slots_and_no_dict():
    # Every mixin Tensor inherits declares empty __slots__: one stray base would add a
    # __dict__ to every tensor (memory on every op, and typos silently become attributes).
    t = cr.ones(2)
    assert not hasattr(t, "__dict__")
    with pytest.raises(AttributeError):
        t.requires_gard = True
