"""Layers: each holds its parameters and calls nn.functional in ``forward``."""

from __future__ import annotations

import numpy as np

import chainrule as cr
from chainrule import _backend as B
from chainrule.errors import ShapeError
from chainrule.nn import functional as F
from chainrule.nn import init
from chainrule.nn.module import Module, Parameter
from chainrule.ops.norm import batch_norm


def _empty(*shape, dtype=None):
    return Parameter(np.zeros(shape, dtype=_dtype(dtype)))


def _dtype(dtype, device=None):
    """A layer's ``dtype=`` (PyTorch's factory keyword; the default dtype when None) and
    ``device=`` (only the CPU: chainrule runs on NumPy)."""
    if device is not None and str(device).split(":")[0] != "cpu":
        raise TypeError(f"device={device!r}: chainrule runs on NumPy arrays, on the CPU. "
                        "help: drop device=, or pass device='cpu'")
    if dtype is None:
        return B.DEFAULT_FLOAT
    dtype = np.dtype(dtype)
    if not B.is_float(dtype):
        raise TypeError(f"dtype={dtype}: parameters must be floating point. help: use "
                        "cr.float32 or cr.float64")
    return dtype


class Linear(Module):
    """y = x W^T + b, W of shape (out_features, in_features)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None,
                 dtype=None):
        super().__init__()
        dtype = _dtype(dtype, device)
        self.in_features, self.out_features = in_features, out_features
        self.weight = _empty(out_features, in_features, dtype=dtype)
        self.bias = _empty(out_features, dtype=dtype) if bias else None
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
    """2-D cross-correlation over NCHW inputs (see ``F.conv2d``), weight (out, in, kh, kw).

    ``kernel_size``, ``stride`` and ``padding`` are ints or (height, width) pairs.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1,
                 padding=0, bias: bool = True, device=None, dtype=None):
        super().__init__()
        dtype = _dtype(dtype, device)
        kh, kw = F._pair(kernel_size, "Conv2d", "kernel_size", 1)
        F._pair(stride, "Conv2d", "stride", 1)
        F._pair(padding, "Conv2d", "padding", 0)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = (
            kernel_size if isinstance(kernel_size, int) else (kh, kw)), stride, padding
        self.weight = _empty(out_channels, in_channels, kh, kw, dtype=dtype)
        self.bias = _empty(out_channels, dtype=dtype) if bias else None
        init.default_layer_init(self.weight, self.bias)

    def forward(self, x):
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ShapeError(
                f"expected (N, {self.in_channels}, H, W); check in_channels and the previous "
                "layer, or reshape the input to NCHW")
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}->{self.out_channels}, kernel {self.kernel_size}, "
                f"stride {self.stride}, padding {self.padding}"
                + ("" if self.bias is not None else ", bias=False"))


class MaxPool2d(Module):
    """The maximum of each window (see ``F.max_pool2d``); stride defaults to kernel_size."""

    def __init__(self, kernel_size, stride=None):
        super().__init__()
        F._pair(kernel_size, type(self).__name__, "kernel_size", 1)
        if stride is not None:
            F._pair(stride, type(self).__name__, "stride", 1)
        self.kernel_size, self.stride = kernel_size, stride

    def forward(self, x):
        return F.max_pool2d(x, self.kernel_size, self.stride)

    def extra_repr(self) -> str:
        return f"kernel {self.kernel_size}, stride {self.stride or self.kernel_size}"


class AvgPool2d(MaxPool2d):
    """The mean of each window (see ``F.avg_pool2d``); stride defaults to kernel_size."""

    def forward(self, x):
        return F.avg_pool2d(x, self.kernel_size, self.stride)


class Flatten(Module):
    """(N, d1, d2, ...) -> (N, d1 * d2 * ...) from ``start_axis`` on."""

    def __init__(self, start_axis: int = 1, end_axis: int = -1, *, start_dim=None,
                 end_dim=None):
        super().__init__()
        self.start_axis = start_axis if start_dim is None else start_dim
        self.end_axis = end_axis if end_dim is None else end_dim

    def forward(self, x):
        return cr.flatten(x, self.start_axis, self.end_axis)

    def extra_repr(self) -> str:
        end = "" if self.end_axis == -1 else f", end_axis={self.end_axis}"
        return f"start_axis={self.start_axis}{end}"


