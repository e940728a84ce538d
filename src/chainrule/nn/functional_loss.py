"""nn.functional's losses (re-exported there), with PyTorch's names, options and semantics.

Every loss takes ``reduction``:

- ``'mean'``: the cost function, the average of the per-sample losses l^n (with class
  weights, PyTorch's weighted mean: the sum of the losses over the summed weight of the
  targets that count);
- ``'sum'``: the total loss L = sum over samples of l^n;
- ``'none'``: one loss l^n per sample (per element for the elementwise losses).

NOTE: a loss called as chainrule called it before its options existed (cross_entropy with
class targets, no weight, no smoothing, none ignored; nll_loss, mse_loss and
binary_cross_entropy_with_logits without options) runs its original code, bitwise
unchanged: the README's measured accuracies rest on it (tests/nn/test_loss_defaults.py).
Each option takes a path of its own.

The composed losses (mse_loss, l1_loss, kl_div ...) run on every array library as they
are. Those that read labels or build constants with NumPy (cross_entropy, nll_loss, the
binary cross-entropies) take functional_loss_xp.py's code for another library's tensor
(PyTorch, CuPy, array-api-strict), after the same argument checks (those both share are in
functional_loss_checks.py): the NumPy path stays as it was, behind one type check.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

import chainrule as cr
from chainrule import _backend as B
from chainrule.errors import ShapeError
from chainrule.graph import batching_mode, trace
from chainrule.nn import functional_loss_xp as _xp
from chainrule.nn.functional_loss_checks import (
    _as_rows,
    _broadcast_weight,
    _check_range,
    _check_targets,
    _check_unit_interval,
    _class_weight,
    _is_probabilities,
    _moves,
    _target_shape,
)
from chainrule.ops import loss as _loss
from chainrule.tensor import Tensor, as_tensor

REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction: str, what: str, allowed: tuple = REDUCTIONS) -> None:
    if reduction not in allowed:
        names = ", ".join(repr(r) for r in allowed)
        raise ValueError(f"{what}: reduction must be one of {names}, got {reduction!r}")


def _reduce(losses, reduction):
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    return losses


def _weight_or_reduction(weight, reduction, what: str):
    """(weight, reduction): chainrule's losses took ``reduction`` third before they took
    PyTorch's ``weight`` there, so a string in that place is still the reduction."""
    if not isinstance(weight, str):
        return weight, reduction
    if reduction != "mean":
        raise TypeError(f"{what}: got the reduction twice ({weight!r} in weight's place and "
                        f"reduction={reduction!r}). help: pass reduction= alone")
    return None, weight


def _num_classes(x, what: str) -> int:
    if x.ndim == 0:
        raise ShapeError(f"{what}: the input must have a class axis: (N, C), (N, C, d1, ...) "
                         "or (C,), got a scalar. help: pass the model's output (the logits)")
    return x.shape[1] if x.ndim > 1 else x.shape[0]


def _class_targets(target, shape: tuple, ignore_index: int, what: str) -> np.ndarray:
    t = np.asarray(target.data if isinstance(target, Tensor) else target)
    _check_targets(t.dtype.kind in "iu", t.dtype, t.shape, shape, what)
    # Checked again on every replay of a compiled step (trace.depends): the values change.
    trace.depends(_check_range, t, shape[1] if len(shape) > 1 else shape[0], ignore_index,
                  what)
    return t


def _any_equal(t, value) -> bool:
    return bool((t == value).any())


