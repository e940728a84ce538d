"""The planted problems of issue 18, each found and flagged, and each number the monitor
reports checked against the same statistic computed by hand from the tensors here."""

import math

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.optim as optim
from chainrule.health import Monitor
from chainrule.health.records import read
from chainrule.train.loop import run
from chainrule.train.recipes import recipe_for

from .helpers import batch, by_name, forward_to, mlp, step


def _only(warnings, signal):
    found = [w for w in warnings if w.signal == signal]
    assert len(found) == 1, warnings
    return found[0]


def test_tanh_weights_times_5_saturate_over_90_percent_and_are_flagged():
    # The digits as their file stores them, pixel counts 0..16, into a tanh MLP whose
    # default weights are scaled x5. (With the fan-in scaled default init and inputs of
    # unit scale, x5 saturates 40-65 %, flagged too: see the next test.)
    model = mlp([64, 64, 64], nn.Tanh)
    with cr.no_grad():
        for p in model.parameters():
            p *= 5
    xb, yb = batch(0, scale=16)
    a2, a4 = forward_to(model, "2", xb), forward_to(model, "4", xb)
    logits = forward_to(model, "5", xb)
    logp = logits.astype(np.float64) - np.log(np.exp(logits.astype(np.float64)).sum(1,
                                                                                     keepdims=True))
    want_loss = -logp[np.arange(32), yb.numpy()].mean()
    monitor = Monitor(model, every=1, log=None)
    record = step(model, optim.SGD(model.parameters(), lr=0.01), monitor, xb, yb)

    first = by_name(record["activations"], "layer", "2")
    sat = np.mean(np.abs(a2.astype(np.float64)) > 0.97)
    assert sat > 0.9
    assert first["kind"] == "tanh"
    assert first["saturated"] == pytest.approx(sat, rel=1e-12)
    assert first["mean"] == pytest.approx(a2.astype(np.float64).mean(), rel=1e-9)
    assert first["std"] == pytest.approx(a2.astype(np.float64).std(), rel=1e-9)
    assert first["amplifier"] == pytest.approx((1 - a2.astype(np.float64) ** 2).mean(),
                                               rel=1e-9)
    second = by_name(record["activations"], "layer", "4")
    assert second["saturated"] == pytest.approx(np.mean(np.abs(a4) > 0.97), rel=1e-12)

    w = [w for w in monitor.warnings if w.layer == "2"][0]
    assert (w.signal, w.step, w.value) == ("saturated", 0, first["saturated"])
    assert w.message.startswith(f"layer 2: {100 * sat:.0f} % of tanh units saturated: "
                                "gradients through them are multiplied by < 0.06; help: ")
    initial = _only(monitor.warnings, "initial_loss")
    assert initial.value == pytest.approx(want_loss, rel=1e-5)
    assert record["initial_loss"]["expected"] == pytest.approx(math.log(10))


def test_tanh_weights_times_5_on_unit_inputs_are_flagged_and_the_default_is_not():
    def saturation(mult):
        model = mlp([64, 64, 64], nn.Tanh)
        with cr.no_grad():
            for p in model.parameters():
                p *= mult
        xb, yb = batch(0)
        xs = (xb.numpy() - 0.5) / 0.4  # about unit scale
        monitor = Monitor(model, every=1, log=None)
        record = step(model, optim.SGD(model.parameters(), lr=0.01), monitor, cr.tensor(xs),
                      yb)
        return record["activations"], [w.signal for w in monitor.warnings]

    acts, flags = saturation(5)
    assert max(a["saturated"] for a in acts) > 0.5 and "saturated" in flags
    acts, flags = saturation(1)
    assert max(a["saturated"] for a in acts) < 0.05 and flags == []


def test_relu_with_bias_minus_10_is_all_dead_and_flagged():
    model = mlp([64, 64], nn.ReLU)
    with cr.no_grad():
        model[1].bias.fill_(-10.0)
    opt = optim.SGD(model.parameters(), lr=0.01)
    monitor = Monitor(model, every=2, log=None)
    monitor.new_epoch()
    records = [step(model, opt, monitor, *batch(i)) for i in range(5)]
    seen = [batch(i)[0] for i in (0, 2, 4)]  # the sampled steps' batches
    active = np.zeros(64, dtype=bool)
    for x in seen:
        active |= (forward_to(model, "2", x) > 0).any(axis=0)
    relu = [by_name(r["activations"], "layer", "2") for r in records if r is not None]
    assert [r["samples"] for r in relu] == [32, 64, 96]
    assert relu[-1]["dead"] == pytest.approx(1 - active.mean()) == 1.0
    assert relu[-1]["zero"] == 1.0 and relu[-1]["amplifier"] == 0.0
    # no gradient reaches the dead layer's weights
    assert by_name(records[-1]["params"], "name", "1.weight")["grad_norm"] == 0.0
    w = _only(monitor.warnings, "dead")
    assert (w.layer, w.step, w.value) == ("2", 0, 1.0)  # once, while it stays dead
    assert w.message.startswith("layer 2: 100 % of ReLU units dead (never active for the 32 "
                                "samples seen this epoch)")
    assert "help: " in w.message