class Dropout(Module):
    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class _BatchNorm(Module):
    """y = (x - mean) / sqrt(var + eps) * weight + bias, per channel (axis 1), with mean and
    var over the batch (and spatial) axes.

    Training uses the batch's statistics (var biased, 1/m) and updates the running ones:
    running = (1 - momentum) * running + momentum * batch, the variance unbiased (1/(m-1)),
    as PyTorch; ``momentum=None`` keeps a cumulative average instead. Eval uses the
    running statistics.
    """

    axes: tuple = (0,)
    expected: str = "(N, C)"

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 device=None, dtype=None):
        super().__init__()
        dtype = _dtype(dtype, device)
        if momentum is not None and not 0 <= momentum <= 1:
            raise ValueError(f"{type(self).__name__}: momentum must be in [0, 1] or None, got "
                             f"{momentum}")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = Parameter(np.ones(num_features, dtype=dtype))
        self.bias = Parameter(np.zeros(num_features, dtype=dtype))
        self.register_buffer("running_mean", cr.zeros(num_features, dtype=dtype))
        self.register_buffer("running_var", cr.ones(num_features, dtype=dtype))
        self.register_buffer("num_batches_tracked", cr.tensor(np.array(0, dtype=np.int64)))

    def forward(self, x):
        if x.ndim != len(self.expected.split(",")) or x.shape[1] != self.num_features:
            raise ShapeError(f"expected {self.expected} with C = {self.num_features} "
                             f"channels, got shape {x.shape}. help: check num_features and "
                             "the previous layer")
        if self.training:
            m = x.size // self.num_features  # values per channel
            if m < 2:
                raise ValueError(f"{type(self).__name__}: training needs more than one value "
                                 f"per channel, got input of shape {x.shape}. help: use a "
                                 "batch of at least 2, or call model.eval()")
            y, mean, var = batch_norm(x, self.weight, self.bias, self.axes, self.eps)
            self._update_running(mean, var, m)
            return y
        return self._evaluate(x)

    def _update_running(self, mean, var, m: int) -> None:
        """The running statistics, after a batch of ``m`` values per channel."""
        self.num_batches_tracked.data += 1
        f = (1 / int(self.num_batches_tracked.data) if self.momentum is None
             else self.momentum)
        rm, rv = self.running_mean.data, self.running_var.data
        rm *= 1 - f
        rm += f * mean
        rv *= 1 - f
        rv += (f * m / (m - 1)) * var  # the running variance is unbiased

    def _evaluate(self, x):
        """Eval mode: normalise with the running statistics."""
        shape = (1, self.num_features) + (1,) * (x.ndim - 2)
        mean = self.running_mean.data.reshape(shape)
        inv = 1 / np.sqrt(self.running_var.data.reshape(shape) + self.eps)
        xhat = (x - mean.astype(x.dtype)) * inv.astype(x.dtype)
        return xhat * self.weight.reshape(shape) + self.bias.reshape(shape)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class BatchNorm1d(_BatchNorm):
    """Batch norm over (N, C) inputs: statistics over the batch axis."""

    axes = (0,)
    expected = "(N, C)"


class BatchNorm2d(_BatchNorm):
    """Batch norm over (N, C, H, W) inputs: statistics over the batch and spatial axes."""

    axes = (0, 2, 3)
    expected = "(N, C, H, W)"


class LayerNorm(Module):
    """y = (x - mean) / sqrt(var + eps) * weight + bias over the last axes (``shape``)."""

    def __init__(self, normalized_shape, eps: float = 1e-5, device=None, dtype=None):
        super().__init__()
        dtype = _dtype(dtype, device)
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(
            normalized_shape)
        self.normalized_shape, self.eps = shape, eps
        self.weight = Parameter(np.ones(shape, dtype=dtype))
        self.bias = Parameter(np.zeros(shape, dtype=dtype))

    def forward(self, x):
        k = len(self.normalized_shape)
        if tuple(x.shape[-k:]) != self.normalized_shape:
            raise ShapeError(f"expected the last axes to be {self.normalized_shape}, got "
                             f"shape {x.shape}. help: check normalized_shape")
        axes = tuple(range(x.ndim - k, x.ndim))
        mean = x.mean(axis=axes, keepdims=True)
        d = x - mean
        var = (d * d).mean(axis=axes, keepdims=True)
        return d / (var + self.eps).sqrt() * self.weight + self.bias

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}"


class Embedding(Module):
    """Row ``i`` of the weight for each index ``i``: weight (num_embeddings, dim)."""

    def __init__(self, num_embeddings: int, embedding_dim: int, device=None, dtype=None):
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.weight = _empty(num_embeddings, embedding_dim, dtype=_dtype(dtype, device))
        init.normal_(self.weight)

    def forward(self, idx):
        idx = np.asarray(idx.data if isinstance(idx, cr.Tensor) else idx)
        if idx.dtype.kind not in "iu":
            raise TypeError(f"Embedding: indices must be integers, got {idx.dtype}")
        if idx.size and (idx.min() < 0 or idx.max() >= self.num_embeddings):
            bad = int(idx.min()) if idx.min() < 0 else int(idx.max())
            raise IndexError(f"Embedding: index {bad} is out of range for "
                             f"{self.num_embeddings} embeddings (valid: 0.."
                             f"{self.num_embeddings - 1}); indices never wrap")
        return self.weight[idx]

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"


class ReLU(Module):
    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        return F.relu(x, self.inplace)


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
    def __init__(self, axis: int = -1, *, dim=None):
        super().__init__()
        self.axis = axis if dim is None else dim

    def forward(self, x):
        return F.softmax(x, self.axis)


class CrossEntropyLoss(Module):
    """``F.cross_entropy``: logits (N, C), integer class targets (N,)."""

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        F._check_reduction(reduction, "CrossEntropyLoss")
        self.reduction = reduction

    def forward(self, logits, target):
        return F.cross_entropy(logits, target, self.reduction)


class MSELoss(Module):
    """``F.mse_loss``: mean (or sum, or each) of the squared errors."""

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        F._check_reduction(reduction, "MSELoss")
        self.reduction = reduction

    def forward(self, pred, target):
        return F.mse_loss(pred, target, self.reduction)
