"""The training loop: gradient descent on real data, with checkpoints and exact resume.

``fit`` is the plain loop for scripts. ``run`` is what `chainrule train` does: build
everything from a ``Recipe``, train with a progress bar, evaluate after every epoch, and
leave metrics.json, history.csv, the loss/accuracy plot and checkpoints in the run
directory. A run killed at any moment resumes from its last checkpoint to bitwise the
same weights and metrics, because every source of randomness is either restored (the
global generator that dropout draws from) or derived from the seed (the validation split)
and (seed, epoch) (the shuffling order).

Honest numbers: the best epoch is chosen on the validation set, held out of the training
set; the test set is scored after every epoch for the record and chooses nothing. So the
test accuracy of ``best`` is an estimate of the accuracy on new data, not the maximum of
a curve that was looked at.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import DataError
from chainrule.nn import functional as F
from chainrule.train import checkpoint, limits, rundir
from chainrule.train.checkpoint import paths
from chainrule.train.datasets import load_split
from chainrule.train.errors import CheckpointWriteError, DivergedError, RecipeError
from chainrule.train.models import build_model, count_parameters
from chainrule.train.recipes import MAX_EPOCHS, Recipe, is_custom, model_name, validate
from chainrule.train.report import (
    epoch_line,
    epoch_progress,
    plot_curves,
    write_history,
    write_metrics,
)
from chainrule.train.rundir import show

# --- the loop itself ----------------------------------------------------------------------


@dataclass
class EpochSums:
    """Running totals over an epoch's batches (kept in checkpoints for mid-epoch resume)."""

    loss: float = 0.0  # sum of per-sample losses: the total loss L = sum of l^n
    correct: int = 0
    seen: int = 0

    def mean_loss(self) -> float:
        return self.loss / max(self.seen, 1)

    def accuracy(self) -> float:
        return self.correct / max(self.seen, 1)


def train_step(model: nn.Module, optimizer, x, y, sums: EpochSums) -> float:
    """One gradient-descent step: forward, cost = mean loss, backward, update.

    Returns the batch's cost (NaN or inf when training has diverged: the caller checks).
    """
    logits = model(x)
    loss = F.cross_entropy(logits, y)  # the cost function: the mean of l^n over the batch
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    n, value = len(y), loss.item()
    sums.loss += value * n
    sums.correct += int((logits.numpy().argmax(axis=1) == y.numpy()).sum())
    sums.seen += n
    return value


@cr.no_grad()
def evaluate(model: nn.Module, x: np.ndarray, y: np.ndarray, batch_size: int = 512):
    """Mean cross-entropy, accuracy and predicted classes on (x, y), in eval mode."""
    was_training = model.training
    model.eval()
    total, preds = 0.0, []
    for i in range(0, len(y), batch_size):
        xb, yb = cr.tensor(x[i:i + batch_size]), y[i:i + batch_size]
        logits = model(xb)
        total += F.cross_entropy(logits, yb, reduction="sum").item()
        preds.append(logits.numpy().argmax(axis=1))
    model.train(was_training)
    pred = np.concatenate(preds) if preds else np.zeros(0, dtype=np.int64)
    return total / max(len(y), 1), float((pred == y).mean()) if len(y) else 0.0, pred


def batches(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int, epoch: int):
    """The epoch's shuffled batches; the order depends only on (seed, epoch)."""
    from chainrule.data import DataLoader, TensorDataset

    order = np.random.default_rng([seed, epoch])
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True, generator=order)


