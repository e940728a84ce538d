"""Autodiff: the backward engine, grad modes, functional grad and gradient checking."""

from chainrule.autograd.functional import grad, value_and_grad
from chainrule.autograd.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from chainrule.autograd.gradcheck import gradcheck, gradgradcheck

__all__ = [
    "enable_grad", "grad", "gradcheck", "gradgradcheck", "is_grad_enabled", "no_grad",
    "set_grad_enabled", "value_and_grad",
]
