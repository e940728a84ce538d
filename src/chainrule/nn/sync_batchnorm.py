"""SyncBatchNorm: batch norm whose statistics are those of the global batch, all ranks'.

Two primitives, both all-reducing across the ranks of ``chainrule.distributed``:

- ``BatchNormSync``, fused: the mean and variance per channel over every rank's batch
  (two all-reduces forward: the sums, then the squared deviations, in float64), and
  their gradient (one all-reduce backward).
- ``AllReduceSum``: y = the sum of x over the ranks, with its gradient; the composed form
  of ``BatchNormSync`` (for ``create_graph``) is written with it.

The gradient and the weighting of ranks. DistributedDataParallel (loss_reduction='mean')
trains on J = sum over ranks r of (n_r / n) L_r, where L_r is rank r's mean loss over its
n_r samples; each rank's backward computes dL_r/d(its inputs) and DDP weights the
results by n_r / n. Through synchronised statistics, sample i's output depends on every
rank's inputs, so dJ/dx_j (x_j on rank r) sums dJ/dy_i over all ranks' samples i. Scaled
back to rank r's own units (divided by n_r / n), with g = dL_r/dy the gradient arriving
on each rank and m the values per channel of the global batch:

    dx_j = inv * w * (g_j - S1 / (m n_r) - xhat_j S2 / (m n_r)),
    S1 = sum over ranks s of n_s * sum_s(g),   S2 = sum over ranks s of n_s * sum_s(g xhat)

and dw = sum_r(g xhat), db = sum_r(g), rank r's own, which DDP weights by n_r / n. With
equal batches the n_s cancel: PyTorch's SyncBatchNorm. With ``loss_reduction='sum'``
(DDP sets ``weighting`` on the layers it wraps) every n_s is 1. In a world of 1 both are
plain batch norm.

Other array libraries (PyTorch, CuPy, array-api-strict): MPI sends host memory, so the
per-channel sums (a few numbers per channel, never the activations) are computed where
the arrays live, copied to NumPy, all-reduced there and moved back: the same arithmetic
as NumPy's path, in the same order.
"""

from __future__ import annotations

import numpy as np

from chainrule import _backend as B
from chainrule.distributed.collectives import all_reduce_array
from chainrule.errors import ShapeError
from chainrule.graph import trace
from chainrule.nn.norm import _BatchNorm
from chainrule.ops.core import INPUT, Op, apply, jvp_via_composed
from chainrule.tensor import Tensor


class AllReduceSum(Op):
    """y = sum over ranks s of x_s (the same y on every rank);
    dx_r = (1 / w_r) * sum over ranks s of w_s * g_s   (w: the rank's ``weight``)

    jvp: dy = sum over ranks s of dx_s
    """

    portable = True

    def forward(self, x):
        trace.refuse("SyncBatchNorm talks to the other ranks inside the step")
        if self.xp is not np:  # through host memory, where MPI reads
            return B.like(_all_reduced(B.to_numpy(x), "AllReduceSum"), x)
        out = np.array(x, dtype=x.dtype, order="C", copy=True)
        return all_reduce_array(out, "sum", "AllReduceSum")

    def jvp(self, xs, y, dxs):
        return apply(AllReduceSum, dxs[0], weight=self.weight)

    def vjp(self, g):
        w = self.weight
        if isinstance(g, Tensor):
            return apply(AllReduceSum, g * w, weight=w) / w
        return all_reduce_array(np.ascontiguousarray(g * w), "sum", "AllReduceSum") / w


def _all_reduced(host: np.ndarray, what: str) -> np.ndarray:
    """A summed copy of NumPy array ``host`` over the ranks (of its own dtype)."""
    out = np.array(host, order="C", copy=True)
    return all_reduce_array(out, "sum", what)


def all_reduce_sum(x, weight: float = 1.0):
    """The sum of ``x`` over the ranks, differentiable (see AllReduceSum)."""
    return apply(AllReduceSum, x, weight=float(weight))


