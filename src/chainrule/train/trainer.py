"""One run's training: its epochs, their checkpoints, and the checks on them.

The ``Trainer`` advances a ``RunState`` (state.py) batch by batch and writes it with
every checkpoint: after each epoch (``epoch-NNN``, ``last``, and ``best`` when the epoch
is the best so far), and on SIGINT/SIGTERM mid-epoch (``last``, with the epoch's running
sums). A run killed at any moment resumes from ``last`` to bitwise the same weights and
metrics, because every source of randomness is either restored (the global generator
that dropout draws from) or derived from the seed (the validation split) and (seed,
epoch) (the shuffling order).
"""

from __future__ import annotations

import contextlib
import json
import math
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule.serialization import link_atomic, write_atomic
from chainrule.train import checkpoint, steps
from chainrule.train.checkpoint import paths
from chainrule.train.curves import Drawer
from chainrule.train.datasets import Split
from chainrule.train.errors import CheckpointWriteError, DivergedError
from chainrule.train.metrics import best_row, epoch_row, summary
from chainrule.train.models import count_parameters
from chainrule.train.recipes import Recipe, model_name
from chainrule.train.report import (
    RowText,
    csv_row,
    epoch_line,
    epoch_progress,
    history_csv,
    metrics_json,
    plot_curves,
    wall_line,
    write_history,
    write_metrics,
)
from chainrule.train.rundir import show
from chainrule.train.state import RunState
from chainrule.train.writes import WriteFailed, Writes


@dataclass
class RunResult:
    metrics: dict
    interrupted: str | None = None  # the signal's name when stopped early
    out_dir: Path = field(default_factory=Path)


class StopRequest:
    """SIGINT/SIGTERM set a flag; the loop finishes its step, saves, and stops."""

    def __init__(self):
        self.signal: str | None = None

    def __call__(self, signum, frame):
        self.signal = signal.Signals(signum).name

    @contextlib.contextmanager
    def installed(self):
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {s: signal.signal(s, self) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield self
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)


@dataclass
class Setup:
    """What a run trains: built by loop.run from the recipe (and the checkpoint)."""

    recipe: Recipe
    data: Split
    model: object
    optimizer: object
    scheduler: object | None


