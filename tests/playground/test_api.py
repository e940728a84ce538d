"""The HTTP API in-process (Starlette's test client): every endpoint, bad input, limits."""

import json

import pytest

from chainrule.playground import heatmaps
from chainrule.playground.config import DEFAULTS
from chainrule.playground.protocol import VERSION

S = {"session": "t1"}


def post(client, path, body=None, session="t1", **kw):
    return client.post(f"{path}?session={session}", json=body, **kw)


def test_the_page_and_its_files(client):
    page = client.get("/")
    assert page.status_code == 200 and 'data-testid="play"' in page.text
    for path in ("/static/style.css", "/static/js/app.js", "/static/js/ledger.js",
                 "/static/fonts/ChainrulePlaygroundCJK-Regular.otf"):
        assert client.get(path).status_code == 200, path
    assert "javascript" in client.get("/static/js/app.js").headers["content-type"]


@pytest.mark.parametrize("path", ["/static/../server.py", "/static/%2e%2e/server.py",
                                  "/static/..%2fserver.py", "/static/js/..%2f..%2fsession.py",
                                  "/static//etc/passwd", "/server.py", "/static/"])
def test_nothing_outside_the_static_folder(client, path):
    r = client.get(path)
    assert r.status_code == 404 and "Session" not in r.text


def test_state_holds_what_the_page_draws(client):
    st = client.get("/api/state", params=S).json()
    assert st["config"] == DEFAULTS and st["step"] == 0
    for key in ("loss", "test_loss", "accuracy", "test_accuracy", "layers", "points", "history",
                "heatmaps", "feature_maps", "sizes", "activations", "domain", "task"):
        assert key in st, key
    assert st["sizes"] == [2, 4, 2, 1] and st["activations"] == ["tanh", "tanh", "tanh"]
    assert [len(layer["weight"]) for layer in st["layers"]] == [4, 2, 1]
    assert len(st["points"]) == 500 and len(st["heatmaps"]["neurons"]) == 3
    out = heatmaps.decode(st["heatmaps"]["output"][0])
    assert out.shape == (heatmaps.OUTPUT_GRID ** 2,) and out.min() >= -1 and out.max() <= 1


def test_config_changes_and_keeps_the_rest(client):
    st = post(client, "/api/config", {"dataset": "xor", "hidden": [6, 6]}).json()
    assert st["config"]["dataset"] == "xor" and st["sizes"] == [2, 6, 6, 1]
    st = post(client, "/api/config", {"lr": 0.1}).json()
    assert st["config"]["hidden"] == [6, 6] and st["config"]["lr"] == 0.1


def test_step_reset_regenerate(client):
    post(client, "/api/config", {"dataset": "xor", "hidden": [6, 6]})
    first = client.get("/api/state", params=S).json()
    st = post(client, "/api/step", {"steps": 30}).json()
    assert st["step"] == 30 and st["loss"] < 0.5 * first["loss"] and len(st["history"]) == 31
    assert post(client, "/api/step").json()["step"] == 31  # no body: one epoch
    st = post(client, "/api/reset").json()
    assert st["step"] == 0 and st["layers"] == first["layers"]
    st = post(client, "/api/regenerate").json()
    assert st["config"]["seed"] == 1 and st["points"] != first["points"]


def test_weight_edit(client):
    st = post(client, "/api/weight", {"layer": 0, "to": 1, "from": 0, "value": 1.25}).json()
    assert st["layers"][0]["weight"][1][0] == 1.25
    st = post(client, "/api/weight", {"layer": 2, "to": 0, "from": "bias", "value": -2}).json()
    assert st["layers"][2]["bias"][0] == -2


def test_csv_upload(client):
    raw = "x1,x2,label\n" + "\n".join(f"{i % 7 - 3},{i % 5 - 2},{i % 3}" for i in range(60))
    r = client.post("/api/data?session=t1", content=raw, headers={"Content-Type": "text/csv"})
    st = r.json()
    assert r.status_code == 200 and st["config"]["dataset"] == "csv"
    assert st["task"] == "multiclass" and st["classes"] == 3 and len(st["points"]) == 60
    bad = client.post("/api/data?session=t1", content="1,2\n",
                      headers={"Content-Type": "text/csv"})
    assert bad.status_code == 400 and bad.json()["field"] == "csv"
    assert client.get("/api/state", params=S).json()["points"] == st["points"]  # kept


def test_ledger_and_export(client):
    post(client, "/api/config", {"dataset": "xor", "hidden": [3]})
    post(client, "/api/step", {"steps": 2})
    ledger = client.get("/api/ledger", params={**S, "sample": 4}).json()
    assert ledger["checks"]["agree"] and ledger["sizes"] == [2, 3, 1] and ledger["samples"] == 1
    r = client.get("/api/export", params={**S, "sample": 4})
    assert "attachment" in r.headers["content-disposition"]
    spec = r.json()
    assert spec["layers"] == client.get("/api/state", params=S).json()["layers"]
    assert spec["loss"] == "half_squared_error" and spec["lr"] == 0.03
    train = next(i for i, p in enumerate(client.get("/api/state", params=S).json()["points"])
                 if p[3] == 1)
    batch = client.get("/api/ledger", params={**S, "sample": train, "batch": 1}).json()
    assert batch["samples"] == 10 and batch["checks"]["agree"]


