"""nn.functional: activations, losses, convolution and pooling, as functions of tensors.

Most are compositions of the engine's ops (no new derivative rules); the fused ones live in
``chainrule.ops.nn``, each with its reason. The losses take ``reduction``:

- ``'mean'``: the cost function, the average of the per-sample losses l^n;
- ``'sum'``: the total loss L = sum over samples of l^n;
- ``'none'``: one loss l^n per sample.
"""

from __future__ import annotations

import math

import numpy as np

import chainrule as cr
from chainrule import _backend as B
from chainrule.errors import ShapeError
from chainrule.ops import nn as _nn
from chainrule.ops.elementwise import _tensor
from chainrule.tensor import Tensor

REDUCTIONS = ("mean", "sum", "none")


def relu(x):
    """max(x, 0)"""
    return _tensor(x).relu()


def sigmoid(x):
    """1 / (1 + e^-x)"""
    return _tensor(x).sigmoid()


def tanh(x):
    return _tensor(x).tanh()


def leaky_relu(x, negative_slope: float = 0.01):
    """x for x > 0, negative_slope * x otherwise"""
    x = _tensor(x)
    return cr.where(x.data > 0, x, x * negative_slope)


def gelu(x, approximate: str = "none"):
    """x * Phi(x), Phi the standard normal CDF; ``approximate='tanh'`` uses
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))"""
    x = _tensor(x)
    if approximate == "tanh":
        inner = (x + 0.044715 * x * x * x) * math.sqrt(2 / math.pi)
        return 0.5 * x * (1 + inner.tanh())
    if approximate != "none":
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return 0.5 * x * (1 + _nn.erf(x * (1 / math.sqrt(2))))


def softmax(x, axis: int = -1):
    """e^x / sum e^x along ``axis`` (computed as exp(log_softmax), so it never overflows)"""
    return _nn.softmax(_tensor(x), axis)


def log_softmax(x, axis: int = -1):
    """x - logsumexp(x) along ``axis``"""
    return _nn.log_softmax(_tensor(x), axis)


def linear(x, weight, bias=None):
    """x @ weight^T + bias, weight of shape (out_features, in_features)"""
    return _nn.linear(_tensor(x), weight, bias)


def _targets(target, n: int, num_classes: int, what: str) -> np.ndarray:
    t = np.asarray(target.data if isinstance(target, Tensor) else target)
    if t.dtype.kind not in "iu":
        raise TypeError(f"{what}: targets must be integer class indices, got dtype {t.dtype}. "
                        "help: pass labels as an int array, e.g. y.astype(np.int64)")
    if t.shape != (n,):
        raise ShapeError(f"{what}: expected {n} targets (one per row of the input), got shape "
                         f"{t.shape}")
    if t.size and (t.min() < 0 or t.max() >= num_classes):
        bad = int(t.min()) if t.min() < 0 else int(t.max())
        raise IndexError(f"{what}: target class {bad} is out of range for {num_classes} "
                         f"classes (valid: 0..{num_classes - 1})")
    return t


