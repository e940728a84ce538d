"""The ``chainrule explain`` command."""

import json
import subprocess
import sys

import pytest

from chainrule.cli import main
from chainrule.explain import EXAMPLES


def test_default_is_the_lecture(capsys):
    assert main(["explain"]) == 0
    out = capsys.readouterr().out
    assert "chainrule explain: lecture" in out and "4. Gradient descent" in out


def test_list_and_show(capsys):
    assert main(["explain", "--list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in EXAMPLES)
    assert main(["explain", "xor", "--show"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["layers"] == json.loads(json.dumps(EXAMPLES["xor"]["layers"]))


def test_json_and_figure_together(tmp_path, capsys):
    path = tmp_path / "m.svg"
    assert main(["explain", "mlp", "--json", "--figure", str(path)]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["name"] == "mlp"
    assert "figure:" in err and path.exists()


@pytest.mark.parametrize("argv, message", [
    (["explain", "nosuch"], 'unknown example "nosuch"'),
    (["explain", "--figure", "x.pdf"], "--figure: expected a file name ending in .png or .svg"),
    (["explain", "--neuron", "5:0"], "--neuron: no neuron 0 in layer 5"),
    (["explain", "--neuron", "x"], "--neuron: expected LAYER:INDEX"),
    (["explain", "batch", "--sample", "2"], "--sample: expected 0 to 1"),
])
def test_usage_errors(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("chainrule explain: error: ") and message in err
    assert err.count("\n") == 1


def test_mismatch_exits_1(monkeypatch, capsys):
    from dataclasses import replace

    import chainrule.explain.tracing as trace_mod

    real = trace_mod.trace

    def broken(spec):
        rec = real(spec)
        bad = replace(rec.weights[0], autograd=rec.weights[0].autograd + 1.0)
        return replace(rec, weights=(bad,) + rec.weights[1:])

    monkeypatch.setattr(trace_mod, "trace", broken)
    assert main(["explain"]) == 1
    out, err = capsys.readouterr()
    assert "MISMATCH" in out and "this is a bug" in err


def test_python_dash_m_reports_usage_errors_in_one_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"layers": []}')
    proc = subprocess.run([sys.executable, "-m", "chainrule.cli", "explain", str(bad)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("chainrule explain: error: input: missing field")


def test_python_dash_m_chainrule_is_the_command(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"layers": []}')
    proc = subprocess.run([sys.executable, "-m", "chainrule", "explain", str(bad)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("chainrule explain: error: input: missing field")


def test_relu_kink_is_explained_not_called_a_bug(tmp_path, capsys):
    spec = {"layers": [{"weight": [[1.0, -1.0]], "bias": [0.0], "activation": "relu"},
                       {"weight": [[2.0]], "bias": [0.5], "activation": "linear"}],
            "input": [1.0, 1.0], "target": [0.0]}
    path = tmp_path / "kink.json"
    path.write_text(json.dumps(spec))
    assert main(["explain", str(path)]) == 0
    out, err = capsys.readouterr()
    assert "kink" in out and "relu sits on its kink" in err
    assert main(["explain", str(path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["checks"]["relu_kinks"] == [{"layer": 0, "index": 0, "sample": 0}]
