"""nn.functional's losses on tensors of other array libraries (PyTorch, CuPy,
array-api-strict; docs/backends.md): the same checks (functional_loss_checks.py), options
and numbers as the NumPy code in functional_loss.py, which calls in here when the input is
not NumPy's.

Class-index labels stay on their device: a NumPy label array moves there once (a constant,
as PyTorch moves a NumPy index), the target class is picked by comparing the labels with
``arange(C)`` (a one-hot mask, where NumPy's code indexes), and a class weight per target
comes from ``xp.take``. One host read per call stays: a few numbers summarising the labels
(any out of range, any ignored, the weight that counts), read together, because an error
must be raised and the mean's divisor is a constant of the op.
"""

from __future__ import annotations

import math

import numpy as np

import chainrule as cr
from chainrule import _backend as B
from chainrule.errors import ShapeError
from chainrule.nn import functional_loss_checks as C
from chainrule.ops import loss as _loss
from chainrule.tensor import Tensor, as_tensor


def _on(x, like, what: str, name: str, dtype=None):
    """A constant of the loss (a NumPy array, list, number, or an array or tensor of
    ``like``'s library) as an array of ``like``'s library and device, in ``dtype`` when
    given; None stays None. Another library's array is refused, naming both."""
    if x is None:
        return None
    if isinstance(x, Tensor):
        if C._moves(x):
            raise ValueError(f"{what}: {name} requires grad, but it is a constant of the loss "
                             f"(no gradient flows to it). help: pass {name}.detach()")
        x = x.data
    if not B.is_foreign(x):
        x = np.asarray(x)
    _, _, (_, x) = B.common([like, x], what)
    if dtype is not None and not B.same_dtype(x.dtype, dtype):
        x = B.namespace(x).astype(x, dtype)
    return x


def _class_targets(target, shape: tuple, like, what: str):
    """Class-index targets as an int64 array on ``like``'s device, their dtype and shape
    checked (their range is checked in ``_summary``, with the one host read)."""
    t = target.data if isinstance(target, Tensor) else target
    if not B.is_foreign(t):
        t = np.asarray(t)
    integer = B.dtype_name(t.dtype).startswith(("int", "uint"))
    C._check_targets(integer, B.dtype_name(t.dtype), tuple(t.shape), shape, what)
    t = _on(t, like, what, "target")
    xp = B.namespace(t)
    return xp.reshape(xp.astype(t, xp.int64), (-1,)), t.shape


def _summary(t, c: int, ignore_index: int, w, dtype, what: str):
    """(kept, safe, weights, any ignored, counted weight, any kept) for flat labels ``t``:
    ``kept`` the labels that count, ``safe`` the labels with ignored ones set to 0 (a valid
    index), ``weights`` each kept label's class weight (0 where ignored). The scalars come
    to the host in one read, with the range check (functional_loss's message on failure)."""
    xp = B.namespace(t)
    kept = t != ignore_index
    valid = (t >= 0) & (t < c)
    bad = kept & ~valid
    # NOTE: an out-of-range label must not reach take (on a GPU, a device-side assert that
    # kills the process) before the read below raises the IndexError that names it
    safe = xp.where(kept & valid, t, 0)
    keep = xp.astype(kept, dtype)
    weights = keep if w is None else xp.take(w, safe) * keep
    flags = [xp.any(bad), xp.any(~kept), xp.any(kept)]
    read = B.to_numpy(xp.stack([xp.astype(f, dtype) for f in flags] + [xp.sum(weights)]))
    if read[0]:
        C._check_range(B.to_numpy(t), c, ignore_index, what)  # raises, with the values
    return kept, safe, weights, bool(read[1]), float(read[3]), bool(read[2])


def _onehot(safe, c: int, dtype):
    xp = B.namespace(safe)
    hit = xp.reshape(safe, (-1, 1)) == xp.arange(c, dtype=xp.int64, device=B.device(safe))
    return hit if dtype is None else xp.astype(hit, dtype)


def class_weight(weight, c: int, logits: Tensor, what: str):
    """``weight`` (one per class, or None) on the logits' device, in their dtype."""
    like = logits._backing()
    w = _on(weight, like, what, "weight", like.dtype)
    if w is not None and tuple(w.shape) != (c,):
        C._class_weight(np.zeros(tuple(w.shape)), c, None, what)  # its ShapeError
    return w


def probabilities(target, logits: Tensor):
    """Class-probability targets as a tensor on the logits' device, in their dtype (a
    tensor that requires grad stays itself: the loss differentiates it too)."""
    if C._moves(target):
        return target
    like = logits._backing()
    return as_tensor(_on(target, like, "cross_entropy", "target", like.dtype))


