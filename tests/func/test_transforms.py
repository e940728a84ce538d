"""chainrule.func against torch.func: jvp, vjp, grad, jacobians, Hessians, hvp, vmap, and
their nesting; bad input gets typed errors."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import func
from chainrule.errors import ShapeError

torch = pytest.importorskip("torch")
tfunc = torch.func


def _f():
    def f(x, w):
        h = (x @ w).tanh()
        return (h * h.sigmoid()).sum() + (x.exp() * 0.1).sum() ** 2
    return f


def _arrays(seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((3, 4)), rng.standard_normal((4, 2))


def test_jvp_matches_torch():
    x, w = _arrays()
    vx, vw = _arrays(1)
    out, tan = func.jvp(_f(), (cr.tensor(x), cr.tensor(w)), (cr.tensor(vx), cr.tensor(vw)))
    t_out, t_tan = tfunc.jvp(_f(), (torch.tensor(x), torch.tensor(w)),
                             (torch.tensor(vx), torch.tensor(vw)))
    np.testing.assert_allclose(out.numpy(), t_out.numpy(), rtol=1e-12)
    np.testing.assert_allclose(tan.numpy(), t_tan.numpy(), rtol=1e-10)


def test_jvp_of_a_tuple_output_and_aux():
    x = cr.tensor(np.array([1.0, 2.0]))
    (a, b), (da, db), aux = func.jvp(lambda x: ((x * x, x.sin()), "aux"), (x,),
                                     (cr.ones(2, dtype=np.float64),), has_aux=True)
    np.testing.assert_allclose(da.numpy(), 2 * x.numpy())
    np.testing.assert_allclose(db.numpy(), np.cos(x.numpy()))
    assert aux == "aux"


def test_jvp_leaves_the_primal_untouched_and_tangents_do_not_leak():
    x = cr.tensor(np.array([1.0, 2.0]))
    out, _ = func.jvp(lambda x: x * 3, (x,), (cr.ones(2, dtype=np.float64),))
    assert getattr(x, "_tangents", None) is None
    y = out * 2  # after the jvp, no level is open: nothing carries a tangent
    assert getattr(y, "_tangents", None) is None


def test_vjp_and_grad_match_torch():
    x, w = _arrays()
    out, pull = func.vjp(_f(), cr.tensor(x), cr.tensor(w))
    gx, gw = pull(cr.tensor(np.array(1.5)))
    t_out, t_pull = tfunc.vjp(_f(), torch.tensor(x), torch.tensor(w))
    tgx, tgw = t_pull(torch.tensor(1.5, dtype=torch.float64))
    np.testing.assert_allclose(gx.numpy(), tgx.numpy(), rtol=1e-10)
    np.testing.assert_allclose(gw.numpy(), tgw.numpy(), rtol=1e-10)
    g, value = func.grad_and_value(_f(), argnums=(0, 1))(cr.tensor(x), cr.tensor(w))
    np.testing.assert_allclose(g[1].numpy(), tgw.numpy() / 1.5, rtol=1e-10)
    assert value.item() == pytest.approx(t_out.item())
    assert not g[0].requires_grad and not value.requires_grad


def test_grad_has_aux():
    g, aux = func.grad(lambda x: ((x * x).sum(), x.sum()), has_aux=True)(
        cr.tensor(np.array([1.0, 2.0])))
    np.testing.assert_allclose(g.numpy(), [2.0, 4.0])
    assert aux.item() == 3.0


def test_jacfwd_equals_jacrev_and_torch():
    def gc(x):
        return F.log_softmax(x.reshape(2, 3) @ x.reshape(3, 2), axis=1)

    def gt(x):
        return torch.log_softmax(x.reshape(2, 3) @ x.reshape(3, 2), dim=1)

    x = np.random.default_rng(2).standard_normal(6)
    jf = func.jacfwd(gc)(cr.tensor(x)).numpy()
    jr = func.jacrev(gc)(cr.tensor(x)).numpy()
    assert jf.shape == (2, 2, 6)
    np.testing.assert_allclose(jf, jr, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(jf, tfunc.jacfwd(gt)(torch.tensor(x)).numpy(), rtol=1e-10,
                               atol=1e-12)


def test_jacobians_with_argnums_tuple():
    x, w = _arrays()

    def f(x, w):
        return (x @ w).sin()

    jf = func.jacfwd(f, argnums=(0, 1))(cr.tensor(x), cr.tensor(w))
    jr = func.jacrev(f, argnums=(0, 1))(cr.tensor(x), cr.tensor(w))
    tj = tfunc.jacrev(lambda x, w: (x @ w).sin(), argnums=(0, 1))(torch.tensor(x),
                                                                  torch.tensor(w))
    for a, b, t in zip(jf, jr, tj):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(a.numpy(), t.numpy(), rtol=1e-10, atol=1e-12)


def _mlp(x, y):
    """A 3-4-2 tanh network's mean squared error as a function of its 24 parameters (the
    same code runs on chainrule and on torch tensors)."""
    def loss(p):
        w1, b1, w2 = p[:12].reshape(4, 3), p[12:16], p[16:24].reshape(2, 4)
        h = (x @ w1.T + b1).tanh()
        z = h @ w2.T
        return ((z - y) ** 2).mean()
    return loss


def test_hessian_is_symmetric_and_matches_torch():
    rng = np.random.default_rng(3)
    x, y, p = rng.standard_normal((5, 3)), rng.standard_normal((5, 2)), rng.standard_normal(24)
    h = func.hessian(_mlp(cr.tensor(x), cr.tensor(y)))(cr.tensor(p)).numpy()
    th = tfunc.hessian(_mlp(torch.tensor(x), torch.tensor(y)))(torch.tensor(p)).numpy()
    assert h.shape == (24, 24)
    np.testing.assert_allclose(h, h.T, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h, th, rtol=1e-9, atol=1e-12)


def test_hvp_of_a_small_network_matches_torch():
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    p, v = rng.standard_normal(24), rng.standard_normal(24)
    hv = func.hvp(_mlp(cr.tensor(x), cr.tensor(y)), (cr.tensor(p),), (cr.tensor(v),))
    t_loss = _mlp(torch.tensor(x), torch.tensor(y))
    _, thv = tfunc.jvp(tfunc.grad(t_loss), (torch.tensor(p),), (torch.tensor(v),))
    np.testing.assert_allclose(hv.numpy(), thv.numpy(), rtol=1e-9, atol=1e-12)
    _, ref = torch.autograd.functional.hvp(t_loss, torch.tensor(p), torch.tensor(v))
    np.testing.assert_allclose(hv.numpy(), ref.numpy(), rtol=1e-9, atol=1e-12)


def test_nesting_grad_of_grad_jvp_of_jvp_grad_of_jvp():
    x = cr.tensor(np.array(0.7))

    def f(x):
        return x.sin() * x ** 3

    def d1(x):
        return x.cos() * x ** 3 + 3 * x ** 2 * x.sin()

    def d2(x):
        return -x.sin() * x ** 3 + 6 * x ** 2 * x.cos() + 6 * x * x.sin()

    assert func.grad(func.grad(f))(x).item() == pytest.approx(d2(x).item(), rel=1e-12)
    one = cr.tensor(np.array(1.0))

    def first(x):
        return func.jvp(f, (x,), (one,))[1]

    assert func.jvp(first, (x,), (one,))[1].item() == pytest.approx(d2(x).item(), rel=1e-12)
    assert func.grad(first)(x).item() == pytest.approx(d2(x).item(), rel=1e-12)
    assert func.jvp(func.grad(f), (x,), (one,))[1].item() == pytest.approx(d2(x).item(),
                                                                             rel=1e-12)
    assert first(x).item() == pytest.approx(d1(x).item(), rel=1e-12)


def test_mixed_partials_through_a_closed_over_tangent():
    """jvp in c of grad in x of sum(x * c * x): d/dc (2 x c) . v = 2 x v."""
    x = cr.tensor(np.array([1.0, -2.0]))
    c, v = cr.tensor(np.array([0.5, 3.0])), cr.tensor(np.array([1.0, 1.0]))
    _, t = func.jvp(lambda c: func.grad(lambda x: (x * c * x).sum())(x), (c,), (v,))
    np.testing.assert_allclose(t.numpy(), 2 * x.numpy() * v.numpy())


def test_in_place_update_inside_jvp_carries_its_tangent():
    def f(x):
        y = x * 1
        y += x * x
        y[0] = x[1] * 2
        return y

    x = cr.tensor(np.array([1.0, 2.0, 3.0]))
    _, t = func.jvp(f, (x,), (cr.tensor(np.array([1.0, 1.0, 1.0])),))
    np.testing.assert_allclose(t.numpy(), [2.0, 5.0, 7.0])


def test_vmap_equals_a_loop_and_per_sample_grads_match_torch():
    rng = np.random.default_rng(5)
    w1, w2 = rng.standard_normal((8, 4)), rng.standard_normal((3, 8))
    xs, ys = rng.standard_normal((6, 4)), rng.integers(0, 3, 6)

    def loss(fn):
        def f(w1, w2, x, y):
            z = (x @ w1.T).relu() @ w2.T
            return fn(z.reshape(1, 3), y.reshape(1))
        return f

    ours = loss(F.cross_entropy)
    theirs = loss(torch.nn.functional.cross_entropy)
    g1, g2 = func.vmap(func.grad(ours, argnums=(0, 1)), in_dims=(None, None, 0, 0))(
        cr.tensor(w1), cr.tensor(w2), cr.tensor(xs), cr.tensor(ys))
    t1, t2 = tfunc.vmap(tfunc.grad(theirs, argnums=(0, 1)), in_dims=(None, None, 0, 0))(
        torch.tensor(w1), torch.tensor(w2), torch.tensor(xs), torch.tensor(ys))
    assert g1.shape == (6, 8, 4)
    np.testing.assert_allclose(g1.numpy(), t1.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(g2.numpy(), t2.numpy(), rtol=1e-10, atol=1e-12)
    loop = [func.grad(ours)(cr.tensor(w1), cr.tensor(w2), cr.tensor(xs[i]),
                            cr.tensor(ys[i:i + 1])).numpy() for i in range(6)]
    np.testing.assert_allclose(g1.numpy(), np.stack(loop), rtol=1e-12)


def test_vmap_out_dims_and_vmap_of_jacrev():
    x = np.random.default_rng(6).standard_normal((4, 3))
    out = func.vmap(lambda r: r * 2, in_dims=1, out_dims=1)(cr.tensor(x))
    np.testing.assert_allclose(out.numpy(), 2 * x)
    jac = func.vmap(func.jacrev(lambda r: r.sin()))(cr.tensor(x))
    np.testing.assert_allclose(jac.numpy(), np.stack([np.diag(np.cos(r)) for r in x]))


def test_transforms_in_two_threads_do_not_mix_their_levels():
    x = cr.tensor(np.linspace(0.1, 1.0, 50))
    results, errors = {}, []

    def work(k):
        try:
            for _ in range(20):
                _, t = func.jvp(lambda x: (x * k).sin(), (x,), (cr.ones_like(x),))
                results.setdefault(k, []).append(t.numpy())
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in (1.0, 2.0)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for k, ts in results.items():
        for t in ts:
            np.testing.assert_allclose(t, k * np.cos(k * x.numpy()), rtol=1e-12)


def test_bad_input_gets_typed_errors():
    x = cr.tensor(np.array([1.0, 2.0]))
    with pytest.raises(ShapeError, match="tangent of shape"):
        func.jvp(lambda x: x, (x,), (cr.tensor(np.ones(3)),))
    with pytest.raises(TypeError, match="tuples"):
        func.jvp(lambda x: x, x, x)
    with pytest.raises(TypeError, match="takes a function"):
        func.grad(x)
    with pytest.raises(cr.BackwardError, match="one-element"):
        func.grad(lambda x: x * 2)(x)
    with pytest.raises(ValueError, match="argnums"):
        func.grad(lambda x: x.sum(), argnums=3)(x)
    with pytest.raises(TypeError, match="floating point"):
        func.jvp(lambda x: x, (cr.tensor([1, 2]),), (cr.tensor([1, 2]),))
    with pytest.raises(ShapeError, match="sizes"):
        func.vmap(lambda a, b: a + b)(cr.ones(3), cr.ones(4))
