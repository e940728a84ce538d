"""``torch.nn.utils``'s gradient helpers: clip the gradients before ``optimizer.step()``,
and flatten parameters into one vector and back."""

from __future__ import annotations

import math

import numpy as np

from chainrule.graph import grad_mode, trace
from chainrule.tensor import Tensor, _wrap


def _params(parameters) -> list:
    return [parameters] if isinstance(parameters, Tensor) else list(parameters)


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False):
    """Scale every gradient by ``max_norm / total_norm`` when the total norm (of all the
    gradients together) exceeds ``max_norm``, in place; return the total norm (a tensor),
    as PyTorch's."""
    # through trace.call: a compiled step clips on every replay, with that replay's grads
    return _wrap(trace.call(_clip_norm, tuple(_params(parameters)), max_norm, norm_type,
                            error_if_nonfinite))


def _clip_norm(params: tuple, max_norm: float, norm_type: float, error_if_nonfinite: bool):
    grads = [p.grad.data for p in params if p.grad is not None]
    if not grads:
        return np.zeros(())
    norm_type = float(norm_type)
    if math.isinf(norm_type):
        total = max(float(np.abs(g).max(initial=0.0)) for g in grads)
    else:
        total = sum(float((np.abs(g) ** norm_type).sum()) for g in grads) ** (1 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is "
            f"{total}, so they cannot be clipped. help: find where they became non-finite "
            "(cr.detect_anomaly()), or pass error_if_nonfinite=False")
    coef = max_norm / (total + 1e-6)
    if coef < 1:
        with grad_mode.no_grad():
            for g in grads:
                g *= coef
    return np.asarray(total, dtype=grads[0].dtype)


def clip_grad_value_(parameters, clip_value: float) -> None:
    """Clip every gradient element into [-clip_value, clip_value], in place."""
    trace.call(_clip_values, tuple(_params(parameters)), clip_value)  # replayed too


def _clip_values(params: tuple, clip_value: float) -> None:
    for p in params:
        if p.grad is not None:
            np.clip(p.grad.data, -clip_value, clip_value, out=p.grad.data)


def parameters_to_vector(parameters) -> Tensor:
    """All parameters, flattened and joined into one 1-d tensor (a copy)."""
    from chainrule.ops import concatenate

    return concatenate([p.reshape(-1) for p in _params(parameters)])


def vector_to_parameters(vec: Tensor, parameters) -> None:
    """Copy the entries of ``vec`` back into the parameters, in order, in place."""
    trace.refuse("vector_to_parameters writes the parameters inside the step")
    data = vec.data if isinstance(vec, Tensor) else np.asarray(vec)
    params = _params(parameters)
    total = sum(p.data.size for p in params)
    if data.ndim != 1 or data.size != total:
        raise ValueError(f"vector_to_parameters: expected a 1-d vector of {total} entries (the "
                         f"parameters' sizes), got shape {data.shape}")
    start = 0
    with grad_mode.no_grad():
        for p in params:
            n = p.data.size
            p.copy_(data[start:start + n].reshape(p.shape))
            start += n
