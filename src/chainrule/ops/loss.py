"""Loss primitives, fused where one node beats a composition; each says why.

Their VJPs take the differentiable route under ``create_graph`` (tensors in, e.g.
``softmax(x)`` recomputed from the saved input) and the fast route on arrays otherwise
(reusing what the forward pass computed).
"""

from __future__ import annotations

import numpy as np

from chainrule.ops.core import Op, apply
from chainrule.ops.reduce import softmax
from chainrule.tensor import Tensor


def _graph_mode(x) -> bool:
    return isinstance(x, Tensor)


class CrossEntropy(Op):
    """l_n = logsumexp(x_n) - x_n[t_n];  dx_n = g_n * (softmax(x_n) - onehot(t_n))

    Fused with log-softmax: stable for logits of any magnitude, one node instead of four,
    and the softmax computed for the forward pass is the gradient's main term. ``target``
    (class indices) and ``reduction`` ('mean', 'sum' or 'none') are constants of the op.
    """

    def forward(self, x):
        n = x.shape[0]
        rows = np.arange(n)
        m = x.max(axis=1, keepdims=True)
        shifted = x - m
        e = np.exp(shifted)
        s = e.sum(axis=1, keepdims=True)
        losses = np.log(s[:, 0]) - shifted[rows, self.target]
        if self.parents is not None:  # recorded: keep softmax(x) for the backward pass
            self.save(x=x, p=e / s)
        if self.reduction == "none":
            return losses
        total = losses.sum()
        return total / n if self.reduction == "mean" else total

    def vjp(self, g):
        x, t = self.x, self.target
        n = x.shape[0]
        if _graph_mode(x):
            onehot = np.zeros(x.shape, dtype=x.dtype)
            onehot[np.arange(n), t] = 1
            d = softmax(x, axis=1) - onehot
        else:
            d = self.p.copy()
            d[np.arange(n), t] -= 1
        if self.reduction == "none":
            return d * g.reshape(n, 1)
        return d * (g / n if self.reduction == "mean" else g)


class MSELoss(Op):
    """l = (p - t)^2 per element (then 'mean', 'sum' or 'none');  dp = 2 (p - t) g,  dt = -dp

    Fused: one node instead of sub, mul, sum and scale, for every regression step.
    """

    def forward(self, p, t):
        d = p - t
        self.save(p=p, t=t)
        if self.reduction == "none":
            return d * d
        total = np.vdot(d, d)  # one pass, no temporary (p - t)^2 array
        return total / d.size if self.reduction == "mean" else total

    def vjp(self, g):
        d = self.p - self.t
        scale = g * (2.0 / d.size) if self.reduction == "mean" else g * 2.0
        dp = d * scale
        return dp, (-dp if self.needs(1) else None)


class BCEWithLogits(Op):
    """l = max(x, 0) - x t + log(1 + e^-|x|);  dx = g * (sigmoid(x) - t)

    A primitive: stable for any x, and exact at x = 0 (a composition through |x| and max
    would take a one-sided derivative there). ``target`` is a constant of the op.
    """

    def forward(self, x):
        t = self.target
        losses = np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))
        self.save(x=x)
        if self.reduction == "none":
            return losses
        total = losses.sum()
        return total / losses.size if self.reduction == "mean" else total

    def vjp(self, g):
        x = self.x
        d = (x.sigmoid() if _graph_mode(x) else _sigmoid(x)) - self.target
        if self.reduction == "mean":
            return d * (g / x.size)
        return d * g


def _sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


# --- public functions (used by nn.functional) ----------------------------------------------


def cross_entropy(logits, target, reduction="mean"):
    return apply(CrossEntropy, logits, target=target, reduction=reduction)


def mse_loss(pred, target, reduction="mean"):
    return apply(MSELoss, pred, target, reduction=reduction)


def binary_cross_entropy_with_logits(logits, target, reduction="mean"):
    return apply(BCEWithLogits, logits, target=target, reduction=reduction)
