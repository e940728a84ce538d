"""What cr.compile cannot record runs eagerly, with a one-line reason, and gives the eager
result; and compiled steps in two threads (each its own) do not see each other."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule import optim
from chainrule.compile import CompileWarning

W = np.linspace(-1, 1, 5).astype(np.float32)


def _item(model, x, y):
    loss = F.cross_entropy(model(x), y)
    return loss * 2 if loss.item() > 0 else loss


def _branch(model, x, y):
    loss = F.cross_entropy(model(x), y)
    return loss * 2 if loss > 1 else loss


def _numpy(model, x, y):
    out = model(x)
    return F.cross_entropy(out, y) + float(out.numpy().sum()) * 0


def _hook(model, x, y):
    out = model(x)
    out.register_hook(lambda g: g * 2)
    return F.cross_entropy(out, y)


def _constant_array(model, x, y):
    return F.cross_entropy(model(x) * W, y)


def _made_tensor(model, x, y):
    return F.cross_entropy(model(x) + cr.randn(5), y)


def _in_place(model, x, y):
    with cr.no_grad():
        model.weight.mul_(0.5)
    return F.cross_entropy(model(x), y)


def _index_array(model, x, y):
    return F.cross_entropy(model(x)[np.array([0, 2, 1, 3])], y)


def _mask(model, x, y):
    out = model(x)
    return F.cross_entropy(cr.where(out > 0, out, 0.0), y)


@pytest.mark.parametrize("loss_of, reason", [
    (_item, "item()"), (_branch, "bool(t)"), (_numpy, "numpy()"), (_hook, "hook"),
    (_constant_array, "array computed outside"), (_made_tensor, "made inside the step"),
    (_in_place, "in place"), (_index_array, "GetItem"), (_mask, "cond reads an array"),
])
def test_falls_back_to_eager_with_its_reason(loss_of, reason):
    rng = np.random.default_rng(0)
    batches = [(cr.tensor(rng.standard_normal((4, 3)).astype(np.float32)),
                cr.tensor(rng.integers(0, 5, 4))) for _ in range(3)]

    def run(compiled):
        cr.manual_seed(1)
        model = nn.Linear(3, 5)
        opt = optim.SGD(model.parameters(), lr=0.1)

        def step(x, y):
            opt.zero_grad()
            loss = loss_of(model, x, y)
            loss.backward()
            opt.step()
            return loss

        if compiled:
            step = cr.compile(step)
        losses = [step(x, y).data.copy() for x, y in batches]
        return losses, [p.data.copy() for p in model.parameters()], step

    eager_losses, eager_params, _ = run(False)
    with pytest.warns(CompileWarning, match="runs eagerly") as warned:
        losses, params, compiled = run(True)
    assert len(warned) == 1  # once, not once per call
    assert reason in compiled.fallback_reason and "\n" not in compiled.fallback_reason
    assert compiled.stats == {"records": 1, "replays": 0, "eager": 3}
    for a, b in zip(eager_losses + eager_params, losses + params):
        assert np.array_equal(a, b)


def test_a_hook_on_a_parameter_added_after_recording_is_a_guard_miss():
    model = nn.Linear(3, 2)
    x = cr.tensor(np.ones((2, 3), np.float32))

    @cr.compile
    def step(x):
        model.zero_grad()
        model(x).sum().backward()

    step(x)
    step(x)
    seen = []
    model.weight.register_hook(lambda g: seen.append(g) or g * 3)
    with pytest.warns(CompileWarning, match="hook"):
        step(x)
    assert len(seen) == 1 and np.array_equal(model.weight.grad.data, 3 * seen[0].data)


def test_inside_detect_anomaly_the_step_runs_eagerly():
    model = nn.Linear(3, 2)
    forward = cr.compile(lambda x: model(x))
    x = cr.tensor(np.ones((2, 3), np.float32))
    forward(x)
    with cr.detect_anomaly():
        assert forward(x).grad_fn is not None  # eager: a graph, not a replayed value
    assert forward.stats["records"] == 1


def test_two_threads_each_with_its_compiled_step_do_not_cross_talk():
    rng = np.random.default_rng(2)
    data = {k: [(cr.tensor(rng.standard_normal((8, 6)).astype(np.float32)),
                 cr.tensor(rng.integers(0, 4, 8))) for _ in range(30)] for k in (0, 1)}

    def train(k, compiled, out):
        model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 4))
        for i, p in enumerate(model.parameters()):  # weights from k, not from the generator
            p.data[...] = np.sin(np.arange(p.data.size) + 10 * k + i).reshape(p.shape) / 4
        opt = optim.Adam(model.parameters(), lr=1e-2)

        def step(x, y):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss

        step = cr.compile(step) if compiled else step
        out[k] = [step(x, y).data.copy() for x, y in data[k]] + \
            [p.data.copy() for p in model.parameters()]

    eager: dict = {}
    for k in (0, 1):
        train(k, False, eager)
    both: dict = {}
    threads = [threading.Thread(target=train, args=(k, True, both)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in (0, 1):
        assert len(both[k]) == len(eager[k])
        for a, b in zip(eager[k], both[k]):
            assert np.array_equal(a, b)


def test_post_accumulate_hooks_make_it_eager_only_where_they_are():
    model = nn.Linear(3, 2)
    other = cr.tensor(np.ones(2), requires_grad=True)
    other.register_post_accumulate_grad_hook(lambda t: None)  # not in the step: no matter
    x = cr.tensor(np.ones((2, 3), np.float32))

    @cr.compile
    def step(x):
        model.zero_grad()
        model(x).sum().backward()

    step(x)
    step(x)
    assert step.stats["replays"] == 1
    seen = []
    model.bias.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.numpy().copy()))
    with pytest.warns(CompileWarning, match="post-accumulate"):
        step(x)
    assert len(seen) == 1 and np.array_equal(seen[0], model.bias.grad.data)


def test_a_compiled_function_under_func_jvp_runs_eagerly_and_carries_the_tangent():
    import chainrule as cr
    from chainrule import func

    @cr.compile
    def f(x):
        return (x * x).sum()

    x = cr.tensor([1.0, 2.0, 3.0], dtype="float64")
    f(x), f(x)  # recorded, then replayed
    _, tangent = func.jvp(f, (x,), (cr.tensor([1.0, 0.0, 0.0], dtype="float64"),))
    assert float(tangent.item()) == 2.0  # d/dx0 of sum(x^2) at x0 = 1


SCALE = 0.1


def test_a_python_number_read_from_a_global_or_a_closure_is_guarded():
    import chainrule as cr

    global SCALE
    SCALE = 0.1

    @cr.compile
    def from_global(x):
        return (x * SCALE).sum()

    factor = [2.0]

    def make(k):
        @cr.compile
        def from_closure(x):
            return (x * k).sum()
        return from_closure

    x = cr.tensor([1.0, 2.0], dtype="float64")
    assert float(from_global(x)) == float(from_global(x)) == float((x * 0.1).sum())
    SCALE = 0.2  # eager would read the new value: so must the compiled step
    assert float(from_global(x)) == float((x * 0.2).sum())
    assert from_global.stats["records"] == 2
    closure = make(factor[0])
    assert float(closure(x)) == float(closure(x)) == 6.0
    SCALE = 0.1


def test_clearing_a_grad_by_hand_inside_the_step_is_replayed():
    """`p.grad = None` (a PyTorch habit instead of zero_grad) is a plain attribute write:
    a replay that skipped it would add every call's gradient to the last one's."""
    w0 = np.arange(6, dtype=np.float32).reshape(2, 3) / 10

    def run(compiled):
        w = cr.tensor(w0.copy(), requires_grad=True)

        def step(x):
            w.grad = None
            (x @ w.T).tanh().sum().backward()

        step = cr.compile(step) if compiled else step
        grads = []
        for k in (1.0, 2.0, 3.0):
            step(cr.tensor(np.full((4, 3), k, np.float32)))
            grads.append(w.grad.data.copy())
        return grads, step

    eager, _ = run(False)
    replayed, step = run(True)
    assert step.stats["replays"] == 2, step.fallback_reason
    for a, b in zip(eager, replayed):
        np.testing.assert_array_equal(a, b)


def test_setting_a_grad_to_a_tensor_inside_the_step_runs_eagerly():
    w = cr.tensor(np.ones(3, np.float32), requires_grad=True)

    @cr.compile
    def step(x):
        w.grad = cr.tensor(np.zeros(3, np.float32))
        (x * w).sum().backward()

    with pytest.warns(CompileWarning, match="sets a .grad to a tensor"):
        step(cr.tensor(np.ones(3, np.float32)))
    step(cr.tensor(np.ones(3, np.float32)))
    assert step.stats["replays"] == 0 and "sets a .grad" in step.fallback_reason
    np.testing.assert_array_equal(w.grad.data, np.ones(3, np.float32))
