"""chainrule.func (and cr.grad) on other backends' tensors (array-api-strict on its
non-default device, where a hidden move to NumPy raises, and PyTorch CPU tensors): every
transform, nested ones, vmap's options and its loop fallback, equal to the same call on
NumPy to float rounding and to torch.func; the results stay in the inputs' library. The op
table's rows through jvp and vmap on these backends are in test_func_optable_backends.py."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import func
from chainrule.errors import BackendError
from chainrule.func import batched

from ..ops.backends import BACKENDS, host, put

torch = pytest.importorskip("torch")
tfunc = torch.func
tF = torch.nn.functional

RNG = np.random.default_rng(0)
X, V = RNG.standard_normal(5), RNG.standard_normal(5)
PARAMS = [RNG.standard_normal(s) * 0.3 for s in ((16, 12), (16,), (5, 16), (5,))]
XS, YS = RNG.standard_normal((7, 12)), RNG.integers(0, 5, 7)
W = RNG.standard_normal((3, 5))


def _on(backend):
    """NumPy array -> a tensor on ``backend`` ("numpy": the reference run)."""
    return (lambda a: cr.tensor(a)) if backend == "numpy" else \
        (lambda a: cr.tensor(put(a, backend)))


def f(x):
    return (x * x).sin() * x.sum()


def scalar(x):
    return (x.tanh() ** 2).sum() + (x * x).sum().sqrt() * x.max()


def mlp_loss(p, x, y):
    h = F.relu(F.linear(x[None], p[0], p[1]))
    return F.cross_entropy(F.linear(h, p[2], p[3]), y[None])


def torch_mlp_loss(p, x, y):
    h = tF.relu(tF.linear(x[None], p[0], p[1]))
    return tF.cross_entropy(tF.linear(h, p[2], p[3]), y[None])


def penalty(w, xs):
    """The squared per-sample gradients, summed (a gradient penalty): grad of vmap of grad."""
    per_sample = func.vmap(func.grad(lambda w, x: (w @ x).tanh().sum()), in_dims=(None, 0))
    return (per_sample(w, xs) ** 2).sum()


TRANSFORMS = {
    "jvp": lambda t: func.jvp(f, (t(X),), (t(V),)),
    "jvp_of_two_primals": lambda t: func.jvp(lambda a, b: (a * b).exp(), (t(X), t(V)),
                                             (t(V), t(X))),
    "vjp": lambda t: func.vjp(f, t(X))[1](t(V)),
    "grad": lambda t: func.grad(scalar)(t(X)),
    "grad_and_value": lambda t: func.grad_and_value(scalar)(t(X)),
    "jacfwd": lambda t: func.jacfwd(f)(t(X)),
    "jacrev": lambda t: func.jacrev(f)(t(X)),
    "jacfwd_two_outputs": lambda t: func.jacfwd(lambda a: (a.sin(), a.sum()))(t(X)),
    "hessian": lambda t: func.hessian(scalar)(t(X)),
    "hvp": lambda t: func.hvp(scalar, (t(X),), (t(V),)),
    "jvp_of_grad": lambda t: func.jvp(func.grad(scalar), (t(X),), (t(V),)),
    "grad_of_grad": lambda t: func.grad(lambda a: func.grad(scalar)(a).sum())(t(X)),
    "jvp_of_jvp": lambda t: func.jvp(lambda a: func.jvp(f, (a,), (t(V),))[1], (t(X),),
                                     (t(X),)),
    "jvp_of_a_constant": lambda t: func.jvp(lambda a: t(V) * 2, (t(X),), (t(V),)),
    "grad_of_a_constant": lambda t: func.grad(lambda a: t(V).sum())(t(X)),
    "vjp_of_a_constant": lambda t: func.vjp(lambda a: t(V) * 2, t(X))[1](t(X)),
    "cr_grad": lambda t: cr.grad(scalar)(t(X)),
    "cr_grad_of_grad": lambda t: cr.grad(lambda a: cr.grad(scalar)(a).sum())(t(X)),
    "cr_grad_of_a_constant": lambda t: cr.grad(lambda a: t(V).sum())(t(X)),
    "vmap": lambda t: func.vmap(f)(t(XS[:, :5])),
    "vmap_in_out_dims": lambda t: func.vmap(lambda a, b: a * b.sum(), in_dims=(1, None),
                                            out_dims=1)(t(XS), t(X)),
    "vmap_of_vmap": lambda t: func.vmap(func.vmap(scalar))(t(XS.reshape(7, 3, 4))),
    "vmap_of_jacrev": lambda t: func.vmap(func.jacrev(f))(t(XS[:, :5])),
    "vmap_of_jacfwd": lambda t: func.vmap(func.jacfwd(f))(t(XS[:, :5])),
    "vmap_of_hessian": lambda t: func.vmap(func.hessian(scalar))(t(XS[:, :4])),
    "vmap_chunked": lambda t: func.vmap(func.grad(scalar), chunk_size=3)(t(XS)),
    "per_sample_gradients": lambda t: func.vmap(func.grad(mlp_loss), in_dims=(None, 0, 0))(
        tuple(t(p) for p in PARAMS), t(XS), t(YS)),
    "grad_of_vmap_of_grad": lambda t: func.grad(penalty)(t(W), t(XS[:, :5])),
}


def _leaves(result):
    if isinstance(result, (tuple, list)):
        return [x for r in result for x in _leaves(r)]
    return [result] if isinstance(result, cr.Tensor) else []


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_transform_equals_numpy_and_stays_on_the_backend(name, backend):
    ref = _leaves(TRANSFORMS[name](_on("numpy")))
    got = _leaves(TRANSFORMS[name](_on(backend)))
    assert len(got) == len(ref) > 0
    for mine, expect in zip(got, ref):
        assert mine.backend == backend, f"{name}: a result on {mine.backend}"
        assert mine.shape == expect.shape
        np.testing.assert_allclose(host(mine.data), expect.numpy(), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("backend", BACKENDS)
def test_per_sample_gradients_match_torch_func_and_are_batched(backend):
    t = _on(backend)
    batched.log.looped = []
    try:
        grads = func.vmap(func.grad(mlp_loss), in_dims=(None, 0, 0))(
            tuple(t(p) for p in PARAMS), t(XS), t(YS))
        looped = batched.log.looped
    finally:
        batched.log.looped = None
    assert not looped, looped
    expect = tfunc.vmap(tfunc.grad(torch_mlp_loss), in_dims=(None, 0, 0))(
        tuple(torch.tensor(p) for p in PARAMS), torch.tensor(XS), torch.tensor(YS))
    for g, e, p in zip(grads, expect, PARAMS):
        assert g.shape == (7,) + p.shape and g.backend == backend
        np.testing.assert_allclose(host(g.data), e.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_hessian_and_jvp_match_torch_func(backend):
    t = _on(backend)

    def theirs(x):
        return (torch.tanh(x) ** 2).sum() + torch.sqrt((x * x).sum()) * x.max()

    H = func.hessian(scalar)(t(X))
    np.testing.assert_allclose(host(H.data), tfunc.hessian(theirs)(torch.tensor(X)).numpy(),
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(host(H.data), host(H.data).T, rtol=1e-12, atol=1e-13)
    out, tan = func.jvp(f, (t(X),), (t(V),))
    tout, ttan = tfunc.jvp(lambda x: torch.sin(x * x) * x.sum(), (torch.tensor(X),),
                           (torch.tensor(V),))
    np.testing.assert_allclose(host(out.data), tout.numpy(), rtol=1e-12)
    np.testing.assert_allclose(host(tan.data), ttan.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_vmap_takes_the_librarys_arrays_and_loops_on_its_tensors(backend):
    # arrays of the library itself as arguments, mapped and not (strict's own operators
    # refuse a tensor: the tensor goes first)
    a, w = put(XS, backend), put(PARAMS[0].T.copy(), backend)
    out = func.vmap(lambda r, m: (r @ m).tanh(), in_dims=(0, None))(a, w)
    assert out.backend == backend
    np.testing.assert_allclose(host(out.data), np.tanh(XS @ PARAMS[0].T), rtol=1e-12)

    # a function that reads a value runs as the loop, on the backend too
    def branchy(r):
        return r * 2 if r.sum().item() > 0 else -r

    with pytest.warns(func.VmapLoopWarning, match="item"):
        out = func.vmap(branchy)(cr.tensor(a))
    assert out.backend == backend
    np.testing.assert_allclose(host(out.data), np.stack([r * 2 if r.sum() > 0 else -r
                                                         for r in XS]))
    # randomness="different": one call per sample, each on the backend
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", func.VmapLoopWarning)
        out = func.vmap(lambda r: r.exp(), randomness="different")(cr.tensor(a))
    assert out.backend == backend
    np.testing.assert_allclose(host(out.data), np.exp(XS), rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_tangents_move_from_numpy_and_refuse_another_librarys_tensor(backend):
    x = cr.tensor(put(X, backend))
    _, tan = func.jvp(f, (x,), (V,))  # a NumPy tangent moves, as an op's constant does
    assert tan.backend == backend
    _, ref = func.jvp(f, (cr.tensor(X),), (cr.tensor(V),))
    np.testing.assert_allclose(host(tan.data), ref.numpy(), rtol=1e-12)
    with pytest.raises(BackendError, match=f"a tangent on numpy for a primal on {backend}"):
        func.jvp(f, (x,), (cr.tensor(V),))
    with pytest.raises(TypeError, match="floating point"):
        func.jvp(f, (x,), (cr.tensor(put(np.arange(5), backend)),))
