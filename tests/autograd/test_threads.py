"""Grad mode, anomaly mode and the module stack are per thread (STYLE habit 14)."""

import sys
import threading

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
import chainrule.optim as optim


@pytest.fixture
def tiny_switch_interval():
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter can
    yield
    sys.setswitchinterval(before)


def _data(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(32, 4))
    return cr.tensor(x), cr.tensor((x[:, 0] * x[:, 1] > 0).astype(np.int64))


def _model(seed):
    cr.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2)).double()


def _train(model, x, y, steps):
    """A training loop that evaluates under no_grad every third step, as users write it."""
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for step in range(steps):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if step % 3 == 0:
            with cr.no_grad():
                assert not model(x).requires_grad
            assert cr.is_grad_enabled()
    return losses


def test_three_threads_train_separate_models_as_if_alone(tiny_switch_interval):
    steps = 300
    seeds = (0, 1, 2)
    alone = [_train(_model(s), *_data(s), steps) for s in seeds]
    models = [_model(s) for s in seeds]
    data = [_data(s) for s in seeds]
    results, errors = {}, []

    def work(i):
        try:
            results[i] = _train(models[i], *data[i], steps)
        except BaseException as e:  # noqa: BLE001 - reported to the main thread below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for i in range(3):
        assert results[i] == alone[i]  # bitwise: nothing leaked between threads
    assert cr.is_grad_enabled()


def test_no_grad_in_one_thread_does_not_stop_recording_in_another(tiny_switch_interval):
    inside = threading.Event()
    leave = threading.Event()

    def evaluator():
        with cr.no_grad():
            inside.set()
            leave.wait(10)

    t = threading.Thread(target=evaluator)
    t.start()
    inside.wait(10)
    try:
        w = cr.tensor([1.0, 2.0], requires_grad=True)
        y = (w * w).sum()
        assert y.requires_grad and cr.is_grad_enabled()
        y.backward()
        assert w.grad.tolist() == [2.0, 4.0]
    finally:
        leave.set()
        t.join()


def test_a_new_thread_starts_with_grad_on_and_anomaly_off():
    seen = {}

    def probe():
        seen["grad"] = cr.is_grad_enabled()
        seen["anomaly"] = cr.is_anomaly_enabled()

    with cr.no_grad(), cr.detect_anomaly():
        t = threading.Thread(target=probe)
        t.start()
        t.join()
    assert seen == {"grad": True, "anomaly": False}


def test_anomaly_module_stack_is_per_thread():
    from chainrule.graph import anomaly

    seen = {}

    def probe():
        with anomaly.module_scope("other.thread"):
            seen["stack"] = list(anomaly.state.modules)

    with anomaly.module_scope("main.model"):
        t = threading.Thread(target=probe)
        t.start()
        t.join()
        assert anomaly.state.modules == ["main.model"]
    assert seen["stack"] == ["other.thread"]


def test_the_count_behind_the_fast_path_returns_to_zero(tiny_switch_interval):
    from chainrule.graph import anomaly, grad_mode

    def churn():
        for _ in range(200):
            with cr.no_grad(), cr.detect_anomaly():
                with cr.enable_grad():
                    assert cr.is_grad_enabled()
                assert not cr.is_grad_enabled()
            try:
                with cr.no_grad():
                    raise KeyError
            except KeyError:
                pass

    threads = [threading.Thread(target=churn) for _ in range(3)]
    for t in threads:
        t.start()
    churn()
    for t in threads:
        t.join()
    assert grad_mode.off == [0] and anomaly.on == [0]
    assert cr.is_grad_enabled() and not cr.is_anomaly_enabled()


def test_an_op_in_a_no_grad_thread_is_not_recorded_while_others_record():
    w = cr.tensor([1.0], requires_grad=True)
    seen = {}
    go = threading.Event()

    def inside():
        with cr.no_grad():
            go.wait(10)
            seen["y"] = (w * 2).requires_grad

    t = threading.Thread(target=inside)
    t.start()
    assert (w * 2).requires_grad  # this thread records although another has grad off
    go.set()
    t.join()
    assert seen["y"] is False


def test_set_grad_enabled_acts_as_a_call_a_context_and_a_decorator():
    w = cr.tensor([1.0], requires_grad=True)
    cr.set_grad_enabled(False)  # PyTorch's function form: acts at once
    try:
        assert not cr.is_grad_enabled() and not (w * 2).requires_grad
    finally:
        cr.set_grad_enabled(True)
    assert cr.is_grad_enabled()
    with cr.set_grad_enabled(False):
        assert not cr.is_grad_enabled()
    assert cr.is_grad_enabled()

    @cr.set_grad_enabled(False)
    def evaluate():
        return cr.is_grad_enabled()

    assert cr.is_grad_enabled()  # decorating changed nothing
    assert evaluate() is False and cr.is_grad_enabled()
    from chainrule.graph import grad_mode

    assert grad_mode.off == [0]
