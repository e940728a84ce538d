"""THE table of batching rules: how each primitive runs once on a whole batch under vmap.

A rule ``rule(op, xs, bs, params, n)`` gets the op's inputs ``xs``, where ``bs[i]`` says
that ``xs[i]`` carries the batch (size ``n``) on its axis 0 (else it is one sample's
operand, shared by all), and returns the batched output, batch on axis 0, made of
ordinary recorded ops; or None, and the op runs as a loop over the samples
(func/batched.py). The rules live here, keyed by op class, not in ops/: the table of
primitives stays about one sample. docs/func.md lists which ops have one (a test keeps
that table fresh).

How the rules think: a batched operand is the sample with one more leading axis, so
- elementwise ops broadcast once the operands' sample axes line up (``align``);
- reductions, softmax, cumulative sums, reshape, transpose, indexing, padding and
  concatenation shift their axes by one;
- matmul and linear become batched matmuls; a batched weight (a gradient per sample,
  ``vmap(grad(loss))``) becomes one weight matrix per sample;
- losses run unreduced on all the samples' rows, then reduce per sample;
- im2col convolutions fold the batch into their own N axis.
"""

from __future__ import annotations

import string

import numpy as np

from chainrule import _backend as B
from chainrule.func import batched
from chainrule.func.batched import BatchedTensor, level_of, size_of, wrap
from chainrule.func.layout import align, array, batched_copy, lndim
from chainrule.func.layout import batch_index as _index
from chainrule.func.layout import lift as _lift
from chainrule.func.layout import reshaped as _reshape
from chainrule.func.layout import shape_of as _shape
from chainrule.graph import batching_mode
from chainrule.ops import conv as _conv
from chainrule.ops import elementwise as _ew
from chainrule.ops import linalg as _la
from chainrule.ops import loss as _loss
from chainrule.ops import reduce as _red
from chainrule.ops import scan as _scan
from chainrule.ops import shape as _sh
from chainrule.ops import unary as _un
from chainrule.ops import vector_norm as _vn
from chainrule.ops.contraction import Einsum, contract
from chainrule.ops.core import apply
from chainrule.ops.shape import stack
from chainrule.tensor import Tensor


def _elementwise(op, xs, bs, params, n):
    """Broadcast, the sample axes lined up (1s after a batched operand's batch axis)."""
    cond = params.get("cond")
    return apply(op, *align(xs, bs, n, len(_shape(cond))), **params)


def _shift(axes):
    return tuple(a + 1 for a in axes)


def _reduction(op, xs, bs, params, n):
    """The reduced axes shifted past the batch axis."""
    return apply(op, xs[0], **{**params, "axes": _shift(params["axes"])})


def _axis(op, xs, bs, params, n):
    """Its axis shifted past the batch axis (a negative one counts from the end: kept)."""
    a = params["axis"]
    return apply(op, xs[0], **{**params, "axis": a + 1 if a >= 0 else a})


def _norm(op, xs, bs, params, n):
    """The normed axes shifted past the batch axis."""
    return apply(op, xs[0], **{**params, "axes": _shift(params["axes"])})


def _reshape_rule(op, xs, bs, params, n):
    """The batch axis, then the new shape."""
    return apply(op, xs[0], shape=(n,) + tuple(params["shape"]))


def _transpose(op, xs, bs, params, n):
    """The permutation, the batch axis kept first."""
    return apply(op, xs[0], axes=(0,) + _shift(params["axes"]))


def _broadcast_to(op, xs, bs, params, n):
    """The sample lined up with the target shape, the batch axis kept in front."""
    shape = tuple(params["shape"])
    return apply(op, _lift(xs[0], len(shape)), shape=(n,) + shape)


def _getitem(op, xs, bs, params, n):
    """The index with a full slice for the batch axis (separated advanced indices: the
    loop)."""
    index = _index(params["index"])
    return None if index is None else apply(op, xs[0], **{**params, "index": index})


