"""Continuing a run: its checkpoint read back, and ``--epochs N`` as a new total.

A resumed run goes on from its ``RunState`` exactly: the same weights, optimizer and
random generator (checkpoint.restore), the same position (epoch, batch, the epoch's
running sums). An extension re-plans only what depends on the total: the cosine
learning-rate schedule and the early stop.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from chainrule import optim
from chainrule.train import checkpoint
from chainrule.train.errors import RecipeError
from chainrule.train.recipes import MAX_EPOCHS, Recipe
from chainrule.train.rundir import show
from chainrule.train.state import RunState


@dataclass
class Resumed:
    """A run read back to be continued."""

    contents: dict  # the checkpoint, as checkpoint.read_run returns it
    file: Path
    recipe: Recipe  # the checkpoint's, with the new total of epochs if one was given
    state: RunState
    extension: dict | None  # {"from", "to", "stopped"} when the total changes


def read(out_dir: Path, recipe: Recipe | None, epochs: int | None) -> Resumed:
    """The run in ``out_dir`` to continue, to ``epochs`` in total if given; ``recipe``, if
    given, must be the run's own."""
    file = checkpoint.file_of(out_dir)
    contents, saved, state = checkpoint.read_run(file)
    if recipe is not None and recipe != saved:
        raise RecipeError(f"{show(file)}: resume continues with the checkpoint's own "
                          "recipe, which differs from the one given. help: pass "
                          "recipe=None")
    recipe, extension = extension_of(saved, state, epochs, out_dir)
    return Resumed(contents, file, recipe, state, extension)


def extension_of(recipe: Recipe, state: RunState, epochs: int | None, out_dir) -> tuple:
    """(the recipe to continue with, and what changed; None when nothing did) for a resume
    with ``epochs`` as the new total."""
    if epochs is None:
        return recipe, None
    if not isinstance(epochs, int) or not 1 <= epochs <= MAX_EPOCHS:
        raise RecipeError(f"--epochs must be in [1, {MAX_EPOCHS:,}], got {epochs}")
    done, batch, stopped = state.epoch, state.batch, state.stopped
    reached = done + (1 if batch else 0)  # an interrupted epoch is finished first
    if epochs < reached:
        partial = f" and part of epoch {done + 1}" if batch else ""
        raise RecipeError(
            f"--epochs {epochs}: {show(out_dir)} has trained {done} epoch(s){partial} already; "
            "with --resume, --epochs is the total to reach, and a run never goes back. "
            f"help: give --epochs {reached} or more, or leave it out (this run's total is "
            f"{recipe.epochs})")
    if epochs == recipe.epochs and not (stopped and epochs > done):
        return recipe, None
    return replace(recipe, epochs=epochs), {"from": recipe.epochs, "to": epochs,
                                            "stopped": stopped}


def check_batches(state: RunState, file, train_size: int, batch_size: int) -> None:
    """A checkpoint cannot stop at a batch past its epoch's end (only a made-up one does)."""
    steps = -(-train_size // batch_size)
    if state.batch > steps:
        raise checkpoint.CheckpointError(
            f"{show(file)}: not a complete training checkpoint: it stopped at batch "
            f"{state.batch} of an epoch that has {steps}. help: resume a run directory that "
            "`chainrule train` wrote")


def continue_from(state: RunState, extension: dict | None, recipe: Recipe, optimizer,
                  scheduler, out_dir) -> list[str]:
    """Ready ``state`` (and the schedule) to go on; the lines that say how it goes on."""
    resuming = f"resuming {show(out_dir)} at epoch {state.epoch + 1}, batch {state.batch}"
    if extension is not None:
        lines = [resuming, replan(extension, recipe, optimizer, scheduler, state, out_dir)]
        state.stopped, state.patience_from = None, state.epoch
        return lines
    if state.finished(recipe.epochs):
        return [f"{show(out_dir)}: {state.why_finished(recipe.epochs)}; nothing to train. "
                "help: --epochs N continues it to N epochs in total"]
    return [resuming]


def replan(extension: dict, recipe: Recipe, optimizer, scheduler, state: RunState,
           out_dir) -> str:
    """Re-plan the learning-rate schedule for the new total; the line that says so.

    The cosine schedule is the only one that depends on the total: it now reaches its
    minimum at the new last epoch. An epoch that was interrupted finishes at the rate it
    began with; the new plan takes over from the next epoch.
    """
    old, new, stopped = extension["from"], extension["to"], extension["stopped"]
    done = state.epoch
    line = f"{show(out_dir)}: now {new} epochs in total (was {old})"
    if stopped and new == old:
        line = f"{show(out_dir)}: continuing to epoch {new} past the early stop at epoch {done}"
    lr = optimizer.param_groups[0]["lr"]
    if new == old:
        pass
    elif isinstance(scheduler, optim.lr_scheduler.CosineAnnealingLR):
        line += _replan_cosine(scheduler, optimizer, state, old, new, lr)
    elif scheduler is not None:
        line += f"; the step schedule does not depend on the total (lr {lr:.2e})"
    else:
        line += f"; the learning rate stays {lr:.2e} (--scheduler none)"
    if stopped:
        line += (f"; it had stopped early at epoch {done}, so patience ({recipe.patience}) "
                 f"counts again from epoch {done}")
    elif recipe.patience:
        line += f"; patience ({recipe.patience}) counts from epoch {done}"
    return line


def _replan_cosine(scheduler, optimizer, state: RunState, old: int, new: int,
                   lr: float) -> str:
    done = state.epoch
    scheduler.T_max = new
    line = f"; the cosine learning-rate schedule is re-planned for {new} epochs"
    if state.batch:
        return line + (f": epoch {done + 1} finishes at its rate ({lr:.2e}), the new plan "
                       f"takes over from epoch {done + 2}")
    planned = scheduler.get_lr()
    for group, value in zip(optimizer.param_groups, planned):
        group["lr"] = value
    scheduler._last_lr = list(planned)
    return line + (f": epoch {done + 1} runs at lr {planned[0]:.2e} (the {old}-epoch plan "
                   f"had {lr:.2e})")
