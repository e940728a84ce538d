"""What a training run shows: the loss/accuracy plot and the progress output."""

import io

import pytest
from rich.console import Console

from chainrule.train.loop import run as train_run
from chainrule.train.recipes import recipe_for
from chainrule.train.report import curves_figure, epoch_progress, plot_curves

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _history(epochs: int) -> list[dict]:
    return [{"epoch": e, "train_loss": 1.0 / e, "test_loss": 1.1 / e,
             "train_accuracy": 0.9 - 0.1 / e, "test_accuracy": 0.88 - 0.1 / e}
            for e in range(1, epochs + 1)]


@pytest.mark.parametrize("epochs", [1, 2, 3, 7])
def test_plot_ticks_are_whole_epochs(epochs):
    fig = curves_figure(_history(epochs), "test")
    for ax in fig.axes:
        lo, hi = ax.get_xlim()
        ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks


def test_plot_is_written_whole(tmp_path):
    path = tmp_path / "curves.png"
    plot_curves(path, _history(1), "one epoch")
    assert path.read_bytes().startswith(PNG_MAGIC)
    assert [p.name for p in tmp_path.iterdir()] == ["curves.png"]  # no temporary left


def test_progress_bar_only_on_a_terminal():
    piped = Console(file=io.StringIO())
    with epoch_progress(piped) as bar:
        task = bar.add_task("epoch 1/1", total=2, loss=0.0, acc=0.0)
        bar.update(task, advance=2, loss=0.5, acc=0.5)
    assert piped.file.getvalue() == ""  # not even an empty line
    terminal = Console(file=io.StringIO(), force_terminal=True)
    assert not epoch_progress(terminal).disable


def test_piped_training_output_has_no_blank_lines(tmp_path):
    out = io.StringIO()
    recipe = recipe_for("digits", "mlp", epochs=2, hidden=(8,))
    train_run(recipe, tmp_path / "run", console=Console(file=out, soft_wrap=True))
    lines = out.getvalue().splitlines()
    assert [line for line in lines if line.startswith("epoch")] and "" not in lines, lines