def cross_entropy(logits: Tensor, target, w, ignore_index, reduction, smoothing, c):
    """functional_loss.cross_entropy with class indices, for another library's tensor
    (checked there; ``w`` from ``class_weight``)."""
    what = "cross_entropy"
    like = logits._backing()
    t, shape = _class_targets(target, tuple(logits.shape), like, what)
    xp = B.namespace(t)
    kept, safe, weights, any_ignored, denom, any_kept = _summary(t, c, ignore_index, w,
                                                                 like.dtype, what)
    rows = C._as_rows(logits)
    if w is None and not smoothing and not any_ignored:  # the fused op, as NumPy's path
        losses = _loss.cross_entropy(rows, t, reduction)
        return losses.reshape(shape) if reduction == "none" and logits.ndim != 2 else losses
    # q as NumPy's code builds it (smoothing on the kept rows, then the target's share)
    q = _onehot(safe, c, like.dtype) * xp.reshape((1 - smoothing) * weights, (-1, 1))
    if smoothing:
        share = smoothing / c * (w if w is not None else 1)
        q = q + xp.reshape(xp.astype(kept, like.dtype), (-1, 1)) * share
    losses = _loss.soft_cross_entropy(rows, q, denom, any_kept, reduction)
    return losses.reshape(shape) if reduction == "none" and logits.ndim != 2 else losses


def nll_loss(log_probs: Tensor, target, weight, ignore_index, reduction, c):
    """functional_loss.nll_loss for a tensor of another library: -log_probs at each
    target, picked by a where over the one-hot mask (Where and Sum: both portable)."""
    what = "nll_loss"
    like = log_probs._backing()
    w = class_weight(weight, c, log_probs, what)
    t, shape = _class_targets(target, tuple(log_probs.shape), like, what)
    kept, safe, weights, any_ignored, denom, _ = _summary(t, c, ignore_index, w, like.dtype,
                                                          what)
    rows = C._as_rows(log_probs)
    picked = cr.where(_onehot(safe, c, None) & B.namespace(t).reshape(kept, (-1, 1)), rows,
                      0.0).sum(axis=1)  # one term per row: exact, 0 where ignored
    losses = -picked if w is None else -picked * B.namespace(t).take(w, safe)
    if reduction == "none":
        return losses.reshape(shape)
    total = losses.sum()
    if reduction == "sum":
        return total
    # With nothing counted, PyTorch's 0 / 0 is NaN; the gradient stays 0 (the where above)
    return total / denom if denom else total * math.nan


def _same_shape(t, x: Tensor, what: str, first: str) -> None:
    if tuple(t.shape) != tuple(x.shape):
        raise ShapeError(f"{what}: {first} {tuple(x.shape)} and target {tuple(t.shape)} differ. "
                         "help: give both the same shape (e.g. target.reshape(-1, 1) for a "
                         "(N, 1) output)")


def _broadcast_weight(weight, x: Tensor, what: str, name: str):
    w = _on(weight, x._backing(), what, name, x._backing().dtype)
    if w is not None:
        C._broadcast_weight(np.zeros(tuple(w.shape)), tuple(x.shape), what, name, None)
    return w


def binary_cross_entropy_with_logits(logits: Tensor, target, weight, reduction, pos_weight):
    """functional_loss.binary_cross_entropy_with_logits for another library's tensor."""
    what = "binary_cross_entropy_with_logits"
    like = logits._backing()
    t = _on(target, like, what, "target", like.dtype)
    _same_shape(t, logits, what, "logits")
    if weight is None and pos_weight is None:
        return _loss.binary_cross_entropy_with_logits(logits, t, reduction)
    w = _broadcast_weight(weight, logits, what, "weight")
    pw = _broadcast_weight(pos_weight, logits, what, "pos_weight")
    return _loss.weighted_binary_cross_entropy_with_logits(logits, t, w, pw, reduction)


def binary_cross_entropy(probs: Tensor, target, weight, reduction):
    """functional_loss.binary_cross_entropy for another library's tensor; both ranges
    checked on the device, in one host read."""
    what = "binary_cross_entropy"
    like = probs._backing()
    t = _on(target, like, what, "target", like.dtype)
    _same_shape(t, probs, what, "input")
    xp = B.namespace(t)
    outside = [xp.any(~((v >= 0) & (v <= 1))) for v in (like, t)]
    if B.any_true(outside[0] | outside[1]):
        for name, values in (("input", like), ("target", t)):
            C._check_unit_interval(B.to_numpy(values), name, what)  # raises, with values
    w = _broadcast_weight(weight, probs, what, "weight")
    return _loss.binary_cross_entropy(probs, t, w, reduction)
