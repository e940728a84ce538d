"""Normalization layers: BatchNorm1d, BatchNorm2d, LayerNorm, GroupNorm (PyTorch's
arguments, parameter and buffer names)."""

from __future__ import annotations

import numpy as np

import chainrule as cr
from chainrule.errors import ShapeError
from chainrule.graph import trace
from chainrule.nn import functional_norm as FN
from chainrule.nn._params import dtype_arg
from chainrule.nn.module import Module, Parameter


class _BatchNorm(Module):
    """y = (x - mean) / sqrt(var + eps) * weight + bias, per channel (axis 1), with mean and
    var over the batch (and spatial) axes.

    Training uses the batch's statistics (var biased, 1/m) and updates the running ones:
    running = (1 - momentum) * running + momentum * batch, the variance unbiased (1/(m-1)),
    as PyTorch; ``momentum=None`` keeps a cumulative average instead. Eval uses the
    running statistics. ``affine=False``: no weight and bias (None, as PyTorch);
    ``track_running_stats=False``: no running statistics, and the batch's are used in eval
    too.
    """

    ndims: tuple = (2,)
    expected: str = "(N, C)"

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device=None,
                 dtype=None):
        super().__init__()
        dtype = dtype_arg(dtype, device)
        if momentum is not None and not 0 <= momentum <= 1:
            raise ValueError(f"{type(self).__name__}: momentum must be in [0, 1] or None, got "
                             f"{momentum}")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.weight = Parameter(np.ones(num_features, dtype=dtype)) if affine else None
        self.bias = Parameter(np.zeros(num_features, dtype=dtype)) if affine else None
        if track_running_stats:
            self.register_buffer("running_mean", cr.zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", cr.ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", cr.tensor(np.array(0, dtype=np.int64)))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)

    def forward(self, x):
        if x.ndim not in self.ndims or x.shape[1] != self.num_features:
            raise ShapeError(f"expected {self.expected} with C = {self.num_features} "
                             f"channels, got shape {x.shape}. help: check num_features and "
                             "the previous layer")
        if self.training or self.running_mean is None:
            y, mean, var = FN.batch_statistics(x, self.weight, self.bias, self.eps,
                                               type(self).__name__)
            if self.training:  # through trace.call: a compiled step updates them too
                trace.call(self._update_running, mean, var, x.size // self.num_features)
            return y
        return self._evaluate(x)

    def _update_running(self, mean, var, m: int) -> None:
        """The running statistics (if tracked), after a batch of ``m`` values per channel;
        SyncBatchNorm calls it with the statistics of every rank's batch together."""
        if self.running_mean is None:
            return
        self.num_batches_tracked.data += 1
        f = 1 / int(self.num_batches_tracked.data) if self.momentum is None else self.momentum
        FN.update_running(self.running_mean.data, self.running_var.data, mean, var, m, f)

    def _evaluate(self, x):
        """Eval mode: normalise with the running statistics."""
        return FN.normalize_running(x, self.running_mean, self.running_var, self.weight,
                                    self.bias, self.eps)

    def extra_repr(self) -> str:
        text = f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"
        if not self.affine:
            text += ", affine=False"
        return text + ("" if self.track_running_stats else ", track_running_stats=False")


class BatchNorm1d(_BatchNorm):
    """Batch norm over (N, C) or (N, C, L) inputs: statistics over the batch axis (and L)."""

    ndims = (2, 3)
    expected = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch norm over (N, C, H, W) inputs: statistics over the batch and spatial axes."""

    ndims = (4,)
    expected = "(N, C, H, W)"


class LayerNorm(Module):
    """y = (x - mean) / sqrt(var + eps) * weight + bias over the last axes (``shape``);
    ``elementwise_affine=False``: no weight and bias, ``bias=False``: no bias."""

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device=None, dtype=None):
        super().__init__()
        dtype = dtype_arg(dtype, device)
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(
            normalized_shape)
        self.normalized_shape, self.eps = shape, eps
        self.elementwise_affine = elementwise_affine
        self.weight = Parameter(np.ones(shape, dtype=dtype)) if elementwise_affine else None
        self.bias = Parameter(np.zeros(shape, dtype=dtype)) if elementwise_affine and bias \
            else None

    def forward(self, x):
        k = len(self.normalized_shape)
        if tuple(x.shape[-k:]) != self.normalized_shape:
            raise ShapeError(f"expected the last axes to be {self.normalized_shape}, got "
                             f"shape {x.shape}. help: check normalized_shape")
        return FN.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}" + ("" if self.elementwise_affine
                                             else ", elementwise_affine=False")


class GroupNorm(Module):
    """y = (x - mean) / sqrt(var + eps) * weight + bias, mean and var per sample over each
    of ``num_groups`` groups of consecutive channels (see ``F.group_norm``); weight and bias
    per channel (``affine=False``: none)."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True, device=None, dtype=None):
        super().__init__()
        dtype = dtype_arg(dtype, device)
        if num_groups < 1 or num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by "
                             f"num_groups ({num_groups}). help: pick a num_groups that "
                             f"divides {num_channels}, e.g. 1 (LayerNorm-like) or "
                             f"{num_channels} (InstanceNorm-like)")
        self.num_groups, self.num_channels, self.eps = num_groups, num_channels, eps
        self.affine = affine
        self.weight = Parameter(np.ones(num_channels, dtype=dtype)) if affine else None
        self.bias = Parameter(np.zeros(num_channels, dtype=dtype)) if affine else None

    def forward(self, x):
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ShapeError(f"expected (N, {self.num_channels}, *), got shape {x.shape}. "
                             "help: check num_channels and the previous layer")
        return FN.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}" + ("" if self.affine
                                                           else ", affine=False")
