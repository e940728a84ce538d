"""Vector p-norms (``norm``, PyTorch's torch.norm / torch.linalg.vector_norm) and the
Frobenius norm (the 2-norm of all the entries reduced).

A primitive, not sqrt(sum(x^2)): that composition's gradient at x = 0 is 0/0 = NaN, where
PyTorch gives the subgradient 0. (batch norm lives in ops/norm.py: another kind of norm.)
"""

from __future__ import annotations

import math

import numpy as np

from chainrule import _backend as B
from chainrule.ops import generic
from chainrule.ops.core import INPUT, OUTPUT, Op, apply, torch_names
from chainrule.ops.reduce import _tie_weights, normalize_axis
from chainrule.tensor import as_tensor


class Norm(Op):
    """y = (sum of |x|^p)^(1/p) over ``axes`` (p = inf: max |x|; -inf: min |x|; 0: the
    number of nonzeros);  dx = g * sign(x) |x|^(p-1) / y^(p-1): for p = 2, g * x / y; for
    p = 1, g * sign(x); for p = +-inf, g * sign(x) on the extreme entries (split evenly at
    ties); for p = 0, none

    jvp: dy = sum over ``axes`` of dx * (x's weight in dx above, with g = 1); none for p = 0

    NOTE: where y = 0 (and, for p < 1, where x = 0) dx = 0, PyTorch's subgradient, not the
    0/0 of the formula.
    """

    portable = True  # the same formulas on every library (not the standard's vector_norm:
    # NumPy's and the others' numbers then agree, rounding included)

    def forward(self, x):
        p, axes, xp = self.p, self.axes, self.xp
        a = xp.abs(x)
        if p == math.inf:
            y = xp.max(a, axis=axes, keepdims=True)
        elif p == -math.inf:
            y = xp.min(a, axis=axes, keepdims=True)
        elif p == 0:
            y = xp.sum(B.astype(x != 0, x.dtype), axis=axes, keepdims=True)  # NumPy 1: no np.astype
        elif p == 1:
            y = xp.sum(a, axis=axes, keepdims=True)
        elif p == 2:
            y = xp.sqrt(xp.sum(x * x, axis=axes, keepdims=True))
        else:
            with np.errstate(divide="ignore"):  # 0^p for p < 0 is inf: its term's limit
                y = xp.sum(a ** p, axis=axes, keepdims=True) ** (1 / p)
        if self.recording and math.isinf(p):
            self.save(w=_tie_weights(a, y, axes, xp))
        self.kept = y.shape
        self.save(x=INPUT(0), y=OUTPUT)
        return y if self.keepdims else xp.reshape(y, tuple(n for i, n in enumerate(x.shape)
                                                           if i not in axes))

    def jvp(self, xs, y, dxs):
        p, x, dx = self.p, xs[0], dxs[0]
        if p == 0:
            return None  # a count: piecewise constant
        kept = y.reshape(self.kept)
        sign = _sign(x)
        y_zero = _is_zero(kept)
        if p == 1:
            w = sign
        elif math.isinf(p):
            a = abs(generic.constant(x))
            c = generic.constant(kept)
            w = sign * _tie_weights(a, c, self.axes, B.namespace(c))
        elif p == 2:
            w = x * _masked_ratio(1.0, kept, y_zero)  # 1.0: weak, y's dtype on any library
        elif p > 1:
            w = (x * sign) ** (p - 1) * sign * _masked_ratio(1.0, kept ** (p - 1), y_zero)
        else:
            x_zero = _is_zero(x)
            safe = generic.where(x_zero, 1.0, x * sign) if B.any_true(x_zero) else x * sign
            w = safe ** (p - 1) * sign * kept ** (1 - p)
        return (dx * w).sum(axis=self.axes, keepdims=self.keepdims)

    def vjp(self, g):
        p, x = self.p, self.x
        if p == 0:
            return None  # a count: no gradient, as PyTorch's (it leaves .grad None)
        g, y = g.reshape(self.kept), self.y.reshape(self.kept)
        sign = _sign(x)
        if p == 1:
            return g * sign
        if math.isinf(p):
            return g * (self.w * sign)
        y_zero = _is_zero(y)
        if p == 2:
            return x * _masked_ratio(g, y, y_zero)
        if p > 1:  # x * sign = |x|, written so that it stays differentiable under create_graph
            return (x * sign) ** (p - 1) * sign * _masked_ratio(g, y ** (p - 1), y_zero)
        x_zero = _is_zero(x)
        safe = generic.where(x_zero, 1.0, x * sign) if B.any_true(x_zero) else x * sign
        term = safe ** (p - 1) * sign  # sign(0) = 0 makes it 0 where x = 0
        return term * g * y ** (1 - p)


def _sign(x):
    """sign(x) as a constant array of x's library (0 at 0)."""
    c = generic.constant(x)
    return np.sign(c) if isinstance(c, np.ndarray) else B.namespace(c).sign(c)


def _is_zero(x):
    """Where x == 0, as a constant boolean array of x's library."""
    c = generic.constant(x)
    return np.asarray(c) == 0 if isinstance(c, (np.ndarray, np.generic)) else c == 0


def _masked_ratio(g, d, zero):
    """g / d, and 0 where ``zero`` (d = 0) instead of the division's inf or NaN."""
    if not B.any_true(zero):
        return g / d
    return generic.where(zero, 0.0, g / generic.where(zero, 1.0, d))


# --- public functions ----------------------------------------------------------------------


def norm(x, p="fro", dim=None, keepdim=None, *, axis=None, keepdims=False):
    """PyTorch's torch.norm for vector norms: the p-norm of the entries over ``dim`` (None:
    all of them), with p a number (inf and -inf too) or 'fro' (the 2-norm, which over two
    axes is the Frobenius norm). NumPy's ``axis``/``keepdims`` are accepted."""
    axis, keepdims = torch_names("norm", axis, keepdims, dim, keepdim)
    x = as_tensor(x)
    p = _order(p)
    axes = normalize_axis(axis, x.ndim, "norm")
    if math.isinf(p) and any(x.shape[a] == 0 for a in axes):
        raise ValueError(f"norm: the {p}-norm of an empty axis is undefined (shape {x.shape}). "
                         "help: reduce over axes that hold at least one element")
    return apply(Norm, x, p=p, axes=axes, keepdims=bool(keepdims))


def _order(p) -> float:
    if p is None or p == "fro":
        return 2.0
    if isinstance(p, str):
        raise ValueError(
            f"norm: p={p!r} is not supported: chainrule computes vector p-norms and the "
            "Frobenius norm. help: use a number (2, 1, float('inf'), ...) or 'fro'; for the "
            "nuclear norm take the sum of the singular values of np.linalg.svd")
    if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)):
        raise TypeError(f"norm: p must be a number or 'fro', got {p!r}. help: e.g. p=2")
    return float(p)
