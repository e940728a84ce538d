"""Where a run stands: the state the training loop carries and a checkpoint records.

``RunState`` is one object for both: the loop advances it step by step, a checkpoint
writes it as its ``progress`` part (``to_progress``) and a resume reads it back
(``from_progress``, which checks every field, so a damaged or hand-made file is one
error and never a KeyError halfway through a resume). The model, optimizer, scheduler
and random generator are saved beside it by checkpoint.py, from their own state dicts.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field


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


class ProgressError(ValueError):
    """A checkpoint's ``progress`` that is not a run's; the message says which field."""


@dataclass
class RunState:
    """A run's position and record: everything besides the weights that resuming needs.

    ``epoch`` counts the epochs completed; ``batch`` the batches done in the next one (0 at
    an epoch's end), whose running sums are ``partial``. ``history`` holds one row per
    completed epoch (metrics.json's rows). ``seconds`` is the training time over every
    session of the run. ``stopped`` is the early stop, once the run made one;
    ``patience_from`` the epoch from which an extended run counts its patience again.
    """

    epoch: int = 0
    batch: int = 0
    history: list = field(default_factory=list)
    partial: EpochSums = field(default_factory=EpochSums)
    seconds: float = 0.0
    stopped: dict | None = None
    patience_from: int = 0
    # The clock of this session: ``tick`` adds the time since the last tick to ``seconds``.
    _ticked: float = field(default_factory=time.perf_counter, repr=False, compare=False)

    def start_clock(self) -> None:
        """Count ``seconds`` from now on (the time before training is not training)."""
        self._ticked = time.perf_counter()

    def tick(self) -> float:
        """Add the time since the last tick (or ``start_clock``) to ``seconds``; return it."""
        now = time.perf_counter()
        self.seconds += now - self._ticked
        self._ticked = now
        return self.seconds

    def begin_epoch(self) -> None:
        """Fresh sums for an epoch that starts at its first batch (a resumed one keeps its)."""
        if not self.batch:
            self.partial = EpochSums()

    def end_epoch(self, row: dict) -> None:
        self.epoch += 1
        self.batch = 0
        self.history.append(row)

    def position(self) -> str:
        """Where the run stands, in words: ``epoch 3`` or ``epoch 3, batch 20 of epoch 4``."""
        return f"epoch {self.epoch}" + (
            f", batch {self.batch} of epoch {self.epoch + 1}" if self.batch else "")

    def finished(self, epochs: int) -> bool:
        return self.stopped is not None or (self.epoch >= epochs and not self.batch)

    def why_finished(self, epochs: int) -> str:
        if self.stopped is not None:
            return (f"it stopped early at epoch {self.epoch} of {epochs} (no new best "
                    f"validation accuracy for {self.stopped['patience']} epochs)")
        return f"all {epochs} epochs are done"

    # --- as a checkpoint's progress (its format: checkpoint.py's docstring) -------------

    def to_progress(self) -> dict:
        """The checkpoint's ``progress``; optional keys only where they say something."""
        progress = {"epoch": self.epoch, "batch": self.batch, "history": self.history}
        if self.batch:
            progress["partial"] = asdict(self.partial)
        progress["seconds"] = self.seconds
        if self.stopped is not None:
            progress["stopped_early"] = self.stopped
        if self.patience_from:
            progress["patience_from"] = self.patience_from
        return progress

    @classmethod
    def from_progress(cls, progress: dict, epochs: int) -> RunState:
        """The state a checkpoint's ``progress`` records, for a recipe of ``epochs``.

        Raises ``ProgressError`` naming the first field that a run could not have written.
        """
        epoch, batch, history = (progress.get(k) for k in ("epoch", "batch", "history"))
        if not _is_int(epoch) or not 0 <= epoch <= epochs:
            raise ProgressError(f"progress epoch {epoch!r} is not in [0, {epochs}]")
        if not _is_int(batch) or batch < 0:
            raise ProgressError(f"progress batch {batch!r} is not a count")
        _check_history(history, epoch)
        partial = progress.get("partial", {})
        if not isinstance(partial, dict) or not set(partial) <= {"loss", "correct", "seen"} or \
                not all(_is_number(v) for v in partial.values()):
            raise ProgressError(f"progress partial {partial!r:.80} is not the sums of an epoch")
        seconds = progress.get("seconds", 0.0)
        if not _is_number(seconds):
            raise ProgressError(f"progress seconds {seconds!r:.40} is not a number")
        stopped = progress.get("stopped_early")
        if stopped is not None and not (isinstance(stopped, dict) and all(
                _is_int(stopped.get(k)) for k in ("epoch", "patience", "best_epoch"))):
            raise ProgressError(f"progress stopped_early {stopped!r:.80} is not an early stop")
        patience_from = progress.get("patience_from", 0)
        if not _is_int(patience_from) or not 0 <= patience_from <= epoch:
            raise ProgressError(f"progress patience_from {patience_from!r:.40} is not an epoch "
                                "reached")
        return cls(epoch, batch, list(history), EpochSums(**partial), float(seconds), stopped,
                   patience_from)


#: The fields every history row must have as numbers (val_* are None without validation).
HISTORY_NUMBERS = ("epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "lr")


def _check_history(history, epoch: int) -> None:
    if not isinstance(history, list) or len(history) != epoch:
        raise ProgressError(f"its history has "
                            f"{len(history) if isinstance(history, list) else 'no'} rows for "
                            f"{epoch} epochs")
    for row in history:
        if not isinstance(row, dict) or not all(_is_number(row.get(k)) for k in HISTORY_NUMBERS):
            raise ProgressError(f"history row {row!r:.80} lacks one of "
                                f"{', '.join(HISTORY_NUMBERS)}")


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)
