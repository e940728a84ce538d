"""PyTorch's names beside NumPy's: the behaviours behind docs/pytorch.md's rows."""

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn as nn
from chainrule.errors import BackwardError, ShapeError


def test_axis_and_dim_together_is_an_error():
    x = cr.ones((2, 3))
    with pytest.raises(TypeError, match="both axis= and dim="):
        x.sum(axis=0, dim=1)


def test_max_with_dim_is_values_and_indices_with_gradient():
    v = np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    x = cr.tensor(v, requires_grad=True)
    t = torch.tensor(v, requires_grad=True)
    values, indices = x.max(dim=1)
    tv, ti = t.max(dim=1)
    assert indices.tolist() == ti.tolist()
    (values * cr.tensor([1.0, 2.0])).sum().backward()
    (tv * torch.tensor([1.0, 2.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())
    assert isinstance(x.max(axis=1), cr.Tensor)  # NumPy's form: the values alone


def test_setitem_on_a_leaf_that_requires_grad_needs_no_grad():
    w = cr.tensor(np.zeros(3), requires_grad=True)
    with pytest.raises(BackwardError, match="leaf tensor that requires grad"):
        w[0] = 1.0
    with cr.no_grad():
        w[0] = 1.0
    assert w.tolist() == [1.0, 0.0, 0.0] and w._version == 1


def test_setitem_with_repeated_indices_in_the_graph_is_refused():
    h = cr.tensor(np.zeros(3), requires_grad=True) * 1
    with pytest.raises(ValueError, match="more than once"):
        h[np.array([0, 0])] = cr.tensor(np.array([1.0, 2.0]), requires_grad=True)


def test_setitem_outside_the_graph_is_numpy_assignment_with_a_version_bump():
    t = cr.zeros(2, 3)
    t[:, 1] = cr.tensor([4.0, 5.0])
    t[t > 4.5] = -1.0
    assert t.tolist() == [[0.0, 4.0, 0.0], [0.0, -1.0, 0.0]] and t._version == 2


def test_setitem_saved_value_is_version_checked():
    w = cr.tensor(np.ones(2), requires_grad=True)
    y = (w * w).sum()
    with pytest.raises(BackwardError, match="leaf tensor"):
        w[0] = 3.0
    y.backward()
    assert w.grad.tolist() == [2.0, 2.0]


def test_from_numpy_shares_memory_and_as_tensor_copies_only_when_it_must():
    a = np.zeros(3)
    t = cr.from_numpy(a)
    t += 1
    assert a.tolist() == [1.0, 1.0, 1.0]
    assert cr.as_tensor(a).data is a
    assert cr.as_tensor(t) is t
    assert cr.as_tensor(a, dtype=cr.float32).data is not a
    with pytest.raises(TypeError, match="expected a NumPy ndarray"):
        cr.from_numpy([1.0])


def test_default_dtype_is_process_wide_and_restorable():
    assert cr.get_default_dtype() == np.float32
    cr.set_default_dtype(cr.float64)
    try:
        assert cr.tensor(1.5).dtype == np.float64
        assert cr.zeros(2).dtype == np.float64
        assert nn.Linear(2, 2).weight.dtype == np.float64
    finally:
        cr.set_default_dtype(cr.float32)
    with pytest.raises(TypeError, match="only float32 and float64"):
        cr.set_default_dtype(np.int64)


def test_inference_mode_records_nothing():
    w = cr.tensor(np.ones(2), requires_grad=True)
    with cr.inference_mode():
        assert not (w * 2).requires_grad
    with cr.inference_mode(False):
        assert (w * 2).requires_grad


def test_autograd_grad_is_pytorchs_form():
    v = np.array([1.0, 2.0])
    x = cr.tensor(v, requires_grad=True)
    unused = cr.tensor(v, requires_grad=True)
    y = x * x
    (g,) = cr.autograd.grad(y, x, grad_outputs=cr.ones_like(y), retain_graph=True)
    assert g.tolist() == [2.0, 4.0]
    with pytest.raises(BackwardError, match="allow_unused=True"):
        cr.autograd.grad(y.sum(), [x, unused], retain_graph=True)
    gx, gu = cr.autograd.grad(y.sum(), [x, unused], allow_unused=True, retain_graph=True)
    assert gu is None
    gx, gu = cr.autograd.grad(y.sum(), [x, unused], materialize_grads=True, retain_graph=True)
    assert gu.tolist() == [0.0, 0.0]
    # several outputs: the sum of their vector-Jacobian products, as PyTorch
    (g2,) = cr.autograd.grad([y.sum(), (x * 3).sum()], [x])
    assert g2.tolist() == [5.0, 7.0]
    assert x.grad is None  # returned, never accumulated


def test_grad_transform_given_a_tensor_points_to_autograd_grad():
    x = cr.tensor([1.0], requires_grad=True)
    with pytest.raises(TypeError, match=r"cr.autograd.grad\(outputs, inputs\)"):
        cr.grad((x * x).sum(), x)


def test_size_is_numpys_int_and_calling_it_explains():
    x = cr.ones((2, 3))
    assert x.size == 6 and isinstance(x.size, int)
    with pytest.raises(TypeError, match="use t.shape"):
        x.size()


def test_transpose_0_1_on_2d_is_ambiguous_but_other_forms_work():
    x = cr.tensor(np.arange(6.0).reshape(2, 3))
    with pytest.raises(ShapeError, match="swapaxes"):
        x.transpose(0, 1)
    for swapped in (x.transpose(1, 0), x.T, x.swapaxes(0, 1), x.permute(1, 0)):
        assert swapped.shape == (3, 2)
    assert x.permute(0, 1) is x
    assert cr.ones((2, 3, 4)).transpose(0, 1, 2).shape == (2, 3, 4)  # 3-d: unambiguous


def test_clone_owns_its_memory_and_passes_the_gradient():
    w = cr.tensor(np.array([1.0, 2.0]), requires_grad=True)
    c = w.clone()
    assert not np.shares_memory(c.data, w.data)
    (c * 3).sum().backward()
    assert w.grad.tolist() == [3.0, 3.0]


def test_layers_take_dtype_and_modules_convert():
    m = nn.Sequential(nn.Linear(3, 2, dtype=cr.float64), nn.LayerNorm(2, dtype=cr.float64))
    assert {p.dtype for p in m.parameters()} == {np.dtype(np.float64)}
    m.float()
    assert {p.dtype for p in m.parameters()} == {np.dtype(np.float32)}
    opt_params = list(m.parameters())
    m.double()
    assert [p for p in m.parameters()] == opt_params  # the same Parameter objects
    with pytest.raises(TypeError, match="floating"):
        nn.Linear(2, 2, dtype=np.int64)
    with pytest.raises(TypeError, match="not a floating dtype"):
        m.to(np.int32)
    out = nn.Linear(2, 1)([[1.0, 2.0]])
    assert out.shape == (1, 1)


def test_numpy_functions_on_tensors():
    t = cr.tensor(np.array([1.0, 2.0]))
    assert isinstance(np.exp(t), np.ndarray)
    assert np.sum(t) == 3.0
    assert isinstance(np.ones(2) + t, np.ndarray)  # NumPy on the left, no graph: an array
    p = cr.tensor(np.array([1.0, 2.0]), requires_grad=True)
    p.grad = cr.tensor(np.array([1.0, 1.0]))
    p.data = p.data - 0.5 * p.grad  # PyTorch's SGD by hand: .data stays an array
    assert type(p.data) is np.ndarray and p.tolist() == [0.5, 1.5]
    w = cr.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = np.array([2.0, 3.0]) * w  # the operator stays in the graph
    y.sum().backward()
    assert w.grad.tolist() == [2.0, 3.0]
    with pytest.raises(TypeError, match=r"use the tensor's own operation \(t.exp\(\)"):
        np.exp(w)
    with cr.no_grad():
        assert isinstance(np.exp(w), np.ndarray)  # nothing to drop without grad mode


def test_save_of_a_module_says_to_save_its_state_dict(tmp_path):
    with pytest.raises(cr.CheckpointError, match=r"model.state_dict\(\)"):
        cr.save(nn.Linear(2, 2), tmp_path / "m.ckpt")
    assert not (tmp_path / "m.ckpt").exists()


def test_one_coercion_python_numbers_are_tensors_of_the_default_dtype():
    assert cr.exp(1.0).dtype == cr.tensor(1.0).exp().dtype == np.float32
    assert cr.sum(3.0).item() == 3.0 and cr.mean([1.0, 2.0]).item() == 1.5
    assert (cr.tensor([1.0], dtype=np.float32) + 1.5).dtype == np.float32  # weakly typed
    x = np.arange(3.0)
    assert cr.as_tensor(x).data is x  # an ndarray input is not copied


def test_shapes_that_do_not_broadcast_are_a_shape_error_by_their_shapes():
    with pytest.raises(ShapeError, match=r"add: shapes \(2, 3\), \(4,\) do not broadcast"):
        cr.ones((2, 3)) + cr.ones((4,))


def test_assigning_a_grad_checks_it_as_pytorch_does():
    p = cr.tensor(np.zeros((2, 3), np.float32), requires_grad=True)
    with pytest.raises(cr.ShapeError, match=r"shape \(3,\) to a tensor of shape \(2, 3\)"):
        p.grad = cr.tensor(np.zeros(3, np.float32))
    with pytest.raises(TypeError, match="expected a Tensor or None"):
        p.grad = np.zeros((2, 3), np.float32)
    assert p.grad is None  # a refused assignment changes nothing
    p.grad = cr.tensor(np.ones((2, 3), np.float32))
    assert p.grad.shape == (2, 3)
    p.grad = None
    assert p.grad is None