class BatchNormSync(Op):
    """y = xhat * w + b, xhat = (x - mean) / sqrt(var + eps), mean and var per channel over
    ``axes`` of every rank's x (m values per channel in all);
    dx = inv * w * (g - S1 / (m n) - xhat * S2 / (m n)), S1 = all-reduced n * sum(g),
    S2 = all-reduced n * sum(g * xhat) (n: this rank's ``weight``; module docstring);
    dw = sum(g * xhat);  db = sum(g)   (this rank's sums)

    jvp: dy = the jvp of ``composed`` (the same formula, all-reduced)
    """

    portable = True

    def forward(self, x, w, b):
        if self.xp is not np:
            return self._forward_portable(x, w, b)
        axes, shape = self.axes, self.shape
        c = x.shape[1]
        sums = np.empty(c + 1)
        x.sum(axis=axes, dtype=np.float64, out=sums[:c])
        sums[c] = x.size // c
        all_reduce_array(sums, "sum", "SyncBatchNorm")
        m = sums[c]
        mean = (sums[:c] / m).astype(x.dtype).reshape(shape)
        xhat = x - mean
        squares = np.multiply(xhat, xhat).sum(axis=axes, dtype=np.float64)
        var = (all_reduce_array(squares, "sum", "SyncBatchNorm") / m).astype(x.dtype)
        inv = 1 / np.sqrt(var.reshape(shape) + x.dtype.type(self.eps))
        xhat *= inv
        y = xhat * w.reshape(shape) + b.reshape(shape)
        self.save(x=INPUT(0), w=INPUT(1), b=INPUT(2), xhat=xhat, inv=inv)
        self.m = float(m)
        self.stats.update(mean=mean.reshape(-1), var=var, count=float(m))
        return y

    def _forward_portable(self, x, w, b):
        """``forward`` for another library: the sums there, all-reduced on the host."""
        xp, axes, shape = self.xp, self.axes, self.shape
        c = x.shape[1]
        dtype = B.numpy_dtype(x.dtype)
        sums = np.empty(c + 1)
        sums[:c] = B.to_numpy(xp.sum(x, axis=axes, dtype=xp.float64))
        sums[c] = B.size(x) // c
        all_reduce_array(sums, "sum", "SyncBatchNorm")
        m = sums[c]
        mean = xp.reshape(B.like((sums[:c] / m).astype(dtype), x), shape)
        xhat = x - mean
        squares = B.to_numpy(xp.sum(xhat * xhat, axis=axes, dtype=xp.float64))
        var = B.like((_all_reduced(squares, "SyncBatchNorm") / m).astype(dtype), x)
        inv = 1 / xp.sqrt(xp.reshape(var, shape) + self.eps)
        xhat = xhat * inv
        y = xhat * xp.reshape(w, shape) + xp.reshape(b, shape)
        self.save(x=INPUT(0), w=INPUT(1), b=INPUT(2), xhat=xhat, inv=inv)
        self.m = float(m)
        self.stats.update(mean=xp.reshape(mean, (-1,)), var=var, count=float(m))
        return y

    def composed(self, x, w, b):
        axes, shape, n, m = self.axes, self.shape, self.weight, self.m
        mean = (all_reduce_sum(x.sum(axis=axes), n) / m).reshape(shape)
        d = x - mean
        var = (all_reduce_sum((d * d).sum(axis=axes), n) / m).reshape(shape)
        return d / (var + self.eps).sqrt() * w.reshape(shape) + b.reshape(shape)

    def jvp(self, xs, y, dxs):
        return jvp_via_composed(self, xs, dxs)

    def vjp(self, g):
        axes, shape, n = self.axes, self.shape, self.weight
        xhat, inv, w = self.xhat, self.inv, self.w
        if self.xp is not np:  # tensors (autograd/on_tensors.py): their arrays, as forward
            return self._vjp_portable(g.data, xhat.data, inv.data, w.data)
        c = g.shape[1]
        sums = np.empty(2 * c)
        g.sum(axis=axes, dtype=np.float64, out=sums[:c])
        np.multiply(g, xhat).sum(axis=axes, dtype=np.float64, out=sums[c:])
        db, dw = sums[:c].astype(g.dtype), sums[c:].astype(g.dtype)
        sums *= n
        all_reduce_array(sums, "sum", "SyncBatchNorm backward")
        sums /= self.m * n
        mean_g = sums[:c].astype(g.dtype).reshape(shape)
        mean_gx = sums[c:].astype(g.dtype).reshape(shape)
        dx = (g - mean_g - xhat * mean_gx) * (inv * w.reshape(shape))
        return dx, dw, db


    def _vjp_portable(self, g, xhat, inv, w):
        """``vjp`` for another library's arrays: the sums there, all-reduced on the host."""
        xp, axes, shape, n = self.xp, self.axes, self.shape, self.weight
        c = g.shape[1]
        dtype = B.numpy_dtype(g.dtype)
        sums = np.empty(2 * c)
        sums[:c] = B.to_numpy(xp.sum(g, axis=axes, dtype=xp.float64))
        sums[c:] = B.to_numpy(xp.sum(g * xhat, axis=axes, dtype=xp.float64))
        db, dw = B.like(sums[:c].astype(dtype), g), B.like(sums[c:].astype(dtype), g)
        sums *= n
        all_reduce_array(sums, "sum", "SyncBatchNorm backward")
        sums /= self.m * n
        mean_g = xp.reshape(B.like(sums[:c].astype(dtype), g), shape)
        mean_gx = xp.reshape(B.like(sums[c:].astype(dtype), g), shape)
        dx = (g - mean_g - xhat * mean_gx) * (inv * xp.reshape(w, shape))
        return dx, dw, db


