"""vmap with batching rules: per-sample gradients against torch.func (an MLP and a small
CNN), nesting with itself and with every transform, in_dims/out_dims, randomness, the
loop fallback, threads, and typed errors for bad input."""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import func
from chainrule.errors import ShapeError, VmapError
from chainrule.func import batched

torch = pytest.importorskip("torch")
tfunc = torch.func
tF = torch.nn.functional


def _ops_looped(fn, *args):
    batched.log.looped = []
    try:
        return fn(*args), batched.log.looped
    finally:
        batched.log.looped = None


def _close(ours, theirs, rtol=1e-10, atol=1e-12):
    np.testing.assert_allclose(np.asarray(ours.numpy()), theirs.detach().numpy(), rtol=rtol,
                               atol=atol)


def _mlp_params(rng):
    return [rng.standard_normal(s) * 0.3 for s in ((16, 12), (16,), (5, 16), (5,))]


def test_per_sample_gradients_of_an_mlp_match_torch_and_are_batched():
    rng = np.random.default_rng(0)
    params = _mlp_params(rng)
    xs, ys = rng.standard_normal((7, 12)), rng.integers(0, 5, 7)

    def ours(p, x, y):
        h = F.relu(F.linear(x[None], p[0], p[1]))
        return F.cross_entropy(F.linear(h, p[2], p[3]), y[None])

    def theirs(p, x, y):
        h = tF.relu(tF.linear(x[None], p[0], p[1]))
        return tF.cross_entropy(tF.linear(h, p[2], p[3]), y[None])

    grads, looped = _ops_looped(func.vmap(func.grad(ours), in_dims=(None, 0, 0)),
                                tuple(cr.tensor(p) for p in params), cr.tensor(xs),
                                cr.tensor(ys))
    expect = tfunc.vmap(tfunc.grad(theirs), in_dims=(None, 0, 0))(
        tuple(torch.tensor(p) for p in params), torch.tensor(xs), torch.tensor(ys))
    assert not looped
    assert isinstance(grads, tuple) and [g.shape for g in grads] == [(7,) + p.shape
                                                                   for p in params]
    for g, t in zip(grads, expect):
        _close(g, t)


def test_per_sample_gradients_of_a_cnn_match_torch_and_are_batched():
    rng = np.random.default_rng(1)
    w, b = rng.standard_normal((3, 2, 3, 3)) * 0.3, rng.standard_normal(3)
    v = rng.standard_normal((4, 3 * 3 * 3)) * 0.3
    xs, ys = rng.standard_normal((5, 2, 8, 8)), rng.integers(0, 4, 5)

    def ours(w, b, v, x, y):
        h = F.max_pool2d(F.relu(F.conv2d(x[None], w, b, padding=1)), 2)
        h = F.avg_pool2d(h, 2, stride=1).reshape(1, -1)
        return F.cross_entropy(h @ v.T, y[None])

    def theirs(w, b, v, x, y):
        h = tF.max_pool2d(tF.relu(tF.conv2d(x[None], w, b, padding=1)), 2)
        h = tF.avg_pool2d(h, 2, stride=1).reshape(1, -1)
        return tF.cross_entropy(h @ v.T, y[None])

    grads, looped = _ops_looped(
        func.vmap(func.grad(ours, argnums=(0, 1, 2)), in_dims=(None, None, None, 0, 0)),
        cr.tensor(w), cr.tensor(b), cr.tensor(v), cr.tensor(xs), cr.tensor(ys))
    expect = tfunc.vmap(tfunc.grad(theirs, argnums=(0, 1, 2)),
                        in_dims=(None, None, None, 0, 0))(
        torch.tensor(w), torch.tensor(b), torch.tensor(v), torch.tensor(xs),
        torch.tensor(ys))
    assert not looped, looped
    for g, t in zip(grads, expect):
        _close(g, t)


