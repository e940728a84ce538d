"""What a run shows and leaves behind: progress bars, epoch lines, metrics.json,
history.csv, the plot (drawn by curves.py)."""

from __future__ import annotations

import csv
import io
import json
import os
import time
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from chainrule.serialization import write_atomic
from chainrule.train.curves import curves_figure, curves_png

__all__ = ["epoch_progress", "epoch_line", "seconds", "wall_line", "wall_seconds",
           "history_csv", "csv_row", "metrics_json", "RowText", "write_history",
           "write_metrics", "plot_curves", "curves_figure"]


def epoch_progress(console: Console, visible: bool = True) -> Progress:
    """A progress bar per epoch, with the running loss and accuracy.

    Only when ``visible`` and on a terminal (or in a notebook): piped into a file or
    ``| cat``, a live bar has nowhere to redraw, and rich would leave an empty line per
    epoch in the log. Disabled, it prints nothing at all.
    """
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4f}  acc {task.fields[acc]:.4f}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not (visible and (console.is_terminal or console.is_jupyter)),
    )


def epoch_line(epochs: int, row: dict) -> str:
    val = (f"val loss {row['val_loss']:.4f} acc {row['val_accuracy']:.4f} | "
           if row.get("val_accuracy") is not None else "")
    return (f"epoch {row['epoch']:>3}/{epochs}  train loss {row['train_loss']:.4f} "
            f"acc {row['train_accuracy']:.4f} | {val}test loss {row['test_loss']:.4f} "
            f"acc {row['test_accuracy']:.4f} | lr {row['lr']:.2e} | {seconds(row['seconds'])}")


def wall_line(trained: float) -> str:
    """The last line of a run: the process's wall time, and the share of it that trained
    (``trained``: the seconds of this process's epochs, their steps and evaluations).
    The rest is start-up, checkpoints and reports (docs/performance.md, "Start-up")."""
    wall = wall_seconds()
    if wall is None:
        return f"training {seconds(trained)} (this system does not say the wall time)"
    return (f"wall {seconds(wall)}, training {100 * trained / wall:.0f} % of it "
            f"({seconds(trained)})")


def wall_seconds() -> float | None:
    """Seconds since this process started, its start-up and imports included, where the
    system says (Linux: /proc/self/stat, in clock ticks); None elsewhere."""
    try:
        with open("/proc/self/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()  # after the command's name
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: starttime
        return time.clock_gettime(time.CLOCK_BOOTTIME) - started
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def seconds(s: float) -> str:
    """A duration as a person reads it: 0.042 s, 1.3 s, 95 s (never "0.0 s")."""
    return f"{s:.2g} s" if s < 1 else f"{s:.1f} s" if s < 10 else f"{s:.0f} s"


#: The columns of history.csv: the fields of metrics.json's history rows, in this order.
HISTORY_FIELDS = ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy",
                  "test_loss", "test_accuracy", "lr", "seconds")


def write_history(path: Path, history: list, row_text=None) -> None:
    write_atomic(path, history_csv(history, row_text))


def history_csv(history: list, row_text=None) -> bytes:
    """history.csv: one row per epoch, the fields of metrics.json's history (an empty cell
    where a run has no validation set). Numbers as ``repr`` writes them: read back, each
    is the same float as in metrics.json. ``row_text``: a ``RowText(csv_row)`` that keeps
    each row's line from one call to the next."""
    return (_csv_line(HISTORY_FIELDS) + "".join(map(row_text or csv_row, history))).encode()


def csv_row(row: dict) -> str:
    """A history row's line of history.csv."""
    return _csv_line(["" if row.get(k) is None else repr(row[k]) for k in HISTORY_FIELDS])


def _csv_line(cells) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(cells)
    return buf.getvalue()


class RowText:
    """Each history row's text, made once and kept.

    A run writes metrics.json and history.csv after every epoch, each with the whole
    history: formatting every row again each time grew with the square of the epochs.
    A row is never changed once its epoch is recorded, so its text is kept by identity
    (the row itself is held, so that its ``id`` is not reused).
    """

    def __init__(self, render):
        self._render, self._done = render, {}

    def __call__(self, row: dict) -> str:
        held = self._done.get(id(row))
        if held is None or held[0] is not row:
            held = self._done[id(row)] = (row, self._render(row))
        return held[1]


def write_metrics(path: Path, metrics: dict, row_text=None) -> None:
    write_atomic(path, metrics_json(metrics, row_text))


def metrics_json(metrics: dict, row_text=None) -> bytes:
    """``metrics`` as JSON: a key per line, a list of rows (the history) a row per line.
    ``row_text``: a ``RowText(json.dumps)`` that keeps each row's JSON from one call to
    the next.

    NOTE: not ``json.dumps(indent=2)``, which falls back to the pure-Python encoder: written
    every epoch with the whole history, that took more time than a digits epoch's training
    by the end of the run; here each value goes through the C encoder once.
    """
    lines = []
    for key, value in metrics.items():
        if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
            rows = ",\n    ".join(map(row_text or json.dumps, value))
            text = f"[\n    {rows}\n  ]"
        elif isinstance(value, dict) and value:
            items = ",\n    ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in value.items())
            text = f"{{\n    {items}\n  }}"
        else:
            text = json.dumps(value)
        lines.append(f"  {json.dumps(key)}: {text}")
    return ("{\n" + ",\n".join(lines) + "\n}\n").encode()


def plot_curves(path: Path, history: list, title: str, best_epoch: int | None = None,
                drawer=None) -> None:
    """Loss and accuracy per epoch, train, validation and test, as a PNG (curves.py);
    ``drawer``: a ``curves.Drawer`` of the run, which may hold a helper process ready."""
    png = (drawer.png if drawer is not None else curves_png)(history, title, best_epoch)
    write_atomic(path, png)
