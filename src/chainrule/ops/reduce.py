"""Reductions: sum, max/min and logsumexp are primitives; mean, var, std compose them.

A reduction's VJP puts g back on every element that was reduced: reshape g to the
kept-dims shape, then broadcast it over the input.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from chainrule import _backend as B
from chainrule.ops import generic
from chainrule.ops.core import INPUT, OUTPUT, Op, apply, torch_names
from chainrule.ops.elementwise import sqrt
from chainrule.tensor import _wrap, as_tensor


def normalize_axis(axis, ndim: int, op: str) -> tuple:
    """``axis`` (None, int or tuple, negatives allowed) as a sorted tuple of axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < (ndim or 1):
            raise np.exceptions.AxisError(
                f"{op}: axis {a} is out of range for a tensor of {ndim} dimension(s)"
            )
        out.append(int(a) % (ndim or 1))
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis}")
    return tuple(sorted(out))


def kept_shape(shape: tuple, axes: tuple) -> tuple:
    """The shape of the reduction with keepdims=True."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class Sum(Op):
    """y = sum of x over ``axes``;  dx = g broadcast back over the summed axes

    jvp: dy = sum of dx over ``axes``
    """

    portable = True

    def forward(self, x):
        self.in_shape = x.shape
        if self.xp is not np:
            return self.xp.sum(x, axis=self.axes, keepdims=self.keepdims)
        return x.sum(axis=self.axes, keepdims=self.keepdims)

    def jvp(self, xs, y, dxs):
        return apply(Sum, dxs[0], axes=self.axes, keepdims=self.keepdims)

    def vjp(self, g):
        g = g.reshape(kept_shape(self.in_shape, self.axes))
        return generic.broadcast_to(g, self.in_shape)


class Max(Op):
    """y = max of x over ``axes``;  dx = g * [x == y] / (number of maxima)

    jvp: dy = sum over ``axes`` of dx * [x == y] / (number of maxima)

    NOTE: ties split the gradient evenly among the tied elements. A NaN is the maximum of
    any set that holds one (NumPy and PyTorch agree), so the gradient is split evenly among
    the NaN entries, as PyTorch's max() does; the others get 0.
    """

    portable = True

    def forward(self, x):
        xp = self.xp
        y = x.max(axis=self.axes, keepdims=True) if xp is np else \
            xp.max(x, axis=self.axes, keepdims=True)
        if self.recording:
            self.save(w=_tie_weights(x, y, self.axes, xp))
        return y if self.keepdims else xp.reshape(y, _dropped(x.shape, self.axes))

    def jvp(self, xs, y, dxs):
        return _tie_jvp(self, xs[0], y, dxs[0])

    def vjp(self, g):
        return g.reshape(kept_shape(self.w.shape, self.axes)) * self.w


class Min(Op):
    """y = min of x over ``axes``;  dx = g * [x == y] / (number of minima)

    jvp: dy = sum over ``axes`` of dx * [x == y] / (number of minima)
    """

    portable = True

    def forward(self, x):
        xp = self.xp
        y = x.min(axis=self.axes, keepdims=True) if xp is np else \
            xp.min(x, axis=self.axes, keepdims=True)
        if self.recording:
            self.save(w=_tie_weights(x, y, self.axes, xp))
        return y if self.keepdims else xp.reshape(y, _dropped(x.shape, self.axes))

    def jvp(self, xs, y, dxs):
        return _tie_jvp(self, xs[0], y, dxs[0])

    def vjp(self, g):
        return g.reshape(kept_shape(self.w.shape, self.axes)) * self.w


def _dropped(shape: tuple, axes: tuple) -> tuple:
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def _tie_jvp(op, x, y, dx):
    """Max and Min's jvp: dx averaged over each reduction's tied extremes."""
    x, xp = generic.constant(x), op.xp
    y_kept = xp.reshape(generic.constant(y), kept_shape(x.shape, op.axes))
    w = _tie_weights(x, y_kept, op.axes, xp)
    return apply(Sum, dx * w, axes=op.axes, keepdims=op.keepdims)


def _tie_weights(x, y_kept, axes, xp=np):
    hit = x == y_kept
    if B.any_true(xp.isnan(y_kept)):  # NaN == NaN is False: the NaN entries are the maxima
        hit = hit | (xp.isnan(x) & xp.isnan(y_kept))
    if xp is np:
        return (hit / hit.sum(axis=axes, keepdims=True)).astype(x.dtype)
    hit = xp.astype(hit, x.dtype)
    return hit / xp.sum(hit, axis=axes, keepdims=True)


class LogSumExp(Op):
    """y = log sum exp(x) over ``axes``;  dx = g * exp(x - y)   (= g * softmax(x))

    jvp: dy = sum over ``axes`` of dx * exp(x - y)

    Computed as m + log sum exp(x - m) with m the max, so it never overflows.
    """

    portable = True

    def forward(self, x):
        xp = self.xp
        self.kept = kept_shape(x.shape, self.axes)
        m = xp.max(x, axis=self.axes, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0.0)  # rows of -inf (or inf) stay as they are
        with np.errstate(divide="ignore"):  # a row of -inf has log(0) = -inf: correct
            y = m + xp.log(xp.sum(xp.exp(x - m), axis=self.axes, keepdims=True))
        if not self.keepdims:
            y = xp.reshape(y, _dropped(x.shape, self.axes))
        self.save(x=INPUT(0), y=OUTPUT)
        return y

    def jvp(self, xs, y, dxs):
        kept = kept_shape(xs[0].shape, self.axes)
        w = generic.exp(xs[0] - y.reshape(kept))
        return apply(Sum, dxs[0] * w, axes=self.axes, keepdims=self.keepdims)

    def vjp(self, g):
        return g.reshape(self.kept) * generic.exp(self.x - self.y.reshape(self.kept))


class LogSoftmax(Op):
    """y = x - logsumexp(x) along ``axis``;  dx = g - softmax(x) * sum(g)

    jvp: dy = dx - sum(softmax(x) * dx) along ``axis``

    A primitive for stability (never exp of a large number) and because its VJP reuses y.
    """

    portable = True

    def forward(self, x):
        xp = self.xp
        if xp is not np:
            shifted = x - xp.max(x, axis=self.axis, keepdims=True)
            y = shifted - xp.log(xp.sum(xp.exp(shifted), axis=self.axis, keepdims=True))
            self.save(y=OUTPUT)
            return y
        m = x.max(axis=self.axis, keepdims=True)
        shifted = x - m
        y = shifted - np.log(np.exp(shifted).sum(axis=self.axis, keepdims=True))
        self.save(y=OUTPUT)
        return y

    def jvp(self, xs, y, dxs):
        dx = dxs[0]
        return dx - (generic.exp(y) * dx).sum(axis=self.axis, keepdims=True)

    def vjp(self, g):
        return g - generic.exp(self.y) * g.sum(axis=self.axis, keepdims=True)


# --- public functions ---------------------------------------------------------------------


class ValuesIndices(NamedTuple):
    """``x.max(dim=1)`` returns this, as PyTorch's ``torch.return_types.max``: with
    ``axis=`` (NumPy's form) max and min return the values alone."""

    values: object
    indices: object


def _reduce(op_cls, x, axis, keepdims, name):
    x = as_tensor(x)
    axes = normalize_axis(axis, x.ndim, name)
    if name in ("max", "min") and any(x.shape[a] == 0 for a in axes):
        raise ValueError(f"{name}: cannot reduce an empty axis of a tensor of shape {x.shape}")
    return apply(op_cls, x, axes=axes, keepdims=bool(keepdims))


def sum(x, axis=None, keepdims=False, *, dim=None, keepdim=None):  # noqa: A001 - the NumPy name
    axis, keepdims = torch_names("sum", axis, keepdims, dim, keepdim)
    return _reduce(Sum, x, axis, keepdims, "sum")


def max(x, axis=None, keepdims=False, *, dim=None, keepdim=None):  # noqa: A001
    if dim is not None:  # PyTorch's form, PyTorch's result: (values, indices)
        axis, keepdims = torch_names("max", axis, keepdims, dim, keepdim)
        return ValuesIndices(_reduce(Max, x, axis, keepdims, "max"),
                             argmax(x, axis, keepdims))
    return _reduce(Max, x, axis, keepdims, "max")


def min(x, axis=None, keepdims=False, *, dim=None, keepdim=None):  # noqa: A001
    if dim is not None:  # PyTorch's form, PyTorch's result: (values, indices)
        axis, keepdims = torch_names("min", axis, keepdims, dim, keepdim)
        return ValuesIndices(_reduce(Min, x, axis, keepdims, "min"),
                             argmin(x, axis, keepdims))
    return _reduce(Min, x, axis, keepdims, "min")


def logsumexp(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    axis, keepdims = torch_names("logsumexp", axis, keepdims, dim, keepdim)
    return _reduce(LogSumExp, x, axis, keepdims, "logsumexp")


def _count(x, axis) -> int:
    axes = normalize_axis(axis, x.ndim, "mean")
    return int(np.prod([x.shape[a] for a in axes]))


def mean(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """sum / n"""
    axis, keepdims = torch_names("mean", axis, keepdims, dim, keepdim)
    x = as_tensor(x)
    n = _count(x, axis)
    return sum(x, axis, keepdims) * (1.0 / n if n else float("nan"))


def var(x, axis=None, keepdims=False, ddof=0, *, dim=None, keepdim=None, correction=None,
        unbiased=None):
    """sum((x - mean)^2) / (n - ddof)

    NOTE: ddof defaults to 0 (NumPy's); PyTorch's default is 1. Its names are taken too:
    ``correction=1`` or ``unbiased=True`` for the sample variance.
    """
    axis, keepdims = torch_names("var", axis, keepdims, dim, keepdim)
    ddof = _ddof(ddof, correction, unbiased)
    x = as_tensor(x)
    n = _count(x, axis)
    d = x - mean(x, axis, keepdims=True)
    denom = n - ddof
    return sum(d * d, axis, keepdims) * (1.0 / denom if denom > 0 else float("nan"))


def std(x, axis=None, keepdims=False, ddof=0, *, dim=None, keepdim=None, correction=None,
        unbiased=None):
    """sqrt(var); ddof as var's"""
    axis, keepdims = torch_names("std", axis, keepdims, dim, keepdim)
    return sqrt(var(x, axis, keepdims, _ddof(ddof, correction, unbiased)))


def _ddof(ddof, correction, unbiased) -> int:
    if correction is not None:
        return correction
    if unbiased is not None:
        return 1 if unbiased else 0
    return ddof


def argmax(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    axis, keepdims = torch_names("argmax", axis, keepdims, dim, keepdim)
    x = as_tensor(x)
    if type(x.data) is not np.ndarray:
        return _wrap(B.namespace(x.data).argmax(x.data, axis=axis, keepdims=keepdims))
    return _wrap(np.asarray(np.argmax(x.data, axis=axis, keepdims=keepdims)))


def argmin(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    axis, keepdims = torch_names("argmin", axis, keepdims, dim, keepdim)
    x = as_tensor(x)
    if type(x.data) is not np.ndarray:
        return _wrap(B.namespace(x.data).argmin(x.data, axis=axis, keepdims=keepdims))
    return _wrap(np.asarray(np.argmin(x.data, axis=axis, keepdims=keepdims)))


def log_softmax(x, axis=-1):
    return apply(LogSoftmax, x, axis=axis)


def softmax(x, axis=-1):
    return log_softmax(x, axis).exp()