@np.errstate(over="ignore", invalid="ignore", divide="ignore")  # see _Trainer.train's NOTE
def fit(model: nn.Module, optimizer, train_data: tuple, test_data: tuple, epochs: int,
        batch_size: int = 32, scheduler=None, seed: int = 0, log=print) -> list[dict]:
    """Train ``model`` for ``epochs`` on arrays ``train_data = (x, y)``; returns the history.

    Raises ``DivergedError`` (naming the epoch and step) as soon as the loss is NaN or inf.
    """
    history = []
    for epoch in range(epochs):
        start, sums = time.perf_counter(), EpochSums()
        lr = optimizer.param_groups[0]["lr"]
        hint = f"lower the learning rate (it is {lr:g})"
        model.train()
        loader = batches(*train_data, batch_size, seed, epoch)
        for i, (xb, yb) in enumerate(loader):
            loss = train_step(model, optimizer, xb, yb, sums)
            if not math.isfinite(loss):
                raise diverged(epoch + 1, i + 1, len(loader), loss, "the training loss", hint)
        if scheduler is not None:
            scheduler.step()
        test_loss, test_acc, _ = evaluate(model, *test_data)
        _check_weights(model, epoch + 1, len(loader), test_loss, hint)
        row = _row(epoch + 1, sums, None, (test_loss, test_acc), lr, start)
        history.append(row)
        if log:
            log(epoch_line(epochs, row))
    return history


def diverged(epoch: int, step: int, steps: int, value: float, what: str,
             hint: str, after: str = "") -> DivergedError:
    return DivergedError(f"{what} became {value} at epoch {epoch}, step {step} of {steps}: "
                         f"training diverged{after}. help: {hint}", epoch, step, value)


def _check_weights(model, epoch, steps, test_loss, hint, after="", val_loss=0.0) -> None:
    """After an epoch: the weights (and batch-norm statistics) must all be finite.

    A last step can push weights to inf while the loss it computed was still finite;
    then only the weights, or the validation and test losses computed with them, show it.
    """
    for name, value in model.state_dict().items():
        array = value.numpy() if hasattr(value, "numpy") else np.asarray(value)
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            bad = float("nan") if np.isnan(array).any() else float("inf")
            raise diverged(epoch, steps, steps, bad, f"the model's {name}", hint, after)
    if not math.isfinite(val_loss):
        raise diverged(epoch, steps, steps, val_loss, "the validation loss", hint, after)
    if not math.isfinite(test_loss):
        raise diverged(epoch, steps, steps, test_loss, "the test loss", hint, after)


def _row(epoch, sums, val, test, lr, start) -> dict:
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


# --- a whole run, from a recipe -----------------------------------------------------------


def make_optimizer(recipe: Recipe, params):
    params = list(params)
    if recipe.optimizer == "sgd":
        return optim.SGD(params, lr=recipe.lr, momentum=recipe.momentum,
                         weight_decay=recipe.weight_decay)
    if recipe.optimizer == "adam":
        return optim.Adam(params, lr=recipe.lr, weight_decay=recipe.weight_decay)
    if recipe.optimizer == "adamw":
        return optim.AdamW(params, lr=recipe.lr, weight_decay=recipe.weight_decay)
    return optim.RMSprop(params, lr=recipe.lr, momentum=recipe.momentum,
                         weight_decay=recipe.weight_decay)


def make_scheduler(recipe: Recipe, optimizer):
    if recipe.scheduler == "step":
        return optim.lr_scheduler.StepLR(optimizer, recipe.step_size, gamma=recipe.gamma)
    if recipe.scheduler == "cosine":
        return optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=recipe.epochs)
    return None


@dataclass
class RunResult:
    metrics: dict
    interrupted: str | None = None  # the signal's name when stopped early
    out_dir: Path = field(default_factory=Path)


class _StopRequest:
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


def _threads(n: int):
    if not n:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=n)


