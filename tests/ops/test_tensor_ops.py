"""The tensor ops where the op table's random inputs do not reach: ties, zeros, NaN, the
in-place forms, index arrays edited after the forward pass, and two threads."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.errors import BackwardError


def _grad_of(fn, x0, lib):
    x = (cr.tensor if lib is cr else torch.tensor)(np.asarray(x0, dtype=np.float64),
                                                  requires_grad=True)
    fn(x, lib).sum().backward()
    return x.grad.numpy() if x.grad is not None else None


# --- ties: which element gets the gradient -------------------------------------------------

TIES = [
    ("topk_largest", lambda x, lib: x.topk(1).values),
    ("topk_smallest", lambda x, lib: x.topk(2, largest=False).values),
    ("sort_descending", lambda x, lib: x.sort(descending=True).values[:2]),
    ("sort_ascending", lambda x, lib: x.sort().values[:1]),
]


@pytest.mark.parametrize("name,fn", TIES, ids=[t[0] for t in TIES])
def test_at_ties_the_lowest_index_gets_the_gradient_as_in_pytorch(name, fn):
    x0 = [1.0, 3.0, 3.0, 1.0, 2.0, 3.0]
    mine, ref = _grad_of(fn, x0, cr), _grad_of(fn, x0, torch)
    np.testing.assert_array_equal(mine, ref)
    assert mine.sum() == (1 if name in ("topk_largest", "sort_ascending") else 2)


def test_topk_and_sort_put_nan_first_when_largest_as_pytorch():
    x0 = np.array([np.nan, 1.0, 3.0, np.nan, 2.0])
    for mine, ref in [(cr.topk(cr.tensor(x0), 2), torch.topk(torch.tensor(x0), 2)),
                      (cr.sort(cr.tensor(x0), descending=True),
                       torch.sort(torch.tensor(x0), descending=True, stable=True)),
                      (cr.sort(cr.tensor(x0)), torch.sort(torch.tensor(x0), stable=True))]:
        np.testing.assert_array_equal(mine.values.numpy(), ref.values.numpy())
        np.testing.assert_array_equal(mine.indices.numpy(), ref.indices.numpy())


def test_topk_sorted_false_gives_the_same_elements_in_the_same_order():
    x = cr.tensor(np.random.default_rng(0).standard_normal((3, 6)))
    a, b = x.topk(3, dim=1), x.topk(3, dim=1, sorted=False)
    np.testing.assert_array_equal(a.indices.numpy(), b.indices.numpy())


def test_max_with_dim_still_splits_ties_and_gather_at_argmax_gives_pytorchs_choice():
    """API.md: max/min split the gradient evenly at ties (unchanged); PyTorch's
    ``max(dim=)`` gives it to the index it returns, which gather at argmax reproduces."""
    x0 = [[1.0, 3.0, 3.0]]
    split = _grad_of(lambda x, lib: x.max(dim=1).values, x0, cr)
    np.testing.assert_array_equal(split, [[0.0, 0.5, 0.5]])
    mine = _grad_of(lambda x, lib: x.gather(1, x.argmax(dim=1, keepdim=True)), x0, cr)
    np.testing.assert_array_equal(mine, _grad_of(lambda x, lib: x.max(dim=1).values, x0, torch))


# --- zeros: cumprod and norm -----------------------------------------------------------------

CUMPROD_ZEROS = [[0.0, 2.0, 3.0], [2.0, 0.0, 0.0], [1.5, -2.0, 0.0], [0.0, 0.0, 4.0]]


def test_cumprod_gradient_at_zeros_first_and_second_order_matches_pytorch():
    x0 = np.array(CUMPROD_ZEROS).T.copy()  # zeros first, in the middle, twice, last
    v = np.random.default_rng(1).standard_normal(x0.shape)
    w = np.random.default_rng(2).standard_normal(x0.shape)
    x = cr.tensor(x0, requires_grad=True)
    (gx,) = cr.autograd.grad([x.cumprod(0)], [x], [v], create_graph=True)
    assert np.isfinite(gx.numpy()).all()
    (gx * cr.tensor(w)).sum().backward()
    t = torch.tensor(x0, requires_grad=True)
    (gt,) = torch.autograd.grad(t.cumprod(0), [t], torch.tensor(v), create_graph=True)
    (gt * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(gx.numpy(), gt.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dim", [None, 1])
@pytest.mark.parametrize("p", [2, "fro", 1, 1.5, 3, 0.5, float("inf"), -float("inf")])
def test_norm_gradient_at_zero_is_pytorchs_subgradient(p, dim):
    x0 = np.zeros((2, 3))
    x0[1] = [0.5, 0.0, -2.0]  # row 0 is all zeros, row 1 holds one zero
    mine = _grad_of(lambda x, lib: x.norm(p=p, dim=dim), x0, cr)
    ref = _grad_of(lambda x, lib: x.norm(p=p, dim=dim), x0, torch)
    assert np.isfinite(mine).all()
    np.testing.assert_allclose(mine, ref, rtol=1e-12, atol=1e-12)


def test_norm_p0_counts_nonzeros_and_leaves_no_gradient_as_pytorch():
    x0 = [[0.0, 1.5, -2.0], [0.0, 0.0, 3.0]]
    y = cr.tensor(np.array(x0), requires_grad=True).norm(p=0, dim=1)
    np.testing.assert_array_equal(y.numpy(), [2.0, 1.0])
    assert _grad_of(lambda x, lib: x.norm(p=0), x0, cr) is None
    assert _grad_of(lambda x, lib: x.norm(p=0), x0, torch) is None


def test_norm_keeps_float32_and_takes_numpys_names():
    x = cr.tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    assert x.norm().dtype == np.float32
    np.testing.assert_allclose(cr.norm(x, axis=1, keepdims=True).numpy(),
                               np.linalg.norm(x.numpy(), axis=1, keepdims=True), rtol=1e-6)


# --- in place ------------------------------------------------------------------------------


def test_in_place_forms_write_in_place_outside_the_graph_and_accumulate_repeats():
    x = cr.zeros(2, 3, dtype=cr.float64)
    before = x._version
    out = x.scatter_add_(1, np.array([[0, 0, 2], [1, 1, 1]]), cr.ones(2, 3, dtype=cr.float64))
    assert out is x and x._version == before + 1
    np.testing.assert_array_equal(x.numpy(), [[2, 0, 1], [0, 3, 0]])
    x.index_add_(0, [1, 1], cr.ones(2, 3, dtype=cr.float64), alpha=0.5)
    np.testing.assert_array_equal(x.numpy(), [[2, 0, 1], [1, 4, 1]])
    x.masked_fill_(x.numpy() > 1.5, -1.0)
    np.testing.assert_array_equal(x.numpy(), [[-1, 0, 1], [1, -1, 1]])


@pytest.mark.parametrize("update", [
    lambda t: t.scatter_add_(0, [[0, 1]], cr.ones(1, 2, dtype=cr.float64)),
    lambda t: t.index_add_(0, [1], cr.ones(1, 2, dtype=cr.float64)),
    lambda t: t.masked_fill_(np.array([True, False]), 0.0),
], ids=["scatter_add_", "index_add_", "masked_fill_"])
def test_in_place_forms_refuse_a_leaf_and_are_seen_by_saved_tensors(update):
    w = cr.tensor(np.ones((2, 2)), requires_grad=True)
    with pytest.raises(BackwardError, match="help"):
        update(w)
    h = w * 1.0
    loss = (h * h).sum()  # Mul saves h
    with cr.no_grad():
        update(h)
    with pytest.raises(BackwardError, match="modified by an inplace operation"):
        loss.backward()


def test_an_index_edited_after_the_forward_pass_does_not_change_the_gradient():
    idx = np.array([[0, 0], [1, 2]])
    x = cr.tensor(np.ones((2, 3)), requires_grad=True)
    y = x.gather(1, idx)
    idx[:] = 2
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[2, 0, 0], [0, 1, 1]])


# --- PyTorch habits ------------------------------------------------------------------------


def test_pytorch_forms_work():
    x = cr.tensor(np.arange(12.0).reshape(3, 4))
    idx = cr.tensor([[0.0], [2.0], [3.0]]).long()  # float indices made ints, as in PyTorch
    np.testing.assert_array_equal(x.gather(1, idx).numpy().ravel(), [0, 6, 11])
    np.testing.assert_array_equal(cr.take_along_dim(x, cr.tensor([3, 0]), None).numpy(),
                                  [3, 0])
    a, b = cr.tensor(np.ones((2, 3))), cr.tensor(np.ones((3, 4)))
    np.testing.assert_array_equal(cr.einsum("ij,jk", [a, b]).numpy(), np.full((2, 4), 3.0))
    np.testing.assert_array_equal(x.where(x > 5, 0.0).numpy(), np.where(x.numpy() > 5,
                                                                        x.numpy(), 0.0))
    assert x.cumsum(dim=1).shape == (3, 4) and cr.cumsum(x).shape == (12,)
    assert x.masked_fill(cr.tensor([True, False, False, False]), 1).dtype == np.float64


def test_two_threads_gather_and_scatter_at_once_each_under_its_own_grad_mode():
    results, errors = {}, []

    def recorded():
        try:
            for _ in range(200):
                x = cr.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
                x.gather(1, [[2, 2], [0, 1]]).sum().backward()
            results["grad"] = x.grad.numpy()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    def in_place():
        try:
            t = cr.zeros(3, dtype=cr.float64)
            with cr.no_grad():
                for _ in range(200):
                    t.index_add_(0, [0, 2, 2], cr.ones(3, dtype=cr.float64))
            results["sum"] = t.numpy()
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=recorded), threading.Thread(target=in_place)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    np.testing.assert_array_equal(results["grad"], [[0, 0, 2], [1, 1, 0]])
    np.testing.assert_array_equal(results["sum"], [200, 0, 400])


def test_editing_the_returned_indices_does_not_move_the_gradient():
    x = cr.tensor(np.array([3.0, 1.0, 2.0]), requires_grad=True)
    values, indices = x.topk(2)
    indices.numpy()[:] = 0
    values.backward(np.array([1.0, 10.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 0.0, 10.0])


def test_the_example_runs_and_its_gradient_passes_gradcheck():
    example = Path(__file__).resolve().parents[2] / "examples" / "tensor_ops.py"
    out = subprocess.run([sys.executable, str(example)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "sums to 1: True" in out.stdout and "gradcheck passed: True" in out.stdout


def _small(rng, shape, axes):
    """A float64 array of ``shape`` with size 1 along ``axes``: broadcast to ``shape`` it
    is stored once along them (stride 0), as vmap's per-sample weights are."""
    return rng.standard_normal(tuple(1 if a in axes else n for a, n in enumerate(shape)))


