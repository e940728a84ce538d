"""Layers: each holds its parameters and calls nn.functional in ``forward``."""

from __future__ import annotations

import numpy as np

import chainrule as cr
from chainrule import _backend as B
from chainrule.errors import ShapeError
from chainrule.nn import functional as F
from chainrule.nn import init
from chainrule.nn.module import Module, Parameter
from chainrule.ops.nn import batch_norm


def _empty(*shape):
    return Parameter(np.zeros(shape, dtype=B.DEFAULT_FLOAT))


class Linear(Module):
    """y = x W^T + b, W of shape (out_features, in_features)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = _empty(out_features, in_features)
        self.bias = _empty(out_features) if bias else None
        init.default_layer_init(self.weight, self.bias)

    def forward(self, x):
        if x.shape[-1] != self.in_features:
            raise ShapeError(
                f"in_features is {self.in_features} but the input has {x.shape[-1]} features; "
                "check the previous layer or add Flatten")
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"{self.in_features}->{self.out_features}" + ("" if self.bias is not None
                                                              else ", bias=False")


class Conv2d(Module):
    """2-D cross-correlation over NCHW inputs, weight (out, in, k, k)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, bias: bool = True):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.weight = _empty(out_channels, in_channels, kernel_size, kernel_size)
        self.bias = _empty(out_channels) if bias else None
        init.default_layer_init(self.weight, self.bias)

    def forward(self, x):
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ShapeError(
                f"expected (N, {self.in_channels}, H, W); check in_channels and the previous "
                "layer, or reshape the input to NCHW")
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}->{self.out_channels}, kernel {self.kernel_size}, "
                f"stride {self.stride}, padding {self.padding}")


class MaxPool2d(Module):
    def __init__(self, kernel_size: int, stride: int | None = None):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride

    def forward(self, x):
        return F.max_pool2d(x, self.kernel_size, self.stride)

    def extra_repr(self) -> str:
        return f"kernel {self.kernel_size}, stride {self.stride or self.kernel_size}"


class AvgPool2d(MaxPool2d):
    def forward(self, x):
        return F.avg_pool2d(x, self.kernel_size, self.stride)


class Flatten(Module):
    """(N, d1, d2, ...) -> (N, d1 * d2 * ...) from ``start_axis`` on."""

    def __init__(self, start_axis: int = 1):
        super().__init__()
        self.start_axis = start_axis

    def forward(self, x):
        return x.flatten(self.start_axis)


class Dropout(Module):
    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class _BatchNorm(Module):
    """y = (x - mean) / sqrt(var + eps) * weight + bias, over the batch (and spatial) axes.

    Training uses the batch's statistics and updates the running ones (the variance
    unbiased, as PyTorch); eval uses the running statistics.
    """

    axes: tuple = (0,)
    expected_ndim: int = 2

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = Parameter(np.ones(num_features, dtype=B.DEFAULT_FLOAT))
        self.bias = Parameter(np.zeros(num_features, dtype=B.DEFAULT_FLOAT))
        self.register_buffer("running_mean", cr.zeros(num_features))
        self.register_buffer("running_var", cr.ones(num_features))
        self.register_buffer("num_batches_tracked", cr.tensor(np.array(0, dtype=np.int64)))

    def _shape(self, x):
        return (1, self.num_features) + (1,) * (x.ndim - 2)

    def forward(self, x):
        if x.ndim != self.expected_ndim or x.shape[1] != self.num_features:
            raise ShapeError(f"expected {self.expected_ndim}-d input with {self.num_features} "
                             "channels on axis 1")
        shape = self._shape(x)
        if self.training:
            y, mean, var = batch_norm(x, self.weight, self.bias, self.axes, self.eps)
            n = x.size // self.num_features
            m = self.momentum
            rm, rv = self.running_mean.data, self.running_var.data
            rm *= 1 - m
            rm += m * mean
            rv *= 1 - m
            rv += m * var * (n / max(n - 1, 1))  # the running variance is unbiased
            self.num_batches_tracked.data += 1
            return y
        else:
            mean = self.running_mean.data.reshape(shape)
            inv = 1 / np.sqrt(self.running_var.data.reshape(shape) + self.eps)
            xhat = (x - mean) * inv.astype(x.dtype)
        return xhat * self.weight.reshape(shape) + self.bias.reshape(shape)

    def extra_repr(self) -> str:
        return f"{self.num_features}"


class BatchNorm1d(_BatchNorm):
    axes = (0,)
    expected_ndim = 2


class BatchNorm2d(_BatchNorm):
    axes = (0, 2, 3)
    expected_ndim = 4


class LayerNorm(Module):
    """y = (x - mean) / sqrt(var + eps) * weight + bias over the last axes (``shape``)."""

    def __init__(self, normalized_shape, eps: float = 1e-5):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(
            normalized_shape)
        self.normalized_shape, self.eps = shape, eps
        self.weight = Parameter(np.ones(shape, dtype=B.DEFAULT_FLOAT))
        self.bias = Parameter(np.zeros(shape, dtype=B.DEFAULT_FLOAT))

    def forward(self, x):
        k = len(self.normalized_shape)
        if tuple(x.shape[-k:]) != self.normalized_shape:
            raise ShapeError(f"expected the last axes to be {self.normalized_shape}")
        axes = tuple(range(x.ndim - k, x.ndim))
        mean = x.mean(axis=axes, keepdims=True)
        d = x - mean
        var = (d * d).mean(axis=axes, keepdims=True)
        return d / (var + self.eps).sqrt() * self.weight + self.bias

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}"


class Embedding(Module):
    """Row ``i`` of the weight for each index ``i``: weight (num_embeddings, dim)."""

    def __init__(self, num_embeddings: int, embedding_dim: int):
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.weight = _empty(num_embeddings, embedding_dim)
        init.normal_(self.weight)

    def forward(self, idx):
        idx = np.asarray(idx.data if isinstance(idx, cr.Tensor) else idx)
        if idx.dtype.kind not in "iu":
            raise TypeError(f"Embedding: indices must be integers, got {idx.dtype}")
        if idx.size and (idx.min() < 0 or idx.max() >= self.num_embeddings):
            raise IndexError(f"Embedding: index {idx.max() if idx.max() >= 0 else idx.min()} "
                             f"out of range for {self.num_embeddings} embeddings")
        return self.weight[idx]

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"


class ReLU(Module):
    def forward(self, x):
        return F.relu(x)


class Sigmoid(Module):
    def forward(self, x):
        return F.sigmoid(x)


class Tanh(Module):
    def forward(self, x):
        return F.tanh(x)


class LeakyReLU(Module):
    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope)


class GELU(Module):
    def __init__(self, approximate: str = "none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, self.approximate)


class Softmax(Module):
    def __init__(self, axis: int = -1):
        super().__init__()
        self.axis = axis

    def forward(self, x):
        return F.softmax(x, self.axis)


class CrossEntropyLoss(Module):
    def __init__(self, reduction: str = "mean"):
        super().__init__()
        self.reduction = reduction

    def forward(self, logits, target):
        return F.cross_entropy(logits, target, self.reduction)


class MSELoss(Module):
    def __init__(self, reduction: str = "mean"):
        super().__init__()
        self.reduction = reduction

    def forward(self, pred, target):
        return F.mse_loss(pred, target, self.reduction)
