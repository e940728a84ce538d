"""Functional autodiff: ``cr.grad(f)`` and ``cr.value_and_grad(f)`` return gradient functions."""

from __future__ import annotations

from chainrule.autograd import engine
from chainrule.errors import BackwardError
from chainrule.graph import grad_mode
from chainrule.tensor import Tensor


def value_and_grad(f, argnums=0):
    """``value_and_grad(f)(*args)`` -> ``(f(*args), df/dargs[argnums])``.

    ``f`` maps tensors to a scalar tensor. Arguments at ``argnums`` may be tensors,
    arrays or numbers. If an argument already requires grad (for instance inside an
    outer ``cr.grad``), the gradient is itself recorded, so ``cr.grad(cr.grad(f))``
    gives second derivatives.
    """
    _check_transform(f, "value_and_grad")
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
        if not isinstance(out, Tensor) or out.size != 1:  # Tensor.size: PyTorch's is a method
            shape = getattr(out, "shape", type(out).__name__)
            raise BackwardError(
                f"grad: f must return a scalar tensor, got {shape}. help: reduce the "
                "output, e.g. return loss.sum() or loss.mean()"
            )
        if not out.requires_grad:
            from chainrule import _backend as B
            from chainrule.tensor import _wrap

            grads = tuple(_wrap(B.full(t.shape, 0, t.data)) for t in inputs)
        else:
            grads = engine.grad(out, inputs, create_graph=nested)
        value = out if nested else out.detach()
        return value, (grads[0] if single else grads)

    return wrapped


def grad(f, argnums=0):
    """``grad(f)(*args)`` -> df/dargs[argnums] (a tuple when ``argnums`` is a tuple)."""
    _check_transform(f, "grad")
    vg = value_and_grad(f, argnums)

    def wrapped(*args, **kwargs):
        return vg(*args, **kwargs)[1]

    return wrapped


def _check_transform(f, name: str) -> None:
    if isinstance(f, Tensor):
        raise TypeError(
            f"cr.{name} takes a function (JAX's form: cr.{name}(f)(x)), got a Tensor. help: "
            "for PyTorch's torch.autograd.grad(outputs, inputs) use "
            "cr.autograd.grad(outputs, inputs)"
        )
    if not callable(f):
        raise TypeError(f"cr.{name} takes a function, got {type(f).__name__}")


def autograd_grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
                  allow_unused=None, materialize_grads=False):
    """PyTorch's ``torch.autograd.grad``: d outputs / d inputs, returned, not accumulated.

    ``outputs`` and ``inputs`` are tensors or sequences of them; ``grad_outputs`` the seeds
    (needed for non-scalar outputs). An input the outputs do not depend on is an error,
    unless ``allow_unused=True`` (then None) or ``materialize_grads=True`` (then zeros).
    """
    single_out = isinstance(outputs, Tensor)
    outputs = [outputs] if single_out else list(outputs)
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    grad_outputs = list(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"autograd.grad: {len(outputs)} outputs but {len(grad_outputs)} "
                         "grad_outputs. help: give one seed per output (None for a scalar)")
    if len(outputs) == 1:
        root, seed = outputs[0], grad_outputs[0]
    else:  # several outputs: d/dx of sum_i <seed_i, out_i>, the same vector-Jacobian product
        with grad_mode.enable_grad():
            root = sum((o * (go if go is not None else 1.0)).sum()
                       for o, go in zip(outputs, grad_outputs))
        seed = None
    grads = engine.grad(root, inputs, seed, retain_graph, create_graph,
                        materialize=materialize_grads)
    if not (allow_unused or materialize_grads):
        for i, g in enumerate(grads):
            if g is None:
                raise BackwardError(
                    f"autograd.grad: input {i} (shape {inputs[i].shape}) was not used to compute "
                    "the outputs. help: pass allow_unused=True to get None for it, or "
                    "materialize_grads=True to get zeros"
                )
    return grads