def _scatter_add(op, xs, bs, params, n):
    """Into zeros with the batch axis in front, at the index with a full slice for it."""
    index = _index(params["index"])
    if index is None:
        return None
    return apply(op, xs[0], **{**params, "index": index, "shape": (n,) + params["shape"]})


def _setitem(op, xs, bs, params, n):
    """The index with a full slice for the batch axis; an unmapped target copied to every
    sample, a batched value lined up with the selection."""
    index = _index(params["index"])
    if index is None:
        return None
    x, v = xs
    x = x if bs[0] else batched_copy(x, n)
    if bs[1]:
        sel = np.broadcast_to(np.zeros((), bool), _shape(x)[1:])[params["index"]]
        v = _lift(v, sel.ndim)
    return apply(op, x, v, **{**params, "index": index})


def _concatenate(op, xs, bs, params, n):
    """Unmapped parts copied to every sample, the axis shifted past the batch axis."""
    parts = [x if b else batched_copy(x, n) for x, b in zip(xs, bs)]
    return apply(op, *parts, axis=params["axis"] % lndim(parts[0], True) + 1)


def _pad(op, xs, bs, params, n):
    """No padding on the batch axis."""
    return apply(op, xs[0], **{**params, "pad_width": ((0, 0),) + tuple(params["pad_width"])})


def _matmul(op, xs, bs, params, n):
    """One batched matmul: 1-d operands promoted as matmul does (then the promoted axis
    dropped), the sample axes lined up."""
    (a, b), (ba, bb) = xs, bs
    a_vec, b_vec = lndim(a, ba) == 1, lndim(b, bb) == 1
    if a_vec:
        a = _reshape(a, _shape(a)[:-1] + (1,) + _shape(a)[-1:])
    if b_vec:
        b = _reshape(b, _shape(b) + (1,))
    nd = max(lndim(a, ba), lndim(b, bb))
    a = _lift(a, nd) if ba else a
    b = _lift(b, nd) if bb else b
    y = apply(_la.MatMul, a, b)
    s = _shape(y)
    if a_vec and b_vec:
        return _reshape(y, s[:-2])
    if a_vec:
        return _reshape(y, s[:-2] + s[-1:])
    if b_vec:
        return _reshape(y, s[:-1])
    return y


def _linear(op, xs, bs, params, n):
    """The fused layer on all the samples' rows at once; a weight per sample (per-sample
    gradients: the weight copied to each sample): one einsum, whose gradient for the
    weight is the per-sample outer products (an einsum too, on NumPy's plain loop: its
    contraction path, a batched matmul of inner size 1, was 2x slower; ``_optimize`` in
    ops/contraction.py). The copies are a broadcast view, which the einsum reads once:
    the forward and the input's gradient are GEMMs (``_numpy_einsum``)."""
    if not any(bs[1:]):
        return apply(op, *xs)
    x, w = xs[0], xs[1]
    lead = "abcdefgh"[:lndim(x, bs[0]) - 1]
    spec = ("z" if bs[0] else "") + lead + "i," + ("zoi" if bs[1] else "oi") + "->z" + lead + "o"
    y = contract(spec, [x, w])
    if len(xs) > 2:
        y = _elementwise(_ew.Add, [y, xs[2]], [True, bs[2]], {}, n)
    return y


def _einsum(op, xs, bs, params, n):
    """One more letter, for the batch axis, on the batched operands and the output."""
    z = sorted(set(string.ascii_letters) - set(params["spec"]))[0]
    inputs = [z + s if b else s for s, b in zip(params["inputs"], bs)]
    return contract(",".join(inputs) + "->" + z + params["output"], xs)


def _per_sample(losses, reduction: str, n: int, count: int):
    """Unreduced losses (n, ...) reduced per sample, as the loss reduces one sample's."""
    if reduction == "none":
        return losses
    axes = tuple(range(1, len(_shape(losses))))
    total = apply(_red.Sum, losses, axes=axes, keepdims=False)
    return total * (1.0 / count) if reduction == "mean" and count else total


