"""Every op-table row through forward mode: its JVP against central finite differences in
float64, and against its VJP by the identity <u, J v> = <J^T u, v> (random u, v). Driven by
the op tables themselves, so a new row is checked here too; a primitive with no jvp rule
fails the guard."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import func
from chainrule.graph.node import Node
from chainrule.ops import PRIMITIVES

from ..ops.nn_optable import ROWS as NN_ROWS
from ..ops.optable import ROWS, make_inputs

ALL = ROWS + NN_ROWS


def _directions(row, arrays, seed):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(a.shape) for a in arrays]


def _f_numpy(row, arrays):
    with cr.no_grad():
        return row.fn(*[cr.tensor(a) for a in arrays]).numpy().astype(np.float64)


@pytest.mark.parametrize("row", ALL, ids=lambda r: r.id)
def test_jvp_matches_finite_differences(row):
    arrays = make_inputs(row, seed=6)
    vs = _directions(row, arrays, 7)
    out, tangent = func.jvp(row.fn, tuple(cr.tensor(a) for a in arrays),
                            tuple(cr.tensor(v) for v in vs))
    eps = row.tol.get("eps", 1e-6)
    plus = _f_numpy(row, [a + eps * v for a, v in zip(arrays, vs)])
    minus = _f_numpy(row, [a - eps * v for a, v in zip(arrays, vs)])
    numeric = (plus - minus) / (2 * eps)
    np.testing.assert_allclose(out.numpy(), _f_numpy(row, arrays), rtol=1e-12, atol=1e-12)
    assert tangent.shape == out.shape and tangent.dtype == out.dtype
    np.testing.assert_allclose(tangent.numpy(), numeric, rtol=row.tol.get("rtol", 1e-3),
                               atol=row.tol.get("atol", 1e-5))


@pytest.mark.parametrize("row", ALL, ids=lambda r: r.id)
def test_jvp_is_the_transpose_of_vjp(row):
    arrays = make_inputs(row, seed=8)
    vs = _directions(row, arrays, 9)
    xs = tuple(cr.tensor(a) for a in arrays)
    _, jv = func.jvp(row.fn, xs, tuple(cr.tensor(v) for v in vs))
    u = np.random.default_rng(10).standard_normal(jv.shape)
    _, pull = func.vjp(row.fn, *xs)
    jtu = pull(cr.tensor(u))
    left = float(np.sum(u * jv.numpy()))
    right = sum(float(np.sum(g.numpy() * v)) for g, v in zip(jtu, vs))
    rel = 1e-6 if "Cast" in row.covers else 1e-9  # a float32 round trip rounds both sides
    assert left == pytest.approx(right, rel=rel, abs=rel)


def test_every_primitive_has_a_jvp_rule():
    import chainrule.nn.functional  # noqa: F401 - registers the nn primitives

    missing = sorted(name for name, cls in PRIMITIVES.items() if cls.jvp is Node.jvp)
    assert not missing, f"primitives with no jvp rule: {missing}"


def test_every_primitive_states_its_jvp():
    for name, cls in PRIMITIVES.items():
        paragraphs = [p.strip() for p in (cls.__doc__ or "").split("\n\n")]
        assert any(p.startswith("jvp: d") for p in paragraphs), f"{name}: no 'jvp: ...' rule"
