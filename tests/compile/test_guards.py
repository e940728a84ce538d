"""The guards of a compiled step (one generated function per recording, lower.guard) and
the lowered optimizer and zero_grad lines: every guard still fires, a replay whose
optimizer changed falls back to the recorded call, and the result stays bitwise eager."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule import optim
from chainrule.compile import CompileWarning


def _data(n=4, seed=0):
    rng = np.random.default_rng(seed)
    return [(cr.tensor(rng.standard_normal((6, 3)).astype(np.float32)),
             cr.tensor(rng.integers(0, 2, 6))) for _ in range(n)]


def _train(compiled, between=None, steps=4, make_opt=None, zero=True):
    """Train a small MLP from seed 2; ``between(k, model, opt)`` runs before step k."""
    cr.manual_seed(2)
    model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2))
    opt = (make_opt or (lambda p: optim.SGD(p, lr=0.1)))(list(model.parameters()))

    def step(x, y):
        if zero:
            opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    if compiled:
        step = cr.compile(step)
    losses = []
    for k, (x, y) in enumerate(_data(steps)):
        if between is not None:
            between(k, model, opt)
        losses.append(step(x, y).data.copy())
    out = losses + [p.data.copy() for p in model.parameters()]
    out += [p.grad.data.copy() for p in model.parameters() if p.grad is not None]
    return out, step, opt


def _same(between=None, **kw):
    eager, _, _ = _train(False, between, **kw)
    got, step, opt = _train(True, between, **kw)
    assert len(eager) == len(got)
    for a, b in zip(eager, got):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    return step, opt


def test_plain_sgd_and_zero_grad_replay_as_lines_without_the_optimizer():
    calls = []

    def spy(k, model, opt):
        if k == 2:  # recorded (0) and lowered (1): from now on, the lines
            opt._update = lambda *a: calls.append(a)  # would do nothing: a wrong result

    step, opt = _same()
    (plan,) = step._plans
    assert "np.multiply" in plan.run.source and "._grad = None" in plan.run.source
    got, step, opt = _train(True, spy)
    assert step.stats["replays"] == 3 and calls == []


@pytest.mark.parametrize("change", [
    lambda opt, model: opt.param_groups[0].update(momentum=0.9),
    lambda opt, model: opt.param_groups[0].update(weight_decay=0.01),
    lambda opt, model: opt.add_param_group({"params": [cr.tensor(np.ones(2, np.float32),
                                                                 requires_grad=True)]}),
    lambda opt, model: opt.param_groups[0]["params"].pop(),
    lambda opt, model: opt.state.clear(),
    lambda opt, model: setattr(opt, "state", {}),
], ids=["momentum", "weight-decay", "new-group", "fewer-params", "state-cleared",
        "state-replaced"])
def test_a_changed_optimizer_runs_its_recorded_call_and_stays_bitwise(change):
    def between(k, model, opt):
        if k == 2:
            change(opt, model)

    step, _ = _same(between)
    assert step.stats["replays"] == 3  # the step replays; its optimizer call runs as eager


def test_a_gradient_of_another_dtype_takes_the_optimizer_itself():
    def between(k, model, opt):
        if k == 2:  # kept across calls (no zero_grad): eager casts it in step()
            p = next(model.parameters())
            p.grad = cr.tensor(p.grad.data.astype(np.float64))

    _same(between, zero=False)


def test_a_scheduler_outside_the_step_changes_the_replayed_lr():
    def between(k, model, opt):
        opt.param_groups[0]["lr"] = 0.1 / (k + 1)

    step, opt = _same(between)
    assert step.stats["replays"] == 3


def test_momentum_and_adam_keep_their_call():
    _same(make_opt=lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True))
    _same(make_opt=lambda p: optim.Adam(p, lr=0.01))


def test_a_module_added_to_a_sequential_is_a_guard_miss():
    model = nn.Sequential(nn.Linear(3, 3))
    forward = cr.compile(lambda x: model(x))
    x = cr.tensor(np.ones((2, 3), np.float32))
    forward(x), forward(x)
    model.append(nn.Tanh())
    assert np.array_equal(forward(x).data, model(x).data)
    assert forward.stats["records"] == 2


def test_a_hook_on_an_argument_is_a_guard_miss():
    w = cr.tensor(np.ones(3, np.float32), requires_grad=True)

    @cr.compile
    def step(x):
        (x * w).sum().backward()

    x = cr.tensor(np.ones(3, np.float32), requires_grad=True)
    step(x), step(x)
    seen = []
    x.register_hook(lambda g: seen.append(g))
    with pytest.warns(CompileWarning, match="hook"):
        step(x)
    assert len(seen) == 1


def test_a_step_eager_for_a_hook_is_not_recorded_again_on_each_call():
    model = nn.Linear(3, 2)
    model.register_forward_hook(lambda m, i, o: None)
    forward = cr.compile(lambda x: model(x))
    x = cr.tensor(np.ones((2, 3), np.float32))
    with pytest.warns(CompileWarning, match="hooks"):
        for _ in range(3):
            forward(x)
    assert forward.stats == {"records": 1, "replays": 0, "eager": 3}


@pytest.mark.parametrize("change, misses", [
    (lambda m, x: None, False),
    (lambda m, x: m.eval(), True),
    (lambda m, x: setattr(m, "weight", nn.Parameter(np.zeros((2, 3), np.float32))), True),
    (lambda m, x: setattr(m.weight, "data", np.zeros((2, 3), np.float64)), True),
    (lambda m, x: m.weight.requires_grad_(False), True),
    (lambda m, x: setattr(x, "data", np.ones((5, 3), np.float32)), True),
    (lambda m, x: setattr(x, "data", np.ones((4, 3), np.float64)), True),
])
def test_each_guard_fires_on_the_same_objects(change, misses):
    """The fast case of a loop: the same argument object and module every call; what
    changed in them in place must still miss."""
    model = nn.Linear(3, 2)
    x = cr.tensor(np.ones((4, 3), np.float32))
    forward = cr.compile(lambda x: model(x))
    forward(x), forward(x)
    change(model, x)
    assert np.array_equal(forward(x).data, model(x).data)
    assert forward.stats["records"] == (2 if misses else 1)


def test_grad_mode_and_keywords_are_guarded():
    model = nn.Linear(3, 2)
    forward = cr.compile(lambda x, scale=1.0: model(x) * scale)
    x = cr.tensor(np.ones((4, 3), np.float32))
    forward(x), forward(x)
    with cr.no_grad():
        assert forward(x).grad_fn is None
    assert forward(x, scale=2.0).data[0, 0] == 2 * forward(x).data[0, 0]
    assert forward.stats["records"] == 3  # grad on, grad off, scale=2.0 by name
    assert np.array_equal(forward(x, scale=1.0).data, forward(x).data)
    assert forward.stats["records"] == 4  # scale=1.0 by name: another call
