"""A run that goes wrong stops in one line and keeps its last good checkpoint: divergence,
and a disk that fills up while checkpointing."""

from __future__ import annotations

import errno
import json
import os

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.train import recipes, steps, trainer
from chainrule.train.errors import DivergedError

from .helpers import TINY, one_line, snapshot, train


def last_state(run):
    return cr.load(run / "checkpoints" / "last.safetensors")


def same_weights(a, b) -> bool:
    return all(a["model"][k].numpy().tobytes() == b["model"][k].numpy().tobytes()
               for k in a["model"])


def poison_epoch(monkeypatch, bad_epoch: int, value=np.nan):
    """Make every input of epoch ``bad_epoch`` (0-based) ``value``: the loss becomes NaN."""
    real = steps.batches

    def batches(x, y, batch_size, seed, epoch, *place):
        if epoch == bad_epoch:
            x = np.full_like(x, value)
        return real(x, y, batch_size, seed, epoch, *place)

    monkeypatch.setattr(steps, "batches", batches)


def test_a_diverging_run_stops_names_the_step_and_keeps_its_last_good_checkpoint(
        tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    poison_epoch(monkeypatch, 1)
    code, out, err = train(TINY + ["--epochs", "3", "--out", str(run)], capsys)
    line = one_line(err)
    assert code == 1
    assert line.startswith("chainrule train: error: the training loss became nan at epoch 2, "
                           "step 1 of 38: training diverged; ")
    assert f"{run}/checkpoints/last.safetensors keeps the last good state (epoch 1)" in line
    assert "help: lower --lr (it is " in line
    assert "test accuracy" not in out  # never reported as a success
    state = last_state(run)
    assert state["progress"]["epoch"] == 1
    assert same_weights(state, cr.load(run / "checkpoints" / "epoch-001.safetensors"))
    assert all(np.isfinite(v.numpy()).all() for v in state["model"].values())
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["complete"] is False and len(metrics["history"]) == 1
    assert metrics["diverged"] == {"epoch": 2, "step": 1, "loss": "nan"}
    assert not (run / "train.lock").exists()


def test_a_real_divergence_in_the_first_epoch_writes_no_checkpoint(
        tmp_path, monkeypatch, capsys):
    """A learning rate of 1e30 (allowed here past the CLI's bound of 10) gives a real NaN."""
    monkeypatch.setattr(recipes, "MAX_LR", 1e40)
    run = tmp_path / "run"
    code, _, err = train(TINY + ["--epochs", "2", "--optimizer", "sgd", "--lr", "1e30",
                                 "--weight-decay", "0", "--out", str(run)], capsys)
    line = one_line(err)  # NumPy's overflow warnings are not printed either
    assert code == 1 and "at epoch 1, step " in line and "training diverged; no checkpoint " \
        "was written" in line and "lower --lr (it is 1e+30; this recipe's default is 0.005)" \
        in line
    assert not (run / "checkpoints").exists()


def test_weights_that_overflow_in_an_epochs_last_step_are_caught(tmp_path, monkeypatch, capsys):
    """The last step's loss was finite; only the weights (or the test loss) show it."""
    real = steps.evaluate
    calls = []

    def evaluate(model, x, y, batch_size=512):
        calls.append(1)
        if len(calls) == 3:  # after epoch 2 (each epoch scores validation, then test): break
            # a weight, as an overflowing update would
            next(iter(model.parameters())).data[0, 0] = np.inf
        return real(model, x, y, batch_size)

    monkeypatch.setattr(steps, "evaluate", evaluate)
    run = tmp_path / "run"
    code, _, err = train(TINY + ["--epochs", "3", "--out", str(run)], capsys)
    line = one_line(err)
    assert code == 1 and "the model's 1.weight became inf at epoch 2, step 38 of 38" in line
    assert last_state(run)["progress"]["epoch"] == 1


def test_fit_raises_diverged_error_with_the_epoch_and_step():
    from chainrule.data import load_dataset
    from chainrule.train import fit

    x, y, _ = load_dataset("moons", "train", samples=64)
    xt, yt, _ = load_dataset("moons", "test", samples=64)
    x[40:] = np.inf  # the second batch of 32
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 2))
    with pytest.raises(DivergedError, match=r"at epoch 1, step \d of 2: training diverged. "
                       r"help: lower the learning rate \(it is 0.01\)") as info:
        fit(model, optim.SGD(model.parameters(), lr=0.01), (x, y), (xt, yt), epochs=2,
            log=None)
    assert info.value.epoch == 1 and not np.isfinite(info.value.loss)


