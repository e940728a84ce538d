"""What the transforms share: argument checks, the inputs they differentiate, and outputs."""

from __future__ import annotations

import numpy as np

from chainrule.errors import ShapeError
from chainrule.graph import forward_mode
from chainrule.ops.core import alias
from chainrule.tensor import Tensor, _wrap


def check_fn(f, name: str) -> None:
    if isinstance(f, Tensor) or not callable(f):
        raise TypeError(f"func.{name} takes a function (torch.func's form: {name}(f)(x)), got "
                        f"{type(f).__name__}. help: pass the function itself, then call the "
                        "result with the inputs")


def argnums_tuple(argnums, nargs: int, name: str) -> tuple:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if not nums:
        raise ValueError(f"func.{name}: argnums is empty. help: name at least one argument")
    for i in nums:
        if not isinstance(i, int) or not -nargs <= i < nargs:
            raise ValueError(f"func.{name}: argnums {i} is out of range for {nargs} positional "
                             "argument(s). help: argnums counts the positional arguments "
                             "from 0")
    return tuple(i % nargs for i in nums)


def as_primal(x, name: str) -> Tensor:
    """A floating-point tensor for input ``x`` (a tensor, array or number)."""
    t = x if isinstance(x, Tensor) else _wrap(np.asarray(x))
    if t.data.dtype.kind != "f":
        raise TypeError(f"func.{name}: inputs to differentiate must be floating point, got "
                        f"{t.data.dtype}. help: convert with .double() or .float()")
    return t


def as_tangent(v, primal: Tensor, name: str) -> Tensor:
    t = v if isinstance(v, Tensor) else _wrap(np.asarray(v))
    if t.shape != primal.shape:
        raise ShapeError(f"func.{name}: a tangent of shape {t.shape} for a primal of shape "
                         f"{primal.shape}. help: each tangent must have its primal's shape")
    if t.data.dtype.kind != "f":
        raise TypeError(f"func.{name}: tangents must be floating point, got {t.data.dtype}")
    return t if t.dtype == primal.dtype else t.astype(primal.dtype)


def differentiable(x: Tensor) -> Tensor:
    """A fresh tensor for ``x`` that requires grad, so that a reverse pass can stop there.

    Inside an outer transform (``x`` requires grad or carries tangents) it is an alias
    recorded on ``x``, so the outer transform still sees through it; otherwise a new leaf.
    """
    if x.requires_grad or forward_mode.tangents(x):
        t = alias(x)
        if not t.requires_grad:
            t.requires_grad = True  # a leaf with tangents (jvp of grad): keep them
        return t
    t = _wrap(x.data.view())
    t.requires_grad = True
    return t


def nested(xs) -> bool:
    """Is an outer transform watching? Then the inner one records what it does
    (create_graph), so that the outer one can differentiate it."""
    return forward_mode.active() or any(x.requires_grad or forward_mode.tangents(x)
                                        for x in xs)


def outputs(out, name: str) -> tuple:
    """``f``'s output as a tuple of tensors, and whether it was one tensor."""
    if isinstance(out, Tensor):
        return (out,), True
    if isinstance(out, (tuple, list)) and out and all(isinstance(o, Tensor) for o in out):
        return tuple(out), False
    raise TypeError(f"func.{name}: f must return a tensor or a tuple of tensors, got "
                    f"{type(out).__name__}. help: return the tensor(s) to differentiate; put "
                    "anything else in an aux output (has_aux=True)")


def split_aux(out, has_aux: bool, name: str):
    if not has_aux:
        return out, None
    if not (isinstance(out, tuple) and len(out) == 2):
        raise TypeError(f"func.{name}: with has_aux=True f must return a pair (output, aux), "
                        f"got {type(out).__name__}")
    return out
