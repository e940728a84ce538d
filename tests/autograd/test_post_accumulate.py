"""Post-accumulate-grad hooks and end-of-backward callbacks (graph/accumulate.py): what
DistributedDataParallel launches its all-reduces from, while backward still runs."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.errors import BackwardError
from chainrule.graph import accumulate


def leaf(*values):
    return cr.tensor(np.array(values, dtype=np.float64), requires_grad=True)


def test_the_hook_sees_the_whole_gradient_of_the_pass_once():
    w = leaf(1.0, 2.0)
    seen = []
    w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.numpy().copy()))
    ((w * w).sum() + (3 * w).sum()).backward()  # two edges into w
    assert len(seen) == 1
    np.testing.assert_array_equal(seen[0], [5.0, 7.0])
    (w * 2).sum().backward()  # accumulated over calls, as .grad is
    np.testing.assert_array_equal(seen[1], [7.0, 9.0])


def test_it_runs_while_backward_goes_on_to_earlier_layers():
    x = cr.tensor(np.ones((2, 3)))
    w1, w2 = (cr.tensor(np.full((3, 3), 0.5), requires_grad=True) for _ in range(2))
    w1_grad_when_w2_done = []
    w2.register_post_accumulate_grad_hook(lambda t: w1_grad_when_w2_done.append(w1.grad))
    ((x @ w1).tanh() @ w2).sum().backward()
    assert w1_grad_when_w2_done == [None]  # w1's gradient came later in the same pass
    assert w1.grad is not None


def test_callbacks_run_once_the_pass_has_ended():
    a, b = leaf(1.0), leaf(2.0)
    log = []

    def hook(t):
        log.append("hook")
        accumulate.queue_callback(lambda: log.append(("end", a.grad.item(), b.grad.item())))

    a.register_post_accumulate_grad_hook(hook)
    (a * b * b).sum().backward()
    assert log == ["hook", ("end", 4.0, 4.0)]
    with pytest.raises(BackwardError, match="no backward pass is running"):
        accumulate.queue_callback(lambda: None)


def test_gradients_are_bitwise_those_without_hooks():
    rng = np.random.default_rng(0)
    x = cr.tensor(rng.standard_normal((4, 5)).astype(np.float32))
    grads = []
    for hooked in (False, True):
        w = cr.tensor(rng.standard_normal((5, 5)).astype(np.float32) * 0 + 0.3,
                      requires_grad=True)
        if hooked:
            w.register_post_accumulate_grad_hook(lambda t: None)
        ((x @ w).sigmoid() @ w + (x @ w)).sum().backward()
        grads.append(w.grad.numpy())
    np.testing.assert_array_equal(*grads)


def test_removed_hooks_and_functional_grad_do_not_call_it():
    w = leaf(1.0)
    calls = []
    handle = w.register_post_accumulate_grad_hook(calls.append)
    (g,) = cr.autograd.grad((w * w).sum(), [w])  # returns the gradient, accumulates nothing
    assert calls == [] and w.grad is None and g.item() == 2.0
    handle.remove()
    (w * w).sum().backward()
    assert calls == []


def test_a_leaf_as_the_root_and_a_non_leaf():
    w = leaf(3.0)
    calls = []
    w.register_post_accumulate_grad_hook(lambda t: calls.append(t.grad.item()))
    w.backward(cr.tensor(np.array([2.0])))
    assert calls == [2.0]
    with pytest.raises(BackwardError, match="only a leaf that requires grad"):
        (w * 2).register_post_accumulate_grad_hook(print)
