"""The Monitor as a PyTorch user would drive it: sampling, hooks only when sampling, no
change to training, bad input, two threads, and the amplifiers against PyTorch's."""

import threading

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
import chainrule.optim as optim
from chainrule.health import Monitor
from chainrule.train.loop import fit

from .helpers import X, Y, batch, by_name, forward_to, hooks_on, mlp, step


def test_records_come_on_every_nth_step_only():
    model = mlp([64, 16], nn.ReLU)
    opt = optim.SGD(model.parameters(), lr=0.1)
    monitor = Monitor(model, every=3, log=None)
    got = [step(model, opt, monitor, *batch(i)) for i in range(8)]
    assert [r is not None for r in got] == [i % 3 == 0 for i in range(8)]
    assert [r["step"] for r in monitor.records] == [0, 3, 6]
    assert monitor.records[0]["loss"] == pytest.approx(got[0]["loss"])


def test_hooks_exist_only_for_a_sampled_steps_forward():
    model = mlp([64, 16, 16], nn.ReLU)
    opt = optim.SGD(model.parameters(), lr=0.1)
    assert hooks_on(model) == 0
    with Monitor(model, every=3, log=None) as monitor:
        armed = 2 + 2  # the model's pre-hook and hook, one hook per ReLU
        assert hooks_on(model) == monitor.hooks == armed  # step 0 is sampled
        model(batch(0)[0])  # its forward runs: the hooks are gone at once
        assert hooks_on(model) == 0
        seen = []
        for i in range(7):
            step(model, opt, monitor, *batch(i))
            seen.append(hooks_on(model))
        # armed only when the next step is sampled: after steps 2 and 5 (for 3 and 6)
        assert seen == [0, 0, armed, 0, 0, armed, 0]
    assert hooks_on(model) == 0  # closed


def test_off_means_no_hook_at_all_and_nothing_recorded():
    model = mlp([64, 16], nn.ReLU)
    opt = optim.SGD(model.parameters(), lr=0.1)
    monitor = Monitor(model, every=1, enabled=False)
    for i in range(3):
        assert step(model, opt, monitor, *batch(i)) is None
        assert hooks_on(model) == 0
    assert monitor.records == [] and monitor.warnings == []
    fit(model, opt, (X[:64], Y[:64]), (X[:32], Y[:32]), epochs=1, log=None)
    assert hooks_on(model) == 0


def test_training_is_bitwise_the_same_with_and_without_a_monitor():
    def train(watch):
        model = mlp([64, 32, 32], nn.Tanh)
        opt = optim.Adam(model.parameters(), lr=1e-2)
        monitor = Monitor(model, every=1, log=None) if watch else None
        for i in range(5):
            step(model, opt, monitor, *batch(i))
        return {k: v.numpy().copy() for k, v in model.state_dict().items()}

    plain, watched = train(False), train(True)
    for k in plain:
        assert plain[k].tobytes() == watched[k].tobytes(), k


def test_fit_steps_a_monitor_given_to_it():
    model = mlp([64, 16], nn.ReLU)
    monitor = Monitor(model, every=2, log=None)
    fit(model, optim.SGD(model.parameters(), lr=0.1), (X[:96], Y[:96]), (X[:32], Y[:32]),
        epochs=2, log=None, monitor=monitor)
    assert [(r["step"], r["epoch"]) for r in monitor.records] == [(0, 1), (2, 1), (4, 2)]


def test_an_evaluation_pass_before_the_training_forward_is_not_measured():
    model = mlp([64, 16], nn.ReLU)
    opt = optim.SGD(model.parameters(), lr=0.1)
    monitor = Monitor(model, every=1, log=None)
    xb, yb = batch(0)
    want = forward_to(model, "2", xb)
    with cr.no_grad():
        model(batch(5)[0])  # evaluation under no_grad
    model.eval()
    model(batch(6)[0])  # and in eval mode
    model.train()
    record = step(model, opt, monitor, xb, yb)
    relu = by_name(record["activations"], "layer", "2")
    assert relu["mean"] == pytest.approx(want.astype(np.float64).mean(), rel=1e-12)


