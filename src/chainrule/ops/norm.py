"""Normalization primitives: batch norm, fused."""

from __future__ import annotations

import numpy as np

from chainrule.ops.core import INPUT, Op, apply, jvp_via_composed


class BatchNorm(Op):
    """y = xhat * w + b, xhat = (x - mean) / sqrt(var + eps), statistics over ``axes``;
    dx = inv * w * (g - mean(g) - xhat * mean(g * xhat)),  inv = 1 / sqrt(var + eps);
    dw = sum(g * xhat);  db = sum(g)   (means and sums over ``axes``, per channel)

    jvp: dy = the jvp of ``composed`` (the same formula with chainrule ops)

    Fused: seven passes over the activations and two new arrays each way, instead of a
    dozen elementwise nodes and their temporaries. Under ``create_graph`` the engine
    differentiates ``composed``, the same formula written with chainrule ops.
    """

    portable = True

    def forward(self, x, w, b):
        axes, shape = self.axes, self.shape
        xp = self.xp
        if xp is not np:  # the same passes, without out= buffers
            mean = xp.mean(x, axis=axes, keepdims=True)
            xhat = x - mean
            var = xp.mean(xhat * xhat, axis=axes, keepdims=True)
            inv = 1 / xp.sqrt(var + self.eps)
            xhat = xhat * inv
            y = xhat * xp.reshape(w, shape) + xp.reshape(b, shape)
            self.save(x=INPUT(0), w=INPUT(1), b=INPUT(2), xhat=xhat, inv=inv)
            self.stats["mean"], self.stats["var"] = xp.reshape(mean, (-1,)), \
                xp.reshape(var, (-1,))
            return y
        mean = x.mean(axis=axes, keepdims=True)
        xhat = x - mean
        y = np.multiply(xhat, xhat)  # (x - mean)^2 for the variance; y's buffer after
        var = y.mean(axis=axes, keepdims=True)
        inv = 1 / np.sqrt(var + self.eps)
        xhat *= inv
        np.multiply(xhat, w.reshape(shape), out=y)
        y += b.reshape(shape)
        self.save(x=INPUT(0), w=INPUT(1), b=INPUT(2), xhat=xhat, inv=inv)
        self.stats["mean"], self.stats["var"] = mean.reshape(-1), var.reshape(-1)
        return y

    def composed(self, x, w, b):
        return batch_norm_composed(x, w, b, self.axes, self.shape, self.eps)

    def jvp(self, xs, y, dxs):
        return jvp_via_composed(self, xs, dxs)

    def vjp(self, g):
        axes, shape = self.axes, self.shape
        xhat, inv, w = self.xhat, self.inv, self.w
        m = g.size // g.shape[1]  # values per channel
        if self.xp is not np:  # tensors here (the engine's foreign route): no out= buffers
            db = g.sum(axis=axes)
            dw = (g * xhat).sum(axis=axes)
            dx = (g - xhat * (dw / m).reshape(shape) - (db / m).reshape(shape)) * (
                inv * w.reshape(shape))
            return dx, dw, db
        db = g.sum(axis=axes)
        dx = np.multiply(g, xhat)
        dw = dx.sum(axis=axes)
        np.multiply(xhat, (dw / m).reshape(shape), out=dx)  # the buffer is reused from here
        np.subtract(g, dx, out=dx)
        dx -= (db / m).reshape(shape)
        dx *= inv * w.reshape(shape)
        return dx, dw, db


def batch_norm_composed(x, w, b, axes, shape, eps):
    """The batch-norm formula with chainrule ops (what the fused primitive computes)."""
    mean = x.mean(axis=axes, keepdims=True)
    d = x - mean
    var = (d * d).mean(axis=axes, keepdims=True)
    return d / (var + eps).sqrt() * w.reshape(shape) + b.reshape(shape)


# --- public functions (used by nn.functional) ----------------------------------------------


def batch_norm(x, weight, bias, axes, eps):
    """Training-mode batch norm over ``axes``: (y, batch mean, biased batch variance)."""
    shape = tuple(1 if i in axes else n for i, n in enumerate(x.shape))
    stats: dict = {}
    y = apply(BatchNorm, x, weight, bias, axes=axes, shape=shape, eps=eps, stats=stats)
    return y, stats["mean"], stats["var"]
