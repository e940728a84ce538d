"""Honest numbers: a validation split chooses `best` and stops early, the test set is only
reported; history.csv; extending a finished run with --resume --epochs N."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.train import steps, trainer
from chainrule.train.datasets import validation_split
from chainrule.train.errors import RecipeError
from chainrule.train.metrics import best_row
from chainrule.train.recipes import Recipe

from .helpers import TINY, one_line, snapshot, train


def metrics_of(run) -> dict:
    return json.loads((run / "metrics.json").read_text())


def without_seconds(history) -> list:
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history]


def weights(run, which="last") -> dict:
    state = cr.load(run / "checkpoints" / f"{which}.safetensors")
    return {k: v.numpy().tobytes() for k, v in state["model"].items()}


# --- the split ----------------------------------------------------------------------------


def test_the_split_is_stratified_disjoint_and_depends_only_on_the_seed():
    labels = np.repeat(np.arange(4), [50, 30, 20, 100])
    train_idx, val_idx = validation_split(labels, 0.1, seed=7)
    assert sorted(np.concatenate([train_idx, val_idx]).tolist()) == list(range(200))
    assert np.bincount(labels[val_idx]).tolist() == [5, 3, 2, 10]  # a tenth of each class
    again = validation_split(labels, 0.1, seed=7)
    assert all((a == b).all() for a, b in zip((train_idx, val_idx), again))
    other = validation_split(labels, 0.1, seed=8)[1]
    assert not np.array_equal(other, val_idx)


def test_a_small_set_still_holds_out_its_share_across_the_classes():
    # 4 samples a class at 0.1: rounding each class alone would hold out none
    labels = np.repeat(np.arange(10), 4)
    train_idx, val_idx = validation_split(labels, 0.1, seed=0)
    assert len(val_idx) == 4 and len(set(labels[val_idx].tolist())) == 4
    assert len(train_idx) == 36


def test_a_split_that_leaves_nothing_to_train_on_is_refused():
    with pytest.raises(RecipeError, match="leaves none to train on"):
        validation_split(np.array([0]), 0.5, seed=0)


def test_a_checkpoint_from_before_validation_keeps_training_on_everything():
    old = Recipe().to_dict()
    del old["val_fraction"], old["patience"]
    recipe = Recipe.from_dict(old)
    assert recipe.val_fraction == 0.0 and recipe.patience == 0


# --- best is chosen on validation ---------------------------------------------------------


def test_best_is_the_highest_validation_accuracy_never_the_test_score():
    rows = [
        {"epoch": 1, "val_accuracy": 0.80, "val_loss": 0.5, "test_accuracy": 0.99},
        {"epoch": 2, "val_accuracy": 0.90, "val_loss": 0.4, "test_accuracy": 0.70},
        {"epoch": 3, "val_accuracy": 0.90, "val_loss": 0.3, "test_accuracy": 0.60},  # lower loss
        {"epoch": 4, "val_accuracy": 0.90, "val_loss": 0.3, "test_accuracy": 0.95},  # later
    ]
    assert best_row(rows)["epoch"] == 3
    no_val = [{**r, "val_accuracy": None, "val_loss": None} for r in rows]
    assert best_row(no_val)["epoch"] == 4  # no validation set: the last epoch


def test_a_run_records_validation_and_labels_which_model_each_number_is(tmp_path, capsys):
    run = tmp_path / "run"
    code, out, _ = train(TINY + ["--epochs", "4", "--out", str(run)], capsys)
    assert code == 0
    m = metrics_of(run)
    history = m["history"]
    assert all(isinstance(r["val_loss"], float) and 0 <= r["val_accuracy"] <= 1
               for r in history)
    best = max(history, key=lambda r: (r["val_accuracy"], -r["val_loss"], -r["epoch"]))
    assert m["best_epoch"] == best["epoch"] and m["best_selected_by"] == "validation accuracy"
    assert m["best_val_accuracy"] == best["val_accuracy"]
    assert m["best_test_accuracy"] == best["test_accuracy"]
    assert m["test_accuracy"] == history[-1]["test_accuracy"] and m["final_epoch"] == 4
    assert {"test_accuracy", "best_epoch", "best_val_accuracy", "best_test_accuracy"} <= \
        set(m["about"])
    assert m["dataset"]["val_size"] == 135 and m["dataset"]["train_size"] == 1212
    assert cr.load(run / "checkpoints" / "best.safetensors")["progress"]["epoch"] == best["epoch"]
    assert "1212 train / 135 validation / 450 test samples" in out
    assert f"final model (epoch 4): test accuracy {history[-1]['test_accuracy']:.4f}" in out
    assert (f"best model, chosen by validation accuracy: epoch {best['epoch']} (validation "
            f"accuracy {best['val_accuracy']:.4f}") in out
    assert f"its test accuracy {best['test_accuracy']:.4f}" in out
    lines = [ln for ln in out.splitlines() if ln.startswith("epoch")]
    assert "| val loss " in lines[0] and "| test loss " in lines[0]


def test_the_test_set_chooses_nothing(tmp_path, monkeypatch, capsys):
    """Make the test accuracy peak at epoch 1 and the validation accuracy at epoch 3: best
    follows validation."""
    real = steps.evaluate
    calls = []

    def evaluate(model, x, y, batch_size=512):
        loss, acc, pred = real(model, x, y, batch_size)
        calls.append(len(y))
        epoch = (len(calls) + 1) // 2
        if len(y) == 450:  # the test set
            return loss, 0.99 if epoch == 1 else 0.5, pred
        return loss, 0.9 if epoch == 3 else 0.6, pred

    monkeypatch.setattr(steps, "evaluate", evaluate)
    run = tmp_path / "run"
    assert train(TINY + ["--epochs", "4", "--out", str(run)], capsys)[0] == 0
    m = metrics_of(run)
    assert m["best_epoch"] == 3 and m["best_test_accuracy"] == 0.5
    assert cr.load(run / "checkpoints" / "best.safetensors")["progress"]["epoch"] == 3


def test_val_fraction_0_trains_on_everything_and_best_is_the_last_epoch(tmp_path, capsys):
    run = tmp_path / "run"
    code, out, _ = train(TINY + ["--epochs", "2", "--val-fraction", "0", "--out", str(run)],
                         capsys)
    assert code == 0
    assert "1347 train / no validation / 450 test samples" in out
    assert "best epoch: the last one (--val-fraction 0" in out
    assert "best model: the last epoch (no validation set)" in out
    m = metrics_of(run)
    assert m["best_epoch"] == 2 and m["best_val_accuracy"] is None
    assert m["best_selected_by"] == "last epoch (no validation set)"
    assert all(r["val_accuracy"] is None for r in m["history"])
    assert weights(run, "best") == weights(run, "last")
    rows = list(csv.DictReader((run / "history.csv").open()))
    assert rows[0]["val_loss"] == "" and rows[0]["test_loss"] != ""


def test_a_generated_2d_set_has_its_validation_split_too(tmp_path, capsys):
    run = tmp_path / "run"
    code, out, _ = train(TINY + ["--dataset", "moons", "--samples", "200", "--epochs", "2",
                                 "--out", str(run)], capsys)
    assert code == 0 and "180 train / 20 validation / 50 test samples" in out
    m = metrics_of(run)
    assert m["dataset"]["val_size"] == 20 and m["best_val_accuracy"] is not None


@pytest.mark.parametrize("args,message", [
    (["--val-fraction", "0.95"], "--val-fraction must be in [0, 0.9]"),
    (["--val-fraction", "-0.1"], "--val-fraction must be in [0, 0.9]"),
    (["--val-fraction", "nan"], "--val-fraction must be a finite number"),
    (["--patience", "-1"], "--patience must be in [0, 1,000,000]"),
    (["--patience", "3", "--val-fraction", "0"], "--val-fraction 0 holds out no validation"),
])
def test_bad_validation_options_are_one_line_before_anything_is_written(args, message,
                                                                         tmp_path, capsys):
    code, _, err = train(TINY + args + ["--out", str(tmp_path / "run")], capsys)
    assert code == 2 and message in one_line(err)
    assert list(tmp_path.iterdir()) == []


# --- early stopping -----------------------------------------------------------------------


def flat_validation(monkeypatch):
    """The validation accuracy and loss never change: the best stays epoch 1."""
    real = steps.evaluate

    def evaluate(model, x, y, batch_size=512):
        loss, acc, pred = real(model, x, y, batch_size)
        return (1.0, 0.5, pred) if len(y) == 135 else (loss, acc, pred)

    monkeypatch.setattr(steps, "evaluate", evaluate)


def test_patience_stops_early_says_so_and_records_it(tmp_path, monkeypatch, capsys):
    flat_validation(monkeypatch)
    run = tmp_path / "run"
    code, out, _ = train(TINY + ["--epochs", "10", "--patience", "2", "--out", str(run)],
                         capsys)
    assert code == 0
    assert ("early stop at epoch 3 of 10: the validation accuracy has not improved for 2 "
            "epochs (--patience 2); the best is 0.5000 at epoch 1") in out
    m = metrics_of(run)
    assert m["epochs"] == 3 and len(m["history"]) == 3 and m["complete"] is True
    assert m["stopped_early"] == {"epoch": 3, "patience": 2, "best_epoch": 1,
                                  "best_val_accuracy": 0.5}
    assert m["best_epoch"] == 1
    assert cr.load(run / "checkpoints" / "last.safetensors")["progress"]["stopped_early"][
        "epoch"] == 3


def test_patience_off_runs_every_epoch(tmp_path, monkeypatch, capsys):
    flat_validation(monkeypatch)
    run = tmp_path / "run"
    code, out, _ = train(TINY + ["--epochs", "4", "--out", str(run)], capsys)
    assert code == 0 and "early stop" not in out and metrics_of(run)["epochs"] == 4
    assert "stopped_early" not in metrics_of(run)


def test_an_early_stopped_run_resumes_to_nothing_unless_given_more_epochs(
        tmp_path, monkeypatch, capsys):
    flat_validation(monkeypatch)
    run = tmp_path / "run"
    assert train(TINY + ["--epochs", "10", "--patience", "2", "--out", str(run)],
                 capsys)[0] == 0
    before = metrics_of(run)["history"]
    code, out, _ = train(["--resume", str(run), "--no-progress"], capsys)
    assert code == 0
    assert (f"{run}: it stopped early at epoch 3 of 10 (no new best validation accuracy for "
            "2 epochs); nothing to train. help: --epochs N continues it") in out
    assert metrics_of(run)["history"] == before
    # --epochs: past the stop; patience counts again from there, and stops it at epoch 5
    code, out, _ = train(["--resume", str(run), "--epochs", "10", "--no-progress"], capsys)
    assert code == 0
    assert "past the early stop at epoch 3" in out and "counts again from epoch 3" in out
    assert "early stop at epoch 5 of 10" in out
    assert metrics_of(run)["epochs"] == 5


# --- history.csv --------------------------------------------------------------------------


def test_history_csv_holds_the_same_rows_as_metrics_json(tmp_path, capsys):
    run = tmp_path / "run"
    assert train(TINY + ["--epochs", "3", "--out", str(run)], capsys)[0] == 0
    history = metrics_of(run)["history"]
    rows = list(csv.DictReader((run / "history.csv").open()))
    assert list(rows[0]) == ["epoch", "train_loss", "train_accuracy", "val_loss",
                             "val_accuracy", "test_loss", "test_accuracy", "lr", "seconds"]
    assert len(rows) == len(history) == 3
    for row, record in zip(rows, history):
        assert int(row["epoch"]) == record["epoch"]
        for key in list(rows[0])[1:]:
            assert float(row[key]) == record[key], key  # exactly: repr round-trips


def test_history_csv_is_written_after_every_epoch(tmp_path, monkeypatch, capsys):
    from .test_failures import poison_epoch

    poison_epoch(monkeypatch, 1)  # epoch 2 diverges: only epoch 1 was written
    run = tmp_path / "run"
    assert train(TINY + ["--epochs", "3", "--out", str(run)], capsys)[0] == 1
    rows = list(csv.DictReader((run / "history.csv").open()))
    assert [row["epoch"] for row in rows] == ["1"]


def test_a_failed_history_write_stops_the_run_in_one_line(tmp_path, monkeypatch, capsys):
    import errno
    import os

    from chainrule.train import report, trainer

    real = report.write_atomic

    def write_atomic(path, data, durable=True):
        if path.name == "history.csv":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(path, data, durable)

    # the final report's writer, and the epochs' (in the background, trainer.py)
    monkeypatch.setattr(report, "write_atomic", write_atomic)
    monkeypatch.setattr(trainer, "write_atomic", write_atomic)
    run = tmp_path / "run"
    code, _, err = train(TINY + ["--epochs", "2", "--out", str(run)], capsys)
    assert code == 2 and "history.csv: cannot write it (No space left on device); the run " \
        f"stopped and {run}/checkpoints/last.safetensors still holds epoch 1" in one_line(err)


# --- extending a run ----------------------------------------------------------------------


def test_extending_a_finished_run_equals_training_that_long_at_once(tmp_path, capsys):
    """With a schedule that does not depend on the total, 2 epochs then --epochs 4 is
    bitwise the 4-epoch run."""
    flat = ["--scheduler", "none", "--dropout", "0.1"]
    short, long_ = tmp_path / "short", tmp_path / "long"
    assert train(TINY + flat + ["--epochs", "2", "--out", str(short)], capsys)[0] == 0
    assert train(TINY + flat + ["--epochs", "4", "--out", str(long_)], capsys)[0] == 0
    code, out, _ = train(["--resume", str(short), "--epochs", "4", "--no-progress"], capsys)
    assert code == 0
    assert f"{short}: now 4 epochs in total (was 2); the learning rate stays" in out
    assert weights(short) == weights(long_)
    assert weights(short, "best") == weights(long_, "best")
    assert without_seconds(metrics_of(short)["history"]) == \
        without_seconds(metrics_of(long_)["history"])
    m = metrics_of(short)
    assert m["recipe"]["epochs"] == 4 and m["complete"] and m["epochs"] == 4


def test_extending_re_plans_the_cosine_schedule_for_the_new_total(tmp_path, capsys):
    run = tmp_path / "run"
    assert train(TINY + ["--epochs", "2", "--lr", "0.01", "--out", str(run)], capsys)[0] == 0
    code, out, _ = train(["--resume", str(run), "--epochs", "4", "--no-progress"], capsys)
    assert code == 0
    line = next(ln for ln in out.splitlines() if "re-planned" in ln)
    assert line == (f"{run}: now 4 epochs in total (was 2); the cosine learning-rate schedule "
                    "is re-planned for 4 epochs: epoch 3 runs at lr 5.00e-03 (the 2-epoch plan "
                    "had 0.00e+00)")
    lrs = [r["lr"] for r in metrics_of(run)["history"]]
    planned = [0.01 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(4)]
    assert lrs[:2] == pytest.approx([0.01, 0.005]) and lrs[2:] == pytest.approx(planned[2:])


def test_resume_of_a_finished_run_without_epochs_has_nothing_to_train(tmp_path, capsys):
    run = tmp_path / "run"
    assert train(TINY + ["--epochs", "2", "--out", str(run)], capsys)[0] == 0
    code, out, _ = train(["--resume", str(run), "--no-progress"], capsys)
    assert code == 0 and f"{run}: all 2 epochs are done; nothing to train. help: --epochs N" \
        in out
    assert len(metrics_of(run)["history"]) == 2


def test_fewer_epochs_than_done_is_one_line_and_changes_nothing(tmp_path, capsys):
    run = tmp_path / "run"
    assert train(TINY + ["--epochs", "3", "--out", str(run)], capsys)[0] == 0
    before = snapshot(run)
    code, out, err = train(["--resume", str(run), "--epochs", "2"], capsys)
    assert code == 2 and out == ""
    assert (f"--epochs 2: {run} has trained 3 epoch(s) already; with --resume, --epochs is "
            "the total to reach, and a run never goes back. help: give --epochs 3 or more"
            ) in one_line(err)
    assert snapshot(run) == before


def test_other_recipe_options_with_resume_stay_refused(tmp_path, capsys):
    run = tmp_path / "run"
    assert train(TINY + ["--epochs", "1", "--out", str(run)], capsys)[0] == 0
    for extra in (["--lr", "0.1"], ["--dataset", "moons"], ["--model", "cnn"],
                  ["--patience", "2"], ["--val-fraction", "0"]):
        code, _, err = train(["--resume", str(run), "--epochs", "3"] + extra, capsys)
        assert code == 2 and f"drop {extra[0]}" in one_line(err), extra
    assert metrics_of(run)["epochs"] == 1


def test_an_extension_interrupted_mid_epoch_resumes_to_the_same_weights(tmp_path, monkeypatch,
                                                                         capsys):
    """The new total and the re-planned schedule are in the checkpoints: a plain --resume
    of an interrupted extension ends where the uninterrupted extension does."""
    import shutil

    recipe = ["--epochs", "2", "--dropout", "0.1", "--lr", "0.01"]
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    assert train(TINY + recipe + ["--out", str(whole)], capsys)[0] == 0
    shutil.copytree(whole, cut)
    assert train(["--resume", str(whole), "--epochs", "4", "--no-progress"], capsys)[0] == 0

    done = []
    real_step = steps.train_step

    def train_step(*args, **kwargs):
        done.append(1)
        return real_step(*args, **kwargs)

    class StopAfterTenSteps(trainer.StopRequest):
        signal = property(lambda self: "SIGINT" if len(done) >= 10 else None,
                          lambda self, value: None)

    with monkeypatch.context() as patch:
        patch.setattr(steps, "train_step", train_step)
        patch.setattr(trainer, "StopRequest", StopAfterTenSteps)
        code, out, _ = train(["--resume", str(cut), "--epochs", "4", "--no-progress"], capsys)
    assert code == 130 and "stopped at epoch 3, batch 10" in out
    code, out, _ = train(["--resume", str(cut), "--no-progress"], capsys)
    assert code == 0 and "resuming" in out and "re-planned" not in out
    assert weights(cut) == weights(whole)
    assert without_seconds(metrics_of(cut)["history"]) == \
        without_seconds(metrics_of(whole)["history"])


def test_the_plot_marks_the_epoch_chosen_by_validation():
    from chainrule.train.report import curves_figure

    history = [{"epoch": e, "train_loss": 1 / e, "train_accuracy": 0.5, "val_loss": 1 / e,
                "val_accuracy": 0.5 + 0.1 * (e == 2), "test_loss": 1 / e,
                "test_accuracy": 0.6 + 0.01 * e} for e in (1, 2, 3)]
    fig = curves_figure(history, "run", best_epoch=2)
    loss, acc = fig.axes
    assert acc.get_title() == "accuracy; best by validation: epoch 2, test 0.6200"
    assert [line.get_label() for line in acc.get_lines()][:3] == ["train", "validation", "test"]
    assert fig._suptitle.get_text() == "run"