def _check_reduction(reduction: str, what: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{what}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def cross_entropy(logits, target, reduction: str = "mean"):
    """l^n = -log softmax(logits_n)[target_n], for logits (N, C) and class indices (N,)"""
    logits = _tensor(logits)
    _check_reduction(reduction, "cross_entropy")
    if logits.ndim != 2:
        raise ShapeError(f"cross_entropy: logits must be (batch, classes), got {logits.shape}")
    t = _targets(target, logits.shape[0], logits.shape[1], "cross_entropy")
    return _nn.cross_entropy(logits, t, reduction)


def nll_loss(log_probs, target, reduction: str = "mean"):
    """l^n = -log_probs_n[target_n] (log_probs from log_softmax)"""
    log_probs = _tensor(log_probs)
    _check_reduction(reduction, "nll_loss")
    t = _targets(target, log_probs.shape[0], log_probs.shape[1], "nll_loss")
    picked = -log_probs[np.arange(len(t)), t]
    return _reduce(picked, reduction)


def _reduce(losses, reduction):
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    return losses


def mse_loss(pred, target, reduction: str = "mean"):
    """l = (pred - target)^2 per element"""
    _check_reduction(reduction, "mse_loss")
    pred = _tensor(pred)
    target = target if isinstance(target, Tensor) else B.as_array(target)
    if tuple(pred.shape) != tuple(np.shape(target)):
        raise ShapeError(f"mse_loss: prediction {pred.shape} and target {np.shape(target)} "
                         "differ. help: give both the same shape (e.g. reshape the target)")
    return _nn.mse_loss(pred, target, reduction)


def binary_cross_entropy_with_logits(logits, target, reduction: str = "mean"):
    """l = -[t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))], computed stably from x"""
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    logits = _tensor(logits)
    t = np.asarray(target.data if isinstance(target, Tensor) else target, dtype=logits.dtype)
    if t.shape != logits.shape:
        raise ShapeError(f"binary_cross_entropy_with_logits: logits {logits.shape} and target "
                         f"{t.shape} differ")
    return _nn.binary_cross_entropy_with_logits(logits, t, reduction)


def _pair(v, what):
    if isinstance(v, int):
        return v, v
    v = tuple(v)
    if len(v) != 2:
        raise ValueError(f"{what}: expected an int or a pair, got {v}")
    return v


def conv2d(x, weight, bias=None, stride: int = 1, padding: int = 0):
    """Cross-correlation in NCHW: x (N, C, H, W), weight (O, C, kh, kw) -> (N, O, Ho, Wo)

    im2col: pad, unfold every window into a row, one matrix product with the flattened
    weight, add the bias, and fold the rows back into an image.
    """
    x = _tensor(x)
    if x.ndim != 4 or weight.ndim != 4:
        raise ShapeError(f"conv2d: expected x (N, C, H, W) and weight (O, C, kh, kw), got "
                         f"{x.shape} and {weight.shape}")
    n, c, h, w = x.shape
    o, cw, kh, kw = weight.shape
    if c != cw:
        raise ShapeError(f"conv2d: input has {c} channels but the weight expects {cw} "
                         f"(weight shape {weight.shape}). help: check in_channels")
    if not isinstance(stride, int) or stride < 1 or not isinstance(padding, int) or padding < 0:
        raise ValueError(f"conv2d: stride must be >= 1 and padding >= 0, got {stride}, {padding}")
    if padding:
        x = cr.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    hp, wp = h + 2 * padding, w + 2 * padding
    if hp < kh or wp < kw:
        raise ShapeError(f"conv2d: the {kh}x{kw} kernel is larger than the padded input "
                         f"{hp}x{wp}")
    ho, wo = (hp - kh) // stride + 1, (wp - kw) // stride + 1
    cols = _nn.unfold(x, kh, kw, stride)  # (N*Ho*Wo, kh*kw*C)
    w2 = weight.transpose(0, 2, 3, 1).reshape(o, kh * kw * c)  # the same (u, v, c) order
    out = _nn.linear(cols, w2, bias)  # (N*Ho*Wo, O)
    return out.reshape(n, ho, wo, o).transpose(0, 3, 1, 2)


def _pool_args(x, kernel_size, stride, what):
    x = _tensor(x)
    if x.ndim != 4:
        raise ShapeError(f"{what}: expected (N, C, H, W), got {x.shape}")
    k = kernel_size
    s = k if stride is None else stride
    if not isinstance(k, int) or k < 1 or not isinstance(s, int) or s < 1:
        raise ValueError(f"{what}: kernel_size and stride must be positive ints (square "
                         f"windows), got {kernel_size}, {stride}")
    if x.shape[2] < k or x.shape[3] < k:
        raise ShapeError(f"{what}: window {k}x{k} is larger than the input {x.shape[2:]}")
    return x, k, s


def max_pool2d(x, kernel_size: int, stride: int | None = None):
    """The maximum of each k x k window (stride defaults to k)"""
    x, k, s = _pool_args(x, kernel_size, stride, "max_pool2d")
    return _nn.max_pool2d(x, k, s)


def avg_pool2d(x, kernel_size: int, stride: int | None = None):
    """The mean of each k x k window (stride defaults to k)"""
    x, k, s = _pool_args(x, kernel_size, stride, "avg_pool2d")
    n, c, h, w = x.shape
    ho, wo = (h - k) // s + 1, (w - k) // s + 1
    cols = _nn.unfold(x, k, k, s).reshape(n, ho, wo, k * k, c)
    return cols.mean(axis=3).transpose(0, 3, 1, 2)


def dropout(x, p: float = 0.5, training: bool = True):
    """Zero each element with probability p, scale the rest by 1 / (1 - p) (training only)"""
    if not 0 <= p < 1:
        raise ValueError(f"dropout: p must be in [0, 1), got {p}")
    x = _tensor(x)
    if not training or p == 0:
        return x
    keep = B.random.generator.random(x.shape) >= p
    return x * (keep * (1.0 / (1 - p))).astype(x.dtype)