def _cross_entropy(op, xs, bs, params, n):
    """All the samples' rows unreduced, then reduced per sample."""
    x, target = xs[0], array(params["target"])
    rows, c = _shape(x)[1], _shape(x)[2]
    flat = _reshape(x, (n * rows, c))
    xp = B.namespace(target)
    t = xp.reshape(xp.broadcast_to(target, (n,) + tuple(target.shape)), (-1,))
    losses = _reshape(apply(op, flat, target=t, reduction="none"), (n, rows))
    return _per_sample(losses, params["reduction"], n, rows)


def _mse(op, xs, bs, params, n):
    """Unreduced on the whole batch, then reduced per sample."""
    p, t = align(xs, bs, n)
    losses = apply(op, p, t, reduction="none")
    count = int(np.prod(_shape(losses)[1:]))
    return _per_sample(losses, params["reduction"], n, count)


def _bce_logits(op, xs, bs, params, n):
    """Unreduced on the whole batch, then reduced per sample (a target with more axes
    than the logits: the loop)."""
    x = xs[0]
    target = array(params["target"])
    if target.ndim > lndim(x, True):
        return None
    losses = apply(op, x, target=target, reduction="none")
    return _per_sample(losses, params["reduction"], n, int(np.prod(_shape(x)[1:])))


def _unfold(op, xs, bs, params, n):
    """im2col of every sample's images at once: the batch joins the images' N axis."""
    s = _shape(xs[0])
    cols = apply(op, _reshape(xs[0], (n * s[1],) + s[2:]), **params)
    k = _shape(cols)[0]
    return apply(_sh.Transpose, _reshape(cols, (k, n, -1)), axes=(1, 0, 2))


def _fold(op, xs, bs, params, n):
    """col2im of every sample's columns at once: the batch joins the images' N axis."""
    cols = apply(_sh.Transpose, xs[0], axes=(1, 0, 2))
    k = _shape(cols)[0]
    shape = tuple(params["shape"])
    y = apply(op, _reshape(cols, (k, -1)), **{**params, "shape": (n * shape[0],) + shape[1:]})
    return _reshape(y, (n,) + shape)


def _affine(op, xs, bs, params, n):
    """A batched matmul (w @ cols + b[:, None])."""
    y = _matmul(_la.MatMul, xs[:2], bs[:2], {}, n)
    if len(xs) > 2:
        b = xs[2]
        b = _reshape(b, _shape(b) + (1,))
        y = _elementwise(_ew.Add, [y, b], [True, bs[2]], {}, n)
    return y


def _max_pool(op, xs, bs, params, n):
    """The batch joins the images' N axis."""
    s = _shape(xs[0])
    y = apply(op, _reshape(xs[0], (n * s[1],) + s[2:]), **params)
    return _reshape(y, (n,) + s[1:2] + _shape(y)[1:])


# --- public functions with a rule of their own (graph/batching_mode.batchable) ---------