def test_vmap_of_vmap_equals_the_double_loop():
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((3, 4, 5)), rng.standard_normal((5, 2))

    def f(r):
        return (r @ cr.tensor(w)).tanh().sum() * r.max()

    out = func.vmap(func.vmap(f))(cr.tensor(x))
    loop = np.array([[f(cr.tensor(x[i, j])).item() for j in range(4)] for i in range(3)])
    np.testing.assert_allclose(out.numpy(), loop, rtol=1e-12)
    # an inner vmap over another axis, an outer one with an unmapped argument
    g = func.vmap(func.vmap(lambda a, b: a * b.sum(), in_dims=(1, None)), in_dims=(0, None))
    out = g(cr.tensor(x), cr.tensor(w))
    np.testing.assert_allclose(out.numpy(), np.moveaxis(x, 2, 1) * w.sum())


def test_vmap_of_vmap_of_grad_matches_torch():
    rng = np.random.default_rng(3)
    w, x = rng.standard_normal((3, 4)), rng.standard_normal((2, 5, 4))

    def ours(w, r):
        return (w @ r).sin().sum()

    def theirs(w, r):
        return (w @ r).sin().sum()

    out = func.vmap(func.vmap(func.grad(ours), in_dims=(None, 0)), in_dims=(None, 0))(
        cr.tensor(w), cr.tensor(x))
    expect = tfunc.vmap(tfunc.vmap(tfunc.grad(theirs), in_dims=(None, 0)), in_dims=(None, 0))(
        torch.tensor(w), torch.tensor(x))
    assert out.shape == (2, 5, 3, 4)
    _close(out, expect)


def test_grad_of_vmap_of_grad_matches_torch():
    """grad inside vmap inside grad: d/dw of the summed squared per-sample gradient norms
    (a gradient penalty per sample)."""
    rng = np.random.default_rng(4)
    w, x = rng.standard_normal((3, 4)), rng.standard_normal((6, 4))

    def penalty(lib_func, w, x):
        def loss(w, r):
            return (w @ r).tanh().sum()
        g = lib_func.vmap(lib_func.grad(loss), in_dims=(None, 0))(w, x)
        return (g * g).sum()

    ours = func.grad(lambda w, x: penalty(func, w, x))(cr.tensor(w), cr.tensor(x))
    theirs = tfunc.grad(lambda w, x: penalty(tfunc, w, x))(torch.tensor(w), torch.tensor(x))
    _close(ours, theirs)


def test_vmap_of_jacrev_jacfwd_hessian_and_jvp_match_torch():
    rng = np.random.default_rng(5)
    w, x = rng.standard_normal((3, 4)), rng.standard_normal((5, 4))
    v = rng.standard_normal((5, 4))

    def f(lib, r):
        return lib.tanh(lib.as_tensor(w) @ r) if lib is torch else (cr.tensor(w) @ r).tanh()

    def s(lib, r):
        return f(lib, r).sum() * (r * r).sum()

    X, T = cr.tensor(x), torch.tensor(x)
    for ours_t, theirs_t in ((func.jacrev, tfunc.jacrev), (func.jacfwd, tfunc.jacfwd)):
        _close(func.vmap(ours_t(lambda r: f(cr, r)))(X),
               tfunc.vmap(theirs_t(lambda r: f(torch, r)))(T))
    _close(func.vmap(func.hessian(lambda r: s(cr, r)))(X),
           tfunc.vmap(tfunc.hessian(lambda r: s(torch, r)))(T), rtol=1e-9)
    out, tan = func.vmap(lambda r, d: func.jvp(lambda q: f(cr, q), (r,), (d,)))(X, cr.tensor(v))
    tout, ttan = tfunc.vmap(lambda r, d: tfunc.jvp(lambda q: f(torch, q), (r,), (d,)))(
        T, torch.tensor(v))
    _close(out, tout)
    _close(tan, ttan)


def test_jvp_and_grad_of_a_vmapped_function():
    rng = np.random.default_rng(6)
    x, v = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))

    def f(a):
        return func.vmap(lambda r: (r.sin() * r).sum())(a)

    out, tan = func.jvp(f, (cr.tensor(x),), (cr.tensor(v),))
    np.testing.assert_allclose(out.numpy(), (np.sin(x) * x).sum(1))
    np.testing.assert_allclose(tan.numpy(), ((np.cos(x) * x + np.sin(x)) * v).sum(1))
    g = func.grad(lambda a: f(a).sum())(cr.tensor(x))
    np.testing.assert_allclose(g.numpy(), np.cos(x) * x + np.sin(x))


