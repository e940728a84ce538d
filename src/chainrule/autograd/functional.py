"""Functional autodiff: ``cr.grad(f)`` and ``cr.value_and_grad(f)`` return gradient functions."""

from __future__ import annotations

from chainrule.autograd import engine, grad_mode
from chainrule.errors import BackwardError
from chainrule.tensor import Tensor


def value_and_grad(f, argnums=0):
    """``value_and_grad(f)(*args)`` -> ``(f(*args), df/dargs[argnums])``.

    ``f`` maps tensors to a scalar tensor. Arguments at ``argnums`` may be tensors,
    arrays or numbers. If an argument already requires grad (for instance inside an
    outer ``cr.grad``), the gradient is itself recorded, so ``cr.grad(cr.grad(f))``
    gives second derivatives.
    """
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)

    def wrapped(*args, **kwargs):
        args = list(args)
        inputs, nested = [], False
        for i in nums:
            if i >= len(args):
                raise TypeError(f"grad: argnums {i} but only {len(args)} positional arguments")
            a = args[i]
            if isinstance(a, Tensor) and a.requires_grad:
                t, nested = a, True
            else:
                t = a.detach() if isinstance(a, Tensor) else Tensor(a)
                t.requires_grad = True
            args[i] = t
            inputs.append(t)
        with grad_mode.enable_grad():
            out = f(*args, **kwargs)
        if not isinstance(out, Tensor) or out.data.size != 1:
            shape = getattr(out, "shape", type(out).__name__)
            raise BackwardError(
                f"grad: f must return a scalar tensor, got {shape}. help: reduce the "
                "output, e.g. return loss.sum() or loss.mean()"
            )
        if not out.requires_grad:
            import numpy as np

            from chainrule.tensor import _wrap

            grads = tuple(_wrap(np.zeros_like(t.data)) for t in inputs)
        else:
            grads = engine.grad(out, inputs, create_graph=nested)
        value = out if nested else out.detach()
        return value, (grads[0] if single else grads)

    return wrapped


def grad(f, argnums=0):
    """``grad(f)(*args)`` -> df/dargs[argnums] (a tuple when ``argnums`` is a tuple)."""
    vg = value_and_grad(f, argnums)

    def wrapped(*args, **kwargs):
        return vg(*args, **kwargs)[1]

    return wrapped
