"""vmap over every op-table row: equal to the Python loop, and batched (not looped) where
the row's primitives all have batching rules. Driven by the op tables, so a new row is
checked here too; its per-sample gradients (vmap of grad) equal the loop's as well."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import func
from chainrule.func import batched
from chainrule.func.batching import RULES

from ..ops.nn_optable import ROWS as NN_ROWS
from ..ops.optable import ROWS, make_inputs

ALL = ROWS + NN_ROWS
N = 3  # samples
RULED = {cls.__name__ for cls in RULES}
# Rows that read a batched value before any op runs, so vmap runs them as a loop over the
# samples (equal to it by construction, and checked below all the same):
LOOPED_ROWS = {
    # in-place torch methods on a batched tensor (scatter_add_, index_add_, masked_fill_)
    "scatter_add_inplace", "index_add_inplace", "masked_fill_inplace_bcast",
    "masked_fill_tensor_value",  # checks its fill value's shape through .data
    # binary_cross_entropy checks that its probabilities lie in [0, 1]
    "binary_cross_entropy", "binary_cross_entropy_weight_none",
    "binary_cross_entropy_weight_sum",
    "adaptive_max_pool2d", "adaptive_max_pool2d_upsizing",  # pools the array in NumPy
}


def _samples(row):
    return [make_inputs(row, seed=20 + b) for b in range(N)]


def _looped(fn, *args, **kwargs):
    """fn's result and the ops that ran as a loop (no batching rule) while it ran."""
    batched.log.looped = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", func.VmapLoopWarning)
            out = fn(*args, **kwargs)
        return out, batched.log.looped
    finally:
        batched.log.looped = None


def _batched_by_rules(row, looped):
    if set(row.covers) <= RULED and row.id not in LOOPED_ROWS:
        assert not looped, f"{row.id}: ran as a loop: {looped}"


def test_looped_rows_are_rows():
    ids = {r.id for r in ALL}
    assert LOOPED_ROWS <= ids, sorted(LOOPED_ROWS - ids)


@pytest.mark.parametrize("row", ALL, ids=lambda r: r.id)
def test_vmap_equals_the_loop(row):
    samples = _samples(row)
    loop = np.stack([row.fn(*[cr.tensor(a) for a in s]).numpy() for s in samples])
    stacked = [cr.tensor(np.stack([s[i] for s in samples])) for i in range(len(row.shapes))]
    out, looped = _looped(func.vmap(row.fn), *stacked)
    assert out.shape == loop.shape and out.dtype == loop.dtype
    np.testing.assert_allclose(out.numpy(), loop, rtol=1e-9, atol=1e-12)
    _batched_by_rules(row, looped)


@pytest.mark.parametrize("row", ALL, ids=lambda r: r.id)
def test_vmap_last_axis_in_and_out(row):
    samples = _samples(row)
    loop = np.stack([row.fn(*[cr.tensor(a) for a in s]).numpy() for s in samples], axis=-1)
    stacked = [cr.tensor(np.stack([s[i] for s in samples], axis=-1))
               for i in range(len(row.shapes))]
    out, _ = _looped(func.vmap(row.fn, in_dims=-1, out_dims=-1), *stacked)
    np.testing.assert_allclose(out.numpy(), loop, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("row", ALL, ids=lambda r: r.id)
def test_per_sample_gradients_equal_the_loop(row):
    samples = _samples(row)
    nums = tuple(range(len(row.shapes)))

    def total(*xs):
        return (row.fn(*xs) * 1.5).sum()

    g = func.grad(total, argnums=nums)
    loop = [g(*[cr.tensor(a) for a in s]) for s in samples]
    stacked = [cr.tensor(np.stack([s[i] for s in samples])) for i in nums]
    out, looped = _looped(func.vmap(g), *stacked)
    for i in nums:
        np.testing.assert_allclose(out[i].numpy(), np.stack([r[i].numpy() for r in loop]),
                                   rtol=1e-8, atol=1e-10)
    _batched_by_rules(row, looped)