def test_in_dims_structures_out_dims_tuples_and_keywords():
    rng = np.random.default_rng(7)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 3))
    params = {"w": cr.tensor(rng.standard_normal(4)), "k": 2.0}

    def f(pair, p, scale=1.0):
        x, y = pair
        return (x * p["w"] * p["k"] + y) * scale, x.sum()

    out, total = func.vmap(f, in_dims=((0, 1), None), out_dims=(1, 0))(
        (cr.tensor(a), cr.tensor(b)), params, scale=3.0)
    expect = (a * params["w"].numpy() * 2.0 + b.T) * 3.0
    np.testing.assert_allclose(out.numpy(), expect.T)
    np.testing.assert_allclose(total.numpy(), a.sum(1))
    # an output that does not depend on the mapped inputs is copied to every sample
    same = func.vmap(lambda x, c: c * 2, in_dims=(0, None))(cr.tensor(a), cr.tensor(b))
    np.testing.assert_array_equal(same.numpy(), np.broadcast_to(b * 2, (3, 4, 3)))
    # arrays as arguments, integer ones too (an index per sample: the loop)
    with pytest.warns(func.VmapLoopWarning):
        idx = func.vmap(lambda x, i: x[i])(cr.tensor(a), np.array([0, 3, 1]))
    np.testing.assert_array_equal(idx.numpy(), a[[0, 1, 2], [0, 3, 1]])


def test_chunk_size_gives_the_same_result_in_parts():
    rng = np.random.default_rng(12)
    w, x, y = rng.standard_normal((3, 4)), rng.standard_normal((7, 4)), rng.standard_normal(7)

    def loss(w, r, t):
        return ((w @ r).tanh().sum() - t) ** 2

    g = func.grad(loss)
    whole = func.vmap(g, in_dims=(None, 0, 0))(cr.tensor(w), cr.tensor(x), cr.tensor(y))
    for chunk in (1, 3, 7, 100):
        parts = func.vmap(g, in_dims=(None, 0, 0), chunk_size=chunk)(
            cr.tensor(w), cr.tensor(x), cr.tensor(y))
        np.testing.assert_allclose(parts.numpy(), whole.numpy(), rtol=1e-12)
    pair = func.vmap(lambda r: (r.sum(), r * 2), in_dims=1, out_dims=(0, 1), chunk_size=2)(
        cr.tensor(x.T))
    np.testing.assert_allclose(pair[0].numpy(), x.sum(1))
    np.testing.assert_allclose(pair[1].numpy(), 2 * x.T)
    with pytest.raises(ValueError, match="chunk_size"):
        func.vmap(g, chunk_size=0)


def test_randomness_error_same_and_different():
    x = cr.ones((4, 6))
    with pytest.raises(VmapError, match="randomness"):
        func.vmap(lambda r: F.dropout(r, 0.5))(x)
    cr.manual_seed(0)
    same = func.vmap(lambda r: F.dropout(r, 0.5), randomness="same")(x).numpy()
    assert all((row == same[0]).all() for row in same)
    cr.manual_seed(0)
    diff = func.vmap(lambda r: F.dropout(r, 0.5), randomness="different")(x).numpy()
    assert len({row.tobytes() for row in diff}) > 1
    with pytest.raises(ValueError, match="randomness"):
        func.vmap(lambda r: r, randomness="sometimes")
    # the refusal is this thread's alone, and ends with the call
    cr.rand(2)


def test_reading_a_batched_value_runs_the_loop_with_a_warning():
    x = np.random.default_rng(8).standard_normal((5, 3))

    def f(r):
        return r * 2 if r.sum().item() > 0 else -r

    with pytest.warns(func.VmapLoopWarning, match="item"):
        out = func.vmap(f)(cr.tensor(x))
    np.testing.assert_array_equal(out.numpy(), np.stack([f(cr.tensor(r)).numpy() for r in x]))


