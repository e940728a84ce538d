"""nn.functional's normalizations: batch_norm, layer_norm, group_norm, PyTorch's
signatures. Each is y = (x - mean) / sqrt(var + eps) * weight + bias, the statistics
(mean and biased variance) over different axes:

- batch_norm: per channel (axis 1), over the batch and every axis after the channels;
- layer_norm: per sample, over the last axes (``normalized_shape``);
- group_norm: per sample and group of channels, over the group's channels and the rest.

batch_norm in training is the fused ``BatchNorm`` primitive; the others, and batch_norm
in evaluation, are compositions.
"""

from __future__ import annotations

import numpy as np

from chainrule import _backend as B
from chainrule.errors import ShapeError
from chainrule.graph import trace
from chainrule.ops.norm import batch_norm as _fused_batch_norm
from chainrule.tensor import Tensor, as_tensor


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Batch norm of x (N, C, *) per channel. ``training=True`` normalises with the batch's
    statistics and, when running_mean and running_var are given, updates them in place:
    running = (1 - momentum) * running + momentum * batch, the variance unbiased (1/(m-1)).
    ``training=False`` normalises with running_mean and running_var. ``weight``/``bias``:
    (C,), or None for 1 and 0."""
    x = as_tensor(x)
    if x.ndim < 2:
        raise ShapeError(f"batch_norm: expected (N, C, *), got {x.shape}. help: add the batch "
                         "axis with x.expand_dims(0)")
    c = x.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (c,):
            raise ShapeError(f"batch_norm: {name} has shape {tuple(t.shape)}, expected ({c},) "
                             f"for the {c} channels of x {x.shape}. help: one value per channel")
    if (running_mean is None) != (running_var is None):
        raise ValueError("batch_norm: give both running_mean and running_var, or neither. "
                         "help: pass None for both to use the batch's statistics only")
    if not training:
        if running_mean is None:
            raise ValueError("batch_norm: training=False normalises with running_mean and "
                             "running_var, and none were given. help: pass them, or "
                             "training=True to use the batch's statistics")
        return normalize_running(x, running_mean, running_var, weight, bias, eps)
    y, mean, var = batch_statistics(x, weight, bias, eps, "batch_norm")
    if running_mean is not None:
        trace.call(_update_running_tensors, running_mean, running_var, mean, var,
                   x.size // c, momentum)
    return y


def _update_running_tensors(running_mean, running_var, mean, var, m: int, f: float) -> None:
    update_running(_data(running_mean), _data(running_var), mean, var, m, f)
    for t in (running_mean, running_var):
        if isinstance(t, Tensor):
            t.bump_version()


def normalize_running(x, running_mean, running_var, weight, bias, eps):
    """Eval-mode batch norm of x (N, C, *) with the running statistics (tensors or arrays)."""
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    # Read through trace.call, so that a compiled step reads them on every replay: they
    # change between one eval step and the next when training runs in between.
    mean, inv = trace.call(_eval_statistics, running_mean, running_var, shape, eps, x.dtype)
    return _affine((x - mean) * inv, weight, bias, shape)


def _eval_statistics(running_mean, running_var, shape, eps, dtype):
    """The running mean and 1 / sqrt(running var + eps), shaped to broadcast, in x's dtype."""
    rm, rv = _data(running_mean), _data(running_var)
    if type(rm) is not np.ndarray:  # another library's: its namespace
        xp = B.namespace(rm)
        inv = 1 / xp.sqrt(xp.reshape(rv, shape) + eps)
        return B.astype(xp.reshape(rm, shape), dtype), B.astype(inv, dtype)
    mean = rm.reshape(shape)
    inv = 1 / np.sqrt(rv.reshape(shape) + eps)
    dtype = B.numpy_dtype(dtype)  # NumPy running statistics may meet another library's x
    return mean.astype(dtype), inv.astype(dtype)


def _data(t):
    return t.data if isinstance(t, Tensor) else np.asarray(t)


