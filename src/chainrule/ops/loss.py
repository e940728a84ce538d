"""Loss primitives, fused where one node beats a composition; each says why.

A VJP that reuses an array derived in the forward pass (cross-entropy's softmax) comes
with ``composed``, the loss written with chainrule ops, which the engine differentiates
under ``create_graph``.
"""

from __future__ import annotations

import math

import numpy as np

from chainrule import _backend as B
from chainrule.ops import generic
from chainrule.ops.core import INPUT, Op, apply, jvp_via_composed, tangent_sum
from chainrule.ops.elementwise import maximum
from chainrule.ops.reduce import log_softmax
from chainrule.tensor import Tensor


class CrossEntropy(Op):
    """l_n = logsumexp(x_n) - x_n[t_n];  dx_n = g_n * (softmax(x_n) - onehot(t_n))

    jvp: dy_n = sum_c softmax(x_n)_c dx_nc - dx_n[t_n], then reduced

    Fused with log-softmax: stable for logits of any magnitude, one node instead of four,
    and the softmax computed for the forward pass is the gradient's main term. ``target``
    (class indices) and ``reduction`` ('mean', 'sum' or 'none') are constants of the op.
    Under ``create_graph`` the vjp computes that softmax again from x with recorded ops
    (Node.vjp_recorded hands it x as a tensor), so second derivatives see its dependence
    on x: three ops, where differentiating the composition (logsumexp, indexing, mean)
    took a forward and a recorded backward of its own.
    """

    portable = True

    def forward(self, x):
        if self.xp is not np:
            return self._forward_portable(x)
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

    def _forward_portable(self, x):
        """The forward above in the array API: the target's logits picked with
        take_along_axis (NumPy's fancy indexing is not in the standard)."""
        xp, n = self.xp, x.shape[0]
        shifted = x - xp.max(x, axis=1, keepdims=True)
        e = xp.exp(shifted)
        s = xp.sum(e, axis=1, keepdims=True)
        t = xp.reshape(xp.asarray(self.target, dtype=xp.int64, device=self.device), (n, 1))
        losses = xp.log(s[:, 0]) - xp.take_along_axis(shifted, t, axis=1)[:, 0]
        if self.parents is not None:
            self.save(x=INPUT(0), p=e / s)
        if self.reduction == "none":
            return losses
        total = xp.sum(losses)
        return total / n if self.reduction == "mean" else total

    def _onehot(self, like):
        """onehot(target) as a constant array of ``like``'s library, device and dtype."""
        data = like.data if isinstance(like, Tensor) else like
        xp = self.xp
        t = xp.asarray(self.target, device=self.device)
        classes = xp.arange(data.shape[1], device=self.device)
        return xp.astype(xp.reshape(t, (-1, 1)) == classes, data.dtype)

    def _picked(self, x):
        """x_n[t_n] for every row n, as a tensor op (fancy indexing is not in the array
        API: there, the product with the one-hot rows)."""
        if self.xp is not np:
            return (x * self._onehot(x)).sum(axis=1)
        return x[np.arange(x.shape[0]), self.target]

    def jvp(self, xs, y, dxs):
        x, dx = xs[0], dxs[0]
        p = generic.exp(log_softmax(x, 1))
        return _reduced_tangent((p * dx).sum(axis=1) - self._picked(dx), self.reduction)

    def vjp(self, g):
        x, t = self.x, self.target
        n = x.shape[0]
        if isinstance(x, Tensor) and x._rg:  # create_graph: softmax(x) recorded (above)
            d = generic.exp(log_softmax(x, 1)) - self._onehot(x)
        elif self.xp is not np:
            d = self.p - self._onehot(self.p)
        else:
            d = self.p.copy()
            d[np.arange(n), t] -= 1
        if self.reduction == "none":
            return d * g.reshape(n, 1)
        return d * (g / n if self.reduction == "mean" else g)


