"""The training loop: gradient descent on real data, with checkpoints and exact resume.

``fit`` is the plain loop for scripts. ``run`` is what `chainrule train` does: build
everything from a ``Recipe``, train with a progress bar, evaluate after every epoch, and
leave metrics.json, history.csv, the loss/accuracy plot and checkpoints in the run
directory. A run killed at any moment resumes from its last checkpoint to bitwise the
same weights and metrics (trainer.py says how).

The pieces, each in its module: steps.py (a step, an epoch's batches, an evaluation, the
divergence checks), state.py (``RunState``: where a run stands, what a checkpoint
records), metrics.py (epoch rows, the best epoch, metrics.json's summary), trainer.py
(one run's epochs and checkpoints), resume.py (a run read back, and extended).

Honest numbers: the best epoch is chosen on the validation set, held out of the training
set; the test set is scored after every epoch for the record and chooses nothing. So the
test accuracy of ``best`` is an estimate of the accuracy on new data, not the maximum of
a curve that was looked at.

Both loops set the C allocator to keep freed memory for reuse (``_allocator.py``): each
step allocates the same large arrays again. ``import chainrule`` alone changes nothing.
"""

from __future__ import annotations

import contextlib
import math
import time
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule import _allocator, nn, optim
from chainrule.data import DataError
from chainrule.train import backends, checkpoint, limits, ranks, rundir, steps
from chainrule.train import resume as resuming
from chainrule.train import threads as _threads
from chainrule.train.datasets import load_split
from chainrule.train.errors import RecipeError
from chainrule.train.metrics import best_row, epoch_row
from chainrule.train.models import build_model, count_parameters
from chainrule.train.recipes import Recipe, is_custom, model_name, validate
from chainrule.train.report import epoch_line
from chainrule.train.rundir import show
from chainrule.train.state import EpochSums, RunState
from chainrule.train.steps import batches, evaluate, train_step
from chainrule.train.trainer import RunResult, Setup, Trainer

# The names scripts and the CLI import from here; each lives in its module.
__all__ = ["fit", "run", "RunResult", "EpochSums", "RunState", "train_step", "evaluate",
           "batches", "best_row", "make_optimizer", "make_scheduler"]


@np.errstate(over="ignore", invalid="ignore", divide="ignore")  # see Trainer.train's NOTE
def fit(model: nn.Module, optimizer, train_data: tuple, test_data: tuple, epochs: int,
        batch_size: int = 32, scheduler=None, seed: int = 0, log=print,
        monitor=None, threads: int = 0, compile: bool = True) -> list[dict]:
    """Train ``model`` for ``epochs`` on arrays ``train_data = (x, y)``; returns the history.

    ``monitor``: a ``chainrule.health.Monitor`` of ``model``, stepped after every
    optimizer step (and told of every new epoch). ``threads``: BLAS threads; 0 chooses
    them by the work, as ``chainrule train`` does (train/threads.py). ``compile``: the step
    runs through ``cr.compile`` (bitwise the eager step, tests/compile/test_recipes.py;
    eager with a monitor, whose hooks a replay would not call). A model moved to another
    library (``model.to("torch")``) trains there: its batches follow it, the step eagerly.

    Raises ``DivergedError`` (naming the epoch and step) as soon as the loss is NaN or inf.
    Sets the C allocator to keep freed memory for the rest of the process (``_allocator``).
    """
    _allocator.keep_freed_memory()
    probe = steps.inputs_for(model, train_data[0][:batch_size])
    with _threads.choose(model, probe, threads).limit():
        return _fit(model, optimizer, train_data, test_data, epochs, batch_size, scheduler,
                    seed, log, monitor, compile)


def _fit(model, optimizer, train_data, test_data, epochs, batch_size, scheduler, seed, log,
         monitor, compile) -> list[dict]:
    history = []
    place = steps.place(model)  # the batches go where the model is (Module.to)
    update = steps.compiled_update(log) if compile and monitor is None else None
    for epoch in range(epochs):
        start, sums = time.perf_counter(), EpochSums()
        lr = optimizer.param_groups[0]["lr"]
        hint = f"lower the learning rate (it is {lr:g})"
        model.train()
        loader = steps.batches(*train_data, batch_size, seed, epoch, *place)
        if monitor is not None:
            monitor.new_epoch(epoch + 1)
        for i, (xb, yb) in enumerate(loader):
            loss = steps.train_step(model, optimizer, xb, yb, sums, update)
            if monitor is not None:
                monitor.step(loss, optimizer)
            if not math.isfinite(loss):
                raise steps.diverged(epoch + 1, i + 1, len(loader), loss, "the training loss",
                                     hint)
        if scheduler is not None:
            scheduler.step()
        test_loss, test_acc, _ = steps.evaluate(model, *test_data)
        steps.check_weights(model, epoch + 1, len(loader), test_loss, hint)
        row = epoch_row(epoch + 1, sums, None, (test_loss, test_acc), lr, start)
        history.append(row)
        if log:
            log(epoch_line(epochs, row))
    return history


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


