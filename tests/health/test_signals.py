"""Each threshold, just below and just above, on records made by hand; and the messages."""

import math

import pytest

from chainrule.health import SIGNALS, signals
from chainrule.health.signals import Finding, findings
from chainrule.health.text import TEXT, message


def _record(step=20, acts=(), params=(), initial=None):
    return {"step": step, "activations": list(acts), "params": list(params),
            "initial_loss": initial}


def _act(kind, saturated=None, dead=None):
    return {"layer": "2", "kind": kind, "saturated": saturated, "dead": dead, "samples": 32}


def _param(name, shape, rms=1.0, update=-3.0, has_grad=True, norm=1.0):
    return {"name": name, "layer": name.rpartition(".")[0], "shape": shape,
            "grad_rms": rms, "grad_norm": norm, "update_ratio": update, "has_grad": has_grad}


def _signals(record):
    return [(f.layer, f.signal) for f in findings(record)]


@pytest.mark.parametrize("kind", ["tanh", "sigmoid"])
def test_saturated_above_half(kind):
    assert _signals(_record(acts=[_act(kind, saturated=0.5)])) == []
    assert _signals(_record(acts=[_act(kind, saturated=0.51)])) == [("2", "saturated")]


def test_dead_above_half():
    assert _signals(_record(acts=[_act("relu", dead=0.5)])) == []
    assert _signals(_record(acts=[_act("relu", dead=0.51)])) == [("2", "dead")]


def test_update_ratio_above_minus_1_for_weights_from_step_10():
    w = [_param("1.weight", [4, 4], update=-0.99), _param("1.bias", [4], update=0.5)]
    assert _signals(_record(step=10, params=w)) == [("1", "update_ratio")]
    assert _signals(_record(step=9, params=w)) == []  # Adam's first steps: lr * sign(g)
    w[0]["update_ratio"] = -1.0
    assert _signals(_record(step=10, params=w)) == []  # biases are not judged


def test_vanishing_and_exploding_compare_the_first_weight_with_the_last():
    def flow(first_rms):
        return _signals(_record(params=[_param("1.weight", [4, 4], rms=first_rms),
                                        _param("3.weight", [2, 4], rms=1.0)]))

    assert flow(0.0101) == [] and flow(99.0) == []
    assert flow(0.0099) == [("1", "vanishing")]
    assert flow(101.0) == [("1", "exploding")]
    single = _record(params=[_param("1.weight", [4, 4], rms=1e-9)])
    assert _signals(single) == []  # one weight: nothing to compare


def test_a_gradient_that_is_not_finite_is_exploding():
    record = _record(params=[_param("1.weight", [4, 4], norm=None, rms=None),
                             _param("3.weight", [2, 4])])
    (found,) = findings(record)
    assert (found.layer, found.signal, found.value) == ("1", "exploding", math.inf)
    assert message(found) == ("layer 1 (1.weight): the gradient is not finite (exploding "
                              "gradients); help: lower the learning rate, clip gradients "
                              "(nn.utils.clip_grad_norm_), or batch norm")


def test_initial_loss_above_one_and_a_half_ln_c():
    def initial(loss):
        return _signals(_record(step=0, initial={"loss": loss, "expected": math.log(10),
                                                 "classes": 10}))

    assert initial(1.5 * math.log(10)) == []
    assert initial(1.5 * math.log(10) + 1e-9) == [("", "initial_loss")]


def test_every_signal_has_a_message_and_a_fix_in_both_languages():
    facts = {"kind": "tanh", "samples": 32, "param": "1.weight", "last": "5", "rms": 1e-6,
             "last_rms": 1e-2, "loss": 9.0, "expected": 2.3, "classes": 10}
    cases = [(signal, 0.95) for signal in SIGNALS] + [("vanishing", 0.0)]  # 0: no gradient
    for signal, value in cases:
        for lang in TEXT:
            line = message(Finding("3", signal, value, facts), lang)
            assert ("help: " if lang == "en" else "建议：") in line
            assert "{" not in line, line
    assert message(Finding("1", "vanishing", 0.0, facts)).startswith(
        "layer 1: gradient 0 (at layer 5: RMS 0.01): no gradient reaches the early layers")
    assert signals.UPDATE_RATIO_HEALTHY == -3.0


def test_the_issues_example_message():
    line = message(Finding("2", "saturated", 0.96, {"kind": "tanh"}))
    assert line == ("layer 2: 96 % of tanh units saturated: gradients through them are "
                    "multiplied by < 0.06; help: smaller initial weights or batch norm")
