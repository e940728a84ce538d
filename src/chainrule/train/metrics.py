"""The numbers a run records: one row per epoch, the best epoch, metrics.json's summary.

Honest numbers: the best epoch is chosen on the validation set, held out of the training
set; the test set is scored after every epoch for the record and chooses nothing.
"""

from __future__ import annotations

import time

from chainrule.train.state import EpochSums


def epoch_row(epoch: int, sums: EpochSums, val, test, lr: float, start: float) -> dict:
    """One epoch's record; ``val`` and ``test`` are (loss, accuracy), ``val`` None when the
    run holds out no validation set. The key order is history.csv's column order."""
    val_loss, val_acc = val if val is not None else (None, None)
    return {"epoch": epoch, "train_loss": sums.mean_loss(), "train_accuracy": sums.accuracy(),
            "val_loss": val_loss, "val_accuracy": val_acc, "test_loss": test[0],
            "test_accuracy": test[1], "lr": lr, "seconds": time.perf_counter() - start}


def best_row(history: list) -> dict | None:
    """The epoch ``best`` holds: the highest validation accuracy, ties broken by the lower
    validation loss, then the earlier epoch. Without a validation set: the last epoch.
    The test scores never take part."""
    if not history:
        return None
    rows = [r for r in history if r.get("val_accuracy") is not None]
    if not rows:
        return history[-1]
    return max(rows, key=lambda r: (r["val_accuracy"], -r["val_loss"], -r["epoch"]))


#: What each number of metrics.json's summary is, written into the file itself so that a
#: reader cannot take the test score of the final model for that of the best one.
ABOUT = {
    "test_accuracy": "the final model's (after the last epoch trained) accuracy on the test "
                     "set; test_loss likewise",
    "best_epoch": "the epoch checkpoints/best.safetensors holds: the highest validation "
                  "accuracy, ties broken by the lower validation loss, then the earlier epoch",
    "best_val_accuracy": "the validation accuracy of best_epoch: the number that chose it",
    "best_test_accuracy": "the test accuracy of the model chosen by validation (best_epoch); "
                          "the test set chose nothing",
}
ABOUT_NO_VAL = {**ABOUT, "best_epoch": "the last epoch: this run held out no validation set "
                                       "(--val-fraction 0)",
                "best_val_accuracy": "null: no validation set"}


def summary(history: list, stopped: dict | None = None) -> dict:
    """metrics.json's summary of ``history``: the final and the best epoch, and what each
    number is (``about``); empty before the first epoch."""
    if not history:
        return {}
    last, best = history[-1], best_row(history)
    with_val = best.get("val_accuracy") is not None
    result = {"test_accuracy": last["test_accuracy"], "test_loss": last["test_loss"],
              "final_epoch": last["epoch"],
              "train_accuracy": last["train_accuracy"], "train_loss": last["train_loss"],
              "val_accuracy": last.get("val_accuracy"), "val_loss": last.get("val_loss"),
              "best_epoch": best["epoch"],
              "best_selected_by": "validation accuracy" if with_val else
              "last epoch (no validation set)",
              "best_val_accuracy": best.get("val_accuracy"),
              "best_val_loss": best.get("val_loss"),
              "best_test_accuracy": best["test_accuracy"],
              "best_test_loss": best["test_loss"],
              "about": ABOUT if with_val else ABOUT_NO_VAL}
    if stopped is not None:
        result["stopped_early"] = stopped
    return result