def _cross_entropy_fn(fn, args, kwargs):
    """F.cross_entropy reads its class indices (to check them, and for ignore_index and
    class weights) before any op runs: with batched targets it runs once on all the
    samples' rows unreduced, then reduces per sample, each by its own denominator."""
    names = ("logits", "target", "weight", "ignore_index", "reduction", "label_smoothing")
    a = dict(zip(names, (None, None, None, -100, "mean", 0.0)))
    a.update(zip(names, args))
    a.update(kwargs)
    logits, target, reduction = a["logits"], a["target"], a["reduction"]
    level = max(level_of(logits), level_of(target))
    if not level or reduction not in ("mean", "sum", "none"):
        return NotImplemented
    n = size_of(level)
    lg = logits._value if level_of(logits) == level else batched_copy(logits, n)
    if not isinstance(target, Tensor) and not B.is_foreign(target) and \
            B.is_foreign(B.array_of(lg)):  # NumPy labels: moved to the logits once, a constant
        target = B.like(np.array(target), B.array_of(lg))
    tg = target._value if level_of(target) == level else batched_copy(target, n)
    logical = _shape(lg)[1:]
    if len(logical) not in (1, 2):
        return NotImplemented  # (N, C, d1, ...): the loop
    rows, c = (1 if len(logical) == 1 else logical[0]), logical[-1]
    probs = B.is_float(tg.dtype)
    losses = fn(_reshape(lg, (n * rows, c)), _reshape(tg, (n * rows, c) if probs else
                                                         (n * rows,)),
                a["weight"], a["ignore_index"], "none", a["label_smoothing"])
    losses = _reshape(losses, (n, rows))
    if reduction == "none":
        return wrap(_reshape(losses, (n,) + logical[:-1]), level)
    total = apply(_red.Sum, losses, axes=(1,), keepdims=False)
    if reduction == "sum":
        return wrap(total, level)
    if probs:
        return wrap(total * (1.0 / rows), level)
    if B.is_foreign(tg.data):
        return wrap(total * _denominators(tg.data, a["weight"], a["ignore_index"], n, rows,
                                          lg.data), level)
    t = np.asarray(tg.data).reshape(n, rows)
    kept = t != a["ignore_index"]
    w = a["weight"]
    if w is not None:
        w = np.asarray(getattr(w, "data", w))[np.where(kept, t, 0)]
    counted = (w if w is not None else 1.0) * kept
    with np.errstate(divide="ignore", invalid="ignore"):  # none counted: NaN, as PyTorch
        denom = (1.0 / counted.sum(axis=1)).astype(B.numpy_dtype(lg.dtype))
    return wrap(total * denom, level)


def _denominators(t, weight, ignore_index: int, n: int, rows: int, like):
    """Each sample's 1 / (summed weight of its counted targets), in the library of the
    targets ``t`` (its rows per sample): the portable form of the NumPy lines above, the
    labels never leaving their device. None counted: inf, so the mean is NaN (PyTorch)."""
    xp = B.namespace(t)
    t = xp.reshape(t, (n, rows))
    kept = t != ignore_index
    counted = B.factor(kept, like)
    if weight is not None:
        w = B.constant(getattr(weight, "data", weight), like)
        safe = xp.reshape(t * B.factor(kept, t), (-1,))  # ignored rows read class 0
        counted = counted * xp.reshape(xp.take(w, safe), (n, rows))
    return 1.0 / xp.sum(counted, axis=1)


def _where_fn(fn, args, kwargs):
    """cr.where with a batched cond (a comparison of batched values): the operands lined
    up with the cond's physical array, as an elementwise op's."""
    names = ("cond", "a", "b")
    a = dict(zip(names, args))
    a.update(kwargs)
    xs = [a[k] for k in names]
    level = max(level_of(x) for x in xs)
    if not level or level_of(xs[0]) != level:
        return NotImplemented  # only a or b batched: the Where op's own rule
    n = size_of(level)
    bs = [level_of(x) == level for x in xs]
    xs = align([x._value if b else x for x, b in zip(xs, bs)], bs, n)
    return wrap(fn(*xs), level)


#: Public function (module.name) -> its batching rule.
FUNCTION_RULES = {"chainrule.nn.functional_loss.cross_entropy": _cross_entropy_fn,
                  "chainrule.ops.elementwise.where": _where_fn}

