"""Autodiff: the backward engine, grad modes, functional grad and gradient checking.

``cr.autograd.grad(outputs, inputs)`` is PyTorch's ``torch.autograd.grad``; ``cr.grad(f)``
(the top level) is JAX's transform.
"""

from chainrule.autograd.functional import autograd_grad as grad
from chainrule.autograd.functional import value_and_grad
from chainrule.autograd.gradcheck import gradcheck, gradgradcheck
from chainrule.graph.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled

__all__ = [
    "enable_grad", "grad", "gradcheck", "gradgradcheck", "is_grad_enabled", "no_grad",
    "set_grad_enabled", "value_and_grad",
]