class MSELoss(Op):
    """l = (p - t)^2 per element (then 'mean', 'sum' or 'none');  dp = 2 (p - t) g,  dt = -dp

    jvp: dl = 2 (p - t) (dp - dt) per element, then reduced

    Fused: one node instead of sub, mul, sum and scale, for every regression step.
    """

    portable = True

    def forward(self, p, t):
        d = p - t
        self.save(p=INPUT(0), t=INPUT(1))
        if self.reduction == "none":
            return d * d
        if self.xp is not np:
            total = self.xp.sum(d * d)
            return total / B.size(d) if self.reduction == "mean" else total
        total = np.vdot(d, d)  # one pass, no temporary (p - t)^2 array
        return total / d.size if self.reduction == "mean" else total

    def jvp(self, xs, y, dxs):
        (p, t), (dp, dt) = xs, dxs
        d = p - t
        inner = tangent_sum(d.shape, dp, None if dt is None else -dt)
        return _reduced_tangent(2 * d * inner, self.reduction)

    def vjp(self, g):
        d = self.p - self.t
        scale = g * (2.0 / d.size) if self.reduction == "mean" else g * 2.0
        dp = d * scale
        return dp, (-dp if self.needs(1) else None)


class BCEWithLogits(Op):
    """l = max(x, 0) - x t + log(1 + e^-|x|);  dx = g * (sigmoid(x) - t)

    jvp: dl = (sigmoid(x) - t) dx per element, then reduced

    A primitive: stable for any x, and exact at x = 0 (a composition through |x| and max
    would take a one-sided derivative there). ``target`` is a constant of the op.
    """

    portable = True

    def forward(self, x):
        if self.xp is not np:
            xp, t = self.xp, _constants(self, x, "target")
            losses = xp.maximum(x, 0) - x * t + xp.log1p(xp.exp(-xp.abs(x)))
            self.save(x=INPUT(0))
            return _reduced_portable(xp, losses, self.reduction)
        t = self.target
        losses = np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))
        self.save(x=INPUT(0))
        if self.reduction == "none":
            return losses
        total = losses.sum()
        return total / losses.size if self.reduction == "mean" else total

    def jvp(self, xs, y, dxs):
        x = xs[0]
        return _reduced_tangent((generic.sigmoid(x) - self.target) * dxs[0], self.reduction)

    def vjp(self, g):
        x = self.x
        d = generic.sigmoid(x) - self.target
        if self.reduction == "mean":
            return d * (g / B.size(x))
        return d * g


class SoftCrossEntropy(Op):
    """l_n = -sum_c q_nc log softmax(x_n)_c;  dx_n = g_n * (softmax(x_n) sum_c q_nc - q_n),
    dq_n = -g_n * log softmax(x_n)

    jvp: dy = the jvp of ``composed`` (log_softmax times q, reduced)

    Cross-entropy against target weights q (M, C): class weights, label smoothing, ignored
    rows (q_n = 0) and probability targets all become one q (nn.functional builds it), so
    they share one rule. Fused like CrossEntropy: stable for any logits, one node, and the
    forward's log-softmax gives both gradients. 'mean' divides by ``denom``, the weight of
    the targets that count (PyTorch's weighted mean); ``counted`` says whether any does.
    """

    portable = True

    def forward(self, x, q):
        if self.xp is not np:
            return self._forward_portable(x, q)
        m = x.max(axis=1, keepdims=True)
        shifted = x - m
        logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        with np.errstate(invalid="ignore"):
            qlogp = q * logp
        qlogp[q == 0] = 0  # NOTE: no target weight on a logit of -inf is 0, not 0 * -inf
        if self.parents is not None:
            self.save(x=INPUT(0), q=INPUT(1), logp=logp)
        return self._reduced(-qlogp.sum(axis=1))

    def _forward_portable(self, x, q):
        xp = self.xp
        shifted = x - xp.max(x, axis=1, keepdims=True)
        logp = shifted - xp.log(xp.sum(xp.exp(shifted), axis=1, keepdims=True))
        qlogp = q * xp.where(q == 0, 0.0, logp)  # NOTE: as above, never 0 * -inf
        if self.parents is not None:
            self.save(x=INPUT(0), q=INPUT(1), logp=logp)
        losses = -xp.sum(qlogp, axis=1)
        if self.reduction == "none":
            return losses
        total = xp.sum(losses)
        if self.reduction == "sum":
            return total
        return total / self.denom if self.denom else total * math.nan

    def _reduced(self, losses):
        if self.reduction == "none":
            return losses
        total = losses.sum()
        if self.reduction == "sum":
            return total
        if self.denom:
            return total / self.denom
        return total * math.nan  # PyTorch's 0 / 0: a mean over no counted target

    def composed(self, x, q):
        losses = -(log_softmax(x, 1) * q).sum(axis=1)
        if self.reduction == "mean" and not self.denom:
            return losses.sum() * self._empty_scale()
        return self._reduced(losses)

    def _empty_scale(self) -> float:
        # The gradient of a mean over nothing: zero when every target is ignored, NaN when
        # the counted ones all weigh 0, as PyTorch's.
        return math.nan if self.counted else 0.0

    def jvp(self, xs, y, dxs):
        return jvp_via_composed(self, xs, dxs)

    def vjp(self, g):
        logp, q = self.logp, self.q
        if self.reduction == "none":
            g = g.reshape(-1, 1)
        elif self.reduction == "mean":
            g = g / self.denom if self.denom else g * self._empty_scale()
        dx = (generic.exp(logp) * q.sum(axis=1, keepdims=True) - q) * g if self.needs(0) else None
        return dx, (-logp * g if self.needs(1) else None)