def test_batch_norm_in_training_under_vmap_is_the_loop_running_statistics_too():
    import chainrule.nn as nn

    x = np.random.default_rng(10).standard_normal((4, 3))
    ours, loop = nn.BatchNorm1d(3).double(), nn.BatchNorm1d(3).double()
    with pytest.warns(func.VmapLoopWarning, match="statistics"):
        out = func.vmap(lambda r: ours(cr.stack([r, 2 * r + 1])))(cr.tensor(x))
    expect = np.stack([loop(cr.stack([cr.tensor(r), 2 * cr.tensor(r) + 1])).detach().numpy()
                       for r in x])
    np.testing.assert_allclose(out.numpy(), expect, rtol=1e-12)
    np.testing.assert_allclose(ours.running_mean.numpy(), loop.running_mean.numpy())
    np.testing.assert_allclose(ours.running_var.numpy(), loop.running_var.numpy())


def test_sort_and_topk_indices_under_vmap_are_each_samples():
    """Sort hands its indices back through a parameter: the whole function is the loop, so
    each sample gets its own indices (a per-op loop would leave the last sample's)."""
    x = np.random.default_rng(11).standard_normal((4, 5))
    with pytest.warns(func.VmapLoopWarning):
        out = func.vmap(lambda r: r.sort().indices)(cr.tensor(x))
    np.testing.assert_array_equal(out.numpy(), np.argsort(x, axis=1, kind="stable"))
    with pytest.warns(func.VmapLoopWarning):
        vals, idx = func.vmap(lambda r: tuple(r.topk(2)))(cr.tensor(x))
    np.testing.assert_array_equal(idx.numpy(), np.argsort(-x, axis=1, kind="stable")[:, :2])
    np.testing.assert_array_equal(vals.numpy(), -np.sort(-x, axis=1)[:, :2])


def test_bad_input_gets_typed_errors():
    a, b = cr.ones((3, 2)), cr.ones((4, 2))
    with pytest.raises(ShapeError, match="sizes"):
        func.vmap(lambda x, y: x + y)(a, b)
    with pytest.raises(ShapeError, match="out of range"):
        func.vmap(lambda x: x, in_dims=2)(a)
    with pytest.raises(ValueError, match="entries"):
        func.vmap(lambda x, y: x, in_dims=(0,))(a, a)
    with pytest.raises(TypeError, match="mapped argument"):
        func.vmap(lambda x, y: x, in_dims=(0, 0))(a, 3.0)
    with pytest.raises(ShapeError, match="no argument is mapped"):
        func.vmap(lambda x: x, in_dims=None)(a)
    with pytest.raises(VmapError, match="out_dims is None"):
        func.vmap(lambda x: x, out_dims=None)(a)
    with pytest.raises(VmapError, match="func.grad"):
        func.vmap(lambda x: x.sum().backward())(cr.ones((3, 2), requires_grad=True))
    with pytest.raises(TypeError, match="function"):
        func.vmap(a)
    kept = []
    func.vmap(lambda x: kept.append(x) or x)(a)
    with pytest.raises(VmapError, match="outside the vmap"):
        kept[0] + 1


def test_threads_run_vmap_of_grad_side_by_side():
    rng = np.random.default_rng(9)
    w, xs = rng.standard_normal((3, 4)), [rng.standard_normal((6, 4)) for _ in range(2)]

    def loss(w, r):
        return (w @ r).tanh().sum()

    g = func.vmap(func.grad(loss), in_dims=(None, 0))
    expect = [g(cr.tensor(w), cr.tensor(x)).numpy() for x in xs]
    got, errors = [None, None], []

    def run(i):
        try:
            for _ in range(20):
                got[i] = g(cr.tensor(w), cr.tensor(xs[i])).numpy()
                cr.tensor(np.ones(3)) * 2  # plain ops beside the other thread's vmap
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    with warnings.catch_warnings():
        warnings.simplefilter("error", func.VmapLoopWarning)
        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors, errors
    for a, b in zip(got, expect):
        np.testing.assert_array_equal(a, b)
