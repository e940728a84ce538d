"""examples/playground_api.py runs and prints the ledger it says."""

import json
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "playground_api.py"


def test_the_api_example_trains_and_exports(tmp_path):
    out = tmp_path / "net.json"
    run = subprocess.run([sys.executable, str(EXAMPLE), "--out", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "they agree" in run.stdout and "at epoch 40" in run.stdout
    assert len(json.loads(out.read_text())["layers"]) == 3


def test_the_health_example_marks_the_planted_layers():
    example = EXAMPLE.parent / "playground_health.py"
    run = subprocess.run([sys.executable, str(example)], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    healthy, dead, saturated = run.stdout.split("\n\n")[:3]
    assert ": dead (" not in healthy and ": saturated (" not in healthy
    assert dead.splitlines()[1].count(": dead (") == 4  # layer 0, after 20 epochs
    assert saturated.splitlines()[1].count(": saturated (") == 4
