"""Layers: each holds its parameters and calls nn.functional in ``forward``. Convolution,
pooling and normalization layers have files of their own: conv.py, pool.py, norm.py."""

from __future__ import annotations

import numpy as np

import chainrule as cr
from chainrule.errors import ShapeError
from chainrule.graph import trace
from chainrule.nn import functional as F
from chainrule.nn import init
from chainrule.nn._params import dtype_arg as _dtype
from chainrule.nn._params import zeros_param as _empty
from chainrule.nn.module import Module


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
        trace.depends(_check_indices, idx, self.num_embeddings)  # again on every replay
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


def _check_indices(idx: np.ndarray, n: int) -> None:
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        bad = int(idx.min()) if idx.min() < 0 else int(idx.max())
        raise IndexError(f"Embedding: index {bad} is out of range for {n} embeddings (valid: "
                         f"0..{n - 1}); indices never wrap")
