"""The backward engine: accumulation, graph lifetime, hooks, grad modes, create_graph."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.errors import BackwardError


def test_fan_out_and_fan_in_accumulate():
    # b = a + a; c = b * b  ->  dc/da = 2b * 2 = 8a
    a = cr.tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    b = a + a
    c = (b * b).sum()
    c.backward()
    np.testing.assert_allclose(a.grad.numpy(), 8 * a.numpy())


def test_gradients_accumulate_across_calls_like_a_sum_of_losses():
    # L = l1 + l2: backward of each separately sums into .grad, as backward of L does.
    w = cr.tensor(np.array([0.5, -1.5]), requires_grad=True)
    x1, x2 = np.array([1.0, 2.0]), np.array([-3.0, 0.5])
    ((w * x1).sum() ** 2).backward()
    ((w * x2).sum() ** 2).backward()
    separate = w.grad.numpy().copy()
    w.grad = None
    (((w * x1).sum() ** 2) + ((w * x2).sum() ** 2)).backward()
    np.testing.assert_allclose(separate, w.grad.numpy())


def test_deep_chain_of_100k_ops_has_no_recursion_limit():
    x = cr.tensor(np.array([0.5]), requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y + 1e-6
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0])


def test_deep_tanh_chain_matches_hand_derivative():
    x = cr.tensor(np.array([0.3]), requires_grad=True)
    y, expected, v = x, 1.0, 0.3
    for _ in range(200):
        y = y.tanh() * 1.0001 + 0.001
        expected *= (1 - np.tanh(v) ** 2) * 1.0001
        v = np.tanh(v) * 1.0001 + 0.001
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [expected], rtol=1e-10)


def test_second_backward_without_retain_graph_is_a_clear_error():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = (x.tanh() * x).sum()
    y.backward()
    with pytest.raises(BackwardError, match="retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward_and_accumulates():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first, rtol=1e-6)


def test_saved_arrays_are_freed_after_backward():
    x = cr.tensor(np.ones((3, 3)), requires_grad=True)
    y = x.exp()
    node = y.grad_fn
    assert hasattr(node, "y")
    y.sum().backward()
    assert node.released and not hasattr(node, "y")


def test_non_scalar_backward_needs_a_gradient_of_exactly_its_shape():
    x = cr.tensor(np.ones((2, 3)), requires_grad=True)
    y = x * 2
    with pytest.raises(BackwardError, match="not a scalar"):
        y.backward()
    with pytest.raises(BackwardError, match="exactly"):
        y.backward(np.ones(3))  # broadcastable, but not the same shape
    y.backward(np.full((2, 3), 0.5))
    np.testing.assert_allclose(x.grad.numpy(), np.ones((2, 3)))


def test_backward_on_a_tensor_without_grad_is_a_clear_error():
    x = cr.tensor([1.0, 2.0])
    with pytest.raises(BackwardError, match="requires_grad=True"):
        (x * 2).sum().backward()


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="floating"):
        cr.tensor([1, 2, 3], requires_grad=True)


def test_leaf_hook_sees_and_can_replace_the_gradient():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g.numpy().copy()))
    handle = x.register_hook(lambda g: g * 10)
    (x * 3).sum().backward()
    np.testing.assert_allclose(seen[0], [3.0, 3.0])
    np.testing.assert_allclose(x.grad.numpy(), [30.0, 30.0])
    handle.remove()
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


def test_hook_on_intermediate_sees_dl_dz_and_changes_what_flows_on():
    w = cr.tensor(np.array([2.0]), requires_grad=True)
    z = w * 3.0
    seen = []
    z.register_hook(lambda g: seen.append(float(g.item())))
    z.register_hook(lambda g: g * 0)  # stop the gradient here
    (z * z).sum().backward()
    assert seen == [12.0]  # z = 6, l = z^2, dl/dz = 2z
    np.testing.assert_allclose(w.grad.numpy(), [0.0])


def test_retain_grad_keeps_grad_on_a_non_leaf():
    x = cr.tensor([1.0, -1.0], requires_grad=True)
    z = x * 2
    z.retain_grad()
    h = z.sigmoid()
    h.sum().backward()
    s = 1 / (1 + np.exp(-np.array([2.0, -2.0])))
    np.testing.assert_allclose(z.grad.numpy(), s * (1 - s), rtol=1e-6)
    assert h.grad is None  # not retained


def test_no_grad_context_and_decorator():
    x = cr.tensor([1.0], requires_grad=True)
    with cr.no_grad():
        y = x * 2
        with cr.enable_grad():
            z = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad

    @cr.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad
    assert cr.is_grad_enabled()


def test_detach_shares_data_and_cuts_the_graph():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d.is_leaf
    y = x * 1
    yd = y.detach()
    yd.numpy()[0] = 7.0
    assert y.numpy()[0] == 7.0


def test_detached_copy_is_a_constant_even_in_second_order():
    # y = x * x.detach() + x^2: dy/dx = x + 2x; the detached factor adds nothing to d2y/dx2 = 2.
    x = cr.tensor(np.array([3.0]), requires_grad=True)
    y = (x * x.detach() + x * x).sum()
    (g,) = cr.autograd.engine.grad(y, [x], create_graph=True)
    np.testing.assert_allclose(g.numpy(), [9.0])
    (gg,) = cr.autograd.engine.grad(g.sum(), [x])
    np.testing.assert_allclose(gg.numpy(), [2.0])


def test_create_graph_gives_second_derivatives():
    x = cr.tensor(np.array([0.7, -1.2]), requires_grad=True)
    y = (x**3).sum()
    y.backward(create_graph=True)
    g = x.grad
    assert g.requires_grad
    x.grad = None
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * x.numpy())


def test_functional_grad_and_value_and_grad():
    def f(a, b):
        return (a * b).sum() + (a**2).sum()

    a, b = np.array([1.0, 2.0]), np.array([3.0, -1.0])
    ga = cr.grad(f)(a, b)
    np.testing.assert_allclose(ga.numpy(), b + 2 * a)
    ga, gb = cr.grad(f, argnums=(0, 1))(a, b)
    np.testing.assert_allclose(gb.numpy(), a)
    value, g = cr.value_and_grad(f, argnums=1)(a, b)
    assert value.item() == pytest.approx(f(cr.tensor(a), cr.tensor(b)).item())
    np.testing.assert_allclose(g.numpy(), a)


def test_nested_functional_grad():
    d2 = cr.grad(cr.grad(lambda x: (x.sin()).sum()))
    x = np.array([0.3])
    np.testing.assert_allclose(d2(x).numpy(), -np.sin(x))


def test_grad_does_not_touch_leaf_grads():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    g = cr.grad(lambda x: (x * w).sum())(np.array([3.0, 4.0]))
    np.testing.assert_allclose(g.numpy(), [1.0, 2.0])
    assert w.grad is None


def test_gradcheck_reports_the_worst_element():
    class Wrong(cr.ops.core.Op):
        """y = x^2 with a deliberately wrong vjp (3x instead of 2x)."""

        def forward(self, x):
            self.save(x=x)
            return x * x

        def vjp(self, g):
            return g * 3 * self.x

    try:
        x = cr.tensor(np.array([1.0, 2.0]), requires_grad=True)
        with pytest.raises(cr.GradcheckError, match=r"input 0.*element \(1,\).*analytic 6"):
            cr.gradcheck(lambda t: cr.ops.apply(Wrong, t), [x])
    finally:
        cr.ops.PRIMITIVES.pop("Wrong")


def test_hessian_vector_product_of_an_mlp_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((8, 3))
    y = rng.standard_normal((8, 1))
    W1, b1 = rng.standard_normal((3, 5)), rng.standard_normal(5)
    W2 = rng.standard_normal((5, 1))
    v = [rng.standard_normal(a.shape) for a in (W1, b1, W2)]

    def loss_fn(lib, W1, b1, W2):
        h = (X_ @ W1 + b1).tanh()
        return ((h @ W2 - y_) ** 2).mean()

    X_, y_ = cr.tensor(X), cr.tensor(y)
    ps = [cr.tensor(a, requires_grad=True) for a in (W1, b1, W2)]
    grads = cr.autograd.engine.grad(loss_fn(cr, *ps), ps, create_graph=True)
    dot = sum((g * cr.tensor(vi)).sum() for g, vi in zip(grads, v))
    hvp = cr.autograd.engine.grad(dot, ps)

    X_, y_ = torch.tensor(X), torch.tensor(y)
    tps = [torch.tensor(a, requires_grad=True) for a in (W1, b1, W2)]
    tgrads = torch.autograd.grad(loss_fn(torch, *tps), tps, create_graph=True)
    tdot = sum((g * torch.tensor(vi)).sum() for g, vi in zip(tgrads, v))
    thvp = torch.autograd.grad(tdot, tps)
    for mine, ref in zip(hvp, thvp):
        np.testing.assert_allclose(mine.numpy(), ref.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("op", [
    lambda x: x + 2.0, lambda x: x - 2.0, lambda x: x * 2.0, lambda x: x / 2.0,
    lambda x: x ** 2.0, lambda x: cr.maximum(x, 0.5), lambda x: cr.minimum(x, 0.5),
])
def test_a_constant_operand_gets_no_gradient_computed(op):
    x = cr.tensor(np.array([1.0, 2.0]), requires_grad=True)
    node = op(x).grad_fn
    grads = node.vjp(np.ones(2))
    assert grads[1] is None and grads[0].shape == (2,)
    assert node.input_shape(0) == (2,)  # read off the leaf's record


def test_input_shapes_come_from_the_edges_across_broadcasting():
    a = cr.tensor(np.ones((3, 1)), requires_grad=True)
    b = (cr.tensor(np.ones(4), requires_grad=True) * 1.0)  # a non-leaf input
    node = (a + b).grad_fn
    assert node.input_shape(0) == (3, 1) and node.input_shape(1) == (4,)
    da, db = node.vjp(np.ones((3, 4)))
    assert da.shape == (3, 1) and db.shape == (4,)


def test_node_prehook_sees_and_can_replace_the_gradient_as_pytorch():
    import torch

    seen = []
    for lib in (cr, torch):
        w = lib.tensor(np.array([1.0, 2.0]), requires_grad=True)
        y = w * 3
        handle = y.grad_fn.register_prehook(
            lambda grads: (seen.append(grads[0].tolist()), (grads[0] * 2,))[1])
        y.sum().backward()
        assert w.grad.tolist() == [6.0, 6.0]  # 3 * the doubled gradient
        handle.remove()
        w.grad = None
        (w * 3).sum().backward()
        assert w.grad.tolist() == [3.0, 3.0]
    assert seen == [[1.0, 1.0], [1.0, 1.0]]


def frozen_after_forward(lib, layer, dtype):
    """Linear's weight frozen between its forward and backward (tools/parity_report.py
    runs it too): returns (weight.grad, bias.grad)."""
    out = layer(lib.ones((4, 3), dtype=dtype)).sum()
    layer.weight.requires_grad_(False)  # frozen after the forward
    out.backward()
    return layer.weight.grad, layer.bias.grad


def test_a_leaf_frozen_between_forward_and_backward_gets_no_grad_as_pytorch():
    import torch

    import chainrule.nn as nn

    for lib, layer in ((cr, nn.Linear(3, 2)), (torch, torch.nn.Linear(3, 2))):
        weight_grad, bias_grad = frozen_after_forward(lib, layer, lib.float32)
        assert weight_grad is None and bias_grad is not None
