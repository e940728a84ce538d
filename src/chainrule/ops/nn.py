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
    """im2col: y[(n, i, j), (c, u, v)] = x[n, c, i*s + u, j*s + v];  dx = fold(g)

    Turns a convolution into one matrix product (one BLAS call per layer).
    """

    def forward(self, x):
        self.in_shape = x.shape
        win = _windows(x, self.kh, self.kw, self.stride)
        n, c, ho, wo = win.shape[:4]
        return win.transpose(0, 2, 3, 1, 4, 5).reshape(n * ho * wo, c * self.kh * self.kw)

    def vjp(self, g):
        return fold(g, self.in_shape, self.kh, self.kw, self.stride)


class Fold(Op):
    """col2im, Unfold's adjoint: overlapping windows add up;  dx = unfold(g)"""

    def forward(self, cols):
        n, c, h, w = self.shape
        kh, kw, s = self.kh, self.kw, self.stride
        ho, wo = (h - kh) // s + 1, (w - kw) // s + 1
        win = cols.reshape(n, ho, wo, c, kh, kw)
        out = np.zeros(self.shape, dtype=cols.dtype)
        for u in range(kh):
            for v in range(kw):
                out[:, :, u:u + s * ho:s, v:v + s * wo:s] += win[:, :, :, :, u, v].transpose(
                    0, 3, 1, 2)
        return out

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

    Like PyTorch, one element per window gets the gradient, even at ties.
    """

    def forward(self, x):
        k, s = self.k, self.stride
        win = _windows(x, k, k, s)
        n, c, ho, wo = win.shape[:4]
        flat = win.reshape(n, c, ho, wo, k * k)
        arg = flat.argmax(axis=-1)
        y = np.take_along_axis(flat, arg[..., None], axis=-1)[..., 0]
        mask = np.zeros(flat.shape, dtype=x.dtype)
        np.put_along_axis(mask, arg[..., None], 1, axis=-1)
        self.save(mask=mask.reshape(n, c, ho, wo, k, k))
        self.in_shape = x.shape
        return y

    def vjp(self, g):
        n, c, ho, wo = g.shape
        k = self.k
        cols = (g.reshape(n, c, ho, wo, 1, 1) * self.mask).transpose(0, 2, 3, 1, 4, 5)
        return fold(cols.reshape(n * ho * wo, c * k * k), self.in_shape, k, k, self.stride)


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


def binary_cross_entropy_with_logits(logits, target, reduction="mean"):
    return apply(BCEWithLogits, logits, target=target, reduction=reduction)


def max_pool2d(x, k, stride):
    return apply(MaxPool2d, x, k=k, stride=stride)
