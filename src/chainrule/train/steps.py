"""The steps every training loop is made of: one gradient-descent step, an epoch's
batches, an evaluation, and the checks that stop a run that diverged.

``fit`` (loop.py) and a whole run (trainer.py) call these through this module, so a test
can replace one of them for both.
"""

from __future__ import annotations

import math

import numpy as np

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F
from chainrule.train.errors import DivergedError
from chainrule.train.state import EpochSums


def train_step(model: nn.Module, optimizer, x, y, sums: EpochSums, compiled=None) -> float:
    """One gradient-descent step: forward, cost = mean loss, backward, update; through
    ``compiled`` (a ``compiled_update()`` of the run) when given: bitwise the same numbers.

    Returns the batch's cost (NaN or inf when training has diverged: the caller checks).
    """
    loss, logits = (compiled or _update)(model, optimizer, x, y)
    n, value = len(y), loss.item()
    sums.loss += value * n
    sums.correct += int((logits.numpy().argmax(axis=1) == y.numpy()).sum())
    sums.seen += n
    return value


def _update(model, optimizer, x, y):
    logits = model(x)
    loss = F.cross_entropy(logits, y)  # the cost function: the mean of l^n over the batch
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss, logits


def compiled_update(report=None):
    """The step for one run through ``cr.compile``: recorded for the batch shape (and the
    epoch's short last batch), replayed for every other batch. One per run, so that the
    recordings (and the arrays they hold) go when the run does. ``report``: the run's log,
    told once why the step runs eagerly (instead of a warning)."""
    return cr.compile(_update, report=report)


def place(model: nn.Module) -> tuple:
    """(backend, device) of the model's parameters: where its batches must be
    (``chainrule train --backend``, or a model moved with ``Module.to``)."""
    for p in model.parameters():
        return p.backend, (None if p.backend == "numpy" else p.device)
    return "numpy", None


def inputs_for(model: nn.Module, x: np.ndarray):
    """NumPy inputs ``x`` as a tensor where ``model``'s parameters are (``place``)."""
    backend, device = place(model)
    xb = cr.tensor(x)
    return xb if backend == "numpy" else xb.to(backend, device=device)


@cr.no_grad()
def evaluate(model: nn.Module, x: np.ndarray, y: np.ndarray, batch_size: int = 512):
    """Mean cross-entropy, accuracy and predicted classes on (x, y), in eval mode; the
    inputs go to the model's library and device batch by batch (the labels stay NumPy:
    the loss moves them)."""
    was_training = model.training
    model.eval()
    total, preds = 0.0, []
    for i in range(0, len(y), batch_size):
        xb, yb = inputs_for(model, x[i:i + batch_size]), y[i:i + batch_size]
        logits = model(xb)
        total += F.cross_entropy(logits, yb, reduction="sum").item()
        preds.append(logits.numpy().argmax(axis=1))
    model.train(was_training)
    pred = np.concatenate(preds) if preds else np.zeros(0, dtype=np.int64)
    return total / max(len(y), 1), float((pred == y).mean()) if len(y) else 0.0, pred


def batches(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int, epoch: int,
            backend: str = "numpy", device=None):
    """The epoch's shuffled batches, in ``backend``'s arrays on ``device`` (``place``);
    the order depends only on (seed, epoch)."""
    from chainrule.data import DataLoader, TensorDataset

    order = np.random.default_rng([seed, epoch])
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True, generator=order,
                      backend=backend, device=device)


def diverged(epoch: int, step: int, steps: int, value: float, what: str,
             hint: str, after: str = "") -> DivergedError:
    return DivergedError(f"{what} became {value} at epoch {epoch}, step {step} of {steps}: "
                         f"training diverged{after}. help: {hint}", epoch, step, value)


def check_weights(model, epoch, steps, test_loss, hint, after=str, val_loss=0.0) -> None:
    """After an epoch: the weights (and batch-norm statistics) must all be finite.

    A last step can push weights to inf while the loss it computed was still finite;
    then only the weights, or the validation and test losses computed with them, show it.
    ``after()`` gives the end of the message (what the last checkpoint holds): asked only
    when there is one to make, since finding it out waits for the epoch's writes.
    """
    for name, value in model.state_dict().items():
        array = value.numpy() if hasattr(value, "numpy") else np.asarray(value)
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            bad = float("nan") if np.isnan(array).any() else float("inf")
            raise diverged(epoch, steps, steps, bad, f"the model's {name}", hint, after())
    if not math.isfinite(val_loss):
        raise diverged(epoch, steps, steps, val_loss, "the validation loss", hint, after())
    if not math.isfinite(test_loss):
        raise diverged(epoch, steps, steps, test_loss, "the test loss", hint, after())