def test_sgd_with_lr_1_has_an_update_ratio_far_above_1e_3_and_is_flagged():
    model = mlp([64, 64], nn.ReLU)
    opt = optim.SGD(model.parameters(), lr=1.0)
    monitor = Monitor(model, every=5, log=None)
    for i in range(10):
        step(model, opt, monitor, *batch(i))
    w1 = model[1].weight
    before = w1.numpy().astype(np.float64)
    record = step(model, opt, monitor, *batch(10))
    after, grad = w1.numpy().astype(np.float64), w1.grad.numpy().astype(np.float64)
    want = math.log10((after - before).std() / before.std())
    p = by_name(record["params"], "name", "1.weight")
    assert p["update_ratio"] == pytest.approx(want, rel=1e-12)
    # plain SGD: the real update is lr * grad (up to float32 rounding)
    assert p["update_ratio"] == pytest.approx(math.log10(grad.std() / before.std()), abs=1e-4)
    assert p["grad_norm"] == pytest.approx(np.sqrt((grad ** 2).sum()), rel=1e-12)
    assert p["grad_data_ratio"] == pytest.approx(grad.std() / before.std(), rel=1e-12)
    assert want > -1
    flagged = [w for w in monitor.warnings if w.signal == "update_ratio"]
    assert {w.layer for w in flagged} >= {"1"} and {w.step for w in flagged} == {10}
    assert flagged[0].message.startswith("layer 1 (1.weight): update-to-data ratio 10^")
    assert flagged[0].message.endswith("help: lower the learning rate")


def test_the_update_ratio_is_the_real_update_with_momentum():
    model = mlp([64, 16], nn.ReLU)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    monitor = Monitor(model, every=1, log=None)
    step(model, opt, monitor, *batch(0))
    w = model[1].weight
    before = w.numpy().astype(np.float64)
    record = step(model, opt, monitor, *batch(1))
    after, grad = w.numpy().astype(np.float64), w.grad.numpy().astype(np.float64)
    got = by_name(record["params"], "name", "1.weight")["update_ratio"]
    assert got == pytest.approx(math.log10((after - before).std() / before.std()), rel=1e-12)
    assert abs(got - math.log10(0.1 * grad.std() / before.std())) > 0.05  # not lr * grad


def test_a_10_layer_sigmoid_mlp_has_vanishing_gradients_and_is_flagged():
    model = mlp([64] * 11, nn.Sigmoid)
    monitor = Monitor(model, every=1, log=None)
    record = step(model, optim.SGD(model.parameters(), lr=0.1), monitor, *batch(0))
    first, last = model[1].weight.grad.numpy(), model[21].weight.grad.numpy()

    def rms(g):
        return np.sqrt((g.astype(np.float64) ** 2).mean())

    ratio = rms(first) / rms(last)
    assert ratio < 1e-4  # orders of magnitude
    assert by_name(record["params"], "name", "1.weight")["grad_rms"] == pytest.approx(
        rms(first), rel=1e-12)
    w = _only(monitor.warnings, "vanishing")
    assert (w.layer, w.step) == ("1", 0)
    assert w.value == pytest.approx(ratio, rel=1e-12)
    assert w.message.startswith(f"layer 1: gradient {1 / ratio:.2g} times smaller than at "
                                "layer 21")
    assert "help: ReLU instead of sigmoid/tanh" in w.message
    assert [w.signal for w in monitor.warnings] == ["vanishing"]  # and nothing else


def test_a_confident_last_layer_is_flagged_by_the_initial_loss():
    model = mlp([64, 32], nn.ReLU)
    with cr.no_grad():
        model[3].weight *= 40
    xb, yb = batch(0)
    logits = forward_to(model, "3", xb).astype(np.float64)
    logp = logits - np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1, keepdims=True)) \
        - logits.max(1, keepdims=True)
    want = -logp[np.arange(32), yb.numpy()].mean()
    monitor = Monitor(model, every=1, log=None)
    step(model, optim.SGD(model.parameters(), lr=0.01), monitor, xb, yb)
    w = _only(monitor.warnings, "initial_loss")
    assert w.value == pytest.approx(want, rel=1e-5) and want > 1.5 * math.log(10)
    assert w.layer == "" and w.message.startswith("initial loss ")


@pytest.mark.parametrize("every", [1, 50])
def test_the_digits_default_recipe_raises_no_flag(tmp_path, every):
    recipe = recipe_for("digits", "mlp", epochs=3)
    run(recipe, tmp_path / "run", show_progress=False, health_every=every,
        console=_quiet_console())
    loaded = read(tmp_path / "run")
    steps = [r["step"] for r in loaded.records]
    per_epoch = -(-1212 // 32)
    assert steps == list(range(0, 3 * per_epoch, every))
    assert loaded.warnings == []
    first = loaded.records[0]
    assert first["initial_loss"]["loss"] < 1.5 * math.log(10)
    assert (tmp_path / "run" / "health.png").stat().st_size > 10_000


def _quiet_console():
    import io

    from rich.console import Console

    return Console(file=io.StringIO())
