"""The training loop: gradient descent on real data, with checkpoints and exact resume.

``fit`` is the plain loop for scripts. ``run`` is what `chainrule train` does: build
everything from a ``Recipe``, train with a progress bar, evaluate after every epoch, and
leave metrics.json, the loss/accuracy plot and checkpoints in the run directory. A run
killed at any moment resumes from its last checkpoint to bitwise the same weights and
metrics, because every source of randomness is either restored (the global generator
that dropout draws from) or derived from (seed, epoch) (the shuffling order).
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.nn import functional as F
from chainrule.train import checkpoint
from chainrule.train.datasets import load_split
from chainrule.train.models import build_model, count_parameters
from chainrule.train.recipes import Recipe
from chainrule.train.report import epoch_line, epoch_progress, plot_curves, write_metrics

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


def train_step(model: nn.Module, optimizer, x, y, sums: EpochSums) -> None:
    """One gradient-descent step: forward, cost = mean loss, backward, update."""
    logits = model(x)
    loss = F.cross_entropy(logits, y)  # the cost function: the mean of l^n over the batch
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    n = len(y)
    sums.loss += loss.item() * n
    sums.correct += int((logits.numpy().argmax(axis=1) == y.numpy()).sum())
    sums.seen += n


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


def fit(model: nn.Module, optimizer, train_data: tuple, test_data: tuple, epochs: int,
        batch_size: int = 32, scheduler=None, seed: int = 0, log=print) -> list[dict]:
    """Train ``model`` for ``epochs`` on arrays ``train_data = (x, y)``; returns the history."""
    history = []
    for epoch in range(epochs):
        start, sums = time.perf_counter(), EpochSums()
        lr = optimizer.param_groups[0]["lr"]
        model.train()
        for xb, yb in batches(*train_data, batch_size, seed, epoch):
            train_step(model, optimizer, xb, yb, sums)
        if scheduler is not None:
            scheduler.step()
        test_loss, test_acc, _ = evaluate(model, *test_data)
        row = _row(epoch + 1, sums, test_loss, test_acc, lr, start)
        history.append(row)
        if log:
            log(epoch_line(epochs, row))
    return history


def _row(epoch, sums, test_loss, test_acc, lr, start) -> dict:
    return {"epoch": epoch, "train_loss": sums.mean_loss(), "train_accuracy": sums.accuracy(),
            "test_loss": test_loss, "test_accuracy": test_acc, "lr": lr,
            "seconds": time.perf_counter() - start}


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


def run(recipe: Recipe, out_dir, resume: bool = False, console=None,
        show_progress: bool = True, keep_checkpoints: int = 5) -> RunResult:
    """Train from ``recipe`` into ``out_dir`` (or continue the run there, with ``resume``).

    Every epoch writes ``checkpoints/epoch-NNN``; only the newest ``keep_checkpoints`` of
    those are kept (0: all), besides ``last`` and ``best``.
    """
    from rich.console import Console

    console = console or Console(soft_wrap=True)  # long lines stay whole in logs
    out_dir = Path(out_dir)
    started = time.perf_counter()
    with _threads(recipe.threads):
        data = load_split(recipe)
        cr.manual_seed(recipe.seed)
        model = build_model(recipe, data.input_shape, data.num_classes)
        optimizer = make_optimizer(recipe, model.parameters())
        scheduler = make_scheduler(recipe, optimizer)
        epoch, skip, history, partial = 0, 0, [], EpochSums()
        seconds_before = 0.0
        if resume:
            state = checkpoint.read(checkpoint.paths(out_dir)["last"])
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            if scheduler is not None:
                scheduler.load_state_dict(state["scheduler"])
            checkpoint.set_rng_state(state["rng"])
            progress = state["progress"]
            epoch, skip, history = progress["epoch"], progress["batch"], progress["history"]
            partial = EpochSums(**progress.get("partial", {}))
            seconds_before = progress.get("seconds", 0.0)
            console.print(f"resuming {out_dir} at epoch {epoch + 1}, batch {skip}")
        else:
            out_dir.mkdir(parents=True, exist_ok=True)
        console.print(f"{recipe.dataset}: {data.train_size} train / {data.test_size} test "
                      f"samples; {recipe.model} with {count_parameters(model):,} parameters")

        stop = _StopRequest()
        with stop.installed():
            while epoch < recipe.epochs:
                start = time.perf_counter()
                lr = optimizer.param_groups[0]["lr"]
                sums = partial if skip else EpochSums()
                model.train()
                loader = batches(data.x_train, data.y_train, recipe.batch_size, recipe.seed,
                                 epoch)
                with epoch_progress(console) as bar:
                    task = bar.add_task(f"epoch {epoch + 1}/{recipe.epochs}", total=len(loader),
                                        completed=skip, loss=sums.mean_loss(),
                                        acc=sums.accuracy(), visible=show_progress)
                    for i, (xb, yb) in enumerate(loader):
                        if i < skip:
                            continue  # done before the interruption
                        train_step(model, optimizer, xb, yb, sums)
                        bar.update(task, advance=1, loss=sums.mean_loss(), acc=sums.accuracy())
                        if stop.signal:
                            _save_interrupted(out_dir, recipe, model, optimizer, scheduler,
                                              epoch, i + 1, history, sums,
                                              seconds_before + time.perf_counter() - started)
                            console.print(
                                f"{stop.signal}: stopped at epoch {epoch + 1}, batch {i + 1}; "
                                f"checkpoint saved. Resume with: chainrule train --resume "
                                f"{out_dir}")
                            return RunResult(_metrics(recipe, history, data, model, started,
                                                      seconds_before), stop.signal, out_dir)
                skip = 0
                if scheduler is not None:
                    scheduler.step()
                test_loss, test_acc, _ = evaluate(model, data.x_test, data.y_test)
                epoch += 1
                row = _row(epoch, sums, test_loss, test_acc, lr, start)
                history.append(row)
                console.print(epoch_line(recipe.epochs, row))
                _save_epoch(out_dir, recipe, model, optimizer, scheduler, epoch, history,
                            seconds_before + time.perf_counter() - started, keep_checkpoints)
            # Still under the handler: a Ctrl-C now cannot cut the final writes short.
            metrics = _metrics(recipe, history, data, model, started, seconds_before)
            write_metrics(out_dir / "metrics.json", metrics)
            plot_curves(out_dir / "curves.png", history,
                        f"chainrule: {recipe.model} on {recipe.dataset}")
        console.print(f"test accuracy {metrics['test_accuracy']:.4f}, test loss "
                      f"{metrics['test_loss']:.4f}, {metrics['seconds']:.1f} s; "
                      f"wrote {out_dir}/metrics.json, curves.png, checkpoints/")
        return RunResult(metrics, None, out_dir)


def _save_epoch(out_dir, recipe, model, optimizer, scheduler, epoch, history, seconds, keep):
    paths = checkpoint.paths(out_dir)
    extra = {"seconds": seconds}
    for path in (checkpoint.epoch_path(out_dir, epoch), paths["last"]):
        checkpoint.write(path, recipe, model, optimizer, scheduler, epoch, 0, history, **extra)
    if keep:
        for old in sorted(paths["dir"].glob("epoch-*.safetensors"))[:-keep]:
            old.unlink()
    best = max(history, key=lambda r: r["test_accuracy"])
    if best["epoch"] == epoch:
        checkpoint.write(paths["best"], recipe, model, optimizer, scheduler, epoch, 0, history,
                         **extra)
    # metrics and curves after every epoch: an interrupted run still shows its progress
    write_metrics(out_dir / "metrics.json", {**_summary(history), "epochs": epoch,
                                             "seconds": seconds, "history": history,
                                             "recipe": recipe.to_dict(), "complete": False})


def _save_interrupted(out_dir, recipe, model, optimizer, scheduler, epoch, batch, history,
                      sums, seconds):
    checkpoint.write(checkpoint.paths(out_dir)["last"], recipe, model, optimizer, scheduler,
                     epoch, batch, history, partial=sums.__dict__, seconds=seconds)


def _summary(history: list) -> dict:
    if not history:
        return {}
    last = history[-1]
    best = max(history, key=lambda r: r["test_accuracy"])
    return {"test_accuracy": last["test_accuracy"], "test_loss": last["test_loss"],
            "train_accuracy": last["train_accuracy"], "train_loss": last["train_loss"],
            "best_test_accuracy": best["test_accuracy"], "best_epoch": best["epoch"]}


def _metrics(recipe, history, data, model, started, seconds_before) -> dict:
    return {
        **_summary(history),
        "epochs": len(history),
        "seconds": seconds_before + time.perf_counter() - started,
        "history": history,
        "recipe": recipe.to_dict(),
        "dataset": {"name": recipe.dataset, "train_size": data.train_size,
                    "test_size": data.test_size, "num_classes": data.num_classes},
        "parameters": count_parameters(model),
        "chainrule_version": cr.__version__,
        "complete": len(history) == recipe.epochs,
    }
