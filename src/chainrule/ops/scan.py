"""Scans: running sums and products along one axis (cumsum, cumprod).

A running sum's VJP is a running sum the other way, so ``Cumsum`` carries a direction and
its VJP is itself reversed: higher orders come free. A running product's VJP is written
without dividing by x, so zeros in x get their true gradient (a division by the running
product would give 0/0 there); under ``create_graph`` the engine differentiates
``composed``, the product written as a chain of multiplications.
"""

from __future__ import annotations

import numpy as np

from chainrule.ops.core import INPUT, OUTPUT, Op, apply, jvp_via_composed, torch_names
from chainrule.ops.index import check_dim
from chainrule.ops.shape import stack
from chainrule.tensor import Tensor, as_tensor


class Cumsum(Op):
    """y_i = sum of x_j for j <= i along ``axis`` (j >= i when ``reverse``);
    dx = g summed the other way: dx_j = sum of g_i for i >= j (i <= j when ``reverse``)

    jvp: dy = the running sum of dx, the same way
    """

    portable = True

    def forward(self, x):
        xp = self.xp
        if xp is not np:
            if not self.reverse:
                return xp.cumulative_sum(x, axis=self.axis)
            return xp.flip(xp.cumulative_sum(xp.flip(x, axis=self.axis), axis=self.axis),
                           axis=self.axis)
        return running_sum(x, self.axis, self.reverse)

    def jvp(self, xs, y, dxs):
        return apply(Cumsum, dxs[0], axis=self.axis, reverse=self.reverse)

    def vjp(self, g):
        return running_sum(g, self.axis, not self.reverse)


def running_sum(x, axis: int, reverse: bool):
    """The cumulative sum along ``axis`` (from the end when ``reverse``), on an ndarray or,
    recorded, on a tensor."""
    if isinstance(x, Tensor):
        return apply(Cumsum, x, axis=axis, reverse=reverse)
    if not reverse:
        return np.cumsum(x, axis=axis)
    return np.ascontiguousarray(np.flip(np.cumsum(np.flip(x, axis), axis=axis), axis))


class Cumprod(Op):
    """y_i = product of x_j for j <= i along ``axis``;  dx_k = y_(k-1) * s_k, with y_(-1) = 1
    and s_k = sum over i >= k of g_i * x_(k+1) * ... * x_i  (s_k = g_k + x_(k+1) s_(k+1))

    jvp: dy = the jvp of ``composed`` (dy_i = sum over k <= i of dx_k times the other x_j, j
    <= i)

    NOTE: no division by x, so an x_k = 0 gets its true gradient (the product of the
    others), as PyTorch's does.
    """

    portable = True

    def forward(self, x):
        self.save(x=INPUT(0), y=OUTPUT)
        if self.xp is not np:
            return self.xp.cumulative_prod(x, axis=self.axis)
        return np.cumprod(x, axis=self.axis)

    def composed(self, x):
        return running_product(x, self.axis)

    def jvp(self, xs, y, dxs):
        return jvp_via_composed(self, xs, dxs)

    def vjp(self, g):
        if self.xp is not np:  # tensors here: the same recursion on slices, then a stack
            lead = (slice(None),) * self.axis
            x, y, dx, s = self.x, self.y, [], None
            for k in range(x.shape[self.axis] - 1, -1, -1):
                s = g[lead + (k,)] if s is None else g[lead + (k,)] + x[lead + (k + 1,)] * s
                dx.append(s if k == 0 else y[lead + (k - 1,)] * s)
            return stack(dx[::-1], axis=self.axis)
        x = np.moveaxis(self.x, self.axis, 0)
        y = np.moveaxis(self.y, self.axis, 0)
        g = np.moveaxis(g, self.axis, 0)
        dx = np.empty(g.shape, dtype=np.result_type(x, g))
        s = None
        for k in range(len(x) - 1, -1, -1):  # s_k from s_(k+1): one pass, from the end
            s = g[k] if s is None else g[k] + x[k + 1] * s
            dx[k] = s if k == 0 else y[k - 1] * s
        return np.moveaxis(dx, 0, self.axis)


def running_product(x: Tensor, axis: int) -> Tensor:
    """cumprod written with chainrule ops, one multiplication per step (Cumprod.composed)."""
    n = x.shape[axis]
    if n == 0:
        return x * 1
    lead = (slice(None),) * axis
    steps = [x[lead + (0,)]]
    for i in range(1, n):
        steps.append(steps[-1] * x[lead + (i,)])
    return stack(steps, axis=axis)


# --- public functions ----------------------------------------------------------------------


def _axis(x, axis, dim, op):
    axis, _ = torch_names(op, axis, None, dim, None)
    x = as_tensor(x)
    if axis is None:  # NumPy's rule: the flattened tensor (PyTorch insists on a dim)
        return x.reshape(-1), 0
    return x, check_dim(axis, x.ndim, op)


def cumsum(x, axis=None, *, dim=None):
    """Running sums along ``axis`` (PyTorch's ``dim``); ``axis=None`` flattens first."""
    x, axis = _axis(x, axis, dim, "cumsum")
    if x.ndim == 0:  # PyTorch: a 0-d tensor is its own running sum (and product)
        return apply(Cumsum, x.reshape(1), axis=0, reverse=False).reshape(())
    return apply(Cumsum, x, axis=axis, reverse=False)


def cumprod(x, axis=None, *, dim=None):
    """Running products along ``axis`` (PyTorch's ``dim``); ``axis=None`` flattens first."""
    x, axis = _axis(x, axis, dim, "cumprod")
    if x.ndim == 0:
        return apply(Cumprod, x.reshape(1), axis=0).reshape(())
    return apply(Cumprod, x, axis=axis)
