"""engine.grad (gradients of some tensors only) walks only the part of the graph on a
path to them: a fused op's composed vjp under create_graph (a gradient at its inner
input) once walked the whole network below it, doubling a Hessian-vector product."""

from __future__ import annotations

import numpy as np

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import func
from chainrule.autograd import engine
from chainrule.ops import linalg


def test_a_gradient_at_an_inner_tensor_runs_no_vjp_below_it():
    x = cr.tensor(np.arange(3.0), requires_grad=True)
    a = x.exp()
    b = a * 2
    reached = []
    a.register_hook(lambda g: reached.append(g))
    (gb,) = engine.grad((b * b).sum(), [b], retain_graph=True)
    np.testing.assert_allclose(gb.numpy(), 2 * b.numpy())
    assert not reached
    (ga,) = engine.grad((b * b).sum(), [a], retain_graph=True)  # a is wanted: reached
    np.testing.assert_allclose(ga.numpy(), 8 * a.numpy())


def test_a_gradient_wanted_below_a_captured_node_still_arrives():
    x = cr.tensor(np.arange(1.0, 4.0), requires_grad=True)
    a = x * x
    y = (a.sin() * a).sum()
    ga, gx = engine.grad(y, [a, x])
    an = a.numpy()
    np.testing.assert_allclose(ga.numpy(), np.cos(an) * an + np.sin(an))
    np.testing.assert_allclose(gx.numpy(), ga.numpy() * 2 * x.numpy())


def test_a_hessian_vector_product_runs_each_backward_product_once(monkeypatch):
    rng = np.random.default_rng(0)
    w1, w2 = rng.standard_normal((5, 4)), rng.standard_normal((3, 5))
    x, y = rng.standard_normal((6, 4)), rng.integers(0, 3, 6)

    def loss(w1, w2):
        return F.cross_entropy(F.linear(F.relu(F.linear(cr.tensor(x), w1)), w2), y)

    calls = []
    vjp = linalg.Linear.vjp
    monkeypatch.setattr(linalg.Linear, "vjp", lambda self, g: calls.append(1) or vjp(self, g))
    v = (cr.tensor(rng.standard_normal(w1.shape)), cr.tensor(rng.standard_normal(w2.shape)))
    func.hvp(loss, (cr.tensor(w1), cr.tensor(w2)), v)
    assert len(calls) == 2  # one per layer (cross-entropy's composed vjp walks no further)
