"""The errors of distributed training: each names the rank it is about and says what to do."""

from __future__ import annotations

from chainrule.errors import ChainruleError


class DistributedError(ChainruleError, RuntimeError):
    """A distributed call that cannot run as asked (bad argument, MPI missing, misuse)."""


class RankFailedError(DistributedError):
    """Another rank stopped (an error, a kill, a lost host) while this one waited for it."""

    def __init__(self, message: str, rank: int | None = None):
        super().__init__(message)
        self.rank = rank  # the rank that failed, when it is known


class MismatchError(DistributedError):
    """The ranks disagree on what they train (model shapes, recipe): found at the start."""