class Trainer:
    """One run's training: the epochs, their checkpoints and the checks on them."""

    def __init__(self, setup: Setup, out_dir: Path, state: RunState, console,
                 show_progress: bool = True, keep: int = 5, saved: str | None = None,
                 health_every: int = 0, compile: bool = True):
        self.recipe, self.data, self.model = setup.recipe, setup.data, setup.model
        self.optimizer, self.scheduler = setup.optimizer, setup.scheduler
        self.out_dir, self.state = out_dir, state
        self.console, self.show_progress, self.keep = console, show_progress, keep
        self.saved = saved  # what checkpoints/last holds now (state.position()), for messages
        self.writer = True  # this process writes the run's files (ranks.py: rank 0 only)
        self.writes = Writes()  # an epoch's files, written while the next trains (writes.py)
        # each history row's text in metrics.json and history.csv, made once (report.py)
        self.row_json, self.row_csv = RowText(json.dumps), RowText(csv_row)
        data = setup.data
        self.inputs = {"shape": list(data.input_shape), "classes": data.num_classes,
                       "class_names": list(data.class_names)}
        self.trained = 0.0  # seconds of this process's epochs (their rows' seconds)
        self.drawer = None  # curves.png's Drawer (curves.py), from the start of training
        self.health = None  # --health: a HealthLog (healthlog.py); off: no hook on the model
        # the step through cr.compile; not with --health: a replay would not call its hooks
        self.update = steps.compiled_update(console.print) if compile and not health_every \
            else None
        if health_every:
            from chainrule.train.healthlog import HealthLog

            per_epoch = -(-data.train_size // self.recipe.batch_size)
            self.health = HealthLog(self.model, health_every, out_dir, console,
                                    data.num_classes, state.epoch * per_epoch + state.batch)

    def train(self) -> RunResult:
        state, stop = self.state, StopRequest()
        state.start_clock()
        # NOTE: NumPy's overflow warnings are silenced: a non-finite loss or weight stops
        # the run below with one line naming the epoch and step, which says more.
        with stop.installed(), np.errstate(over="ignore", invalid="ignore", divide="ignore"), \
                contextlib.ExitStack() as held:
            if self.health is not None:
                held.callback(self.health.close)
            held.callback(self.writes.close)
            if self.writer:  # curves.png's drawer, loading matplotlib now if it can
                self.drawer = held.enter_context(contextlib.closing(Drawer()))
            while state.epoch < self.recipe.epochs and state.stopped is None:
                start = time.perf_counter()
                lr = self.optimizer.param_groups[0]["lr"]
                n_steps = self._train_epoch(lr, stop)
                if n_steps is None:  # stopped by a signal, and saved
                    return RunResult(self._metrics(), stop.signal, self.out_dir)
                self._end_epoch(lr, n_steps, start)
            # Still under the handler: a Ctrl-C now cannot cut the final writes short.
            metrics = self._write_reports()
        for line in self._summary_lines(metrics):
            self.console.print(line)
        if self.state.history:
            self.console.print(wall_line(self.trained))
        return RunResult(metrics, None, self.out_dir)

    def _train_epoch(self, lr: float, stop: StopRequest) -> int | None:
        """The epoch's batches from ``state.batch`` on; its number of steps, or None when a
        signal stopped it (then ``last`` holds the state after the step it finished)."""
        state, recipe = self.state, self.recipe
        state.begin_epoch()
        if self.health is not None:
            self.health.new_epoch(state.epoch + 1)
        sums = state.partial
        self.model.train()
        loader = self._batches()
        with epoch_progress(self.console, self.show_progress) as bar:
            task = bar.add_task(f"epoch {state.epoch + 1}/{recipe.epochs}", total=len(loader),
                                completed=state.batch, loss=sums.mean_loss(),
                                acc=sums.accuracy())
            for i, (xb, yb) in enumerate(loader):
                if i < state.batch:
                    continue  # done before the interruption
                loss = self._step(xb, yb, sums, stop)
                if self.health is not None:
                    self._write(self.health.path, self.health.step, loss, self.optimizer)
                if not math.isfinite(loss):
                    raise self._diverged(steps.diverged(
                        state.epoch + 1, i + 1, len(loader), loss, "the training loss",
                        self._hint(lr), self._after()))
                state.batch = i + 1
                bar.update(task, advance=1, loss=sums.mean_loss(), acc=sums.accuracy())
                if stop.signal:
                    self._save_interrupted()
                    self.console.print(
                        f"{stop.signal}: stopped at epoch {state.epoch + 1}, batch {i + 1}; "
                        f"checkpoint saved. Resume with: chainrule train --resume "
                        f"{show(self.out_dir)}")
                    return None
        return len(loader)

    def _end_epoch(self, lr: float, n_steps: int, start: float) -> None:
        """Step the schedule, score the epoch, record it, and save it."""
        data, state = self.data, self.state
        if self.scheduler is not None:
            self.scheduler.step()
        # Validation chooses (best, early stop); the test set is only recorded.
        val = self._evaluate(data.x_val, data.y_val)[:2] if data.val_size else None
        test_loss, test_acc, _ = self._evaluate(data.x_test, data.y_test)
        try:
            steps.check_weights(self.model, state.epoch + 1, n_steps, test_loss,
                                self._hint(lr), self._after, val_loss=val[0] if val else 0.0)
        except DivergedError as e:
            raise self._diverged(e) from None
        state.end_epoch(epoch_row(state.epoch + 1, state.partial, val, (test_loss, test_acc),
                                  lr, start))
        self.trained += state.history[-1]["seconds"]
        # Highlighted on a terminal only: elsewhere the colours are dropped, and finding
        # them took 0.3 ms a line.
        self.console.print(epoch_line(self.recipe.epochs, state.history[-1]),
                           highlight=self.console.is_terminal or self.console.is_jupyter)
        self._check_patience()
        self._save_epoch()

    # --- what a run on several ranks does differently (ranks_trainer.py) ---------------

    def _batches(self):
        return steps.batches(self.data.x_train, self.data.y_train, self.recipe.batch_size,
                             self.recipe.seed, self.state.epoch, *steps.place(self.model))

    def _step(self, xb, yb, sums, stop: StopRequest) -> float:
        return steps.train_step(self.model, self.optimizer, xb, yb, sums, self.update)

    def _evaluate(self, x, y):
        return steps.evaluate(self.model, x, y)

    # --- early stopping and the report ------------------------------------------------

    def _check_patience(self) -> None:
        """Stop when the best epoch (by validation) is ``patience`` epochs behind."""
        patience, state = self.recipe.patience, self.state
        best = best_row(state.history)
        if not patience or best is None or best.get("val_accuracy") is None:
            return
        since = state.epoch - max(best["epoch"], state.patience_from)
        if since >= patience and state.epoch < self.recipe.epochs:
            state.stopped = {"epoch": state.epoch, "patience": patience,
                             "best_epoch": best["epoch"],
                             "best_val_accuracy": best["val_accuracy"]}
            self.console.print(
                f"early stop at epoch {state.epoch} of {self.recipe.epochs}: the validation "
                f"accuracy has not improved for {since} epochs (--patience {patience}); the "
                f"best is {best['val_accuracy']:.4f} at epoch {best['epoch']}")

    def _summary_lines(self, metrics: dict) -> list[str]:
        if not self.state.history:
            return []
        best_file = f"{show(paths(self.out_dir)['best'])}"
        lines = [f"final model (epoch {metrics['final_epoch']}): test accuracy "
                 f"{metrics['test_accuracy']:.4f}, test loss {metrics['test_loss']:.4f}"]
        if metrics["best_val_accuracy"] is not None:
            lines.append(
                f"best model, chosen by validation accuracy: epoch {metrics['best_epoch']} "
                f"(validation accuracy {metrics['best_val_accuracy']:.4f}, loss "
                f"{metrics['best_val_loss']:.4f}); its test accuracy "
                f"{metrics['best_test_accuracy']:.4f}: {best_file}")
        else:
            lines.append(f"best model: the last epoch (no validation set); {best_file}")
        health = ", health.jsonl, health.png" if self.health is not None else ""
        lines.append(f"wrote {show(self.out_dir)}/metrics.json, history.csv, curves.png"
                     f"{health}, checkpoints/ ({metrics['seconds']:.1f} s)")
        return lines

    # --- stopping on divergence ---------------------------------------------------------

    def _hint(self, lr: float) -> str:
        return (f"lower --lr (it is {lr:g}; this recipe's default is "
                f"{_default_lr(self.recipe):g}), then start a new run (--overwrite replaces "
                "this one)")

    def _after(self) -> str:
        self._flush()  # what last holds is known once its write is done
        last = paths(self.out_dir)["last"]
        if self.saved is None:
            return "; no checkpoint was written (nothing good to keep)"
        return f"; {show(last)} keeps the last good state ({self.saved})"

    def _diverged(self, error: DivergedError) -> DivergedError:
        """Record the divergence in metrics.json (best effort), and return the error."""
        note = {"epoch": error.epoch, "step": error.step, "loss": repr(error.loss)}
        history = self.state.history
        if self.writer:
            with contextlib.suppress(OSError):
                write_metrics(self.out_dir / "metrics.json",
                              {**summary(history), "epochs": len(history), "history": history,
                               "recipe": self.recipe.to_dict(), "complete": False,
                               "diverged": note})
        return error

    # --- writing, where a failed write (disk full) stops the run in one line ------------

    def _write(self, path: Path, write, *args, **kwargs) -> None:
        if not self.writer:
            return
        try:
            write(path, *args, **kwargs)
        except OSError as e:
            raise self._write_error(path, e) from None

    def _write_error(self, path: Path, e: OSError) -> CheckpointWriteError:
        held = (f"{show(paths(self.out_dir)['last'])} still holds {self.saved}"
                if self.saved else "no checkpoint was written")
        return CheckpointWriteError(
            f"{show(path)}: cannot write it ({e.strerror or e}); the run stopped and "
            f"{held}. help: free some space (or make the directory writable), then "
            f"continue with: chainrule train --resume {show(self.out_dir)}")

    def _flush(self) -> None:
        """Wait for the epoch's files still being written; a failed one stops the run."""
        try:
            self.writes.wait()
        except WriteFailed as e:
            raise self._write_error(e.path, e.error) from None

    def _checkpoint_data(self) -> bytes:
        return checkpoint.encode(self.recipe, self.model, self.optimizer, self.scheduler,
                                 self.state, inputs=self.inputs)

    def _save_epoch(self) -> None:
        """The epoch's checkpoint (``last`` and ``best`` are more names for the same file),
        metrics and history: encoded here, written by ``self.writes`` in the background."""
        state, ckpt = self.state, paths(self.out_dir)
        seconds = state.tick()
        data = self._checkpoint_data()
        if not self.writer:
            return
        epoch_file = checkpoint.epoch_path(self.out_dir, state.epoch)
        jobs = [(ckpt["dir"], ckpt["dir"].mkdir, 0o777, True, True),
                (epoch_file, write_atomic, epoch_file, data),
                (ckpt["last"], link_atomic, epoch_file, ckpt["last"]),
                (None, setattr, self, "saved", state.position())]
        if self.keep:
            jobs.append((ckpt["dir"], _prune, ckpt["dir"], self.keep))
        if best_row(state.history)["epoch"] == state.epoch:
            jobs.append((ckpt["best"], link_atomic, epoch_file, ckpt["best"]))
        # metrics and history after every epoch: an interrupted run still shows its
        # progress. Not fsynced: the final ones are (_write_reports), and last holds all.
        metrics = metrics_json({**summary(state.history, state.stopped), "epochs": state.epoch,
                                "seconds": seconds, "history": state.history,
                                "recipe": self.recipe.to_dict(), "complete": False},
                               self.row_json)
        jobs += [(self.out_dir / "metrics.json", write_atomic, self.out_dir / "metrics.json",
                  metrics, False),
                 (self.out_dir / "history.csv", write_atomic, self.out_dir / "history.csv",
                  history_csv(state.history, self.row_csv), False)]
        try:
            self.writes.submit(jobs)
        except WriteFailed as e:
            raise self._write_error(e.path, e.error) from None

    def _save_interrupted(self) -> None:
        self.state.tick()
        data = self._checkpoint_data()
        self._flush()
        self._write(paths(self.out_dir)["last"], _write_checkpoint, data)
        self.saved = self.state.position()

    def _write_reports(self) -> dict:
        """The run's final metrics.json, history.csv and plot; returns the metrics."""
        metrics, history = self._metrics(), self.state.history
        best = best_row(history)
        figure = (history, f"chainrule: {model_name(self.recipe.model)} on "
                  f"{self.recipe.dataset}", best["epoch"] if best else None)
        if self.drawer is not None:
            self.drawer.ask(*figure)  # a helper draws it while the files below are written
        self._flush()
        self._write(self.out_dir / "metrics.json", write_metrics, metrics, self.row_json)
        self._write(self.out_dir / "history.csv", write_history, history, self.row_csv)
        self._write(self.out_dir / "curves.png", plot_curves, *figure, self.drawer)
        if self.health is not None:
            self._write(self.health.figure, self.health.finish, show(self.out_dir))
        return metrics

    def _metrics(self) -> dict:
        recipe, data, state = self.recipe, self.data, self.state
        return {
            **summary(state.history, state.stopped),
            "epochs": len(state.history),
            "seconds": state.tick(),
            "history": state.history,
            "recipe": recipe.to_dict(),
            "dataset": {"name": recipe.dataset, "train_size": data.train_size,
                        "val_size": data.val_size, "test_size": data.test_size,
                        "num_classes": data.num_classes},
            "parameters": count_parameters(self.model),
            "chainrule_version": cr.__version__,
            "complete": len(state.history) == recipe.epochs or state.stopped is not None,
        }


def _write_checkpoint(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, data)


def _prune(folder: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` epoch checkpoints in ``folder``."""
    for old in sorted(folder.glob("epoch-*.safetensors"))[:-keep]:
        old.unlink(missing_ok=True)


def _default_lr(recipe: Recipe) -> float:
    from chainrule.train.recipes import defaults_for

    try:
        return defaults_for(recipe.dataset, recipe.model).get("lr", Recipe.lr)
    except KeyError:
        return Recipe.lr
