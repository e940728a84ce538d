"""In-place updates: correct gradients or a clear error, never a silent wrong result.

Every tensor carries a version (shared with its views); every node that saved an array
records the versions of its inputs and output, and backward refuses a changed one.
Inside the graph, an in-place op is recorded as its out-of-place form (as PyTorch's).
"""

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn as nn
from chainrule.errors import BackwardError, ShapeError

INPLACE = r"modified by an inplace operation"


def w64(values=(1.0, 2.0)):
    return cr.tensor(np.array(values), requires_grad=True)


# --- what a pending backward saved ---------------------------------------------------------


def test_changed_constant_input_is_refused():
    w, x = w64(), cr.tensor(np.array([3.0, 4.0]))
    y = (w * x).sum()
    x.mul_(0)  # the true gradient is the old x, which is gone
    with pytest.raises(BackwardError, match=r"input 1 of Mul.*" + INPLACE):
        y.backward()


def test_changed_saved_output_is_refused_and_named():
    q = w64((0.5, -1.0))
    y = q.sigmoid()
    with cr.no_grad():
        y.add_(1)
    with pytest.raises(BackwardError, match=r"the output of Sigmoid.*shape \(2,\).*" + INPLACE):
        y.sum().backward()


def test_write_through_data_to_a_saved_array_fails_at_once():
    q = w64((0.5, -1.0))
    y = q.sigmoid()
    with pytest.raises(ValueError, match="read-only"):
        y.data[:] = 0
    h = q * 1.0
    (h * h).sum()
    with pytest.raises(ValueError, match="read-only"):
        h.data[0] = 5  # a non-leaf input that Mul saved


def test_saved_arrays_are_writable_again_after_backward():
    q = w64((0.5, -1.0))
    y = q.sigmoid()
    y.sum().backward()
    y.data[:] = 0  # the graph is gone: nothing depends on these values any more
    assert y.tolist() == [0.0, 0.0]


def test_a_leafs_array_is_never_made_read_only():
    w = w64()
    (w * w).sum()
    assert w.data.flags.writeable


def test_change_through_a_view_is_seen_by_the_base_and_back():
    x = cr.tensor(np.arange(4.0))
    w = w64((1.0, 1.0, 1.0, 1.0))
    y = (w * x).sum()
    v = x.reshape(2, 2)  # a view: same memory, same version counter
    v.mul_(0)
    with pytest.raises(BackwardError, match=INPLACE):
        y.backward()
    w2 = w64((1.0, 1.0))
    part = x[1:3]
    y2 = (w2 * part).sum()
    x.add_(1)  # the base changes: the view's saved values did too
    with pytest.raises(BackwardError, match=INPLACE):
        y2.backward()


def test_detach_shares_the_version():
    q = w64((0.5, -1.0))
    y = q.exp()
    y.detach().zero_()
    with pytest.raises(BackwardError, match=r"the output of Exp"):
        y.sum().backward()


def test_a_derived_snapshot_is_not_a_false_alarm():
    x = w64((1.0, -2.0, 3.0))
    y = x.relu()  # saves a mask derived from x, not x's memory
    with cr.no_grad():
        x.add_(10)
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 0.0, 1.0]


# --- in-place ops inside the graph are recorded ----------------------------------------------


def test_issue_cases_give_the_true_gradient():
    w = w64()
    h = w * 1.0
    y = (h * h).sum()
    h.mul_(100)  # recorded on h; y's graph keeps the values it used
    y.backward()
    assert w.grad.tolist() == [2.0, 4.0]

    w = w64()
    e = w.exp()
    e.add_(1.0)
    e.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), np.exp([1.0, 2.0]))

    q = w64((0.5, -1.0))
    y = q.sigmoid()
    y.add_(1)
    y.sum().backward()
    s = 1 / (1 + np.exp(-np.array([0.5, -1.0])))
    np.testing.assert_allclose(q.grad.numpy(), s * (1 - s))


def _chain(x, w):
    y = x * 2
    y += w
    y *= x
    y /= 3.0
    y -= w
    y.add_(x, alpha=0.5)
    y.sub_(w, alpha=2.0)
    y.mul_(w)
    y.div_(x + 4)
    return (y * y).sum()


def test_recorded_in_place_chain_matches_pytorch():
    rng = np.random.default_rng(0)
    xv, wv = rng.normal(size=(3, 4)), rng.normal(size=(4,))
    x, w = cr.tensor(xv, requires_grad=True), cr.tensor(wv, requires_grad=True)
    tx = torch.tensor(xv, requires_grad=True)
    tw = torch.tensor(wv, requires_grad=True)
    loss = _chain(x * 1, w)  # neither library updates a leaf that requires grad in place
    tloss = _chain(tx * 1, tw)
    loss.backward()
    tloss.backward()
    np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-10)


