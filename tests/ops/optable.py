"""THE op table of the test suite: one row per case, every primitive covered.

A row gives the chainrule function, the PyTorch function that must agree with it, the
input shapes, and the input domain (keep away from kinks and poles, where finite
differences lie). The harness in test_optable.py runs, for every row: float64
gradcheck of first derivatives, of second derivatives (unless ``second_order=False``),
and a forward + gradient comparison with PyTorch; test_guard.py fails if a primitive
registered in ``chainrule.ops.PRIMITIVES`` is named by no row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

import chainrule as cr


@dataclass
class Row:
    id: str
    covers: tuple  # primitive class names exercised (first + second order)
    fn: Callable  # chainrule: f(*tensors) -> tensor
    torch_fn: Callable | None  # PyTorch: f(*tensors) -> tensor (None: no oracle)
    shapes: tuple  # one shape per differentiable input
    domain: str = "any"  # any | positive | nonzero | distinct | unit | with_zeros
    second_order: bool = True
    tol: dict = field(default_factory=dict)  # gradcheck overrides (atol, rtol, eps)


def make_inputs(row: Row, seed: int = 0, dtype=np.float64) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for shape in row.shapes:
        n = int(np.prod(shape))
        if row.domain == "positive":
            x = rng.uniform(0.5, 2.0, shape)
        elif row.domain == "nonzero":
            x = rng.uniform(0.3, 1.5, shape) * rng.choice([-1.0, 1.0], shape)
        elif row.domain == "distinct":  # no ties, gaps >> eps
            jitter = rng.uniform(-0.01, 0.01, shape)
            x = (rng.permutation(n).reshape(shape) - n / 2) * 0.1 + jitter
        elif row.domain == "unit":
            x = rng.uniform(-0.9, 0.9, shape)
        elif row.domain == "with_zeros":  # exact zeros, where a product's gradient is subtle
            x = rng.standard_normal(shape) * (rng.permutation(n).reshape(shape) % 3 != 0)
        else:
            x = rng.standard_normal(shape)
        out.append(np.asarray(x, dtype=dtype))
    return out


COND = np.array([[True, False, True, True],
                 [False, False, True, False],
                 [True, True, False, True]])
IDX = np.array([0, 2, 2, 1, 0])  # repeated on purpose: gradients must accumulate
MASK = np.array([[True, False, True, False], [False, True, True, False], [True, True, False, True]])


UNIQUE_IDX = np.array([2, 0])


def _set(t, index, v):  # t[index] = v on a non-leaf: in place in both libraries, recorded
    t[index] = v
    return t


def MM(a, b):  # noqa: N802 - the same function serves both libraries
    return a @ b


ROWS = [
    # --- arithmetic, with broadcasting variants ---
    Row("add", ("Add",), lambda a, b: a + b, lambda a, b: a + b, ((3, 4), (3, 4))),
    Row("add_bcast_row", ("Add",), lambda a, b: a + b, lambda a, b: a + b, ((3, 4), (4,))),
    Row("add_bcast_both", ("Add",), lambda a, b: a + b, lambda a, b: a + b, ((2, 1, 4), (3, 1))),
    Row("add_scalar", ("Add",), lambda a: 2.5 + a, lambda a: 2.5 + a, ((3,),)),
    Row("sub", ("Sub",), lambda a, b: a - b, lambda a, b: a - b, ((3, 4), (3, 1))),
    Row("rsub_scalar", ("Sub",), lambda a: 1.0 - a, lambda a: 1.0 - a, ((2, 3),)),
    Row("mul", ("Mul",), lambda a, b: a * b, lambda a, b: a * b, ((3, 4), (3, 4))),
    Row("mul_bcast", ("Mul",), lambda a, b: a * b, lambda a, b: a * b, ((2, 3, 1), (1, 4))),
    Row("mul_self", ("Mul",), lambda a: a * a, lambda a: a * a, ((5,),)),
    Row("div", ("Div",), lambda a, b: a / b, lambda a, b: a / b, ((3, 4), (3, 4)), "nonzero"),
    Row("div_bcast", ("Div",), lambda a, b: a / b, lambda a, b: a / b, ((3, 4), (4,)), "nonzero"),
    Row("rdiv_scalar", ("Div",), lambda a: 2.0 / a, lambda a: 2.0 / a, ((3,),), "nonzero"),
    Row("pow_int", ("Pow",), lambda a: a**3, lambda a: a**3, ((3, 4),)),
    Row("pow_frac", ("Pow",), lambda a: a**2.5, lambda a: a**2.5, ((3, 4),), "positive"),
    Row("pow_tensor", ("Pow",), lambda a, b: a**b, lambda a, b: a**b, ((3, 4), (4,)), "positive"),
    Row("rpow", ("Pow",), lambda b: 2.0**b, lambda b: 2.0**b, ((3,),)),
    Row("neg", ("Neg",), lambda a: -a, lambda a: -a, ((3, 4),)),
    # --- matmul: 1-d, 2-d, batched, broadcast batch ---
    Row("matmul_2d", ("MatMul",), MM, MM, ((3, 4), (4, 5))),
    Row("matmul_vec_mat", ("MatMul",), MM, MM, ((4,), (4, 5))),
    Row("matmul_mat_vec", ("MatMul",), MM, MM, ((3, 4), (4,))),
    Row("matmul_dot", ("MatMul",), MM, MM, ((4,), (4,))),
    Row("matmul_batch", ("MatMul",), MM, MM, ((2, 3, 4), (2, 4, 5))),
    Row("matmul_bcast", ("MatMul",), MM, MM, ((2, 1, 3, 4), (3, 4, 2))),
    Row("matmul_batch_vec", ("MatMul",), MM, MM, ((2, 3, 4), (4,))),
    # --- elementwise functions ---
    Row("exp", ("Exp",), lambda a: a.exp(), lambda a: a.exp(), ((3, 4),)),
    Row("log", ("Log",), lambda a: a.log(), lambda a: a.log(), ((3, 4),), "positive"),
    Row("sqrt", ("Sqrt",), lambda a: a.sqrt(), lambda a: a.sqrt(), ((3, 4),), "positive"),
    Row("abs", ("Abs",), lambda a: a.abs(), lambda a: a.abs(), ((3, 4),), "nonzero"),
    Row("sin", ("Sin", "Cos"), lambda a: a.sin(), lambda a: a.sin(), ((3, 4),)),
    Row("cos", ("Cos", "Sin"), lambda a: a.cos(), lambda a: a.cos(), ((3, 4),)),
    Row("tanh", ("Tanh",), lambda a: a.tanh(), lambda a: a.tanh(), ((3, 4),)),
    Row("sigmoid", ("Sigmoid",), lambda a: a.sigmoid(), lambda a: a.sigmoid(), ((3, 4),)),
    Row("relu", ("Relu",), lambda a: a.relu(), lambda a: a.relu(), ((3, 4),), "nonzero"),
    Row("clip", ("Clip",), lambda a: a.clip(-0.5, 0.7), lambda a: a.clamp(-0.5, 0.7), ((4, 5),),
        "distinct"),
    Row("clip_lo", ("Clip",), lambda a: a.clip(lo=0.1), lambda a: a.clamp(min=0.1), ((4, 5),),
        "distinct"),
    Row("astype_roundtrip", ("Cast",),
        lambda a: (a.astype(np.float32) * 3.0).astype(np.float64),
        lambda a: (a.float() * 3.0).double(), ((3,),), tol={"eps": 1e-3, "atol": 1e-3}),
    Row("maximum", ("Maximum",), lambda a, b: cr.maximum(a, b),
        lambda a, b: _torch().maximum(a, b), ((3, 4), (3, 4)), "distinct"),
    Row("maximum_bcast", ("Maximum",), lambda a, b: cr.maximum(a, b),
        lambda a, b: _torch().maximum(a, b), ((3, 4), (4,)), "distinct"),
    Row("minimum", ("Minimum",), lambda a, b: cr.minimum(a, b),
        lambda a, b: _torch().minimum(a, b), ((3, 4), (3, 1)), "distinct"),
    Row("where", ("Where",), lambda a, b: cr.where(COND, a, b),
        lambda a, b: _torch().where(_torch().as_tensor(COND), a, b), ((3, 4), (3, 4))),
    Row("where_bcast", ("Where",), lambda a, b: cr.where(COND, a, b),
        lambda a, b: _torch().where(_torch().as_tensor(COND), a, b), ((3, 4), (1,))),
    # --- reductions ---
    Row("sum_all", ("Sum",), lambda a: a.sum(), lambda a: a.sum(), ((3, 4),)),
    Row("sum_axis", ("Sum",), lambda a: a.sum(axis=1), lambda a: a.sum(dim=1), ((2, 3, 4),)),
    Row("sum_axes_keep", ("Sum",), lambda a: a.sum(axis=(0, 2), keepdims=True),
        lambda a: a.sum(dim=(0, 2), keepdim=True), ((2, 3, 4),)),
    Row("sum_neg_axis", ("Sum",), lambda a: a.sum(axis=-1), lambda a: a.sum(dim=-1), ((2, 3),)),
    Row("mean", ("Sum", "Mul"), lambda a: a.mean(axis=0), lambda a: a.mean(dim=0), ((3, 4),)),
    Row("mean_all", ("Sum", "Mul"), lambda a: a.mean(), lambda a: a.mean(), ((3, 4),)),
    Row("var", ("Sum", "Sub", "Mul"), lambda a: a.var(axis=1),
        lambda a: a.var(dim=1, correction=0), ((3, 5),)),
    Row("var_ddof1_keep", ("Sum", "Sub", "Mul"), lambda a: a.var(axis=0, ddof=1, keepdims=True),
        lambda a: a.var(dim=0, correction=1, keepdim=True), ((4, 3),)),
    Row("std", ("Sqrt", "Sum"), lambda a: a.std(), lambda a: a.std(correction=0), ((3, 4),)),
    Row("max_all", ("Max",), lambda a: a.max(), lambda a: a.max(), ((3, 4),), "distinct"),
    Row("max_axis", ("Max",), lambda a: a.max(axis=1), lambda a: a.amax(dim=1), ((3, 4),),
        "distinct"),
    Row("max_axes_keep", ("Max",), lambda a: a.max(axis=(0, 2), keepdims=True),
        lambda a: a.amax(dim=(0, 2), keepdim=True), ((2, 3, 4),), "distinct"),
    Row("min_axis", ("Min",), lambda a: a.min(axis=0), lambda a: a.amin(dim=0), ((3, 4),),
        "distinct"),
    Row("logsumexp", ("LogSumExp", "Exp"), lambda a: a.logsumexp(axis=1),
        lambda a: a.logsumexp(dim=1), ((3, 4),)),
    Row("logsumexp_all_keep", ("LogSumExp", "Exp"), lambda a: a.logsumexp(keepdims=True),
        lambda a: a.logsumexp(dim=(0, 1), keepdim=True), ((3, 4),)),
    # --- shape ---
    Row("reshape", ("Reshape",), lambda a: a.reshape(4, 3), lambda a: a.reshape(4, 3), ((3, 4),)),
    Row("reshape_infer", ("Reshape",), lambda a: a.reshape(-1), lambda a: a.reshape(-1),
        ((2, 3, 2),)),
    Row("transpose", ("Transpose",), lambda a: a.transpose(2, 0, 1),
        lambda a: a.permute(2, 0, 1), ((2, 3, 4),)),
    Row("T", ("Transpose",), lambda a: a.T, lambda a: a.permute(2, 1, 0), ((2, 3, 4),)),
    Row("swapaxes", ("Transpose",), lambda a: a.swapaxes(0, 2),
        lambda a: a.transpose(0, 2), ((2, 3, 4),)),
    Row("squeeze", ("Reshape",), lambda a: a.squeeze(1), lambda a: a.squeeze(1), ((3, 1, 4),)),
    Row("expand_dims", ("Reshape",), lambda a: a.expand_dims(0) * 1.0,
        lambda a: a.unsqueeze(0) * 1.0, ((3, 4),)),
    Row("flatten", ("Reshape",), lambda a: a.flatten(1), lambda a: a.flatten(1), ((2, 3, 4),)),
    Row("broadcast_to", ("BroadcastTo",), lambda a: a.broadcast_to((2, 3, 4)),
        lambda a: a.broadcast_to((2, 3, 4)), ((3, 1),)),
    Row("getitem_basic", ("GetItem", "ScatterAdd"), lambda a: a[1:, None, ::2, ...],
        lambda a: a[1:, None, ::2, ...], ((3, 4),)),
    Row("getitem_int", ("GetItem", "ScatterAdd"), lambda a: a[1], lambda a: a[1], ((3, 4),)),
    Row("getitem_negstep", ("GetItem", "ScatterAdd"), lambda a: a[::-1, 3:0:-2],
        lambda a: a.flip(0)[:, [3, 1]], ((3, 4),)),
    Row("getitem_intarray_repeats", ("GetItem", "ScatterAdd"), lambda a: a[IDX],
        lambda a: a[_torch().as_tensor(IDX)], ((3, 4),)),
    Row("getitem_mixed", ("GetItem", "ScatterAdd"), lambda a: a[IDX, 1:3],
        lambda a: a[_torch().as_tensor(IDX), 1:3], ((3, 4),)),
    Row("getitem_mask", ("GetItem", "ScatterAdd"), lambda a: a[MASK],
        lambda a: a[_torch().as_tensor(MASK)], ((3, 4),)),
    Row("setitem_basic", ("SetItem",), lambda a, v: _set(a * 1, (slice(1, None), 2), v),
        lambda a, v: _set(a * 1, (slice(1, None), 2), v), ((3, 4), (2,))),
    Row("setitem_bcast", ("SetItem",), lambda a, v: _set(a * 1, (slice(None), slice(1, 3)), v),
        lambda a, v: _set(a * 1, (slice(None), slice(1, 3)), v), ((3, 4), (1, 2))),
    Row("setitem_mask", ("SetItem",), lambda a, v: _set(a * 1, MASK, v),
        lambda a, v: _set(a * 1, _torch().as_tensor(MASK), v), ((3, 4), (1,))),
    Row("setitem_intarray", ("SetItem",), lambda a, v: _set(a * 1, UNIQUE_IDX, v),
        lambda a, v: _set(a * 1, _torch().as_tensor(UNIQUE_IDX), v), ((3, 4), (2, 4))),
    Row("concatenate", ("Concatenate",), lambda a, b: cr.concatenate([a, b], axis=1),
        lambda a, b: _torch().cat([a, b], dim=1), ((3, 2), (3, 4))),
    Row("stack", ("Concatenate", "Reshape"), lambda a, b: cr.stack([a, b], axis=1),
        lambda a, b: _torch().stack([a, b], dim=1), ((3, 4), (3, 4))),
    Row("pad", ("Pad",), lambda a: cr.pad(a, ((1, 0), (2, 1)), value=0.5),
        lambda a: _torch().nn.functional.pad(a, (2, 1, 1, 0), value=0.5), ((3, 4),)),
]

# --- indexing, ordering, scans, einsum, norms (tensor ops) ---
GATHER_IDX = np.array([[0, 0, 3], [1, 0, 1], [3, 2, 2]])  # repeats: gradients accumulate
GATHER_IDX0 = np.array([[2, 0, 1, 2], [0, 0, 2, 1]])  # smaller than the tensor outside dim
TAKE_IDX = np.array([[-1, 1, 1]])  # broadcasts over rows; -1 is the last column
SELECT_IDX = np.array([2, 0, 2])
SCATTER_IDX = np.array([[0, 3], [1, 1], [2, 0]])  # smaller than src (3, 3): its block is added
# NOTE: PyTorch 2.13's scatter_add backward fails when the index is smaller than src ("invalid
# gradient"), so its side of those rows is given the block the index covers, src[:, :2].
SCATTER_IDX0 = np.array([[2, 0, 2, 1], [2, 1, 0, 1]])
ADD_IDX = np.array([0, 2, 0, 1])
MASK_ROW = np.array([True, False, False, True])


def _T(a):  # noqa: N802 - an index or mask as PyTorch takes it
    return _torch().as_tensor(a)


def _einsum_rows():
    shapes = {
        "ij,jk->ik": ((3, 4), (4, 2)), "bij,bjk->bik": ((2, 3, 4), (2, 4, 2)),
        "ii": ((3, 3),), "ii->i": ((3, 3),), "iij->ji": ((2, 2, 3),), "ij,jk": ((3, 4), (4, 2)),
        "...ij,...jk->...ik": ((2, 1, 3, 4), (3, 4, 2)), "ij->": ((3, 4),),
        "ijk->ki": ((2, 3, 4),), "ij,jk,kl->il": ((2, 3), (3, 4), (4, 2)),
        "ij,ij->ij": ((1, 3), (2, 3)), "i,j->ij": ((3,), (4,)), "...i,i": ((2, 3), (3,)),
        "bi,bj->b": ((3, 4), (3, 2)),
    }
    return [Row(f"einsum[{spec}]", ("Einsum",),
                lambda *xs, spec=spec: cr.einsum(spec, *xs),
                lambda *xs, spec=spec: _torch().einsum(spec, *xs), shp)
            for spec, shp in shapes.items()]


ROWS += [
    Row("gather", ("GetItem", "ScatterAdd"), lambda a: cr.gather(a, 1, GATHER_IDX),
        lambda a: _torch().gather(a, 1, _T(GATHER_IDX)), ((3, 4),)),
    Row("gather_dim0_smaller_index", ("GetItem", "ScatterAdd"),
        lambda a: a.gather(0, GATHER_IDX0), lambda a: a.gather(0, _T(GATHER_IDX0)), ((3, 5),)),
    Row("take_along_axis_bcast", ("GetItem", "ScatterAdd"),
        lambda a: cr.take_along_axis(a, TAKE_IDX, axis=1),
        lambda a: _torch().take_along_dim(a, _T(TAKE_IDX), dim=1), ((3, 4),)),
    Row("index_select", ("GetItem", "ScatterAdd"), lambda a: a.index_select(0, SELECT_IDX),
        lambda a: a.index_select(0, _T(SELECT_IDX)), ((3, 4),)),
    Row("index_select_last", ("GetItem", "ScatterAdd"),
        lambda a: cr.index_select(a, -1, SELECT_IDX),
        lambda a: _torch().index_select(a, -1, _T(SELECT_IDX)), ((2, 3, 4),)),
    Row("scatter_add", ("ScatterAdd", "GetItem", "Add"),
        lambda a, s: a.scatter_add(1, SCATTER_IDX, s),
        lambda a, s: a.scatter_add(1, _T(SCATTER_IDX), s[:, :2]), ((3, 4), (3, 3))),
    Row("scatter_add_dim0", ("ScatterAdd", "GetItem", "Add"),
        lambda a, s: cr.scatter_add(a, 0, SCATTER_IDX0, s),
        lambda a, s: _torch().scatter_add(a, 0, _T(SCATTER_IDX0), s), ((3, 4), (2, 4))),
    Row("scatter_add_inplace", ("ScatterAdd", "GetItem", "Add"),
        lambda a, s: (a * 1).scatter_add_(1, SCATTER_IDX, s),
        lambda a, s: (a * 1).scatter_add_(1, _T(SCATTER_IDX), s[:, :2]), ((3, 4), (3, 3))),
    Row("index_add", ("ScatterAdd", "GetItem", "Add", "Mul"),
        lambda a, s: a.index_add(0, ADD_IDX, s, alpha=2.0),
        lambda a, s: a.index_add(0, _T(ADD_IDX), s, alpha=2.0), ((3, 4), (4, 4))),
    Row("index_add_inplace", ("ScatterAdd", "GetItem", "Add"),
        lambda a, s: (a * 1).index_add_(1, SELECT_IDX, s),
        lambda a, s: (a * 1).index_add_(1, _T(SELECT_IDX), s), ((3, 4), (3, 3))),
    Row("masked_fill", ("Where",), lambda a: a.masked_fill(MASK, 0.5),
        lambda a: a.masked_fill(_T(MASK), 0.5), ((3, 4),)),
    Row("masked_fill_tensor_value", ("Where",), lambda a, v: cr.masked_fill(a, MASK, v),
        lambda a, v: a.masked_fill(_T(MASK), v), ((3, 4), ())),
    Row("masked_fill_inplace_bcast", ("Where",), lambda a: (a * 1).masked_fill_(MASK_ROW, -1.0),
        lambda a: (a * 1).masked_fill_(_T(MASK_ROW), -1.0), ((3, 4),)),
    Row("where_tensor_cond", ("Where",), lambda a, b: cr.where(a > 0, a, b),
        lambda a, b: _torch().where(a > 0, a, b), ((3, 4), (3, 4)), "nonzero"),
    Row("where_method", ("Where",), lambda a, b: a.where(b > 0, b * 2),
        lambda a, b: a.where(b > 0, b * 2), ((3, 4), (4,)), "nonzero"),
    Row("tril", ("Where",), lambda a: a.tril(), lambda a: a.tril(), ((2, 3, 4),)),
    Row("tril_below", ("Where",), lambda a: cr.tril(a, -1),
        lambda a: _torch().tril(a, -1), ((4, 3),)),
    Row("triu_above", ("Where",), lambda a: a.triu(1), lambda a: a.triu(1), ((3, 4),)),
    Row("sort", ("Sort", "ScatterAdd"), lambda a: a.sort().values,
        lambda a: a.sort().values, ((3, 4),), "distinct"),
    Row("sort_descending_dim0", ("Sort", "ScatterAdd"),
        lambda a: cr.sort(a, dim=0, descending=True).values,
        lambda a: _torch().sort(a, dim=0, descending=True).values, ((4, 3),), "distinct"),
    Row("topk", ("Sort", "ScatterAdd"), lambda a: a.topk(2).values,
        lambda a: a.topk(2).values, ((3, 5),), "distinct"),
    Row("topk_smallest_dim0", ("Sort", "ScatterAdd"),
        lambda a: cr.topk(a, 2, dim=0, largest=False).values,
        lambda a: _torch().topk(a, 2, dim=0, largest=False).values, ((4, 3),), "distinct"),
    Row("cumsum", ("Cumsum",), lambda a: a.cumsum(dim=1), lambda a: a.cumsum(dim=1),
        ((3, 4),)),
    Row("cumsum_axis0_3d", ("Cumsum",), lambda a: cr.cumsum(a, axis=0),
        lambda a: _torch().cumsum(a, dim=0), ((3, 2, 2),)),
    Row("cumsum_flat", ("Cumsum", "Reshape"), lambda a: cr.cumsum(a),
        lambda a: a.reshape(-1).cumsum(0), ((3, 4),)),
    Row("cumprod", ("Cumprod",), lambda a: a.cumprod(1), lambda a: a.cumprod(1), ((3, 4),),
        "nonzero"),
    Row("cumprod_with_zeros", ("Cumprod",), lambda a: cr.cumprod(a, dim=0),
        lambda a: _torch().cumprod(a, dim=0), ((5, 3),), "with_zeros"),
    *_einsum_rows(),
    Row("einsum_same_operand_twice", ("Einsum",), lambda a: cr.einsum("ij,ij->", a, a),
        lambda a: _torch().einsum("ij,ij->", a, a), ((3, 4),)),
    Row("outer", ("Reshape", "Mul"), lambda a, b: cr.outer(a, b),
        lambda a, b: _torch().outer(a, b), ((3,), (4,))),
    Row("norm_fro", ("Norm",), lambda a: a.norm(), lambda a: a.norm(), ((3, 4),)),
    Row("norm_2_dim", ("Norm",), lambda a: cr.norm(a, 2, dim=1),
        lambda a: _torch().norm(a, 2, dim=1), ((3, 4),)),
    Row("norm_fro_dims_keep", ("Norm",), lambda a: a.norm("fro", dim=(0, 2), keepdim=True),
        lambda a: a.norm("fro", dim=(0, 2), keepdim=True), ((2, 3, 4),)),
    Row("norm_1", ("Norm",), lambda a: a.norm(p=1, dim=0), lambda a: a.norm(p=1, dim=0),
        ((3, 4),), "nonzero"),
    Row("norm_inf", ("Norm",), lambda a: a.norm(p=float("inf"), dim=1),
        lambda a: a.norm(p=float("inf"), dim=1), ((3, 4),), "distinct"),
    Row("norm_neg_inf", ("Norm",), lambda a: a.norm(p=-float("inf")),
        lambda a: a.norm(p=-float("inf")), ((3, 4),), "distinct"),
    Row("norm_3", ("Norm",), lambda a: a.norm(p=3, dim=0), lambda a: a.norm(p=3, dim=0),
        ((3, 4),), "nonzero"),
    Row("norm_1_5", ("Norm",), lambda a: a.norm(p=1.5), lambda a: a.norm(p=1.5), ((3, 4),),
        "nonzero"),
    Row("norm_0_5", ("Norm",), lambda a: a.norm(p=0.5, dim=1, keepdim=True),
        lambda a: a.norm(p=0.5, dim=1, keepdim=True), ((3, 4),), "nonzero"),
]


def _torch():
    """PyTorch, imported only when the oracle runs."""
    import torch

    return torch