def sync_batch_norm(x, weight, bias, eps: float, weighting: float = 1.0):
    """Training-mode batch norm with the global batch's statistics: (y, mean, biased
    variance, values per channel in the global batch)."""
    axes = (0,) + tuple(range(2, x.ndim))
    shape = tuple(1 if i in axes else n for i, n in enumerate(x.shape))
    stats: dict = {}
    y = apply(BatchNormSync, x, weight, bias, axes=axes, shape=shape, eps=eps,
              weight=float(weighting), stats=stats)
    return y, stats["mean"], stats["var"], stats["count"]


class SyncBatchNorm(_BatchNorm):
    """Batch norm over (N, C, ...) inputs whose training statistics are those of every
    rank's batch together (``chainrule.distributed``); in a world of 1, BatchNorm's.

    Its gradient is that of the global objective DistributedDataParallel trains (module
    docstring); ``weighting`` is ``"samples"`` (DDP's loss_reduction='mean', the
    default) or ``"none"`` ('sum'), set by DDP on the layers it wraps. Eval uses the
    running statistics, which are the same on every rank.
    ``SyncBatchNorm.convert_sync_batchnorm(model)`` swaps a model's BatchNorm layers.
    """

    expected = "(N, C, ...)"
    weighting = "samples"

    def forward(self, x):
        if x.ndim < 2 or x.shape[1] != self.num_features:
            raise ShapeError(f"expected {self.expected} with C = {self.num_features} channels, "
                             f"got shape {x.shape}. help: check num_features and the "
                             "previous layer")
        if not self.training and self.running_mean is not None:
            return self._evaluate(x)
        n = x.shape[0] if self.weighting == "samples" else 1.0
        weight, bias = self.weight, self.bias
        if weight is None:  # affine=False: the identity affine, as constants
            weight = np.ones(self.num_features, dtype=x.dtype)
            bias = np.zeros(self.num_features, dtype=x.dtype)
        y, mean, var, m = sync_batch_norm(x, weight, bias, self.eps, n)
        if m < 2:
            raise ValueError(f"SyncBatchNorm: training needs more than one value per "
                             f"channel over all ranks, got {m:g}. help: use larger "
                             "batches, or call model.eval()")
        self._update_running(mean, var, int(m))
        return y

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """``module`` with every BatchNorm1d/2d replaced by a SyncBatchNorm that keeps its
        parameters and running statistics (PyTorch's name); returns the module."""
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            like = module.weight if module.weight is not None else module.running_mean
            sync = cls(module.num_features, module.eps, module.momentum, module.affine,
                       module.track_running_stats,
                       dtype=None if like is None else like.dtype)
            sync.weight, sync.bias = module.weight, module.bias
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                setattr(sync, name, getattr(module, name))
            sync.train(module.training)
            return sync
        for name, child in list(module.named_children()):
            converted = cls.convert_sync_batchnorm(child)
            if converted is not child:
                # NOTE: in place, not setattr: a Sequential runs its layers in this order
                module._modules[name] = converted
                object.__setattr__(module, name, converted)
        return module