def run(recipe: Recipe | None, out_dir=None, resume: bool = False, overwrite: bool = False,
        console=None, show_progress: bool = True, keep_checkpoints: int = 5,
        epochs: int | None = None) -> RunResult:
    """Train from ``recipe`` into ``out_dir`` (or continue the run there, with ``resume``).

    ``out_dir=None`` makes a new run directory: ``runs/DATASET-MODEL``, or ``-2``, ``-3``...
    when that is taken. A given ``out_dir`` that already holds a run is refused
    (``RunExistsError``) unless ``overwrite``, which empties it first. With ``resume``,
    ``recipe`` may be None: the checkpoint's is used (a different one is refused);
    ``epochs`` then sets a new total (a finished run is extended to it, its learning-rate
    schedule re-planned for the new total; fewer than the epochs done is refused).

    Everything that can be checked is checked before the first file is written: the
    recipe, the data, the model's memory, the checkpoint to resume. The directory is then
    locked for the run's life (``RunBusyError`` if another run holds it).

    Every epoch writes ``checkpoints/epoch-NNN``; only the newest ``keep_checkpoints`` of
    those are kept (0: all), besides ``last`` and ``best`` (the highest validation
    accuracy). A loss that becomes NaN or inf stops the run with ``DivergedError``; a write
    that fails (disk full) stops it with ``CheckpointWriteError``; either way ``last`` keeps
    the last good state.
    """
    from rich.console import Console

    console = console or Console(soft_wrap=True)  # long lines stay whole in logs
    if keep_checkpoints < 0:
        raise RecipeError(f"--keep-checkpoints must be >= 0, got {keep_checkpoints}")
    if epochs is not None and not resume:
        raise RecipeError("run: epochs= sets the new total of a resumed run; a new run takes "
                          "its epochs from the recipe")
    lock, state = None, None
    if resume:
        if out_dir is None:
            raise RecipeError("run: resume=True needs out_dir, the run directory to continue")
        out_dir = Path(out_dir)
        if not checkpoint.file_of(out_dir).is_file():
            raise checkpoint.CheckpointError(
                f"{show(out_dir)}: no run to resume (no checkpoints/last.safetensors there). "
                "help: --resume takes the directory of a run that `chainrule train` started")
        lock = rundir.RunLock.acquire(out_dir)
    else:
        if recipe is None:
            raise RecipeError("run: give a recipe (recipe_for(...)), or resume=True")
        validate(recipe)
        if out_dir is not None:
            out_dir = Path(out_dir)
            rundir.check_target(out_dir, overwrite)
    try:
        extension = None
        if resume:
            file = checkpoint.file_of(out_dir)
            state, saved = checkpoint.read_run(file)
            if recipe is not None and recipe != saved:
                raise RecipeError(f"{show(file)}: resume continues with the checkpoint's own "
                                  "recipe, which differs from the one given. help: pass "
                                  "recipe=None")
            recipe, extension = _extension(saved, state["progress"], epochs, out_dir)
        with _threads(recipe.threads):
            limits.check_samples(recipe)
            data = _load(recipe)
            limits.check_model(recipe, data.input_shape, data.num_classes, data.train_size,
                               data.test_size)
            cr.manual_seed(recipe.seed)
            model = build_model(recipe, data.input_shape, data.num_classes, recorded=resume)
            if is_custom(recipe.model):
                from chainrule.train.usermodel import probe

                probe(model, recipe.model, data.x_train[:2], data.num_classes, recipe.dataset)
                limits.check_built(recipe, count_parameters(model))
            optimizer = make_optimizer(recipe, model.parameters())
            scheduler = make_scheduler(recipe, optimizer)
            start = _Start()
            if resume:
                checkpoint.restore(state, file, model, optimizer, scheduler)
                start = _Start.of(state, file, data, recipe)
                if extension is not None:
                    console.print(f"resuming {show(out_dir)} at epoch {start.epoch + 1}, "
                                  f"batch {start.batch}")
                    console.print(_replan(extension, recipe, optimizer, scheduler, start,
                                          out_dir))
                    start.stopped, start.patience_from = None, start.epoch
                elif start.finished(recipe):
                    console.print(f"{show(out_dir)}: {start.why_finished(recipe)}; nothing to "
                                  "train. help: --epochs N continues it to N epochs in total")
                else:
                    console.print(f"resuming {show(out_dir)} at epoch {start.epoch + 1}, "
                                  f"batch {start.batch}")
            elif out_dir is None:
                out_dir, lock = rundir.claim_new(
                    Path("runs") / f"{recipe.dataset}-{model_name(recipe.model)}")
            else:
                lock = rundir.claim(out_dir, overwrite)
            if lock.stale_pid:
                console.print(f"note: {show(lock.path)} was left by process {lock.stale_pid}, "
                              "which is no longer running; taken over")
            console.print(f"{recipe.dataset}: {data.train_size} train / "
                          + (f"{data.val_size} validation" if data.val_size else
                             "no validation") + f" / {data.test_size} test samples; "
                          f"{_model_label(recipe)} with {count_parameters(model):,} "
                          f"parameters; run directory {show(out_dir)}")
            console.print(_selection_line(recipe, data))
            trainer = _Trainer(recipe, Path(out_dir), data, model, optimizer, scheduler,
                               console, show_progress, keep_checkpoints, start)
            return trainer.train()
    finally:
        if lock is not None:
            lock.release()


