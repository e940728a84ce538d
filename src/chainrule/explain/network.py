"""The network, run on the real engine: forward pass, losses, and the local slopes sigma'(z).

Layer k computes, for one sample (a = the previous layer's output, x for the first layer)::

    z = W a + b          dz/dW[j, i] = a[i],  dz/db[j] = 1
    a' = sigma(z)

and the per-sample loss l(y, t) of the output y:

    half_squared_error   l = 1/2 sum_k (y_k - t_k)^2     dl/dy_k = y_k - t_k
    squared_error        l = sum_k (y_k - t_k)^2         dl/dy_k = 2 (y_k - t_k)
    cross_entropy        l = -sum_k t_k log y_k, y = softmax(z)
                                                         dl/dz_k = y_k sum(t) - t_k

Everything is built from chainrule ops, so the gradients ``explain`` shows are the
engine's. The only derivatives written here by hand are the activations' own slopes
sigma'(z), the lecture's "amplifiers", read off the forward values; the trace checks them
against the engine (dl/dz must equal sigma'(z) * dl/da).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import chainrule as cr
from chainrule.explain.spec import Spec


def activate(z: cr.Tensor, name: str) -> cr.Tensor:
    """a = sigma(z) with engine ops. softmax normalises along the last axis."""
    if name == "sigmoid":
        return z.sigmoid()
    if name == "tanh":
        return z.tanh()
    if name == "relu":
        return z.relu()
    if name == "linear":
        return z
    if name == "softmax":
        # softmax(z) = exp(z - logsumexp(z)): no exponential can overflow.
        return (z - z.logsumexp(axis=-1, keepdims=True)).exp()
    raise ValueError(f"activate: unknown activation {name!r}")


def sigma_prime(z: np.ndarray, a: np.ndarray, name: str) -> np.ndarray | None:
    """The slope sigma'(z) of an elementwise activation, from the forward values.

    sigmoid: a (1 - a);  tanh: 1 - a^2;  relu: [z > 0];  linear: 1.
    None for softmax: its Jacobian is not diagonal, so it is no single amplifier.
    """
    if name == "sigmoid":
        return a * (1 - a)
    if name == "tanh":
        return 1 - a * a
    if name == "relu":
        return (z > 0).astype(z.dtype)  # NOTE: relu'(0) = 0, as the engine (and PyTorch)
    if name == "linear":
        return np.ones_like(z)
    if name == "softmax":
        return None
    raise ValueError(f"sigma_prime: unknown activation {name!r}")


def loss(y: cr.Tensor, t: np.ndarray, name: str) -> cr.Tensor:
    """Per-sample loss l(y, t), summed over the last axis (one value per sample)."""
    target = cr.tensor(np.asarray(t, dtype=np.float64))
    if name == "half_squared_error":
        return 0.5 * ((y - target) ** 2).sum(axis=-1)
    if name == "squared_error":
        return ((y - target) ** 2).sum(axis=-1)
    if name == "cross_entropy":
        return -(target * y.log()).sum(axis=-1)
    raise ValueError(f"loss: unknown loss {name!r}")


def parameters(weights: list[np.ndarray], biases: list[np.ndarray]) -> list[tuple]:
    """Fresh leaf tensors (W, b) per layer, float64, requiring grad."""
    return [
        (cr.tensor(np.array(w, dtype=np.float64), requires_grad=True),
         cr.tensor(np.array(b, dtype=np.float64), requires_grad=True))
        for w, b in zip(weights, biases)
    ]


#: watch(kind, layer, tensor) with kind in {"z", "a"}: how an observer sees each layer.
Watcher = Callable[[str, int, cr.Tensor], None]


def forward_sample(spec: Spec, params: list[tuple], x: np.ndarray | cr.Tensor,
                   t: np.ndarray, watch: Watcher | None = None) -> cr.Tensor:
    """One sample through the network, the lecture's way: z = W a + b, a' = sigma(z).

    ``x`` may be a tensor (e.g. one that requires grad, to see dl/dx). Returns the scalar
    loss l. ``watch`` sees every z and a as it is made, so an observer
    can read its value and register a hook for its gradient.
    """
    a = x if isinstance(x, cr.Tensor) else cr.tensor(np.asarray(x, dtype=np.float64))
    for k, ((w, b), layer) in enumerate(zip(params, spec.layers)):
        z = w @ a + b
        if watch:
            watch("z", k, z)
        a = activate(z, layer.activation)
        if watch:
            watch("a", k, a)
    return loss(a, t, spec.loss)


def total_loss(spec: Spec, params: list[tuple], inputs: np.ndarray | None = None,
               targets: np.ndarray | None = None) -> cr.Tensor:
    """All samples at once: Z = X W^T + b row by row, L = sum over samples of l^n."""
    a = cr.tensor(np.asarray(spec.inputs if inputs is None else inputs, dtype=np.float64))
    for (w, b), layer in zip(params, spec.layers):
        a = activate(a @ w.T + b, layer.activation)
    return loss(a, spec.targets if targets is None else targets, spec.loss).sum()


def total_loss_value(spec: Spec, weights: list[np.ndarray], biases: list[np.ndarray]) -> float:
    """L for the given weights, forward only (no graph recorded)."""
    with cr.no_grad():
        params = [(cr.tensor(w), cr.tensor(b)) for w, b in zip(weights, biases)]
        return float(total_loss(spec, params).item())
