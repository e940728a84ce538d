"""Loss primitives, fused where one node beats a composition; each says why.

A VJP that reuses an array derived in the forward pass (cross-entropy's softmax) comes
with ``composed``, the loss written with chainrule ops, which the engine differentiates
under ``create_graph``.
"""

from __future__ import annotations

import numpy as np

from chainrule.ops import generic
from chainrule.ops.core import INPUT, Op, apply
from chainrule.ops.reduce import logsumexp


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
            self.save(x=INPUT(0), p=e / s)
        if self.reduction == "none":
            return losses
        total = losses.sum()
        return total / n if self.reduction == "mean" else total

    def composed(self, x):
        losses = logsumexp(x, axis=1) - x[np.arange(x.shape[0]), self.target]
        if self.reduction == "none":
            return losses
        return losses.mean() if self.reduction == "mean" else losses.sum()

    def vjp(self, g):
        x, t = self.x, self.target
        n = x.shape[0]
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
        self.save(p=INPUT(0), t=INPUT(1))
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
        self.save(x=INPUT(0))
        if self.reduction == "none":
            return losses
        total = losses.sum()
        return total / losses.size if self.reduction == "mean" else total

    def vjp(self, g):
        x = self.x
        d = generic.sigmoid(x) - self.target
        if self.reduction == "mean":
            return d * (g / x.size)
        return d * g


# --- public functions (used by nn.functional) ----------------------------------------------


def cross_entropy(logits, target, reduction="mean"):
    return apply(CrossEntropy, logits, target=target, reduction=reduction)


def mse_loss(pred, target, reduction="mean"):
    return apply(MSELoss, pred, target, reduction=reduction)


def binary_cross_entropy_with_logits(logits, target, reduction="mean"):
    return apply(BCEWithLogits, logits, target=target, reduction=reduction)