@pytest.mark.parametrize("spec, shapes, axes", [
    ("zai,zoi->zao", [(5, 1, 7), (5, 4, 7)], [(), (0,)]),  # vmap's linear layer, forward
    ("zao,zoi->zai", [(5, 1, 4), (5, 4, 7)], [(), (0,)]),  # ... and its input's gradient
    ("ij,ij->", [(5, 3), (5, 3)], [(0,), (0,)]),  # a sum over an axis both store once
    ("ij,jk->ik", [(4, 3), (3, 6)], [(0,), (1,)]),
    ("i,j->ij", [(3,), (4,)], [(0,), ()]),  # a letter no other operand has: kept
    ("ii->i", [(3, 3)], [(1,)]),  # a diagonal: kept
    ("ij,jk,kl->il", [(4, 3), (3, 5), (5, 2)], [(), (0,), ()]),
])
def test_einsum_reads_a_broadcast_axis_once_and_gets_the_same_values(spec, shapes, axes):
    """An operand stored once along an axis (a broadcast view, stride 0) is read at that
    axis's first index where another operand keeps the letter: one GEMM instead of a
    product per sample. Value and gradients (through the broadcast) equal PyTorch's."""
    rng = np.random.default_rng(1)
    smalls = [_small(rng, s, a) for s, a in zip(shapes, axes)]
    ours = [cr.tensor(a, requires_grad=True) for a in smalls]
    theirs = [torch.tensor(a, requires_grad=True) for a in smalls]
    y = cr.einsum(spec, *[o.broadcast_to(s) for o, s in zip(ours, shapes)])
    want = torch.einsum(spec, *[t.expand(s) for t, s in zip(theirs, shapes)])
    np.testing.assert_allclose(y.numpy(), want.detach().numpy(), rtol=1e-12, atol=1e-12)
    y.sum().backward()
    want.sum().backward()
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=1e-12, atol=1e-12)
    # and against central finite differences, through the broadcast (float64)
    assert cr.autograd.gradcheck(
        lambda *xs: cr.einsum(spec, *[x.broadcast_to(s) for x, s in zip(xs, shapes)]),
        [cr.tensor(a, requires_grad=True) for a in smalls])