def run(recipe: Recipe | None, out_dir=None, resume: bool = False, overwrite: bool = False,
        console=None, show_progress: bool = True, keep_checkpoints: int = 5,
        epochs: int | None = None, health_every: int = 0, compile: bool = True,
        backend: str = "numpy", device=None) -> RunResult:
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
    the last good state. ``health_every`` > 0 watches the training health of one step
    in that many (``--health``: health.jsonl, health.png; train/healthlog.py). ``compile``
    runs the step through ``cr.compile`` (bitwise the eager step; not with ``--health`` nor
    on several processes, nor on another ``backend``: the library of the model, its
    optimizer state and batches, on ``device``; checkpoints are NumPy on disk either
    way). Sets the C allocator to keep freed memory (``_allocator``).
    """
    world = ranks.join()  # under mpiexec: this rank's place (ranks.py); else a world of 1
    console = _console(console, world)
    out_dir = world.agree(lambda: _check_request(recipe, out_dir, resume, overwrite,
                                                 keep_checkpoints, epochs, backend, device))
    with contextlib.ExitStack() as held:
        resumed = None
        if resume:
            resumed, stale = world.agree(lambda: _read_locked(out_dir, recipe, epochs, held))
            recipe = resumed.recipe
        _allocator.keep_freed_memory()
        setup = _build(recipe, resume, backend, device)
        probe = steps.inputs_for(setup.model, setup.data.x_train[:recipe.batch_size])
        blas = _threads.choose(setup.model, probe, recipe.threads, cores=world.threads(0) or None)
        with blas.limit():
            ranks.check_same(world, setup.recipe, setup.model, setup.data)
            if health_every and world.size > 1:
                raise RecipeError("--health watches one process's training; with "
                                  f"{world.size} processes it is not supported yet. help: "
                                  "run --health on one process (the signals are the same)")
            if resumed is not None:
                state = _continue(resumed, setup, out_dir, console, world)
            else:
                ranks.seed_rank(world, recipe.seed)
                state = RunState()
                out_dir, stale = world.agree(lambda: _claim(recipe, out_dir, overwrite, held))
            _announce(console, setup, out_dir, stale, world)
            console.print(f"BLAS threads: {blas.why}")
            saved = state.position() if resume else None
            trainer = _trainer(world, setup, Path(out_dir), state, console, show_progress,
                               keep_checkpoints, saved, health_every, compile)
            return trainer.train()


def _console(console, world: ranks.World):
    """Where the run's lines go: ``console``, or one that keeps long lines whole in logs;
    a rank that does not write says nothing."""
    from rich.console import Console

    if not world.writer:
        return Console(quiet=True)
    return console or Console(soft_wrap=True)


def _trainer(world, setup, out_dir: Path, state, console, show_progress, keep, saved,
             health_every: int, compile: bool = True) -> Trainer:
    """This rank's Trainer: the plain one, or with several processes the distributed one."""
    if world.size == 1:
        return Trainer(setup, out_dir, state, console, show_progress, keep, saved=saved,
                       health_every=health_every, compile=compile)
    from chainrule.train.ranks_trainer import DistributedTrainer

    return DistributedTrainer(setup, out_dir, state, console, show_progress, keep, saved,
                              world=world)


def _read_locked(out_dir: Path, recipe, epochs, held: contextlib.ExitStack) -> tuple:
    """(the run in ``out_dir`` to resume, the pid a killed run left in its lock), with the
    directory locked until ``held`` closes."""
    lock = rundir.RunLock.acquire(out_dir)
    held.callback(lock.release)
    return resuming.read(out_dir, recipe, epochs), lock.stale_pid