class WeightedBCEWithLogits(Op):
    """l = w [(1 - t) x + (1 + (pw - 1) t) softplus(-x)];
    dx = g * w * ((1 + (pw - 1) t) sigmoid(x) - pw t)

    jvp: dl = w ((1 + (pw - 1) t) sigmoid(x) - pw t) dx per element, then reduced

    BCEWithLogits with PyTorch's ``weight`` w and ``pos_weight`` pw (constants broadcast to
    x, as the target t; None for 1), in PyTorch's form: softplus(-x) = max(-x, 0) +
    log(1 + e^-|x|), stable for any x and exact at 0.
    """

    portable = True

    def forward(self, x):
        if self.xp is not np:
            xp = self.xp
            t, w, pw = _constants(self, x, "target", "weight", "pos_weight")
            softplus = xp.maximum(-x, 0) + xp.log1p(xp.exp(-xp.abs(x)))
            losses = (1 - t) * x + (softplus if pw is None else (1 + (pw - 1) * t) * softplus)
            self.save(x=INPUT(0))
            return _reduced_portable(xp, losses if w is None else losses * w, self.reduction)
        t, w, pw = self.target, self.weight, self.pos_weight
        softplus = np.maximum(-x, 0) + np.log1p(np.exp(-np.abs(x)))
        losses = (1 - t) * x + (softplus if pw is None else (1 + (pw - 1) * t) * softplus)
        if w is not None:
            losses = losses * w
        self.save(x=INPUT(0))
        if self.reduction == "none":
            return losses
        total = losses.sum()
        return total / losses.size if self.reduction == "mean" else total

    def jvp(self, xs, y, dxs):
        t, w, pw = self.target, self.weight, self.pos_weight
        s = generic.sigmoid(xs[0])
        d = s - t if pw is None else s * (1 + (pw - 1) * t) - pw * t
        if w is not None:
            d = d * w
        return _reduced_tangent(d * dxs[0], self.reduction)

    def vjp(self, g):
        t, w, pw = self.target, self.weight, self.pos_weight
        s = generic.sigmoid(self.x)
        d = s - t if pw is None else s * (1 + (pw - 1) * t) - pw * t
        if w is not None:
            d = d * w
        return d * (g / B.size(d) if self.reduction == "mean" else g)