def batch_statistics(x, weight, bias, eps, what):
    """Training-mode batch norm of x (N, C, *): (y, batch mean, biased batch variance)."""
    m = x.size // x.shape[1]  # values per channel
    if m < 2:
        raise ValueError(f"{what}: training needs more than one value per channel, got input "
                         f"of shape {x.shape}. help: use a batch of at least 2, or call "
                         "model.eval()")
    axes = (0,) + tuple(range(2, x.ndim))
    if weight is None:  # affine=False: the fused op with constant 1 and 0, exact
        weight = B.constant(np.ones(x.shape[1]), x._backing())
    if bias is None:
        bias = B.constant(np.zeros(x.shape[1]), x._backing())
    return _fused_batch_norm(x, weight, bias, axes, eps)


def update_running(rm, rv, mean, var, m: int, f: float) -> None:
    """running = (1 - f) * running + f * batch, in place; the variance unbiased (m values)."""
    if type(rm) is not np.ndarray:  # another library's: the same, written back in place
        rm[...] = rm * (1 - f) + f * mean
        rv[...] = rv * (1 - f) + (f * m / (m - 1)) * var
        return
    rm *= 1 - f
    rm += f * mean
    rv *= 1 - f
    rv += (f * m / (m - 1)) * var  # the running variance is unbiased


def _affine(xhat, weight, bias, shape):
    """xhat * weight + bias, each optional (None), reshaped to ``shape``."""
    if weight is None and bias is None:
        return xhat
    if bias is None:
        return xhat * weight.reshape(shape)
    if weight is None:
        return xhat + bias.reshape(shape)
    return xhat * weight.reshape(shape) + bias.reshape(shape)


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise each sample over its last axes, ``normalized_shape`` (weight and bias of
    that shape, or None)."""
    x = as_tensor(x)
    shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else tuple(
        normalized_shape)
    k = len(shape)
    if k == 0 or tuple(x.shape[x.ndim - k:]) != shape:
        raise ShapeError(f"layer_norm: expected the last axes to be {shape}, got shape "
                         f"{x.shape}. help: check normalized_shape")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != shape:
            raise ShapeError(f"layer_norm: {name} has shape {tuple(t.shape)}, expected "
                             f"{shape}. help: give it normalized_shape's shape")
    axes = tuple(range(x.ndim - k, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    d = x - mean
    var = (d * d).mean(axis=axes, keepdims=True)
    y = d / (var + eps).sqrt()
    if weight is not None:
        y = y * weight
    return y if bias is None else y + bias


def group_norm(x, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalise x (N, C, *) per sample over each of ``num_groups`` groups of C / num_groups
    consecutive channels (and all their other axes); weight and bias (C,), or None."""
    x = as_tensor(x)
    if x.ndim < 2:
        raise ShapeError(f"group_norm: expected (N, C, *), got {x.shape}. help: add the batch "
                         "axis with x.expand_dims(0)")
    n, c = x.shape[:2]
    if (isinstance(num_groups, bool) or not isinstance(num_groups, (int, np.integer))
            or num_groups < 1 or c % num_groups):
        raise ValueError(f"group_norm: the {c} channels of x {x.shape} must split into "
                         f"num_groups={num_groups!r} equal groups. help: use a num_groups "
                         f"that divides {c}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (c,):
            raise ShapeError(f"group_norm: {name} has shape {tuple(t.shape)}, expected ({c},). "
                             "help: one value per channel")
    g = x.reshape(n, num_groups, -1)
    mean = g.mean(axis=2, keepdims=True)
    d = g - mean
    var = (d * d).mean(axis=2, keepdims=True)
    y = (d / (var + eps).sqrt()).reshape(x.shape)
    shape = (1, c) + (1,) * (x.ndim - 2)
    if weight is not None:
        y = y * weight.reshape(shape)
    return y if bias is None else y + bias.reshape(shape)