def _check_request(recipe, out_dir, resume, overwrite, keep_checkpoints, epochs, backend,
                   device):
    """The arguments of ``run`` that can be refused before anything is read: the run
    directory as a Path (None: a new one, named later)."""
    if keep_checkpoints < 0:
        raise RecipeError(f"--keep-checkpoints must be >= 0, got {keep_checkpoints}")
    backends.check(backend, device)
    if epochs is not None and not resume:
        raise RecipeError("run: epochs= sets the new total of a resumed run; a new run takes "
                          "its epochs from the recipe")
    if resume:
        if out_dir is None:
            raise RecipeError("run: resume=True needs out_dir, the run directory to continue")
        out_dir = Path(out_dir)
        if not checkpoint.file_of(out_dir).is_file():
            raise checkpoint.CheckpointError(
                f"{show(out_dir)}: no run to resume (no checkpoints/last.safetensors there). "
                "help: --resume takes the directory of a run that `chainrule train` started")
        return out_dir
    if recipe is None:
        raise RecipeError("run: give a recipe (recipe_for(...)), or resume=True")
    validate(recipe)
    if out_dir is not None:
        out_dir = Path(out_dir)
        rundir.check_target(out_dir, overwrite)
    return out_dir


def _build(recipe: Recipe, resume: bool, backend: str = "numpy", device=None) -> Setup:
    """The data, model, optimizer and schedule of ``recipe``, each checked against the
    limits first (a model a checkpoint records is rebuilt as it was); the model in
    ``backend``'s arrays on ``device`` before the optimizer is made (its state goes there)."""
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
    if backend != "numpy":
        model.to(backend, device=backends.check(backend, device))  # a name: the device
    optimizer = make_optimizer(recipe, model.parameters())
    return Setup(recipe, data, model, optimizer, make_scheduler(recipe, optimizer))


def _continue(resumed: resuming.Resumed, setup: Setup, out_dir: Path, console,
              world: ranks.World) -> RunState:
    """Restore the checkpoint into ``setup``; the state to go on from (said in a line)."""
    checkpoint.restore(resumed.contents, resumed.file, setup.model, setup.optimizer,
                       setup.scheduler)
    ranks.restore_rng(world, resumed.contents, setup.recipe.seed)
    state = resumed.state
    note = ranks.check_resume(world, resumed.contents, state, resumed.file,
                              setup.recipe.batch_size)
    resuming.check_batches(state, resumed.file, world.shard_size(setup.data.train_size),
                           setup.recipe.batch_size)
    for line in resuming.continue_from(state, resumed.extension, setup.recipe, setup.optimizer,
                                       setup.scheduler, out_dir):
        console.print(line)
    if note:
        console.print(note)
    return state


def _claim(recipe: Recipe, out_dir: Path | None, overwrite: bool,
           held: contextlib.ExitStack) -> tuple:
    """(the new run's directory, the pid a killed run left in its lock), the directory
    locked until ``held`` closes."""
    if out_dir is None:
        out_dir, lock = rundir.claim_new(
            Path("runs") / f"{recipe.dataset}-{model_name(recipe.model)}")
    else:
        lock = rundir.claim(out_dir, overwrite)
    held.callback(lock.release)
    return out_dir, lock.stale_pid


def _announce(console, setup: Setup, out_dir: Path, stale_pid, world: ranks.World) -> None:
    recipe, data = setup.recipe, setup.data
    if stale_pid:
        console.print(f"note: {show(Path(out_dir) / rundir.LOCK_NAME)} was left by process "
                      f"{stale_pid}, which is no longer running; taken over")
    console.print(f"{recipe.dataset}: {data.train_size} train / "
                  + (f"{data.val_size} validation" if data.val_size else
                     "no validation") + f" / {data.test_size} test samples; "
                  f"{_model_label(recipe)} with {count_parameters(setup.model):,} "
                  f"parameters; run directory {show(out_dir)}")
    console.print(_selection_line(recipe, data))
    backend, device = steps.place(setup.model)
    if backend != "numpy":
        console.print(f"arrays: {backend} on {device} (the checkpoints are NumPy on disk; "
                      "the step runs eagerly)")
    if world.size > 1:
        console.print(ranks.announce_line(world, recipe))


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


def _load(recipe):
    try:
        return load_split(recipe)
    except OSError as e:  # e.g. a data folder that cannot be read: the readers name the rest
        raise DataError(f"{show(e.filename or recipe.data_dir)}: cannot read it "
                        f"({e.strerror or e})") from None