# --- a disk that fills up ---------------------------------------------------------------------


def fill_disk_after(monkeypatch, writes: int):
    """Checkpoint writes fail with ENOSPC after ``writes`` successful ones.

    Patched where the run writes a checkpoint (its bytes, or another name for the file:
    ``last`` and ``best`` are hard links of the epoch's file): whatever the writer does
    inside (temporary file, fsync, rename), it leaves the old file whole when it raises,
    as tests/test_serialization.py checks; this test checks what the run does about it.
    Other files (metrics.json, history.csv) are written as usual.
    """
    done = []

    def failing(real, target):
        def write(*args):
            path = target(args)
            if path.parent.name == "checkpoints":
                if len(done) >= writes:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                done.append(path)
            real(*args)
        return write

    monkeypatch.setattr(trainer, "write_atomic", failing(trainer.write_atomic, lambda a: a[0]))
    monkeypatch.setattr(trainer, "link_atomic", failing(trainer.link_atomic, lambda a: a[1]))
    return done


def test_a_full_disk_while_checkpointing_stops_in_one_line_and_keeps_last(
        tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    # epoch 1 writes epoch-001, last, best; epoch 2's first write (epoch-002) succeeds too,
    # then `last` fails
    done = fill_disk_after(monkeypatch, 4)
    code, out, err = train(TINY + ["--epochs", "3", "--out", str(run)], capsys)
    line = one_line(err)
    assert code == 2 and [p.name for p in done][-1] == "epoch-002.safetensors"
    assert line == (
        f"chainrule train: error: {run}/checkpoints/last.safetensors: cannot write it (No "
        f"space left on device); the run stopped and {run}/checkpoints/last.safetensors still "
        f"holds epoch 1. help: free some space (or make the directory writable), then "
        f"continue with: chainrule train --resume {run}")
    assert "test accuracy" not in out
    assert last_state(run)["progress"]["epoch"] == 1
    assert same_weights(last_state(run), cr.load(run / "checkpoints" / "epoch-001.safetensors"))
    assert not (run / "train.lock").exists()
    assert not [p for p in snapshot(run) if p.endswith(".tmp")]
    # Space freed: the run continues from epoch 1 to the end.
    monkeypatch.undo()
    code, out, err = train(["--resume", str(run), "--no-progress"], capsys)
    assert code == 0, err
    assert "resuming" in out and json.loads((run / "metrics.json").read_text())["complete"]


def test_a_full_disk_before_the_first_checkpoint(tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    fill_disk_after(monkeypatch, 0)
    code, _, err = train(TINY + ["--epochs", "2", "--out", str(run)], capsys)
    assert code == 2 and "epoch-001.safetensors: cannot write it (No space left on device); " \
        "the run stopped and no checkpoint was written" in one_line(err)


def test_a_full_disk_when_writing_the_final_metrics(tmp_path, monkeypatch, capsys):
    from chainrule.train import report

    run = tmp_path / "run"
    real = report.write_atomic

    def write_atomic(path, data):
        if path.name == "curves.png":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(path, data)

    monkeypatch.setattr(report, "write_atomic", write_atomic)
    code, out, err = train(TINY + ["--epochs", "1", "--out", str(run)], capsys)
    assert code == 2 and "curves.png: cannot write it (No space left on device); the run " \
        f"stopped and {run}/checkpoints/last.safetensors still holds epoch 1" in one_line(err)
    assert last_state(run)["progress"]["epoch"] == 1
