"""The ledger is explain's: GET /api/ledger is the document `chainrule explain FILE --json`
prints for the file GET /api/export gives, and the playground's own SGD step is the step
that document describes."""

import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from chainrule.cli import main
from chainrule.explain import trace
from chainrule.explain.spec import SpecError
from chainrule.playground import Diverged, Session, model
from chainrule.playground.config import ACTIVATIONS, FEATURES


def _explain_json(path, capsys) -> dict:
    assert main(["explain", str(path), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("settings", [
    {"dataset": "xor", "hidden": [6, 6]},
    {"dataset": "spiral3", "hidden": [5], "activation": "relu", "features": ["x1", "x2", "x1x2"]},
    {"dataset": "multi-gauss", "hidden": [3, 3], "activation": "sigmoid"},
    {"dataset": "circle", "hidden": [], "features": list(FEATURES)},
], ids=["xor", "three-classes", "regression", "no-hidden-layer"])
def test_ledger_equals_explain_json_on_the_exported_file(client, settings, tmp_path, capsys):
    q = {"session": "led"}
    client.post("/api/config", params=q, json=settings)
    client.post("/api/step", params=q, json={"steps": 3})
    points = client.get("/api/state", params=q).json()["points"]
    train = next(i for i, p in enumerate(points) if p[3] == 1)
    test = next(i for i, p in enumerate(points) if p[3] == 0)
    for sample, batch in [(train, 0), (test, 0), (train, 1)]:
        args = {**q, "sample": sample, "batch": batch}
        exported = client.get("/api/export", params=args)
        path = tmp_path / f"net-{sample}-{batch}.json"
        path.write_bytes(exported.content)
        ledger = client.get("/api/ledger", params=args).json()
        assert ledger == _explain_json(path, capsys)
        assert ledger["checks"]["agree"] or ledger["checks"]["relu_kinks"]


def test_the_real_command_prints_the_same_document(client, tmp_path):
    q = {"session": "cmd", "sample": 11}
    client.post("/api/config", params={"session": "cmd"}, json={"dataset": "gauss3"})
    path = tmp_path / "exported.json"
    path.write_bytes(client.get("/api/export", params=q).content)
    out = subprocess.run([sys.executable, "-m", "chainrule", "explain", str(path), "--json"],
                         capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == client.get("/api/ledger", params=q).json()


def test_one_sgd_step_of_the_playground_is_the_step_explain_shows():
    """The batch's file has lr / batch_size, so explain's `updated` (w - lr/B * sum of
    per-point gradients) must be the weights after the playground's own SGD step on that
    batch (the mean of the batch's loss, through nn.Linear and optim.SGD)."""
    s = Session({"dataset": "xor", "hidden": [4, 3], "batch_size": 8})
    s.step(2)
    first = int(s.next_order[0])
    doc = s.ledger(first, batch=True)
    assert doc["samples"] == 8 and doc["lr"] == s.config["lr"] / 8
    s.net.train_epoch(s.inputs, s.data.labels, s.next_order[:8], 8, s.config["lr"], "none", 0)
    after = s.net.to_layers()
    for w in doc["weights"]:
        now = after[w["layer"]]["bias"][w["to"]] if w["from"] == "bias" \
            else after[w["layer"]]["weight"][w["to"]][w["from"]]
        assert now == pytest.approx(w["updated"], rel=1e-12, abs=1e-15)


def test_the_ledger_of_one_point_is_a_trace_of_the_export():
    s = Session({"dataset": "spiral", "hidden": [2]})
    assert s.ledger(3) == trace(s.export(3)).to_dict()


@given(hidden=st.lists(st.integers(1, 5), max_size=3),
       features=st.lists(st.sampled_from(list(FEATURES)), min_size=1, max_size=4, unique=True),
       activation=st.sampled_from([a for a in ACTIVATIONS]),
       dataset=st.sampled_from(["xor", "gauss3", "plane"]),
       sample=st.integers(0, 99))
def test_any_network_the_page_builds_exports_a_file_explain_checks(hidden, features, activation,
                                                                    dataset, sample):
    s = Session({"dataset": dataset, "hidden": hidden, "features": features,
                 "activation": activation, "points": 100})
    try:
        s.step(1)
        doc = s.ledger(sample)
    except (Diverged, SpecError) as e:
        # A linear network on X1^2 (up to 36) with lr 0.03 blows up: that is the lesson,
        # told in one line (the server answers 409 with it), never a NaN in a ledger.
        assert "overflow" in str(e)
        return
    assert doc["sizes"] == [len(features), *hidden, 3 if dataset == "gauss3" else 1]
    assert doc["checks"]["agree"] or doc["checks"]["relu_kinks"]
    # the ledger's output is what the playground's own network computes for that point
    out = s.net.activations_on(model.features(s.data.x[[sample]], s.config["features"]))[-1][0]
    ledger_out = [n["a"] for n in doc["neurons"] if n["layer"] == len(hidden)]
    np.testing.assert_allclose(ledger_out, out, rtol=1e-12, atol=1e-14)
