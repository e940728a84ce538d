"""What a run shows and leaves behind: progress bars, epoch lines, metrics.json, the plot."""

from __future__ import annotations

import json
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
    return (f"epoch {row['epoch']:>3}/{epochs}  train loss {row['train_loss']:.4f} "
            f"acc {row['train_accuracy']:.4f} | test loss {row['test_loss']:.4f} "
            f"acc {row['test_accuracy']:.4f} | lr {row['lr']:.2e} | {row['seconds']:.1f} s")


def write_metrics(path: Path, metrics: dict) -> None:
    write_atomic(path, (json.dumps(metrics, indent=2) + "\n").encode())


def plot_curves(path: Path, history: list, title: str) -> None:
    """Loss and accuracy per epoch, train and test, as a PNG."""
    import io

    buf = io.BytesIO()
    curves_figure(history, title).savefig(buf, format="png", dpi=110)
    write_atomic(path, buf.getvalue())


def curves_figure(history: list, title: str):
    """The loss and accuracy plot as a matplotlib ``Figure`` (object API: no pyplot state)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    epochs = [row["epoch"] for row in history]
    train, test = ("o-", "s-") if len(epochs) <= 30 else ("-", "-")  # markers while sparse
    fig = Figure(figsize=(10, 4))
    ax_loss, ax_acc = fig.subplots(1, 2)
    ax_loss.plot(epochs, [r["train_loss"] for r in history], train, label="train")
    ax_loss.plot(epochs, [r["test_loss"] for r in history], test, label="test")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss", title="loss")
    ax_acc.plot(epochs, [r["train_accuracy"] for r in history], train, label="train")
    ax_acc.plot(epochs, [r["test_accuracy"] for r in history], test, label="test")
    best = max(history, key=lambda r: r["test_accuracy"])
    ax_acc.annotate(f"{best['test_accuracy']:.4f}", (best["epoch"], best["test_accuracy"]),
                    textcoords="offset points", xytext=(0, -14), ha="center")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
        # Whole epochs only, even when one epoch leaves a single integer in view.
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    fig.suptitle(title)
    fig.tight_layout()
    return fig
