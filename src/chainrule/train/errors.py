"""The errors a training run raises on purpose, each with a one-line message.

`chainrule train` reports every one of them in one line; the exit code says which kind:
2 for input that cannot train (nothing is written) or a run that cannot write its files,
1 for a run that started and diverged.
"""

from __future__ import annotations

from chainrule.errors import ChainruleError


class RecipeError(ChainruleError, ValueError):
    """A recipe value that cannot train (not finite, out of range, too big for memory)."""


class RunDirError(ChainruleError):
    """A run directory that cannot be used: it holds a run, is in use, or is not writable."""


class RunExistsError(RunDirError):
    """An explicit run directory already holds a run (and neither resume nor overwrite)."""


class RunBusyError(RunDirError):
    """Another live process holds the run directory's lock."""


class CheckpointWriteError(ChainruleError, OSError):
    """A checkpoint, metrics or plot could not be written (disk full, read-only...)."""


class DivergedError(ChainruleError, FloatingPointError):
    """The training loss (or the weights) became NaN or infinite."""

    def __init__(self, message: str, epoch: int, step: int | None, loss: float):
        super().__init__(message)
        self.epoch, self.step, self.loss = epoch, step, loss


class UserModelError(RecipeError):
    """A user's own model (``--model FILE.py:Class``) that cannot be imported, constructed
    or run: a missing file, a syntax error, no such class, logits of the wrong shape."""


class PredictError(ChainruleError, ValueError):
    """An input or checkpoint that `chainrule predict` cannot use; a one-line message."""
