"""The training command end to end: outputs, resume after Ctrl-C or SIGKILL, bad input."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import chainrule as cr
from chainrule.train.recipes import recipe_for

TRAIN = [sys.executable, "-m", "chainrule", "train", "--no-progress"]
# Small, yet long enough to be interrupted mid-run: digits in batches of 4, ~0.2 s an epoch.
SMALL = ["--dataset", "digits", "--epochs", "20", "--batch-size", "4", "--hidden", "32",
         "--dropout", "0.1", "--threads", "1"]


def run(args, **kw):
    return subprocess.run(TRAIN + args, capture_output=True, text=True, timeout=300, **kw)


def weights(run_dir):
    state = cr.load(run_dir / "checkpoints" / "last.safetensors")
    return {k: v.numpy() for k, v in state["model"].items()}


def history(run_dir):
    rows = json.loads((run_dir / "metrics.json").read_text())["history"]
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "run"
    proc = run(SMALL + ["--out", str(out)])
    assert proc.returncode == 0, proc.stderr
    return out, proc


def test_outputs_of_a_run(reference):
    out, proc = reference
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("test_accuracy", "test_loss", "epochs", "seconds", "history", "recipe"):
        assert key in metrics
    assert metrics["epochs"] == 20 and len(metrics["history"]) == 20 and metrics["complete"]
    assert metrics["test_accuracy"] > 0.9
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ckpts = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert {"last.safetensors", "best.safetensors", "epoch-020.safetensors"} <= set(ckpts)
    assert len([c for c in ckpts if c.startswith("epoch-")]) == 5  # the newest 5 are kept
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("epoch")]
    assert len(lines) == 20 and "test loss" in lines[0] and "acc" in lines[0]


def test_evaluate_prints_metrics_and_confusion_matrix(reference):
    out, _ = reference
    proc = subprocess.run([sys.executable, "-m", "chainrule", "evaluate", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "test accuracy" in proc.stdout and "confusion matrix" in proc.stdout
    acc = json.loads((out / "metrics.json").read_text())["test_accuracy"]
    assert f"{acc:.4f}" in proc.stdout


def _interrupt(args, sig, delay, after=None):
    """Run ``chainrule train args`` and send ``sig`` ``delay`` seconds after the start, or
    after the file ``after`` appears (within 120 s)."""
    proc = subprocess.Popen(TRAIN + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 120
    while after is not None and not after.exists() and proc.poll() is None \
            and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(delay)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


def test_ctrl_c_saves_and_resume_gives_the_same_weights(reference, tmp_path):
    ref_out, _ = reference
    # The signal is sent once the first epoch's checkpoint exists (plus a moment), so it
    # lands mid-run however slow the machine is (fixed delays landed in `import numpy` on
    # a loaded one); a few moments are tried, each in a fresh directory.
    for attempt, delay in enumerate((0.3, 0.1, 0.6, 0.0)):
        out = tmp_path / f"run{attempt}"
        code, stdout, err = _interrupt(SMALL + ["--out", str(out)], signal.SIGINT, delay,
                                       after=out / "checkpoints" / "last.safetensors")
        if code == 130 and "Resume with: chainrule train --resume" in stdout:
            break
    else:
        pytest.fail(f"never interrupted mid-run: {code} {stdout} {err}")
    assert "Traceback" not in err
    proc = run(["--resume", str(out)])
    assert proc.returncode == 0, proc.stderr
    assert "resuming" in proc.stdout
    ref, got = weights(ref_out), weights(out)
    assert ref.keys() == got.keys()
    for k in ref:
        assert ref[k].tobytes() == got[k].tobytes(), k
    assert history(out) == history(ref_out)


def test_sigkill_at_random_moments_then_resume_is_bitwise_identical(reference, tmp_path):
    ref_out, _ = reference
    out = tmp_path / "run"
    rng = random.Random(1234)
    kills = []
    for _ in range(3):
        resume = (out / "checkpoints" / "last.safetensors").exists()
        args = ["--resume", str(out)] if resume else SMALL + ["--out", str(out)]
        delay = rng.uniform(1.0, 3.5)
        code, _, _ = _interrupt(args, signal.SIGKILL, delay)
        kills.append((round(delay, 2), code))
    resume = (out / "checkpoints" / "last.safetensors").exists()
    proc = run(["--resume", str(out)] if resume else SMALL + ["--out", str(out)])
    assert proc.returncode == 0, (kills, proc.stderr)
    ref, got = weights(ref_out), weights(out)
    for k in ref:
        assert ref[k].tobytes() == got[k].tobytes(), (k, kills)
    assert history(out) == history(ref_out)


@pytest.mark.parametrize("args,message", [
    (["--lr", "-1"], "--lr must be positive"),
    (["--batch-size", "0"], "--batch-size must be at least 1"),
    (["--epochs", "0"], "--epochs must be in [1, 1,000,000], got 0"),
    (["--dropout", "1.5"], "--dropout must be in [0, 1)"),
    (["--dataset", "mnist", "--data-dir", "/nonexistent"], "/nonexistent: no such folder"),
    (["--dataset", "moons", "--model", "cnn"], "no cnn recipe for moons"),
    (["--out", "/proc/forbidden/run"], "cannot write there"),
    (["--out", "FILE/run"], "cannot write there (Not a directory)"),
    (["--out", "FILE"], "FILE: is a file, not a directory. help: choose a new directory"),
    (["--keep-checkpoints", "-1"], "--keep-checkpoints must be >= 0"),
])
def test_bad_input_is_one_line_exit_2(args, message, tmp_path):
    if "--out" not in args:
        args = args + ["--out", str(tmp_path / "r")]
    (tmp_path / "FILE").write_text("a file, not a folder")
    args = [a.replace("FILE", str(tmp_path / "FILE")) for a in args]
    proc = run(args)
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr.strip()
    message = message.replace("FILE", str(tmp_path / "FILE"))
    assert message in err and "Traceback" not in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "r" / "metrics.json").exists()  # nothing half-written


def test_unknown_option_and_bad_number_are_usage_errors(tmp_path):
    for args in (["--colour", "red"], ["--lr", "fast"]):
        proc = run(args + ["--out", str(tmp_path / "r")])
        assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_resume_refuses_new_options_and_missing_runs(tmp_path):
    proc = run(["--resume", str(tmp_path), "--lr", "0.1"])
    assert proc.returncode == 2 and "drop --lr" in proc.stderr
    proc = run(["--resume", str(tmp_path / "nothing")])
    assert proc.returncode == 2 and "no run to resume" in proc.stderr


def test_fit_from_python_learns_moons():
    from chainrule import nn, optim
    from chainrule.data import load_dataset
    from chainrule.train import fit

    x, y, _ = load_dataset("moons", "train", samples=400)
    xt, yt, _ = load_dataset("moons", "test", samples=400)
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(),
                          nn.Linear(16, 2))
    hist = fit(model, optim.Adam(model.parameters(), lr=1e-2), (x, y), (xt, yt), epochs=30,
               log=None)
    assert hist[-1]["test_accuracy"] > 0.95


def test_every_dataset_model_pair_has_a_recipe():
    for dataset in ("digits", "fashion-mnist", "mnist"):
        for model in ("mlp", "cnn"):
            assert recipe_for(dataset, model).epochs >= 1
    for dataset in ("moons", "spirals", "circles", "xor"):
        assert recipe_for(dataset, "mlp").hidden


def test_digits_cnn_sees_8x8_images(tmp_path):
    # two epochs: one epoch on the 1,211 samples left after validation ends near 0.5
    proc = run(["--model", "cnn", "--epochs", "2", "--out", str(tmp_path / "r")])
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "r" / "metrics.json").read_text())["test_accuracy"] > 0.5


def test_cnn_builds_and_trains_one_step_on_images():
    from chainrule.train.models import build_model, count_parameters

    r = recipe_for("fashion-mnist", "cnn")
    model = build_model(r, (1, 28, 28), 10)
    assert count_parameters(model) < 100_000
    x = cr.tensor(np.random.default_rng(0).random((2, 1, 28, 28), dtype=np.float32))
    assert model(x).shape == (2, 10)