def test_the_text_of_both_languages(client):
    text = client.get("/api/text").json()
    assert set(text) == {"en", "zh"} and set(text["en"]) <= set(text["zh"])
    page = {k for k in text["en"] if k.startswith("pg.")}
    assert page == {k for k in text["zh"] if k.startswith("pg.")} and len(page) > 50
    assert text["zh"]["backward"] == "二、反向传播" and text["zh"]["pg.play"] == "运行"


BAD = [
    ("post", "/api/config", {"lr": "fast"}, 400, "lr"),
    ("post", "/api/config", {"hidden": [4] * 8}, 400, "hidden"),
    ("post", "/api/config", {"hidden": [4, 17]}, 400, "hidden[1]"),
    ("post", "/api/config", {"colour": "red"}, 400, "colour"),
    ("post", "/api/config", [1], 400, "(body)"),
    ("post", "/api/step", {"steps": 0}, 400, "steps"),
    ("post", "/api/step", {"steps": 10**6}, 400, "steps"),
    ("post", "/api/step", {"steps": "3"}, 400, "steps"),
    ("post", "/api/step", [3], 400, "(body)"),
    ("post", "/api/weight", {"layer": 0, "to": 0, "from": 0}, 400, "value"),
    ("post", "/api/weight", {"layer": 9, "to": 0, "from": 0, "value": 1}, 400, "layer"),
    ("get", "/api/ledger", {}, 400, "sample"),
    ("get", "/api/ledger", {"sample": "-1"}, 400, "sample"),
    ("get", "/api/ledger", {"sample": "500"}, 400, "sample"),
    ("get", "/api/ledger", {"sample": "x"}, 400, "sample"),
    ("get", "/api/ledger", {"sample": "0", "batch": "yes"}, 400, "batch"),
    ("get", "/api/export", {"sample": "1e3"}, 400, "sample"),
    ("get", "/api/state", {"session": "../etc"}, 400, "session"),
]


@pytest.mark.parametrize("method, path, body, status, field", BAD,
                         ids=[f"{b[1]}-{b[4]}-{i}" for i, b in enumerate(BAD)])
def test_bad_input_gets_a_4xx_naming_the_field(client, method, path, body, status, field):
    if method == "post":
        r = post(client, path, body)
    else:
        r = client.get(path, params={"session": "t1", **body})
    assert r.status_code == status, r.text
    assert r.json()["field"] == field and r.json()["error"].startswith(f"{field}: ")


def test_a_batch_of_a_test_point_is_refused(client):
    points = client.get("/api/state", params=S).json()["points"]
    test = next(i for i, p in enumerate(points) if p[3] == 0)
    r = client.get("/api/ledger", params={**S, "sample": test, "batch": 1})
    assert r.status_code == 400 and r.json()["field"] == "batch" and "test point" in r.text


def test_bodies_must_be_json_and_small(client):
    r = client.post("/api/config?session=t1", content='{"lr": 0.1}',
                    headers={"Content-Type": "text/plain"})
    assert r.status_code == 415 and "application/json" in r.json()["error"]
    as_json = {"Content-Type": "application/json"}
    r = client.post("/api/config?session=t1", content="{", headers=as_json)
    assert r.status_code == 400 and "invalid JSON" in r.json()["error"]
    huge = json.dumps({"features": ["x1"] * 100_000})
    r = client.post("/api/config?session=t1", content=huge, headers=as_json)
    assert r.status_code == 413
    r = client.post("/api/data?session=t1", content="0,0,1\n" * 200_000,
                    headers={"Content-Type": "text/csv"})
    assert r.status_code == 413 and r.json()["field"] == "csv"
    r = client.post("/api/data?session=t1", content="0,0,1\n", headers=as_json)
    assert r.status_code == 415


def test_a_diverged_network_answers_409_with_help(client):
    post(client, "/api/config", {"dataset": "plane", "activation": "linear", "hidden": [8, 8],
                                 "lr": 10})
    r = post(client, "/api/step", {"steps": 30})
    assert r.status_code == 409 and "help: lower lr" in r.json()["error"]
    st = client.get("/api/state", params=S).json()
    assert st["diverged"] and st["loss"] is None
    assert client.get("/api/ledger", params={**S, "sample": 0}).status_code == 409


def test_each_session_is_its_own(client):
    post(client, "/api/step", {"steps": 3}, session="a")
    assert client.get("/api/state", params={"session": "a"}).json()["step"] == 3
    assert client.get("/api/state", params={"session": "b"}).json()["step"] == 0
    assert client.get("/api/state").json()["step"] == 0  # "default"


def test_only_the_served_host_is_answered():
    from starlette.testclient import TestClient

    from chainrule.playground.server import LOOPBACK_HOSTS, create_app

    app = create_app(allowed_hosts=LOOPBACK_HOSTS)
    with TestClient(app, base_url="http://127.0.0.1:8765") as c:
        assert c.get("/api/state").status_code == 200
        assert c.get("/api/state", headers={"Host": "evil.example"}).status_code == 400


def test_every_message_carries_the_protocol_version(client):
    with client.websocket_connect("/ws?session=v") as ws:
        hello = ws.receive_json()
        assert hello == {"type": "hello", "version": VERSION, "session": "v"}