@batching_mode.batchable  # it reads the targets' values: vmap has a rule for it
def cross_entropy(logits, target, weight=None, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0):
    """l^n = -sum_c q^n_c log softmax(logits^n)_c, PyTorch's ``F.cross_entropy``.

    ``logits`` (N, C), (N, C, d1, ...) or unbatched (C,); ``target`` integer class indices
    (N,), (N, d1, ...) or (), or class probabilities of the logits' shape. With class
    indices, q^n is onehot(t^n), mixed as (1 - label_smoothing) onehot + label_smoothing / C,
    scaled by ``weight[c]`` (one per class); targets equal to ``ignore_index`` count for
    nothing. 'mean' divides by the summed weight of the counted targets (NaN when none
    counts, as PyTorch); with probabilities, by the number of samples (and positions).
    """
    weight, reduction = _weight_or_reduction(weight, reduction, "cross_entropy")
    logits = as_tensor(logits)
    _check_reduction(reduction, "cross_entropy")
    if not 0 <= label_smoothing <= 1:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got "
                         f"{label_smoothing}")
    c = _num_classes(logits, "cross_entropy")
    if B.is_foreign(B.array_of(logits)):  # another library's tensor: functional_loss_xp
        w = _xp.class_weight(weight, c, logits, "cross_entropy")
        if not _is_probabilities(target, logits.shape):
            return _xp.cross_entropy(logits, target, w, ignore_index, reduction,
                                     label_smoothing, c)
        target = _xp.probabilities(target, logits)
    else:
        w = _class_weight(weight, c, logits.dtype, "cross_entropy")
    if _is_probabilities(target, logits.shape):
        return _cross_entropy_probabilities(logits, target, w, ignore_index, reduction,
                                            label_smoothing)
    t = _class_targets(target, logits.shape, ignore_index, "cross_entropy")
    # a branch on the targets' values: a compiled step checks it again (trace.depends)
    if w is None and not label_smoothing and not trace.depends(_any_equal, t, ignore_index):
        if logits.ndim == 2:
            return _loss.cross_entropy(logits, t, reduction)
        losses = _loss.cross_entropy(_as_rows(logits), t.reshape(-1), reduction)
        return losses.reshape(t.shape) if reduction == "none" else losses
    ignored = t == ignore_index
    rows = _as_rows(logits)
    m = rows.shape[0]
    kept = ~ignored.reshape(-1)
    safe = np.where(kept, t.reshape(-1), 0)
    counted = (w[safe] if w is not None else np.ones(m, logits.dtype)) * kept
    q = np.zeros((m, c), logits.dtype)
    if label_smoothing:
        q[kept] = label_smoothing / c * (w if w is not None else 1)
    q[np.arange(m), safe] += (1 - label_smoothing) * counted
    losses = _loss.soft_cross_entropy(rows, q, float(counted.sum()), bool(kept.any()),
                                      reduction)
    return losses.reshape(t.shape) if reduction == "none" and logits.ndim != 2 else losses


def _cross_entropy_probabilities(logits, target, w, ignore_index, reduction, smoothing):
    if ignore_index != -100:
        raise ValueError("cross_entropy: ignore_index applies to class-index targets, not to "
                         "probabilities. help: give ignored samples a target of zeros, or "
                         "pass class indices")
    if not _moves(target) and not B.is_foreign(B.array_of(target)):
        target = np.asarray(target.data if isinstance(target, Tensor) else target,
                            dtype=logits.dtype)
    q = _as_rows(target)
    c = logits.shape[1] if logits.ndim > 1 else logits.shape[0]
    if smoothing:
        q = q * (1 - smoothing) + smoothing / c
    if w is not None:
        q = q * w
    m = q.shape[0]
    losses = _loss.soft_cross_entropy(_as_rows(logits), q, float(m), m > 0, reduction)
    if reduction == "none" and logits.ndim != 2:
        return losses.reshape(_target_shape(logits.shape))
    return losses


