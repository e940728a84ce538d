"""jacrev and jacfwd with several outputs (tuples) and several arguments (argnums
tuples), and hessian over several arguments: the nesting of results is torch.func's
(outputs outside, arguments inside), and so are the values."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import func

torch = pytest.importorskip("torch")
tfunc = torch.func


def _f(lib):
    def f(x, w):
        y = lib.tanh(w @ x)
        return y * x[:2].sum(), (x * x).sum() * w
    return f


def _same(ours, theirs):
    if isinstance(theirs, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _same(a, b)
        return
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-10, atol=1e-12)


ARGNUMS = [0, 1, (0, 1), (1,), (1, 0)]


@pytest.mark.parametrize("transform", ["jacrev", "jacfwd"])
@pytest.mark.parametrize("argnums", ARGNUMS, ids=str)
def test_tuple_outputs_and_argnums_match_torch(transform, argnums):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(3), rng.standard_normal((2, 3))
    ours = getattr(func, transform)(_f(cr), argnums=argnums)(cr.tensor(x), cr.tensor(w))
    theirs = getattr(tfunc, transform)(_f(torch), argnums=argnums)(torch.tensor(x),
                                                                   torch.tensor(w))
    _same(ours, theirs)


@pytest.mark.parametrize("transform", ["jacrev", "jacfwd"])
def test_one_output_with_argnums_tuple_and_aux(transform):
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal(3), rng.standard_normal((2, 3))

    def f(lib):
        return lambda x, w: ((w @ x).sin(), x.sum())

    (jx, jw), aux = getattr(func, transform)(f(cr), argnums=(0, 1), has_aux=True)(
        cr.tensor(x), cr.tensor(w))
    (tx, tw), taux = getattr(tfunc, transform)(f(torch), argnums=(0, 1), has_aux=True)(
        torch.tensor(x), torch.tensor(w))
    _same((jx, jw), (tx, tw))
    _same(aux, taux)


def test_hessian_over_two_arguments_matches_torch():
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal(3), rng.standard_normal((2, 3))

    def f(x, w):
        return (w @ x).tanh().sum() * (x * x).sum()

    ours = func.hessian(f, argnums=(0, 1))(cr.tensor(x), cr.tensor(w))
    theirs = tfunc.hessian(f, argnums=(0, 1))(torch.tensor(x), torch.tensor(w))
    _same(ours, theirs)


def test_jacrev_and_jacfwd_of_tuple_outputs_agree_under_vmap():
    rng = np.random.default_rng(3)
    xs, w = rng.standard_normal((4, 3)), rng.standard_normal((2, 3))
    rev = func.vmap(func.jacrev(_f(cr), argnums=(0, 1)), in_dims=(0, None))(
        cr.tensor(xs), cr.tensor(w))
    fwd = func.vmap(func.jacfwd(_f(cr), argnums=(0, 1)), in_dims=(0, None))(
        cr.tensor(xs), cr.tensor(w))
    theirs = tfunc.vmap(tfunc.jacrev(_f(torch), argnums=(0, 1)), in_dims=(0, None))(
        torch.tensor(xs), torch.tensor(w))
    _same(rev, theirs)
    _same(fwd, theirs)