def test_plus_equals_a_tensor_that_requires_grad_joins_the_graph():
    x = cr.tensor(np.zeros(2))
    w = w64()
    x += w * 3
    assert x.requires_grad and x.grad_fn is not None
    x.sum().backward()
    assert w.grad.tolist() == [3.0, 3.0]


def test_fill_and_copy_in_the_graph_cut_the_old_value():
    w = w64()
    h = w * 2
    h.fill_(3.0)
    (h * w).sum().backward()
    assert w.grad.tolist() == [3.0, 3.0]  # only through the second factor

    w, v = w64(), w64((5.0, 6.0))
    h = w * 2
    h.copy_(v)
    (h * h).sum().backward()
    assert w.grad.tolist() == [0.0, 0.0] and v.grad.tolist() == [10.0, 12.0]


def test_in_place_on_a_view_in_the_graph_is_refused():
    w = w64((1.0, 2.0, 3.0))
    h = w * 1.0
    v = h[0:2]
    with pytest.raises(BackwardError, match="shares memory"):
        v.mul_(2)
    with pytest.raises(BackwardError, match="shares memory"):
        h.mul_(2)


# --- operators and leaves ------------------------------------------------------------------


def test_minus_equals_under_no_grad_updates_the_parameter_itself():
    model = nn.Linear(3, 2)
    params = list(model.parameters())
    before = [p.numpy().copy() for p in params]
    (model(cr.ones((4, 3))) ** 2).sum().backward()
    lr = 0.1
    with cr.no_grad():
        for p in model.parameters():
            p -= lr * p.grad  # half of PyTorch's tutorials write SGD this way
    for p, b in zip(params, before):
        np.testing.assert_allclose(p.numpy(), b - lr * p.grad.numpy(), rtol=1e-6)
    assert all(isinstance(p, nn.Parameter) for p in model.parameters())


@pytest.mark.parametrize("op", ["+=", "-=", "*=", "/="])
def test_operators_are_in_place_with_a_version_bump(op):
    t = cr.tensor(np.array([2.0, 4.0]))
    alias, data, v = t, t.data, t._version
    exec(f"t {op} 2.0")
    assert t is alias and t.data is data and t._version == v + 1
    expected = {"+=": [4.0, 6.0], "-=": [0.0, 2.0], "*=": [4.0, 8.0], "/=": [1.0, 2.0]}[op]
    assert t.tolist() == expected


def test_leaf_that_requires_grad_changes_only_under_no_grad():
    w = w64()
    for update in (lambda: w.add_(1), lambda: w.mul_(2), lambda: w.zero_()):
        with pytest.raises(BackwardError, match="leaf tensor that requires grad"):
            update()
    with pytest.raises(BackwardError, match="leaf tensor that requires grad"):
        w += 1
    assert w.tolist() == [1.0, 2.0]


def test_in_place_cannot_change_the_shape():
    t = cr.tensor(np.zeros(3))
    with pytest.raises(ShapeError, match=r"does not broadcast to the tensor's shape \(3,\)"):
        t += cr.tensor(np.zeros((2, 3)))
    h = w64((1.0, 2.0, 3.0)) * 1
    with pytest.raises(ShapeError, match="cannot change the shape"):
        h += cr.tensor(np.zeros((2, 3)))


def test_in_place_keeps_the_dtype():
    t = cr.tensor(np.zeros(2, np.float32))
    t += cr.tensor(np.ones(2))  # float64 operand, float32 tensor
    assert t.dtype == np.float32
    h = cr.tensor(np.zeros(2, np.float32), requires_grad=True) * 1
    h += cr.tensor(np.ones(2), requires_grad=True)
    assert h.dtype == np.float32


def test_module_attribute_arithmetic_keeps_the_parameter():
    m = nn.Linear(2, 3)
    w = m.weight
    with cr.no_grad():
        m.weight -= 0.1
        m.bias *= 0
    assert m.weight is w and list(m.state_dict()) == ["weight", "bias"]  # order kept
    assert [n for n, _ in m.named_parameters()] == ["weight", "bias"]


def test_assigning_a_plain_tensor_over_a_parameter_is_a_type_error():
    m = nn.Linear(2, 3)
    with pytest.raises(TypeError, match=r"Linear: cannot assign a Tensor to parameter 'weight'"):
        m.weight = cr.tensor(np.zeros((3, 2)))
    with pytest.raises(TypeError, match="parameter 'bias'"):
        m.bias = 0.0
    m.weight = nn.Parameter(np.zeros((3, 2), np.float32))  # replacing with a Parameter is fine
    m.bias = None
    assert [n for n, _ in m.named_parameters()] == ["weight"]
