"""Primitives for neural networks, fused where one node beats a composition.

Each says why it is fused. Their VJPs take the differentiable route under
``create_graph`` (tensors in, e.g. ``softmax(x)`` recomputed from the saved input) and
the fast route on arrays otherwise (reusing what the forward pass computed).
"""

from __future__ import annotations

import math

import numpy as np

from chainrule.errors import ShapeError
from chainrule.ops import dual
from chainrule.ops.core import Op, apply
from chainrule.tensor import Tensor


def _graph_mode(x) -> bool:
    return isinstance(x, Tensor)


class Linear(Op):
    """y = x @ W^T + b;  dx = g @ W,  dW = g^T @ x,  db = sum of g over the batch

    Fused: one node instead of transpose + matmul + add, for every layer of every MLP.
    """

    def forward(self, x, w, b=None):
        self.save(x=x, w=w)
        y = x @ w.T
        if b is not None:
            y += b
        return y

    def vjp(self, g):
        x, w = self.x, self.w
        dx = g @ w if self.needs(0) else None
        g2 = g.reshape(-1, g.shape[-1])
        dw = g2.T @ x.reshape(-1, x.shape[-1]) if self.needs(1) else None
        db = g2.sum(axis=0) if len(self.parents) > 2 and self.needs(2) else None
        return dx, dw, db


class LogSoftmax(Op):
    """y = x - logsumexp(x) along ``axis``;  dx = g - softmax(x) * sum(g)

    A primitive for stability (never exp of a large number) and because its VJP reuses y.
    """

    def forward(self, x):
        m = x.max(axis=self.axis, keepdims=True)
        shifted = x - m
        y = shifted - np.log(np.exp(shifted).sum(axis=self.axis, keepdims=True))
        self.save(y=y)
        return y

    def vjp(self, g):
        return g - dual.exp(self.y) * g.sum(axis=self.axis, keepdims=True)


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


_erf = np.frompyfunc(math.erf, 1, 1)


class Erf(Op):
    """y = erf(x);  dx = g * 2/sqrt(pi) * exp(-x^2)   (NumPy has no erf: math.erf per element)"""

    def forward(self, x):
        self.save(x=x)
        return np.asarray(_erf(x), dtype=x.dtype)

    def vjp(self, g):
        x = self.x
        return g * (2 / math.sqrt(math.pi)) * dual.exp(-(x * x))


# --- convolution and pooling: im2col -------------------------------------------------------


def _windows(x, kh, kw, stride):
    """(N, C, H, W) -> a view (N, C, Ho, Wo, kh, kw) of every window."""
    v = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))
    return v[:, :, ::stride, ::stride]


class Unfold(Op):
    """im2col: y[(n, i, j), (u, v, c)] = x[n, c, i*s + u, j*s + v];  dx = fold(g)

    Turns a convolution into one matrix product (one BLAS call per layer). Columns are
    ordered (u, v, c), channels innermost, so that ``Fold`` adds contiguous rows.
    """

    def forward(self, x):
        self.in_shape = x.shape
        win = _windows(x, self.kh, self.kw, self.stride)
        n, c, ho, wo = win.shape[:4]
        return win.transpose(0, 2, 3, 4, 5, 1).reshape(n * ho * wo, self.kh * self.kw * c)

    def vjp(self, g):
        return fold(g, self.in_shape, self.kh, self.kw, self.stride)


class Fold(Op):
    """col2im, Unfold's adjoint: overlapping windows add up;  dx = unfold(g)

    Accumulates in (N, H, W, C) order, where each window offset is a contiguous block.
    """

    def forward(self, cols):
        n, c, h, w = self.shape
        kh, kw, s = self.kh, self.kw, self.stride
        ho, wo = (h - kh) // s + 1, (w - kw) // s + 1
        win = cols.reshape(n, ho, wo, kh, kw, c)
        out = np.zeros((n, h, w, c), dtype=cols.dtype)
        for u in range(kh):
            for v in range(kw):
                out[:, u:u + s * ho:s, v:v + s * wo:s, :] += win[:, :, :, u, v, :]
        return np.ascontiguousarray(out.transpose(0, 3, 1, 2))

    def vjp(self, g):
        return unfold(g, self.kh, self.kw, self.stride)


def unfold(x, kh, kw, stride=1):
    return apply(Unfold, x, kh=kh, kw=kw, stride=stride) if _graph_mode(x) else \
        Unfold.forward(_bare(Unfold, kh=kh, kw=kw, stride=stride), x)


def fold(cols, shape, kh, kw, stride=1):
    return apply(Fold, cols, shape=shape, kh=kh, kw=kw, stride=stride) if _graph_mode(cols) \
        else Fold.forward(_bare(Fold, shape=shape, kh=kh, kw=kw, stride=stride), cols)


def _bare(cls, **params):
    op = object.__new__(cls)
    op.__dict__.update(params)
    return op