def nll_loss(log_probs, target, weight=None, ignore_index: int = -100,
             reduction: str = "mean"):
    """l^n = -weight[t^n] log_probs^n[t^n] (log_probs from log_softmax), PyTorch's
    ``F.nll_loss``: shapes, ``weight``, ``ignore_index`` and the weighted mean as
    ``cross_entropy``'s with class indices."""
    weight, reduction = _weight_or_reduction(weight, reduction, "nll_loss")
    log_probs = as_tensor(log_probs)
    _check_reduction(reduction, "nll_loss")
    c = _num_classes(log_probs, "nll_loss")
    if B.is_foreign(B.array_of(log_probs)):
        return _xp.nll_loss(log_probs, target, weight, ignore_index, reduction, c)
    w = _class_weight(weight, c, log_probs.dtype, "nll_loss")
    t = _class_targets(target, log_probs.shape, ignore_index, "nll_loss")
    if log_probs.ndim == 2 and w is None and not trace.depends(_any_equal, t, ignore_index):
        picked = -log_probs[np.arange(len(t)), t]
        return _reduce(picked, reduction)
    ignored = t == ignore_index
    rows = _as_rows(log_probs)
    kept = ~ignored.reshape(-1)
    safe = np.where(kept, t.reshape(-1), 0)
    losses = -rows[np.arange(rows.shape[0]), safe]
    if w is not None:
        losses = losses * w[safe]
    if not kept.all():
        losses = cr.where(kept, losses, 0.0)
    if reduction == "none":
        return losses.reshape(t.shape)
    total = losses.sum()
    if reduction == "sum":
        return total
    denom = float(w[safe][kept].sum()) if w is not None else float(kept.sum())
    # With nothing counted, PyTorch's 0 / 0 is NaN; the gradient stays 0 (the where above)
    return total / denom if denom else total * math.nan


def _elementwise_target(pred, target, what: str):
    """``pred`` as a tensor and ``target`` of its shape, a constant target cast to its dtype:
    float64 labels from NumPy must not turn a float32 loss (and its gradient) into float64."""
    pred = as_tensor(pred)
    if isinstance(target, Tensor) and type(target) is not Tensor:  # batched (vmap): as is
        target = target if target.dtype == pred.dtype else target.astype(pred.dtype)
    elif not _moves(target):
        data = target.data if isinstance(target, Tensor) else target
        target = B.constant(data, pred._backing())
    if tuple(pred.shape) != tuple(target.shape):
        raise ShapeError(f"{what}: prediction {pred.shape} and target {tuple(target.shape)} "
                         "differ. help: give both the same shape (e.g. target.reshape(-1, 1) "
                         "for a (N, 1) prediction); chainrule never broadcasts a loss's "
                         "target, where (N,) against (N, 1) would compare every pair")
    return pred, target


def mse_loss(pred, target, reduction: str = "mean"):
    """l = (pred - target)^2 per element, reduced by ``reduction`` over all elements"""
    _check_reduction(reduction, "mse_loss")
    pred, target = _elementwise_target(pred, target, "mse_loss")
    return _loss.mse_loss(pred, target, reduction)


def l1_loss(pred, target, reduction: str = "mean"):
    """l = |pred - target| per element (gradient sign(pred - target), 0 where equal)"""
    _check_reduction(reduction, "l1_loss")
    pred, target = _elementwise_target(pred, target, "l1_loss")
    return _reduce((pred - target).abs(), reduction)


def smooth_l1_loss(pred, target, reduction: str = "mean", beta: float = 1.0):
    """l = 0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = pred - target);
    beta = 0 is l1_loss, as PyTorch"""
    _check_reduction(reduction, "smooth_l1_loss")
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}. help: beta is the "
                         "width of the quadratic zone around 0")
    if beta == 0:
        return l1_loss(pred, target, reduction)
    pred, target = _elementwise_target(pred, target, "smooth_l1_loss")
    d = pred - target
    a = d.abs()
    return _reduce(cr.where(a < beta, 0.5 * d * d / beta, a - 0.5 * beta), reduction)


def huber_loss(pred, target, reduction: str = "mean", delta: float = 1.0):
    """l = 0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta) (d = pred - target)"""
    _check_reduction(reduction, "huber_loss")
    if not delta > 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta}. help: delta is where "
                         "the loss turns from quadratic to linear")
    pred, target = _elementwise_target(pred, target, "huber_loss")
    d = pred - target
    a = d.abs()
    return _reduce(cr.where(a < delta, 0.5 * d * d, delta * (a - 0.5 * delta)), reduction)


