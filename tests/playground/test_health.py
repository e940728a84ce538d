"""Per-neuron training health in the playground: planted problems, each number checked
against the same statistic computed by hand (NumPy) from the network's own weights."""

import numpy as np
import pytest
from starlette.testclient import TestClient

import chainrule as cr
from chainrule.playground.server import create_app
from chainrule.playground.session import Sessions

RELU = {"dataset": "circle", "features": ["x1", "x2"], "hidden": [4, 3],
        "activation": "relu", "seed": 3}
TANH = {**RELU, "activation": "tanh"}


@pytest.fixture
def app():
    sessions = Sessions()
    with TestClient(create_app(sessions)) as c:
        yield c, sessions


def _by_hand(session, layers=None):
    """Every hidden layer's a on the training points, in NumPy from the weights (``layers``:
    as a message gave them; by default the session's now)."""
    a = session.inputs[session.data.train]
    out = []
    for layer in (layers or session.state()["layers"])[:-1]:
        z = a @ np.array(layer["weight"]).T + np.array(layer["bias"])
        a = {"relu": np.maximum(z, 0), "tanh": np.tanh(z),
             "sigmoid": 1 / (1 + np.exp(-z)), "linear": z}[layer["activation"]]
        out.append(a)
    return out


def _marks(health):
    return {(k, j): n["mark"] for k, layer in enumerate(health)
            for j, n in enumerate(layer) if n["mark"]}


def test_a_healthy_default_network_has_no_marks(app):
    client, sessions = app
    st = client.get("/api/state?session=h").json()
    assert [len(layer) for layer in st["health"]] == st["sizes"][1:-1]
    assert _marks(st["health"]) == {}
    amp = [[1 - a * a for a in col.T] for col in _by_hand(sessions.get("h"))]
    for k, layer in enumerate(st["health"]):  # tanh by default
        for j, n in enumerate(layer):
            assert n["dead"] is None
            assert n["amplifier"] == pytest.approx(amp[k][j].mean(), rel=1e-12)


def test_relu_biases_at_minus_ten_mark_the_layer_dead(app):
    client, sessions = app
    client.post("/api/config?session=r", json=RELU)
    for j in range(4):
        r = client.post("/api/weight?session=r",
                        json={"layer": 0, "to": j, "from": "bias", "value": -10})
        assert r.status_code == 200
    st = r.json()
    hand = _by_hand(sessions.get("r"))
    assert (hand[0] == 0).all()  # the plant took: no point activates layer 0
    assert [n["mark"] for n in st["health"][0]] == ["dead"] * 4
    assert all(n["dead"] is True and n["amplifier"] == 0 for n in st["health"][0])
    for j, n in enumerate(st["health"][1]):  # layer 1 gets a = 0 in, z = its bias 0.1
        assert n["dead"] == bool((hand[1][:, j] <= 0).all())
        assert n["saturated"] is None


def test_tanh_weights_times_five_on_large_inputs_mark_saturated(app):
    client, sessions = app
    client.post("/api/config?session=s", json={**TANH, "features": ["x1", "x2", "x1sq", "x2sq"]})
    session = sessions.get("s")
    with cr.no_grad():
        for layer in session.net.layers[:-1]:
            layer.weight.data[...] *= 5
    st = client.get("/api/state?session=s").json()
    hand = _by_hand(session)
    for k, layer in enumerate(st["health"]):
        for j, n in enumerate(layer):
            frac = float(np.mean(np.abs(hand[k][:, j]) > 0.97))
            assert n["saturated"] == pytest.approx(frac, abs=1e-15)
            assert n["amplifier"] == pytest.approx((1 - hand[k][:, j] ** 2).mean(), rel=1e-12)
            assert n["mark"] == ("saturated" if frac > 0.5 else None)
    assert [n["mark"] for n in st["health"][0]] == ["saturated"] * 4  # the first layer's


def test_sigmoid_tails_and_the_step_message(app):
    client, sessions = app
    client.post("/api/config?session=g", json={**TANH, "activation": "sigmoid"})
    session = sessions.get("g")
    with cr.no_grad():
        session.net.layers[0].bias.data[0] = 30  # always in the upper tail
    with client.websocket_connect("/ws?session=g") as ws:
        ws.receive_json()  # hello
        ws.send_json({"type": "play"})
        msg = ws.receive_json()
        ws.send_json({"type": "pause"})
    assert msg["type"] == "step" and msg["version"] == 2
    hand = _by_hand(session, msg["layers"])  # the epoch the message is of
    got = [[n["saturated"] for n in layer] for layer in msg["health"]]
    assert got[0][0] == 1.0 and msg["health"][0][0]["mark"] == "saturated"
    for k in range(2):
        outside = (hand[k] < 0.03) | (hand[k] > 0.97)
        assert got[k] == pytest.approx(outside.mean(axis=0).tolist(), abs=1e-15)


def test_no_health_once_the_weights_overflow(app):
    client, sessions = app
    session = sessions.get("d")
    with cr.no_grad():
        session.net.layers[0].weight.data[0, 0] = np.inf
    session._evaluate()
    assert client.get("/api/state?session=d").json()["health"] is None