#: Op class -> batching rule. An op missing here runs as a loop over the samples.
RULES = {
    **{cls: _elementwise for cls in (
        _un.Exp, _un.Log, _un.Sqrt, _un.Abs, _un.Sin, _un.Cos, _un.Tanh, _un.Sigmoid,
        _un.Relu, _un.Clip, _un.Cast, _un.Erf, _ew.Add, _ew.Sub, _ew.Mul, _ew.Div, _ew.Pow,
        _ew.Neg, _ew.Maximum, _ew.Minimum, _ew.Where)},
    **{cls: _reduction for cls in (_red.Sum, _red.Max, _red.Min, _red.LogSumExp)},
    _red.LogSoftmax: _axis,
    _scan.Cumsum: _axis,
    _scan.Cumprod: _axis,
    _vn.Norm: _norm,
    _sh.Reshape: _reshape_rule,
    _sh.Transpose: _transpose,
    _sh.BroadcastTo: _broadcast_to,
    _sh.GetItem: _getitem,
    _sh.ScatterAdd: _scatter_add,
    _sh.SetItem: _setitem,
    _sh.Concatenate: _concatenate,
    _sh.Pad: _pad,
    _la.MatMul: _matmul,
    _la.Linear: _linear,
    Einsum: _einsum,
    _loss.CrossEntropy: _cross_entropy,
    _loss.MSELoss: _mse,
    _loss.BCEWithLogits: _bce_logits,
    _conv.Unfold: _unfold,
    _conv.Fold: _fold,
    _conv.Affine: _affine,
    _conv.MaxPool2d: _max_pool,
}

batching_mode.FUNCTION_RULES.update(FUNCTION_RULES)


def _dispatch(op_cls, inputs, params):
    level = 0
    for x in inputs:
        if isinstance(x, BatchedTensor) and x._level > level:
            level = x._level
    for v in params.values():
        if isinstance(v, BatchedTensor) and v._level > level:
            level = v._level
    if not level:
        return None
    n = size_of(level)
    xs, bs = [], []
    for x in inputs:
        mine = isinstance(x, BatchedTensor) and x._level == level
        xs.append(x._value if mine else x)
        bs.append(mine)
    rule = RULES.get(op_cls)
    out = None
    if rule is not None and not any(isinstance(v, BatchedTensor) and v._level == level
                                    for v in params.values()):
        out = rule(op_cls, xs, bs, params, n)
    if out is None:
        out = _loop(op_cls, xs, bs, params, n, level)
    return wrap(out, level)


def _loop(op_cls, xs, bs, params, n: int, level: int) -> Tensor:
    """The fallback: ``op_cls`` once per sample, stacked (correct for every op)."""
    if any(isinstance(v, dict) for v in params.values()):
        # an op that writes results back through a parameter (batch norm's statistics,
        # which the module then folds into its running mean): one call per sample would
        # leave only the last sample's there, so the whole function runs as the loop
        raise batched.BatchedRead(level, f"ran {op_cls.__name__}, which hands back "
                                         "statistics per call")
    if batched.log.looped is not None:
        batched.log.looped.append(op_cls.__name__)
    mapped = {k: v._value for k, v in params.items()
              if isinstance(v, BatchedTensor) and v._level == level}
    outs = []
    for b in range(n):
        args = [x[b] if mine else x for x, mine in zip(xs, bs)]
        p = dict(params)
        for k, v in mapped.items():
            s = v[b]
            p[k] = s if isinstance(s, BatchedTensor) else s.data
        outs.append(apply(op_cls, *args, **p))
    return stack(outs)


batching_mode.register(_dispatch)


def rule_table(primitives: dict) -> str:
    """The markdown table of docs/func.md: every primitive and how vmap runs it (its
    rule's docstring), or "the loop"."""
    lines = ["| primitive | family | under vmap |", "| --- | --- | --- |"]
    for name, cls in sorted(primitives.items(), key=lambda kv: (kv[1].__module__, kv[0])):
        rule = RULES.get(cls)
        how = "**the loop**: one call per sample, stacked" if rule is None else \
            " ".join(rule.__doc__.split())
        lines.append(f"| `{name}` | {cls.__module__.rsplit('.', 1)[-1]} | {how} |")
    return "\n".join(lines) + "\n"
