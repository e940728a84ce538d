"""What a run shows and leaves behind: progress bars, epoch lines, metrics.json,
history.csv, the plot."""

from __future__ import annotations

import csv
import io
import json
import math
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


def plot_curves(path: Path, history: list, title: str, best_epoch: int | None = None) -> None:
    """Loss and accuracy per epoch, train, validation and test, as a PNG."""
    buf = io.BytesIO()
    curves_figure(history, title, best_epoch).savefig(buf, format="png", dpi=110)
    write_atomic(path, buf.getvalue())


def curves_figure(history: list, title: str, best_epoch: int | None = None):
    """The loss and accuracy plot as a matplotlib ``Figure`` (object API: no pyplot state).

    ``best_epoch`` (the one chosen on validation) is marked by a dotted line, with the
    test accuracy of that model: the number a reader should quote, not the test maximum.
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    epochs = [row["epoch"] for row in history]
    style = ("o-", "^-", "s-") if len(epochs) <= 30 else ("-", "-", "-")  # markers while sparse
    with_val = any(row.get("val_accuracy") is not None for row in history)
    sets = [("train", style[0])] + ([("val", style[1])] if with_val else []) + \
        [("test", style[2])]
    fig = Figure(figsize=(10, 4))
    ax_loss, ax_acc = fig.subplots(1, 2)
    for name, fmt in sets:
        label = "validation" if name == "val" else name
        ax_loss.plot(epochs, [_nan(r.get(f"{name}_loss")) for r in history], fmt, label=label)
        ax_acc.plot(epochs, [_nan(r.get(f"{name}_accuracy")) for r in history], fmt,
                    label=label)
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss", title="loss")
    best = next((r for r in history if r["epoch"] == best_epoch), None)
    acc_title = "accuracy"
    if best is not None:
        for ax in (ax_loss, ax_acc):
            ax.axvline(best["epoch"], color="gray", linestyle=":", linewidth=1)
        # in the title, where no curve can hide it
        acc_title += (f"; best{' by validation' if with_val else ' (last)'}: epoch "
                      f"{best['epoch']}, test {best['test_accuracy']:.4f}")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title=acc_title)
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
        # Whole epochs only, even when one epoch leaves a single integer in view.
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def _nan(value) -> float:
    return math.nan if value is None else value