class MaxPool2d(Op):
    """y = max over each k x k window;  dx = g routed to the window's (first) maximum

    Like PyTorch, one element per window gets the gradient, even at ties. The forward
    scans the k*k window offsets as strided views (no copy of the windows) and keeps the
    winning offset; for non-overlapping windows the backward writes g straight back.
    """

    def forward(self, x):
        k, s = self.k, self.stride
        self.in_shape = x.shape
        win = _windows(x, k, k, s)  # (N, C, Ho, Wo, k, k), a view
        y = win[..., 0, 0].copy()
        arg = np.zeros(y.shape, dtype=np.int8)
        for i in range(1, k * k):
            cand = win[..., i // k, i % k]
            better = cand > y  # strictly: the first maximum wins ties
            np.copyto(y, cand, where=better)
            np.copyto(arg, np.int8(i), where=better)
        self.save(arg=arg)
        return y

    def vjp(self, g):
        k, s, arg = self.k, self.stride, self.arg
        n, c, ho, wo = g.shape
        if not _graph_mode(g) and s == k:
            dx = np.zeros(self.in_shape, dtype=g.dtype)
            for i in range(k * k):
                u, v = divmod(i, k)
                dx[:, :, u:u + k * ho:k, v:v + k * wo:k] = np.where(arg == i, g, 0)
            return dx
        mask = np.stack([arg == i for i in range(k * k)], axis=-1).astype(g.dtype)
        cols = (g.reshape(n, c, ho, wo, 1) * mask).transpose(0, 2, 3, 4, 1)
        return fold(cols.reshape(n * ho * wo, k * k * c), self.in_shape, k, k, s)


class BatchNorm(Op):
    """y = xhat * w + b, xhat = (x - mean) / sqrt(var + eps), statistics over ``axes``;
    dx = (1/sqrt(var+eps)) * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)),
    dxhat = g * w;  dw = sum(g * xhat);  db = sum(g)

    Fused: three passes over the activations instead of a dozen elementwise nodes. Under
    ``create_graph`` the vjp differentiates the same formula written with chainrule ops.
    """

    def forward(self, x, w, b):
        axes, shape = self.axes, self.shape
        mean = x.mean(axis=axes, keepdims=True)
        d = x - mean
        var = np.mean(d * d, axis=axes, keepdims=True)
        inv = 1 / np.sqrt(var + self.eps)
        xhat = d * inv
        self.save(x=x, w=w, b=b, xhat=xhat, inv=inv)
        self.stats["mean"], self.stats["var"] = mean.reshape(-1), var.reshape(-1)
        return xhat * w.reshape(shape) + b.reshape(shape)

    def vjp(self, g):
        axes, shape = self.axes, self.shape
        if _graph_mode(g):
            return _recorded_vjp(self, g, lambda x, w, b: batch_norm_composed(
                x, w, b, axes, shape, self.eps))
        xhat, inv, w = self.xhat, self.inv, self.w
        dw = (g * xhat).sum(axis=axes)
        db = g.sum(axis=axes)
        m = g.size // g.shape[1]
        dxhat = g * w.reshape(shape)
        dx = inv * (dxhat - dxhat.sum(axis=axes, keepdims=True) / m
                    - xhat * ((dxhat * xhat).sum(axis=axes, keepdims=True) / m))
        return dx, dw, db


def batch_norm_composed(x, w, b, axes, shape, eps):
    """The batch-norm formula with chainrule ops (what the fused primitive computes)."""
    mean = x.mean(axis=axes, keepdims=True)
    d = x - mean
    var = (d * d).mean(axis=axes, keepdims=True)
    return d / (var + eps).sqrt() * w.reshape(shape) + b.reshape(shape)


def _recorded_vjp(op, g, composed):
    """The vjp of a fused op under create_graph: differentiate its composed formula."""
    from chainrule.autograd import engine

    inputs = [op.x, op.w, op.b]
    with_grad = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    y = composed(*inputs)
    grads = iter(engine.grad(y, with_grad, gradient=g, create_graph=True))
    return tuple(next(grads) if any(t is u for u in with_grad) else None for t in inputs)


# --- public functions (used by nn.functional) ----------------------------------------------


def linear(x, weight, bias=None):
    if x.shape[-1] != weight.shape[-1]:
        raise ShapeError(
            f"linear: input has {x.shape[-1]} features (shape {x.shape}) but the weight expects "
            f"{weight.shape[-1]} (weight shape {weight.shape}). help: check the previous "
            "layer's output size, or add a Flatten")
    if bias is None:
        return apply(Linear, x, weight)
    return apply(Linear, x, weight, bias)


def log_softmax(x, axis=-1):
    return apply(LogSoftmax, x, axis=axis)


def softmax(x, axis=-1):
    return log_softmax(x, axis).exp()


def erf(x):
    return apply(Erf, x)


def cross_entropy(logits, target, reduction="mean"):
    return apply(CrossEntropy, logits, target=target, reduction=reduction)


def mse_loss(pred, target, reduction="mean"):
    return apply(MSELoss, pred, target, reduction=reduction)


def binary_cross_entropy_with_logits(logits, target, reduction="mean"):
    return apply(BCEWithLogits, logits, target=target, reduction=reduction)


def max_pool2d(x, k, stride):
    return apply(MaxPool2d, x, k=k, stride=stride)


def batch_norm(x, weight, bias, axes, eps):
    """Training-mode batch norm over ``axes``: (y, batch mean, biased batch variance)."""
    shape = tuple(1 if i in axes else n for i, n in enumerate(x.shape))
    stats: dict = {}
    y = apply(BatchNorm, x, weight, bias, axes=axes, shape=shape, eps=eps, stats=stats)
    return y, stats["mean"], stats["var"]
