"""RMSprop, as PyTorch's: the NumPy path with ``out=`` work arrays, and beside it the same
arithmetic in the same order for any other array library (so the same rounding, but for a
sqrt that is not correctly rounded: PyTorch's float32 one, docs/backends.md)."""

from __future__ import annotations

import numpy as np

from chainrule import _backend as B
from chainrule.optim.optimizer import Optimizer


class RMSprop(Optimizer):
    """RMSprop, as PyTorch's (eps added outside the square root):

        g <- g + wd * w                                  (if wd)
        s <- alpha s + (1 - alpha) g^2
        a <- alpha a + (1 - alpha) g;  s~ = s - a^2        (if centered; else s~ = s)
        d = g / (sqrt(s~) + eps)
        b <- momentum b + d;  w <- w - lr b               (if momentum; else w <- w - lr d)
    """

    decaying = ("square_avg", "momentum_buffer", "grad_avg")

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False):
        if not 0 <= alpha <= 1:
            raise ValueError(f"RMSprop: alpha must be in [0, 1], got {alpha}")
        if momentum < 0:
            raise ValueError(f"RMSprop: momentum must be >= 0, got {momentum}")
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered))

    def _update(self, w, g, state, group):
        lr, alpha, eps, wd, mu = (group[k] for k in ("lr", "alpha", "eps", "weight_decay",
                                                     "momentum"))
        if wd:
            g = self._with_weight_decay(w, g, wd)
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(w, order="C")
            if mu > 0:
                state["momentum_buffer"] = np.zeros_like(w, order="C")
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(w, order="C")
        state["step"] += 1
        s = state["square_avg"]
        work = self._scratch(w, 1)
        s *= alpha
        sq = np.multiply(g, g, out=work)
        sq *= 1 - alpha
        s += sq
        if group["centered"]:
            a = state["grad_avg"]
            a *= alpha
            a += np.multiply(g, 1 - alpha, out=work)
            avg = np.multiply(a, a, out=work)
            np.subtract(s, avg, out=avg)
            np.sqrt(avg, out=avg)
        else:
            avg = np.sqrt(s, out=work)
        avg += eps
        d = np.divide(g, avg, out=work)
        if mu > 0:
            buf = state["momentum_buffer"]
            buf *= mu
            buf += d
            d = np.multiply(buf, lr, out=work)
        else:
            d *= lr
        w -= d

    def _update_portable(self, w, g, state, group):
        """``_update`` in array-API arithmetic, in the same order (the same rounding)."""
        lr, alpha, eps, wd, mu = (group[k] for k in ("lr", "alpha", "eps", "weight_decay",
                                                     "momentum"))
        xp = B.namespace(w)
        if wd:
            g = g + w * wd
        if not state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(w)
            if mu > 0:
                state["momentum_buffer"] = xp.zeros_like(w)
            if group["centered"]:
                state["grad_avg"] = xp.zeros_like(w)
        state["step"] += 1
        s = state["square_avg"] = state["square_avg"] * alpha + (g * g) * (1 - alpha)
        if group["centered"]:
            a = state["grad_avg"] = state["grad_avg"] * alpha + g * (1 - alpha)
            avg = xp.sqrt(s - a * a)
        else:
            avg = xp.sqrt(s)
        d = g / (avg + eps)
        if mu > 0:
            d = state["momentum_buffer"] = state["momentum_buffer"] * mu + d
        w[...] = w - d * lr