def _model_label(recipe: Recipe) -> str:
    if is_custom(recipe.model):
        file, name = recipe.model.rsplit(":", 1)
        return f"{name} (from {show(file)})"
    return recipe.model


def _selection_line(recipe: Recipe, data) -> str:
    if data.val_size:
        n = data.val_size
        line = (f"best epoch: the highest validation accuracy ({n} sample{'s' * (n != 1)}, "
                f"{recipe.val_fraction:g} of the training set held out, stratified by class); "
                "the test set is scored for the record and chooses nothing")
    else:
        line = ("best epoch: the last one (--val-fraction 0: no validation set to choose "
                "by); the test set is scored for the record and chooses nothing")
    if recipe.patience:
        line += (f"; early stop after {recipe.patience} epoch(s) without a new best "
                 "validation accuracy")
    return line


def _extension(recipe: Recipe, progress: dict, epochs: int | None, out_dir) -> tuple:
    """(the recipe to continue with, and what changed; None when nothing did) for a resume
    with ``epochs`` as the new total."""
    if epochs is None:
        return recipe, None
    if not isinstance(epochs, int) or not 1 <= epochs <= MAX_EPOCHS:
        raise RecipeError(f"--epochs must be in [1, {MAX_EPOCHS:,}], got {epochs}")
    done, batch = progress["epoch"], progress["batch"]
    stopped = progress.get("stopped_early")
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


def _replan(extension: dict, recipe: Recipe, optimizer, scheduler, start, out_dir) -> str:
    """Re-plan the learning-rate schedule for the new total; the line that says so.

    The cosine schedule is the only one that depends on the total: it now reaches its
    minimum at the new last epoch. An epoch that was interrupted finishes at the rate it
    began with; the new plan takes over from the next epoch.
    """
    old, new, stopped = extension["from"], extension["to"], extension["stopped"]
    done = start.epoch
    line = f"{show(out_dir)}: now {new} epochs in total (was {old})"
    if stopped and new == old:
        line = f"{show(out_dir)}: continuing to epoch {new} past the early stop at epoch {done}"
    lr = optimizer.param_groups[0]["lr"]
    if new == old:
        pass
    elif isinstance(scheduler, optim.lr_scheduler.CosineAnnealingLR):
        scheduler.T_max = new
        line += f"; the cosine learning-rate schedule is re-planned for {new} epochs"
        if start.batch:
            line += (f": epoch {done + 1} finishes at its rate ({lr:.2e}), the new plan takes "
                     f"over from epoch {done + 2}")
        else:
            planned = scheduler.get_lr()
            for group, value in zip(optimizer.param_groups, planned):
                group["lr"] = value
            scheduler._last_lr = list(planned)
            line += (f": epoch {done + 1} runs at lr {planned[0]:.2e} (the {old}-epoch plan "
                     f"had {lr:.2e})")
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