def test_another_threads_forward_on_the_same_model_is_not_measured():
    model = mlp([64, 16], nn.ReLU)
    opt = optim.SGD(model.parameters(), lr=0.1)
    monitor = Monitor(model, every=1, log=None)
    xb, yb = batch(0)
    want = forward_to(model, "2", xb)
    other = threading.Thread(target=lambda: model(batch(7)[0]))
    other.start()
    other.join()
    relu = by_name(step(model, opt, monitor, xb, yb)["activations"], "layer", "2")
    assert relu["mean"] == pytest.approx(want.astype(np.float64).mean(), rel=1e-12)


def test_two_threads_each_with_its_own_model_and_monitor():
    # The models are made before the threads start: their initial weights come from the
    # process-wide generator (as PyTorch's), which two threads drawing at once would split.
    def train(out, key, model):
        opt = optim.SGD(model.parameters(), lr=0.5)
        monitor = Monitor(model, every=1, log=None)
        for i in range(6):
            step(model, opt, monitor, *batch(i))
        out[key] = monitor.records

    alone, together = {}, {}
    train(alone, "a", mlp([64, 32], nn.Tanh, seed=1))
    threads = [threading.Thread(target=train, args=(together, k, mlp([64, 32], nn.Tanh, seed=1)))
               for k in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert together["a"] == together["b"] == alone["a"]


def test_one_monitor_per_model():
    model = mlp([64, 16], nn.ReLU)
    first = Monitor(model, log=None)
    with pytest.raises(RuntimeError, match="already has a health monitor.*help: close"):
        Monitor(model)
    first.close()
    first.close()  # twice is harmless
    Monitor(model, log=None).close()
    with pytest.raises(RuntimeError, match="closed. help:"):
        first.step(cr.tensor(1.0))


@pytest.mark.parametrize("kwargs, match", [
    ({"every": 0}, "every must be a whole number >= 1"),
    ({"every": 2.5}, "every must be a whole number"),
    ({"every": True}, "every must be a whole number"),
    ({"start_step": -1}, "start_step must be"),
    ({"num_classes": -2}, "num_classes must be"),
])
def test_bad_arguments_say_what_is_wrong(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Monitor(mlp([64, 8], nn.ReLU), **kwargs)


def test_a_model_that_is_not_a_module_is_refused_with_help():
    with pytest.raises(TypeError, match="expected an nn.Module, got function. help:"):
        Monitor(lambda x: x)


def test_warnings_come_once_per_crossing_and_go_to_log():
    model = mlp([64, 32], nn.ReLU)
    opt = optim.SGD(model.parameters(), lr=0.0)  # the weights stay: only the bias moves
    lines = []
    monitor = Monitor(model, every=1, log=lines.append)
    for bias in (-10.0, -10.0, 10.0, -10.0):
        monitor.new_epoch()
        with cr.no_grad():
            model[1].bias.fill_(bias)
        step(model, opt, monitor, *batch(0))
    dead = [w for w in monitor.warnings if w.signal == "dead"]
    assert [w.step for w in dead] == [0, 3]
    assert lines == [f"health warning: {w.message}" for w in monitor.warnings]
    assert [r["activations"][0]["dead"] for r in monitor.records] == [1.0, 1.0, 0.0, 1.0]


def test_dead_counts_the_units_never_active_since_the_epoch_began():
    model = mlp([64, 8], nn.ReLU)
    opt = optim.SGD(model.parameters(), lr=0.0)
    monitor = Monitor(model, every=1, log=None)
    with cr.no_grad():
        model[1].weight.fill_(0.0)
        model[1].bias.copy_(cr.tensor(np.array([1, 1, 1, 1, -1, -1, -1, -1], np.float32)))
    monitor.new_epoch()
    step(model, opt, monitor, *batch(0))
    with cr.no_grad():
        model[1].bias.fill_(-1.0)
    second = step(model, opt, monitor, *batch(1))
    monitor.new_epoch()
    third = step(model, opt, monitor, *batch(2))
    assert monitor.records[0]["activations"][0]["dead"] == 0.5
    assert second["activations"][0]["dead"] == 0.5  # active earlier this epoch: not dead
    assert second["activations"][0]["zero"] == 1.0
    assert third["activations"][0]["dead"] == 1.0 and third["epoch"] == 2


def test_keep_false_returns_records_and_keeps_none():
    model = mlp([64, 8], nn.ReLU)
    monitor = Monitor(model, every=1, log=None, keep=False)
    assert step(model, optim.SGD(model.parameters(), lr=0.1), monitor, *batch(0)) is not None
    assert monitor.records == []


def test_the_initial_loss_check_takes_the_classes_from_the_output_or_is_skipped():
    model = mlp([64, 8], nn.ReLU)
    monitor = Monitor(model, every=1, log=None)
    record = step(model, optim.SGD(model.parameters(), lr=0.1), monitor, *batch(0))
    assert record["initial_loss"]["classes"] == 10
    model = mlp([64, 8], nn.ReLU)
    monitor = Monitor(model, every=1, log=None, num_classes=0)
    assert step(model, optim.SGD(model.parameters(), lr=0.1), monitor,
                *batch(0))["initial_loss"] is None


class _Functional(nn.Module):
    """F.relu in forward: no activation module for a hook to see."""

    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(64, 16), nn.Linear(16, 10)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


def test_a_functional_activation_has_no_statistics_but_its_parameters_do():
    model = _Functional()
    monitor = Monitor(model, every=1, log=None)
    record = step(model, optim.SGD(model.parameters(), lr=0.1), monitor, *batch(0))
    assert record["activations"] == []
    assert [p["name"] for p in record["params"]] == ["fc1.weight", "fc1.bias", "fc2.weight",
                                                     "fc2.bias"]
    assert by_name(record["params"], "name", "fc1.weight")["layer"] == "fc1"


def test_a_conv_relu_counts_each_channel_and_position_as_a_unit():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(),
                          nn.Linear(4 * 8 * 8, 10))
    xb, yb = batch(0)
    x = cr.tensor(xb.numpy().reshape(32, 1, 8, 8))
    a = forward_to(model, "1", x)
    monitor = Monitor(model, every=1, log=None)
    relu = step(model, optim.SGD(model.parameters(), lr=0.1), monitor, x, yb)["activations"][0]
    assert relu["units"] == 4 * 8 * 8
    assert relu["dead"] == pytest.approx(1 - (a > 0).any(axis=0).mean())


@pytest.mark.parametrize("make, torch_fn", [
    (nn.Tanh, torch.tanh), (nn.Sigmoid, torch.sigmoid), (nn.ReLU, torch.relu),
    (lambda: nn.LeakyReLU(0.2), lambda z: torch.nn.functional.leaky_relu(z, 0.2)),
    (nn.GELU, torch.nn.functional.gelu),
    (lambda: nn.GELU("tanh"), lambda z: torch.nn.functional.gelu(z, approximate="tanh")),
])
def test_the_amplifier_is_pytorchs_derivative(make, torch_fn):
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32, dtype=cr.float64), make(),
                          nn.Linear(32, 10, dtype=cr.float64))
    xb, yb = batch(0)
    x = cr.tensor(xb.numpy().astype(np.float64) * 4 - 2)
    z = torch.tensor(forward_to(model, "0", x), requires_grad=True)
    (slope,) = torch.autograd.grad(torch_fn(z).sum(), z)
    monitor = Monitor(model, every=1, log=None)
    record = step(model, optim.SGD(model.parameters(), lr=0.1), monitor, x, yb)
    got = record["activations"][0]["amplifier"]
    assert got == pytest.approx(slope.numpy().mean(), rel=1e-12, abs=1e-15)


