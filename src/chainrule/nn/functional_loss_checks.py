"""The checks and reshapes nn.functional's losses share on every backend (functional_loss.py
for NumPy, functional_loss_xp.py for other libraries): targets, weights, ranges, and the
class axis moved last. Each error names the loss, the shapes or values, and a fix."""

from __future__ import annotations

import math

import numpy as np

from chainrule import _backend as B
from chainrule.errors import ShapeError
from chainrule.graph import forward_mode
from chainrule.tensor import Tensor


def _moves(t) -> bool:
    """Does ``t`` carry a derivative: does it require grad, or carry a forward-mode tangent?
    Only then may it stay a tensor; anything else becomes a constant array."""
    return isinstance(t, Tensor) and (t.requires_grad or bool(forward_mode.tangents(t)))


def _constant(x, dtype, what: str, name: str):
    """A weight-like argument as an array of ``dtype`` (None stays None). It is a constant
    of the loss: one that requires grad is refused, as PyTorch refuses it."""
    if x is None:
        return None
    if isinstance(x, Tensor):
        if _moves(x):
            raise ValueError(f"{what}: {name} requires grad, but it is a constant of the loss "
                             f"(no gradient flows to it). help: pass {name}.detach()")
        x = x.data
    return np.asarray(x, dtype=dtype)


def _class_weight(weight, num_classes: int, dtype, what: str):
    w = _constant(weight, dtype, what, "weight")
    if w is not None and w.shape != (num_classes,):
        raise ShapeError(f"{what}: weight has shape {w.shape}, expected ({num_classes},): one "
                         f"weight per class. help: give a 1-d weight of length {num_classes}")
    return w


def _broadcast_weight(weight, shape: tuple, what: str, name: str, dtype):
    w = _constant(weight, dtype, what, name)
    if w is not None:
        try:
            fits = np.broadcast_shapes(w.shape, shape) == shape
        except ValueError:
            fits = False
        if not fits:
            raise ShapeError(f"{what}: {name} of shape {w.shape} does not broadcast to the "
                             f"input's shape {shape}. help: give {name} the input's shape, or "
                             "one that broadcasts to it (e.g. (C,) for the last axis)")
    return w


def _target_shape(shape: tuple) -> tuple:
    """The class-index target's shape for an input of ``shape``: (N, d1, ...) or ()."""
    return shape[:1] + shape[2:] if len(shape) > 1 else ()


def _check_targets(integer: bool, dtype, got: tuple, shape: tuple, what: str) -> None:
    """Class-index targets (dtype ``dtype``, shape ``got``) for an input of ``shape``."""
    if not integer:
        raise TypeError(f"{what}: targets must be integer class indices, got dtype {dtype} "
                        f"and shape {got}. help: pass labels as an int array, e.g. "
                        "y.astype(np.int64)" + (
                            "; class probabilities (floats) must have the input's shape "
                            f"{shape}" if what == "cross_entropy" else ""))
    want = _target_shape(shape)
    if got != want:
        raise ShapeError(f"{what}: expected {math.prod(want)} targets of shape {want} (the "
                         f"input's shape {shape} without its class axis 1), got shape "
                         f"{got}. help: one class index per sample (and position)")


def _check_range(t, c: int, ignore_index: int, what: str) -> None:
    bad = t[(t != ignore_index) & ((t < 0) | (t >= c))]
    if bad.size:
        raise IndexError(f"{what}: target class {int(bad.flat[0])} is out of range for {c} "
                         f"classes (valid: 0..{c - 1}, or ignore_index={ignore_index}). "
                         "help: check the labels and the model's number of outputs; mark "
                         "samples to skip with ignore_index")


def _check_unit_interval(values, name: str, what: str) -> None:
    values = values.data if isinstance(values, Tensor) else values
    if values.size and not ((values >= 0) & (values <= 1)).all():
        raise ValueError(f"{what}: every {name} value must be in [0, 1], got values from "
                         f"{np.nanmin(values)} to {np.nanmax(values)}. help: apply sigmoid "
                         "first, or better, pass the logits to binary_cross_entropy_with_logits "
                         "(stable for any logit)")


def _as_rows(x):
    """(N, C, d1, ...) as (N d1 ..., C), the class axis last; (C,) as (1, C). Tensors and
    arrays alike."""
    if x.ndim == 2:
        return x
    if x.ndim == 1:
        return x.reshape(1, x.shape[0])
    return x.transpose(0, *range(2, x.ndim), 1).reshape(-1, x.shape[1])


def _is_probabilities(target, shape: tuple) -> bool:
    """PyTorch's rule: a floating target of the input's shape holds class probabilities
    (any other target must be class indices)."""
    if not isinstance(target, (Tensor, np.ndarray)) and not B.is_foreign(target):
        target = np.asarray(target)
    return B.is_float(target.dtype) and tuple(target.shape) == shape
