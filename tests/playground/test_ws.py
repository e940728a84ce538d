"""The WebSocket: one message per epoch while playing, intents, stop conditions."""

import pytest
from starlette.websockets import WebSocketDisconnect

from chainrule.playground.protocol import VERSION


def _until(ws, kind):
    seen = []
    while True:
        msg = ws.receive_json()
        seen.append(msg)
        if msg["type"] == kind:
            return seen


def test_play_streams_steps_and_pause_stops(client):
    client.post("/api/config?session=w", json={"dataset": "xor", "hidden": [4], "speed": 0})
    with client.websocket_connect("/ws?session=w") as ws:
        assert ws.receive_json()["type"] == "hello"
        ws.send_json({"type": "play"})
        steps = [ws.receive_json() for _ in range(5)]
        assert [m["type"] for m in steps] == ["step"] * 5
        assert [m["step"] for m in steps] == [1, 2, 3, 4, 5]
        first = steps[0]
        for key in ("loss", "test_loss", "accuracy", "layers", "heatmaps", "ms", "version"):
            assert key in first
        assert first["neurons"] is None and first["sample"] is None
        ws.send_json({"type": "pause"})
        msgs = _until(ws, "paused")
        assert msgs[-1]["reason"] == "user"
    last = [m for m in steps + msgs if m["type"] == "step"][-1]["step"]
    # an epoch running when the pause came finishes; its message is not sent
    assert last <= client.get("/api/state?session=w").json()["step"] <= last + 1


def test_the_selected_point_rides_along_for_the_backward_view(client):
    with client.websocket_connect("/ws?session=sel") as ws:
        ws.receive_json()
        ws.send_json({"type": "select", "sample": 7})
        ws.send_json({"type": "play"})
        msg = ws.receive_json()
        ws.send_json({"type": "pause"})
        _until(ws, "paused")
    assert msg["sample"] == 7
    ledger = client.get("/api/ledger?session=sel&sample=7").json()
    assert msg["step"] <= client.get("/api/state?session=sel").json()["step"]
    assert {(n["layer"], n["index"]) for n in msg["neurons"]} == \
        {(n["layer"], n["index"]) for n in ledger["neurons"]}


def test_a_stop_condition_pauses_with_its_reason(client):
    client.post("/api/config?session=st", json={"stop_epochs": 3, "speed": 0})
    with client.websocket_connect("/ws?session=st") as ws:
        ws.receive_json()
        ws.send_json({"type": "play"})
        msgs = _until(ws, "paused")
    assert [m["step"] for m in msgs[:-1]] == [1, 2, 3] and msgs[-1]["reason"] == "stop_epochs"


@pytest.mark.parametrize("raw, field", [("not json", "(message)"), ('{"type": "jump"}', "type"),
                                        ('{"type": "select", "sample": "3"}', "sample"),
                                        ("[]", "type"), ("x" * 5000, "(message)")])
def test_a_bad_intent_gets_an_error_and_the_socket_lives_on(client, raw, field):
    with client.websocket_connect("/ws?session=bad") as ws:
        ws.receive_json()
        ws.send_text(raw)
        err = ws.receive_json()
        assert err["type"] == "error" and err["field"] == field
        ws.send_json({"type": "pause"})  # nothing playing: no answer, still open
        ws.send_json({"type": "play"})
        assert ws.receive_json()["type"] == "step"


def test_a_page_from_elsewhere_cannot_connect(client):
    with pytest.raises(WebSocketDisconnect) as e:
        with client.websocket_connect("/ws", headers={"Origin": "http://evil.example"}) as ws:
            ws.receive_json()
    assert e.value.code == 1008
    with pytest.raises(WebSocketDisconnect):
        with client.websocket_connect("/ws?session=no/such") as ws:
            ws.receive_json()


def test_the_page_own_origin_is_let_in(client):
    with client.websocket_connect("/ws", headers={"Origin": "http://testserver"}) as ws:
        assert ws.receive_json()["type"] == "hello"


def test_a_failing_step_is_reported_and_the_server_lives_on(client, monkeypatch):
    from chainrule.playground import protocol

    def broken(session, sample):
        raise RuntimeError("boom")

    monkeypatch.setattr(protocol, "step", broken)
    with client.websocket_connect("/ws?session=err") as ws:
        ws.receive_json()
        ws.send_json({"type": "play"})
        err, paused = ws.receive_json(), ws.receive_json()
    assert err["type"] == "error" and "boom" in err["error"] and "bug" in err["error"]
    assert paused == {"type": "paused", "version": VERSION, "reason": "error"}
    assert client.get("/api/state?session=err").status_code == 200
