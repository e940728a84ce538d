"""nn.functional: activations, losses, convolution and pooling, as functions of tensors.

Most are compositions of the engine's ops (no new derivative rules); the fused ones are
primitives in ``chainrule.ops`` (linalg, loss, conv, norm), each with its reason. The
losses live in ``functional_loss.py`` (their ``reduction`` is explained there) and are
re-exported here.
"""

from __future__ import annotations

import math

import numpy as np

import chainrule as cr
from chainrule import _backend as B
from chainrule.errors import ShapeError
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
from chainrule.ops import conv as _conv
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
    return cr.where(x.data > 0, x, x * negative_slope)


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


def _pair(v, what: str, name: str, least: int) -> tuple[int, int]:
    """An int or a pair of ints, each >= ``least``, as a pair."""
    pair = (v, v) if isinstance(v, (int, np.integer)) else tuple(v) if isinstance(
        v, (tuple, list)) else None
    if (pair is None or len(pair) != 2 or not all(isinstance(a, (int, np.integer))
                                                  and not isinstance(a, bool) for a in pair)
            or min(pair) < least):
        raise ValueError(f"{what}: {name} must be an int >= {least} or a pair of them, got "
                         f"{v!r}")
    return int(pair[0]), int(pair[1])


def conv2d(x, weight, bias=None, stride=1, padding=0):
    """Cross-correlation in NCHW: x (N, C, H, W), weight (O, C, kh, kw) -> (N, O, Ho, Wo),

    y[n, o, i, j] = b[o] + sum over c, u, v of w[o, c, u, v] x[n, c, i*sh + u, j*sw + v]

    (x zero-padded by ``padding`` first; ``stride`` and ``padding`` are ints or pairs).
    im2col: unfold every window into a column (``Unfold``), then one matrix product with
    the weight reshaped to (O, C*kh*kw), plus the bias (``Affine``). The gradient of the
    unfold is a fold (``Fold``) and the fold's is an unfold again, so create_graph works.
    """
    x = as_tensor(x)
    if x.ndim != 4 or weight.ndim != 4:
        raise ShapeError(f"conv2d: expected x (N, C, H, W) and weight (O, C, kh, kw), got "
                         f"{x.shape} and {tuple(weight.shape)}. help: add the batch axis with "
                         "x.expand_dims(0), or the channel axis with x.expand_dims(1)")
    n, c, h, w = x.shape
    o, cw, kh, kw = weight.shape
    if c != cw:
        raise ShapeError(f"conv2d: input has {c} channels (shape {x.shape}) but the weight "
                         f"expects {cw} (weight shape {tuple(weight.shape)}). help: check "
                         "in_channels and the previous layer's out_channels")
    if bias is not None and tuple(bias.shape) != (o,):
        raise ShapeError(f"conv2d: bias has shape {tuple(bias.shape)}, expected ({o},), one "
                         f"per output channel of the weight {tuple(weight.shape)}")
    sh, sw = _pair(stride, "conv2d", "stride", 1)
    ph, pw = _pair(padding, "conv2d", "padding", 0)
    hp, wp = h + 2 * ph, w + 2 * pw
    if hp < kh or wp < kw:
        raise ShapeError(f"conv2d: the {kh}x{kw} kernel is larger than the padded input "
                         f"{hp}x{wp} (input {x.shape}, padding {(ph, pw)}). help: use a "
                         "smaller kernel or more padding")
    if ph or pw:
        x = cr.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    ho, wo = _conv.out_size(hp, kh, sh), _conv.out_size(wp, kw, sw)
    cols = _conv.unfold(x, kh, kw, sh, sw)  # (C*kh*kw, N*Ho*Wo)
    out = _conv.affine(weight.reshape(o, c * kh * kw), cols, bias)  # (O, N*Ho*Wo): one GEMM
    return out.reshape(o, n, ho, wo).transpose(1, 0, 2, 3)


def _pool_args(x, kernel_size, stride, what):
    x = as_tensor(x)
    if x.ndim != 4:
        raise ShapeError(f"{what}: expected (N, C, H, W), got {x.shape}. help: add the batch "
                         "axis with x.expand_dims(0)")
    kh, kw = _pair(kernel_size, what, "kernel_size", 1)
    sh, sw = (kh, kw) if stride is None else _pair(stride, what, "stride", 1)
    if x.shape[2] < kh or x.shape[3] < kw:
        raise ShapeError(f"{what}: window {kh}x{kw} is larger than the input's "
                         f"{x.shape[2]}x{x.shape[3]} (shape {x.shape})")
    return x, kh, kw, sh, sw


def max_pool2d(x, kernel_size, stride=None):
    """y[n, c, i, j] = max of the window x[n, c, i*sh : i*sh + kh, j*sw : j*sw + kw];
    ``stride`` defaults to ``kernel_size``. The gradient goes to each window's first
    maximum, as PyTorch's."""
    x, kh, kw, sh, sw = _pool_args(x, kernel_size, stride, "max_pool2d")
    return _conv.max_pool2d(x, kh, kw, sh, sw)


def avg_pool2d(x, kernel_size, stride=None):
    """y[n, c, i, j] = mean of the window x[n, c, i*sh : i*sh + kh, j*sw : j*sw + kw];
    ``stride`` defaults to ``kernel_size`` (an unfold, then a mean over each window)"""
    x, kh, kw, sh, sw = _pool_args(x, kernel_size, stride, "avg_pool2d")
    n, c, h, w = x.shape
    ho, wo = _conv.out_size(h, kh, sh), _conv.out_size(w, kw, sw)
    cols = _conv.unfold(x, kh, kw, sh, sw).reshape(c, kh * kw, n, ho, wo)
    return cols.mean(axis=1).transpose(1, 0, 2, 3)


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
    mask = (B.random.generator.random(x.shape) >= p).astype(x.dtype)
    mask *= mask.dtype.type(1 / (1 - p))
    return x * mask