def kl_div(log_probs, target, reduction: str = "mean", log_target: bool = False):
    """l = target (log target - log_probs) per element (0 where target = 0), or with
    ``log_target`` exp(target) (target - log_probs): KL(target || input) with the input as
    log-probabilities, PyTorch's ``F.kl_div``. ``'batchmean'`` divides the sum by the batch
    size (the KL divergence per sample); ``'mean'`` by the number of elements, and warns as
    PyTorch does."""
    _check_reduction(reduction, "kl_div", REDUCTIONS + ("batchmean",))
    log_probs, target = _elementwise_target(log_probs, target, "kl_div")
    target = as_tensor(target)  # `array - tensor` would be an array when nothing needs grad
    if log_target:
        losses = target.exp() * (target - log_probs)
    else:
        nonzero = target != 0  # a tensor comparison: vmap batches it
        # target log target, 0 at target = 0 (its limit, PyTorch's xlogy); the inner where
        # keeps log(0) out of the graph, so no 0 * -inf reaches the gradient
        xlogx = cr.where(nonzero, target * cr.log(cr.where(nonzero, target, 1.0)), 0.0)
        losses = xlogx - target * log_probs
    if reduction == "batchmean":
        batch = log_probs.shape[0] if log_probs.ndim else 1
        return losses.sum() / batch if batch else losses.sum() * math.nan
    if reduction == "mean":
        warnings.warn("kl_div: reduction='mean' divides the total by every element, not by "
                      "the batch size. help: reduction='batchmean' gives the KL divergence "
                      "per sample (PyTorch warns the same)", UserWarning, stacklevel=2)
    return _reduce(losses, reduction)


def binary_cross_entropy_with_logits(logits, target, weight=None, reduction: str = "mean",
                                     pos_weight=None):
    """l = -w [pos_weight t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))], computed stably
    from x; ``weight`` w broadcasts to x, ``pos_weight`` (e.g. (C,)) along the last axis"""
    weight, reduction = _weight_or_reduction(weight, reduction,
                                             "binary_cross_entropy_with_logits")
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    logits = as_tensor(logits)
    if B.is_foreign(B.array_of(logits)):
        return _xp.binary_cross_entropy_with_logits(logits, target, weight, reduction,
                                                    pos_weight)
    t = np.asarray(target.data if isinstance(target, Tensor) else target, dtype=logits.dtype)
    if t.shape != logits.shape:
        raise ShapeError(f"binary_cross_entropy_with_logits: logits {logits.shape} and target "
                         f"{t.shape} differ. help: give both the same shape (e.g. "
                         "target.reshape(-1, 1) for a (N, 1) output)")
    if weight is None and pos_weight is None:
        return _loss.binary_cross_entropy_with_logits(logits, t, reduction)
    what = "binary_cross_entropy_with_logits"
    w = _broadcast_weight(weight, logits.shape, what, "weight", logits.dtype)
    pw = _broadcast_weight(pos_weight, logits.shape, what, "pos_weight", logits.dtype)
    return _loss.weighted_binary_cross_entropy_with_logits(logits, t, w, pw, reduction)


def binary_cross_entropy(probs, target, weight=None, reduction: str = "mean"):
    """l = -w [t log p + (1 - t) log(1 - p)] for probabilities p (after a sigmoid), each log
    clamped at -100 as PyTorch; ``weight`` w broadcasts to p"""
    weight, reduction = _weight_or_reduction(weight, reduction, "binary_cross_entropy")
    _check_reduction(reduction, "binary_cross_entropy")
    what = "binary_cross_entropy"
    probs = as_tensor(probs)
    if B.is_foreign(B.array_of(probs)):
        return _xp.binary_cross_entropy(probs, target, weight, reduction)
    t = np.asarray(target.data if isinstance(target, Tensor) else target, dtype=probs.dtype)
    if t.shape != probs.shape:
        raise ShapeError(f"{what}: input {probs.shape} and target {t.shape} differ. help: give "
                         "both the same shape (e.g. target.reshape(-1, 1) for a (N, 1) output)")
    for name, values in (("input", probs), ("target", t)):
        trace.depends(_check_unit_interval, values, name, what)  # values: checked each time
    w = _broadcast_weight(weight, probs.shape, what, "weight", probs.dtype)
    return _loss.binary_cross_entropy(probs, t, w, reduction)
