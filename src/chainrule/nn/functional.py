"""nn.functional: activations, losses, convolution, pooling and normalization, as
functions of tensors (convolution, pooling and normalization in functional_conv.py,
functional_pool.py and functional_norm.py, re-exported here).

Most are compositions of the engine's ops (no new derivative rules); the fused ones are
primitives in ``chainrule.ops`` (linalg, loss, conv, norm), each with its reason. The
losses live in ``functional_loss.py`` (their ``reduction`` is explained there) and are
re-exported here.
"""

from __future__ import annotations

import math

import chainrule as cr
from chainrule import _backend as B
from chainrule.errors import ShapeError
from chainrule.graph import trace
from chainrule.nn.functional_conv import conv1d, conv2d, pad  # noqa: F401 - F's surface
from chainrule.nn.functional_loss import (  # noqa: F401 - F.* is the public surface
    REDUCTIONS,
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    huber_loss,
    kl_div,
    l1_loss,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
)
from chainrule.nn.functional_norm import batch_norm, group_norm, layer_norm  # noqa: F401
from chainrule.nn.functional_pool import (  # noqa: F401 - F's surface
    adaptive_avg_pool2d,
    adaptive_max_pool2d,
    avg_pool1d,
    avg_pool2d,
    interpolate,
    max_pool1d,
    max_pool2d,
)
from chainrule.ops import elementwise as _ew
from chainrule.ops import linalg as _linalg
from chainrule.ops import reduce as _reduce_ops
from chainrule.tensor import as_tensor


def relu(x, inplace: bool = False):
    """max(x, 0); ``inplace=True`` updates x itself, as PyTorch's (see Tensor.relu_)"""
    return as_tensor(x).relu_() if inplace else as_tensor(x).relu()


def sigmoid(x):
    """1 / (1 + e^-x)"""
    return as_tensor(x).sigmoid()


def tanh(x):
    """(e^x - e^-x) / (e^x + e^-x)"""
    return as_tensor(x).tanh()


def leaky_relu(x, negative_slope: float = 0.01):
    """x for x > 0, negative_slope * x otherwise"""
    x = as_tensor(x)
    return cr.where(x > 0, x, x * negative_slope)


def gelu(x, approximate: str = "none"):
    """x * Phi(x), Phi the standard normal CDF; ``approximate='tanh'`` uses
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))"""
    x = as_tensor(x)
    if approximate == "tanh":
        inner = (x + 0.044715 * x * x * x) * math.sqrt(2 / math.pi)
        return 0.5 * x * (1 + inner.tanh())
    if approximate != "none":
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return 0.5 * x * (1 + _ew.erf(x * (1 / math.sqrt(2))))


def softmax(x, axis: int = -1, *, dim=None):
    """e^x / sum e^x along ``axis`` (``dim``) (as exp(log_softmax), so it never overflows)"""
    return _reduce_ops.softmax(as_tensor(x), axis if dim is None else dim)


def log_softmax(x, axis: int = -1, *, dim=None):
    """x - logsumexp(x) along ``axis`` (``dim``)"""
    return _reduce_ops.log_softmax(as_tensor(x), axis if dim is None else dim)


def linear(x, weight, bias=None):
    """y = x @ weight^T + bias, weight of shape (out_features, in_features), bias (out,)"""
    x = as_tensor(x)
    if weight.ndim != 2:
        raise ShapeError(f"linear: weight must be (out_features, in_features), got shape "
                         f"{tuple(weight.shape)}")
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ShapeError(f"linear: bias has shape {tuple(bias.shape)} but the weight "
                         f"{tuple(weight.shape)} has {weight.shape[0]} outputs. help: give a "
                         f"bias of shape ({weight.shape[0]},)")
    return _linalg.linear(x, weight, bias)


def dropout(x, p: float = 0.5, training: bool = True):
    """Zero each element with probability p, scale the rest by 1 / (1 - p) (training only);
    p = 1 zeros everything, as PyTorch"""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    x = as_tensor(x)
    if not training or p == 0:
        return x
    if p == 1:
        return x * 0.0  # nothing to draw: zeros, and a zero gradient
    # The mask is built in x's dtype, in place (88 instead of 101 us for 128x256 float32).
    # The draws stay float64: float32 ones would be faster still, but they change every
    # seeded run's results (the digits MLP went from 0.982 to 0.976).
    # A compiled step draws a fresh mask on every replay (trace.call), as eager does.
    return x * trace.call(_dropout_mask, x.shape, p, x.dtype)


def _dropout_mask(shape, p, dtype):
    # Drawn in NumPy for every backend (one seed, one mask anywhere); the op moves it.
    mask = (B.random.generator.random(shape) >= p).astype(B.numpy_dtype(dtype))
    mask *= mask.dtype.type(1 / (1 - p))
    return mask
