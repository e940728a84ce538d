"""A session on the real engine: training lowers the loss, settings rebuild or keep the
network, stop conditions, divergence, hand-edited weights, and two threads at once."""

import json
import threading

import numpy as np
import pytest

from chainrule.playground import Diverged, Session, Sessions
from chainrule.playground.config import ConfigError
from chainrule.playground.session import MAX_HISTORY


def _weights(session):
    return [np.array(layer["weight"]) for layer in session.net.to_layers()]


def test_training_lowers_the_loss_on_xor():
    s = Session({"dataset": "xor", "hidden": [6, 6]})
    before = s.loss
    s.step(40)
    assert s.step_count == 40
    assert s.loss < 0.25 * before and s.accuracy > 0.95 and s.test_accuracy > 0.9


def test_training_lowers_the_loss_on_spiral():
    s = Session({"dataset": "spiral", "features": ["x1", "x2", "sinx1", "sinx2"],
                 "hidden": [8, 8], "lr": 0.1, "points": 200})
    before = s.loss
    s.step(100)
    assert s.loss < 0.2 * before and s.accuracy > 0.9 and s.test_accuracy > 0.85


def test_three_classes_learn_with_softmax_and_cross_entropy():
    s = Session({"dataset": "gauss3", "hidden": [4]})
    assert s.net.activations[-1] == "softmax" and s.net.sizes[-1] == 3
    before = s.loss
    s.step(20)
    assert s.loss < 0.5 * before and s.accuracy > 0.9


def test_regression_learns_the_plane():
    s = Session({"dataset": "plane", "hidden": [3], "lr": 0.01})
    assert s.net.activations[-1] == "linear" and s.accuracy is None
    before = s.loss
    s.step(20)
    assert s.loss < 0.1 * before


@pytest.mark.parametrize("kind", ["l1", "l2"])
def test_the_penalty_adds_its_gradient_to_the_weights_only(kind):
    """One SGD step on one batch: with the penalty, each weight moves by
    lr * reg_rate * dR/dw more (w for L2, sign(w) for L1); biases move the same."""
    plain = Session({"dataset": "xor", "hidden": [6]})
    penalised = Session({"dataset": "xor", "hidden": [6], "regularization": kind,
                         "reg_rate": 0.3})
    batch = plain.next_order[:10]
    before = plain.net.to_layers()
    for s in (plain, penalised):
        c = s.config
        s.net.train_epoch(s.inputs, s.data.labels, batch, 10, c["lr"], c["regularization"],
                          c["reg_rate"])
    for w0, a, b in zip(before, plain.net.to_layers(), penalised.net.to_layers()):
        w = np.array(w0["weight"])
        push = w if kind == "l2" else np.sign(w)
        np.testing.assert_allclose(np.array(a["weight"]) - np.array(b["weight"]),
                                   0.03 * 0.3 * push, rtol=1e-9, atol=1e-15)
        assert a["bias"] == b["bias"]


def test_a_seed_is_a_whole_run_reset_returns_to_it_regenerate_moves_on():
    a, b = Session({"dataset": "circle"}), Session({"dataset": "circle"})
    a.step(3)
    b.step(3)
    assert json.dumps(a.state()) == json.dumps(b.state())
    start = _weights(Session({"dataset": "circle"}))
    a.reset()
    assert a.step_count == 0 and all(np.array_equal(x, y) for x, y in zip(_weights(a), start))
    a.regenerate()
    assert a.config["seed"] == 1 and not np.array_equal(a.data.x, b.data.x)


def test_settings_that_shape_the_network_rebuild_it_others_keep_it():
    s = Session({"dataset": "xor"})
    s.step(2)
    s.configure({"lr": 0.1, "batch_size": 20, "regularization": "l2", "stop_epochs": 9})
    assert s.step_count == 2
    s.configure({"hidden": [3]})
    assert s.step_count == 0 and s.net.sizes == [2, 3, 1]


def test_a_refused_setting_changes_nothing():
    s = Session()
    before = json.dumps(s.state())
    with pytest.raises(ConfigError):
        s.configure({"lr": 0.1, "hidden": [99]})
    with pytest.raises(ConfigError):
        s.configure({"dataset": "csv"})  # nothing uploaded
    assert json.dumps(s.state()) == before


def test_stop_conditions_pause_the_play():
    s = Session({"dataset": "gauss", "stop_epochs": 3})
    assert [s.play_step() for _ in range(3)] == [None, None, "stop_epochs"]
    s.configure({"stop_epochs": 0, "stop_loss": 10.0})
    assert s.play_step() == "stop_loss" and s.state()["stopped"] == "stop_loss"


def test_divergence_is_reported_never_nan_in_json():
    s = Session({"dataset": "plane", "activation": "linear", "hidden": [8, 8], "lr": 10.0})
    with pytest.raises(Diverged):
        s.step(20)
    state = s.state()
    assert state["diverged"] and state["loss"] is None and state["layers"] is None
    json.dumps(state, allow_nan=False)
    assert s.play_step() == "diverged"
    s.configure({"lr": 0.001})
    s.reset()
    assert not s.diverged and s.loss is not None


def test_a_weight_edited_by_hand():
    s = Session({"dataset": "xor", "hidden": [2]})
    s.set_weight(0, 1, 0, 2.5)
    s.set_weight(1, 0, "bias", -0.75)
    layers = s.net.to_layers()
    assert layers[0]["weight"][1][0] == 2.5 and layers[1]["bias"][0] == -0.75
    for args, field in [((2, 0, 0, 1.0), "layer"), ((0, 2, 0, 1.0), "to"),
                        ((0, 0, 5, 1.0), "from"), ((0, 0, "x", 1.0), "from"),
                        ((0, 0, 0, float("inf")), "value"), ((0, 0, 0, "1"), "value")]:
        with pytest.raises(ConfigError) as e:
            s.set_weight(*args)
        assert e.value.field == field


def test_the_history_stays_bounded_and_keeps_the_latest():
    s = Session({"dataset": "gauss", "points": 20, "hidden": [1]})
    s.step(MAX_HISTORY + 10)
    assert len(s.history) <= MAX_HISTORY
    assert s.history[-1][0] == s.step_count and s.history[0][0] == 0


def test_two_threads_stepping_one_session_never_lose_a_step():
    s = Session({"dataset": "xor", "hidden": [3]})
    errors = []

    def work():
        try:
            for _ in range(10):
                s.step(1)
                s.state()
                s.ledger(0)
        except Exception as e:  # pragma: no cover - the failure this test looks for
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and s.step_count == 20 and len(s.history) == 21


def test_sessions_are_separate_and_bounded():
    store = Sessions()
    a, b = store.get("a"), store.get("b")
    a.step(2)
    assert b.step_count == 0 and store.get("a") is a
    for i in range(Sessions.MAX_SESSIONS + 5):
        store.get(f"tab-{i}")
    assert len(store) == Sessions.MAX_SESSIONS and store.get("a") is not a


def test_sessions_from_two_threads():
    store = Sessions()
    got = {}

    def work(name):
        got[name] = [store.get(name) for _ in range(20)]

    threads = [threading.Thread(target=work, args=(n,)) for n in ("x", "y")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(s is got["x"][0] for s in got["x"]) and got["x"][0] is not got["y"][0]
