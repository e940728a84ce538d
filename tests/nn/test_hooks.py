"""Module hooks (nn/hooks.py) against PyTorch's: what each sees, what it may replace."""

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn as nn

W = np.random.default_rng(0).normal(size=(2, 3))
X = np.random.default_rng(1).normal(size=(4, 3))


def _arr(t):
    return t.detach().numpy() if isinstance(t, torch.Tensor) else t.numpy()


def _run(lib, scale_output, replace_grad_input):
    mod = nn if lib is cr else torch.nn
    layer = mod.Linear(3, 2, dtype=cr.float64 if lib is cr else torch.float64)
    with lib.no_grad():
        layer.weight.copy_(lib.tensor(W))
        layer.bias.zero_()
    x = lib.tensor(X, requires_grad=True)
    seen = {}
    layer.register_forward_pre_hook(lambda m, a: seen.update(pre=tuple(a[0].shape)))
    if scale_output:
        layer.register_forward_hook(lambda m, a, o: o * 2)

    def backward_hook(m, grad_input, grad_output):
        seen.update(gi=_arr(grad_input[0]).copy(), go=_arr(grad_output[0]).copy())
        return (grad_input[0] * 10,) if replace_grad_input else None

    layer.register_full_backward_hook(backward_hook)
    y = layer(x)
    h = x * 3  # x feeds something else too: grad_input is the layer's share only
    ((y * 5).sum() + (h * h).sum()).backward()
    seen["x.grad"] = _arr(x.grad)
    seen["y"] = _arr(y)
    return seen


@pytest.mark.parametrize("scale_output", [False, True])
@pytest.mark.parametrize("replace_grad_input", [False, True])
def test_hooks_see_and_replace_what_pytorchs_do(scale_output, replace_grad_input):
    ours = _run(cr, scale_output, replace_grad_input)
    theirs = _run(torch, scale_output, replace_grad_input)
    assert ours["pre"] == theirs["pre"] == (4, 3)
    for key in ("y", "go", "gi", "x.grad"):
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-12, err_msg=key)


def test_removed_hooks_run_no_more_and_a_module_without_hooks_is_untouched():
    layer = nn.Linear(3, 2)
    calls = []
    handle = layer.register_forward_hook(lambda m, a, o: calls.append(1))
    layer(cr.ones((1, 3)))
    handle.remove()
    handle.remove()  # twice is harmless
    layer(cr.ones((1, 3)))
    assert calls == [1]
    assert "_forward_hooks" not in nn.Linear(3, 2).__dict__  # no hook: nothing per instance
    assert not nn.Module._forward_hooks  # the shared default stays empty


def test_a_pre_hook_may_replace_the_input_and_a_hook_must_be_callable():
    layer = nn.Linear(3, 2)
    layer.register_forward_pre_hook(lambda m, a: cr.zeros((5, 3)))
    assert layer(cr.ones((1, 3))).shape == (5, 2)
    with pytest.raises(TypeError, match="must be callable"):
        layer.register_forward_hook("not a function")


def test_a_backward_hook_on_a_module_whose_input_needs_no_grad_sees_grad_output():
    layer = nn.Linear(3, 2)
    seen = []
    layer.register_full_backward_hook(lambda m, gi, go: seen.append((gi, go[0].shape)))
    layer(cr.ones((4, 3))).sum().backward()
    assert seen == [((None,), (4, 2))]


def dropout_p_1(lib, nn_module, dtype):
    """Dropout(p=1) in training (tools/parity_report.py runs it too): (output, x.grad)."""
    x = lib.ones((2, 3), dtype=dtype, requires_grad=True)
    y = nn_module.Dropout(p=1.0)(x)
    y.sum().backward()
    return y, x.grad


def test_dropout_with_p_1_gives_zeros_as_pytorch():
    y, grad = dropout_p_1(cr, nn, cr.float32)
    u, tgrad = dropout_p_1(torch, torch.nn, torch.float32)
    assert y.tolist() == u.tolist() and grad.tolist() == tgrad.tolist()