def test_einsum_hands_numpy_the_broadcast_operand_once(monkeypatch):
    """vmap's linear layer: the weight expanded to every sample reaches NumPy as one
    matrix ('zai,oi->zao', a GEMM), not as 5 copies; a diagonal keeps its axes."""
    from chainrule.ops import contraction

    seen = []
    real = np.einsum
    monkeypatch.setattr(contraction.np, "einsum",
                        lambda spec, *xs, **kw: seen.append(spec) or real(spec, *xs, **kw))
    rng = np.random.default_rng(2)
    x, w = cr.tensor(rng.standard_normal((5, 1, 7))), cr.tensor(_small(rng, (5, 4, 7), (0,)))
    cr.einsum("zai,zoi->zao", x, w.broadcast_to((5, 4, 7)))
    cr.einsum("ii->i", cr.tensor(_small(rng, (3, 3), (1,))).broadcast_to((3, 3)))
    assert seen == ["zai,oi->zao", "ii->i"]


@pytest.mark.parametrize("spec, shapes, path", [
    ("zao,zai->zoi", [(6, 1, 5), (6, 1, 7)], False),  # vmap's per-sample linear gradient
    ("i,j->ij", [(3,), (4,)], False),                  # an outer product sums nothing
    ("zao,zai->zoi", [(6, 2, 5), (6, 2, 7)], True),   # a sum over a of size 2
    ("ij,jk->ik", [(3, 4), (4, 5)], True),
    ("ij,jk,kl->il", [(3, 4), (4, 5), (5, 2)], True),
    ("ii->i", [(3, 3)], False),
])
def test_einsum_takes_a_contraction_path_only_where_something_is_summed(spec, shapes, path):
    """Two operands that sum only axes of size 1 skip NumPy's path (its batched matmul of
    inner size 1 was the slow way for vmap's per-sample gradients); the value is the
    same bits either way, and the gradient is still einsum's."""
    from chainrule.ops.contraction import _optimize

    rng = np.random.default_rng(0)
    xs = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    assert _optimize(spec, xs) is path
    got = cr.einsum(spec, *[cr.tensor(x) for x in xs]).numpy()
    assert np.array_equal(got, np.einsum(spec, *xs, optimize=len(xs) > 1))
    ts = [torch.tensor(x, requires_grad=True) for x in xs]
    ours = [cr.tensor(x, requires_grad=True) for x in xs]
    cr.einsum(spec, *ours).sum().backward()
    torch.einsum(spec, *ts).sum().backward()
    for o, t in zip(ours, ts):
        np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-6)
