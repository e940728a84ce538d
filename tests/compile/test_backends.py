"""cr.compile on tensors of another library (PyTorch, array-api-strict): a replay runs
NumPy code, so the step is not recorded; it runs eagerly, says why once, and its results
are the eager step's."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.compile import CompileWarning
from chainrule.nn import functional as F

from ..ops.backends import BACKENDS, device, put


def _train(backend, compiled, report=None):
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))
    model.to(backend, device=device(backend))
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    rng = np.random.default_rng(1)

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    if compiled:
        step = cr.compile(step, report=report)
    losses = []
    for _ in range(4):
        x = cr.tensor(put(rng.standard_normal((5, 6)).astype(np.float32), backend))
        y = cr.tensor(put(rng.integers(0, 3, 5), backend))
        losses.append(cr.tensor(step(x, y)).numpy())
    return losses + [p.numpy() for p in model.parameters()], step


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_step_on_another_library_runs_eagerly_with_its_reason(backend):
    eager, _ = _train(backend, False)
    with pytest.warns(CompileWarning, match="runs eagerly") as warned:
        got, step = _train(backend, True)
    assert len(warned) == 1
    assert backend in step.fallback_reason and "\n" not in step.fallback_reason
    assert step.stats == {"records": 1, "replays": 0, "eager": 4}  # not recorded again
    for a, b in zip(eager, got):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("backend", BACKENDS)
def test_report_takes_the_reason_instead_of_a_warning(backend):
    told = []
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)
        _train(backend, True, report=told.append)
    assert len(told) == 1 and backend in told[0]


def test_parameters_of_another_library_with_numpy_arguments_run_eagerly():
    torch = pytest.importorskip("torch")
    w = cr.tensor(torch.arange(3, dtype=torch.float64), requires_grad=True)
    f = cr.compile(lambda x: ((x * 2).sum(), (w * w).sum()))
    x = cr.tensor(np.ones(3))
    with pytest.warns(CompileWarning, match="torch"):
        a, b = f(x)
    a2, b2 = f(x)
    assert float(a.item()) == float(a2.item()) == 6.0
    assert float(b.item()) == float(b2.item()) == 5.0 and b2.grad_fn is not None  # eager
    assert f.stats["eager"] == 2
