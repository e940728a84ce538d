"""``health.Monitor`` of a model on another library: the statistics come from host copies
of what a sampled step reads, so the records equal those of the same run on NumPy to float
rounding, and the training itself is the same with the monitor as without."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.health import Monitor
from chainrule.nn import functional as F

from ..ops.backends import BACKENDS, device, put


def _run(backend, monitored=True, steps=5):
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 12), nn.Tanh(), nn.Linear(12, 12), nn.ReLU(),
                          nn.Linear(12, 8), nn.Sigmoid(), nn.Linear(8, 8),
                          nn.GELU(approximate="tanh"), nn.Linear(8, 3))
    model.to(backend, device=device(backend))
    opt = cr.optim.Adam(model.parameters(), lr=0.05)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((16, 6)).astype(np.float32)
    y = rng.integers(0, 3, 16)
    x = cr.tensor(x if backend == "numpy" else put(x, backend))
    monitor = Monitor(model, every=2, log=None, enabled=monitored)
    with monitor:
        for _ in range(steps):
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            monitor.step(loss, opt)
    return monitor.records, [p.numpy() for p in model.parameters()]


def _numbers(record, prefix=""):
    """Every (path, value) leaf of a record."""
    if isinstance(record, dict):
        for k, v in record.items():
            yield from _numbers(v, f"{prefix}/{k}")
    elif isinstance(record, list):
        for i, v in enumerate(record):
            yield from _numbers(v, f"{prefix}[{i}]")
    else:
        yield prefix, record


@pytest.mark.parametrize("backend", BACKENDS)
def test_records_equal_numpys(backend):
    ref, _ = _run("numpy")
    got, _ = _run(backend)
    assert [r["step"] for r in got] == [r["step"] for r in ref] == [0, 2, 4]
    assert all(r["activations"] and r["params"] for r in got)
    for r, e in zip(got, ref):
        ours, theirs = dict(_numbers(r)), dict(_numbers(e))
        assert ours.keys() == theirs.keys()
        for path, value in theirs.items():
            if isinstance(value, float):
                assert ours[path] == pytest.approx(value, rel=1e-4, abs=1e-6), path
            else:
                assert ours[path] == value, path


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_monitor_changes_no_number(backend):
    _, watched = _run(backend, monitored=True)
    _, plain = _run(backend, monitored=False)
    for a, b in zip(watched, plain):
        assert np.array_equal(a, b)