def _load(recipe):
    try:
        return load_split(recipe)
    except OSError as e:  # e.g. a data folder that cannot be read: the readers name the rest
        raise DataError(f"{show(e.filename or recipe.data_dir)}: cannot read it "
                        f"({e.strerror or e})") from None


@dataclass
class _Start:
    """Where training starts: epoch 0, or what a checkpoint recorded."""

    epoch: int = 0
    batch: int = 0
    history: list = field(default_factory=list)
    partial: EpochSums = field(default_factory=EpochSums)
    seconds: float = 0.0
    saved: str | None = None  # what checkpoints/last holds, for messages
    stopped: dict | None = None  # the early stop, when the run made one
    patience_from: int = 0  # patience counts epochs after max(best epoch, this)

    @classmethod
    def of(cls, state, file, data, recipe) -> _Start:
        progress = state["progress"]
        epoch, batch = progress["epoch"], progress["batch"]
        steps = -(-data.train_size // recipe.batch_size)
        if batch > steps:
            raise checkpoint.CheckpointError(
                f"{show(file)}: not a complete training checkpoint: it stopped at batch {batch} of "
                f"an epoch that has {steps}. help: resume a run directory that `chainrule "
                "train` wrote")
        return cls(epoch, batch, list(progress["history"]),
                   EpochSums(**progress.get("partial", {})), float(progress.get("seconds", 0)),
                   _held(epoch, batch), progress.get("stopped_early"),
                   progress.get("patience_from", 0))

    def finished(self, recipe: Recipe) -> bool:
        return self.stopped is not None or (self.epoch >= recipe.epochs and not self.batch)

    def why_finished(self, recipe: Recipe) -> str:
        if self.stopped is not None:
            return (f"it stopped early at epoch {self.epoch} of {recipe.epochs} (no new best "
                    f"validation accuracy for {self.stopped['patience']} epochs)")
        return f"all {recipe.epochs} epochs are done"


def _held(epoch: int, batch: int = 0) -> str:
    return f"epoch {epoch}" + (f", batch {batch} of epoch {epoch + 1}" if batch else "")


class _Trainer:
    """One run's training: the epochs, their checkpoints and the checks on them."""

    def __init__(self, recipe, out_dir, data, model, optimizer, scheduler, console,
                 show_progress, keep, start: _Start):
        self.recipe, self.out_dir, self.data = recipe, out_dir, data
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.console, self.show_progress, self.keep = console, show_progress, keep
        self.start = start
        self.history = start.history
        self.saved = start.saved  # what checkpoints/last holds now
        self.stopped, self.patience_from = start.stopped, start.patience_from
        self.inputs = {"shape": list(data.input_shape), "classes": data.num_classes,
                       "class_names": list(data.class_names)}

    def train(self) -> RunResult:
        recipe, data, model, optimizer = self.recipe, self.data, self.model, self.optimizer
        started = time.perf_counter()
        seconds_before = self.start.seconds
        epoch, skip, partial = self.start.epoch, self.start.batch, self.start.partial
        stop = _StopRequest()
        # NOTE: NumPy's overflow warnings are silenced: a non-finite loss or weight stops
        # the run below with one line naming the epoch and step, which says more.
        with stop.installed(), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            while epoch < recipe.epochs and self.stopped is None:
                start = time.perf_counter()
                lr = optimizer.param_groups[0]["lr"]
                sums = partial if skip else EpochSums()
                model.train()
                loader = batches(data.x_train, data.y_train, recipe.batch_size, recipe.seed,
                                 epoch)
                with epoch_progress(self.console, self.show_progress) as bar:
                    task = bar.add_task(f"epoch {epoch + 1}/{recipe.epochs}", total=len(loader),
                                        completed=skip, loss=sums.mean_loss(),
                                        acc=sums.accuracy())
                    for i, (xb, yb) in enumerate(loader):
                        if i < skip:
                            continue  # done before the interruption
                        loss = train_step(model, optimizer, xb, yb, sums)
                        if not math.isfinite(loss):
                            raise self._diverged(diverged(
                                epoch + 1, i + 1, len(loader), loss, "the training loss",
                                self._hint(lr), self._after()))
                        bar.update(task, advance=1, loss=sums.mean_loss(), acc=sums.accuracy())
                        if stop.signal:
                            self._save_interrupted(epoch, i + 1, sums, seconds_before
                                                   + time.perf_counter() - started)
                            self.console.print(
                                f"{stop.signal}: stopped at epoch {epoch + 1}, batch {i + 1}; "
                                f"checkpoint saved. Resume with: chainrule train --resume "
                                f"{show(self.out_dir)}")
                            return RunResult(self._metrics(started, seconds_before),
                                             stop.signal, self.out_dir)
                skip = 0
                if self.scheduler is not None:
                    self.scheduler.step()
                # Validation chooses (best, early stop); the test set is only recorded.
                val = evaluate(model, data.x_val, data.y_val)[:2] if data.val_size else None
                test_loss, test_acc, _ = evaluate(model, data.x_test, data.y_test)
                try:
                    _check_weights(model, epoch + 1, len(loader), test_loss, self._hint(lr),
                                   self._after(), val_loss=val[0] if val else 0.0)
                except DivergedError as e:
                    raise self._diverged(e) from None
                epoch += 1
                row = _row(epoch, sums, val, (test_loss, test_acc), lr, start)
                self.history.append(row)
                self.console.print(epoch_line(recipe.epochs, row))
                self._check_patience(epoch)
                self._save_epoch(epoch, seconds_before + time.perf_counter() - started)
            # Still under the handler: a Ctrl-C now cannot cut the final writes short.
            metrics = self._metrics(started, seconds_before)
            self._write(self.out_dir / "metrics.json", write_metrics, metrics)
            self._write(self.out_dir / "history.csv", write_history, self.history)
            best = best_row(self.history)
            self._write(self.out_dir / "curves.png", plot_curves, self.history,
                        f"chainrule: {model_name(recipe.model)} on {recipe.dataset}",
                        best["epoch"] if best else None)
        for line in self._summary_lines(metrics):
            self.console.print(line)
        return RunResult(metrics, None, self.out_dir)

    # --- early stopping and the report ------------------------------------------------

    def _check_patience(self, epoch: int) -> None:
        """Stop when the best epoch (by validation) is ``patience`` epochs behind."""
        patience = self.recipe.patience
        best = best_row(self.history)
        if not patience or best is None or best.get("val_accuracy") is None:
            return
        since = epoch - max(best["epoch"], self.patience_from)
        if since >= patience and epoch < self.recipe.epochs:
            self.stopped = {"epoch": epoch, "patience": patience, "best_epoch": best["epoch"],
                            "best_val_accuracy": best["val_accuracy"]}
            self.console.print(
                f"early stop at epoch {epoch} of {self.recipe.epochs}: the validation accuracy "
                f"has not improved for {since} epochs (--patience {patience}); the best is "
                f"{best['val_accuracy']:.4f} at epoch {best['epoch']}")

    def _summary_lines(self, metrics: dict) -> list[str]:
        if not self.history:
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
        lines.append(f"wrote {show(self.out_dir)}/metrics.json, history.csv, curves.png, "
                     f"checkpoints/ ({metrics['seconds']:.1f} s)")
        return lines

    # --- stopping on divergence ---------------------------------------------------------

    def _hint(self, lr: float) -> str:
        return (f"lower --lr (it is {lr:g}; this recipe's default is "
                f"{_default_lr(self.recipe):g}), then start a new run (--overwrite replaces "
                "this one)")

    def _after(self) -> str:
        last = paths(self.out_dir)["last"]
        if self.saved is None:
            return "; no checkpoint was written (nothing good to keep)"
        return f"; {show(last)} keeps the last good state ({self.saved})"

    def _diverged(self, error: DivergedError) -> DivergedError:
        """Record the divergence in metrics.json (best effort), and return the error."""
        note = {"epoch": error.epoch, "step": error.step, "loss": repr(error.loss)}
        with contextlib.suppress(OSError):
            write_metrics(self.out_dir / "metrics.json",
                          {**_summary(self.history), "epochs": len(self.history),
                           "history": self.history, "recipe": self.recipe.to_dict(),
                           "complete": False, "diverged": note})
        return error

    # --- writing, where a failed write (disk full) stops the run in one line ------------

    def _write(self, path: Path, write, *args, **kwargs) -> None:
        try:
            write(path, *args, **kwargs)
        except OSError as e:
            held = (f"{show(paths(self.out_dir)['last'])} still holds {self.saved}"
                    if self.saved else "no checkpoint was written")
            raise CheckpointWriteError(
                f"{show(path)}: cannot write it ({e.strerror or e}); the run stopped and "
                f"{held}. help: free some space (or make the directory writable), then "
                f"continue with: chainrule train --resume {show(self.out_dir)}") from None

    def _checkpoint(self, path, epoch, batch, **progress) -> None:
        if self.stopped is not None:
            progress["stopped_early"] = self.stopped
        if self.patience_from:
            progress["patience_from"] = self.patience_from
        self._write(path, checkpoint.write, self.recipe, self.model, self.optimizer,
                    self.scheduler, epoch, batch, self.history, inputs=self.inputs, **progress)

    def _save_epoch(self, epoch: int, seconds: float) -> None:
        ckpt = paths(self.out_dir)
        self._checkpoint(checkpoint.epoch_path(self.out_dir, epoch), epoch, 0, seconds=seconds)
        self._checkpoint(ckpt["last"], epoch, 0, seconds=seconds)
        self.saved = _held(epoch)
        if self.keep:
            for old in sorted(ckpt["dir"].glob("epoch-*.safetensors"))[:-self.keep]:
                self._write(old, Path.unlink, missing_ok=True)
        if best_row(self.history)["epoch"] == epoch:
            self._checkpoint(ckpt["best"], epoch, 0, seconds=seconds)
        # metrics and history after every epoch: an interrupted run still shows its progress
        self._write(self.out_dir / "metrics.json", write_metrics,
                    {**_summary(self.history, self.stopped), "epochs": epoch,
                     "seconds": seconds, "history": self.history,
                     "recipe": self.recipe.to_dict(), "complete": False})
        self._write(self.out_dir / "history.csv", write_history, self.history)

    def _save_interrupted(self, epoch, batch, sums, seconds) -> None:
        self._checkpoint(paths(self.out_dir)["last"], epoch, batch, partial=sums.__dict__,
                         seconds=seconds)
        self.saved = _held(epoch, batch)

    def _metrics(self, started, seconds_before) -> dict:
        recipe, data, history = self.recipe, self.data, self.history
        return {
            **_summary(history, self.stopped),
            "epochs": len(history),
            "seconds": seconds_before + time.perf_counter() - started,
            "history": history,
            "recipe": recipe.to_dict(),
            "dataset": {"name": recipe.dataset, "train_size": data.train_size,
                        "val_size": data.val_size, "test_size": data.test_size,
                        "num_classes": data.num_classes},
            "parameters": count_parameters(self.model),
            "chainrule_version": cr.__version__,
            "complete": len(history) == recipe.epochs or self.stopped is not None,
        }


def _default_lr(recipe: Recipe) -> float:
    from chainrule.train.recipes import defaults_for

    try:
        return defaults_for(recipe.dataset, recipe.model).get("lr", Recipe.lr)
    except KeyError:
        return Recipe.lr


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


def _summary(history: list, stopped: dict | None = None) -> dict:
    if not history:
        return {}
    last, best = history[-1], best_row(history)
    with_val = best.get("val_accuracy") is not None
    summary = {"test_accuracy": last["test_accuracy"], "test_loss": last["test_loss"],
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
        summary["stopped_early"] = stopped
    return summary