def test_a_wrong_loss_argument_is_refused_with_help_on_any_step():
    model = mlp([64, 8], nn.ReLU)
    opt = optim.SGD(model.parameters(), lr=0.1)
    monitor = Monitor(model, every=50, log=None)
    with pytest.raises(TypeError, match="got SGD. help: monitor.step\\(loss, optimizer\\)"):
        monitor.step(opt)  # the arguments swapped
    with pytest.raises(ValueError, match="shape \\(3,\\). help: pass the loss"):
        monitor.step(cr.tensor([1.0, 2.0, 3.0]), opt)
    monitor.step(1.5, opt)
    assert monitor.step(np.float32(2.0), opt) is None  # step 1: not sampled


def test_the_users_own_hooks_stay_and_closing_frees_the_model():
    model = mlp([64, 8], nn.ReLU)
    seen = []
    handle = model[2].register_forward_hook(lambda m, a, o: seen.append(o.shape))
    monitor = Monitor(model, every=1, log=None)
    step(model, optim.SGD(model.parameters(), lr=0.1), monitor, *batch(0))
    monitor.close()
    assert hooks_on(model) == 1 and "_health_monitor" not in model.__dict__
    model(batch(1)[0])
    assert seen == [(32, 8), (32, 8)]
    handle.remove()