class BinaryCrossEntropy(Op):
    """l = -w [t log(p) + (1 - t) log(1 - p)], each log clamped at -100;
    dp = g * w (p - t) / max(p (1 - p), eps)

    jvp: dl = w (p - t) / max(p (1 - p), eps) dp per element, then reduced

    PyTorch's rule for probabilities p in [0, 1]: the clamps keep the loss finite at p = 0
    and p = 1 (a sigmoid saturates there in float32) and the gradient finite, where a
    composition through log would give inf and NaN. ``target`` t and ``weight`` w (None
    for 1) are constants of the op.
    """

    eps = float(np.float32(1e-12))  # PyTorch's EPSILON, a C float: 9.99999996e-13
    portable = True

    def forward(self, p):
        if self.xp is not np:
            xp = self.xp
            t, w = _constants(self, p, "target", "weight")
            with np.errstate(divide="ignore"):  # array-api-strict computes with NumPy
                logs = xp.maximum(xp.log1p(-p), -100), xp.maximum(xp.log(p), -100)
            losses = (t - 1) * logs[0] - t * logs[1]
            self.save(p=INPUT(0))
            return _reduced_portable(xp, losses if w is None else losses * w, self.reduction)
        t, w = self.target, self.weight
        with np.errstate(divide="ignore"):  # log(0) = -inf, then clamped
            losses = (t - 1) * np.maximum(np.log1p(-p), -100) - t * np.maximum(np.log(p), -100)
        if w is not None:
            losses = losses * w
        self.save(p=INPUT(0))
        if self.reduction == "none":
            return losses
        total = losses.sum()
        return total / losses.size if self.reduction == "mean" else total

    def jvp(self, xs, y, dxs):
        p, t, w = xs[0], self.target, self.weight
        spread = p * (1 - p)
        d = (p - t) / maximum(spread, self.eps)
        if w is not None:
            d = d * w
        return _reduced_tangent(d * dxs[0], self.reduction)

    def vjp(self, g):
        p, t, w, eps = self.p, self.target, self.weight, self.eps
        spread = p * (1 - p)
        floor = maximum(spread, eps) if isinstance(p, Tensor) else np.maximum(spread, eps)
        d = (p - t) / floor
        if w is not None:
            d = d * w
        return d * (g / B.size(d) if self.reduction == "mean" else g)


def _constants(op, like, *names):
    """The op's constants ``names`` (NumPy arrays or numbers, as nn.functional gives them on
    the NumPy path) as arrays of ``like``'s library, device and dtype, kept on the op, so
    its vjp reads them there too; None stays None."""
    values = []
    for name in names:
        value = getattr(op, name)
        if value is not None and not (B.is_foreign(value)
                                      and B.same_dtype(value.dtype, like.dtype)):
            value = B.constant(value, like)
            setattr(op, name, value)
        values.append(value)
    return values[0] if len(values) == 1 else values


def _reduced_portable(xp, losses, reduction: str):
    """Elementwise ``losses`` reduced in namespace ``xp`` (the portable forwards' end)."""
    if reduction == "none":
        return losses
    total = xp.sum(losses)
    return total / B.size(losses) if reduction == "mean" else total


def _reduced_tangent(dl, reduction: str):
    """The tangent of the per-element losses ``dl``, reduced as the loss is."""
    if reduction == "none":
        return dl
    return dl.mean() if reduction == "mean" else dl.sum()


# --- public functions (used by nn.functional) ----------------------------------------------


def cross_entropy(logits, target, reduction="mean"):
    return apply(CrossEntropy, logits, target=target, reduction=reduction)


def mse_loss(pred, target, reduction="mean"):
    return apply(MSELoss, pred, target, reduction=reduction)


def binary_cross_entropy_with_logits(logits, target, reduction="mean"):
    return apply(BCEWithLogits, logits, target=target, reduction=reduction)


def soft_cross_entropy(logits, q, denom: float, counted: bool, reduction="mean"):
    return apply(SoftCrossEntropy, logits, q, denom=denom, counted=counted,
                 reduction=reduction)


def weighted_binary_cross_entropy_with_logits(logits, target, weight, pos_weight,
                                              reduction="mean"):
    return apply(WeightedBCEWithLogits, logits, target=target, weight=weight,
                 pos_weight=pos_weight, reduction=reduction)


def binary_cross_entropy(probs, target, weight, reduction="mean"):
    return apply(BinaryCrossEntropy, probs, target=target, weight=weight, reduction=reduction)
