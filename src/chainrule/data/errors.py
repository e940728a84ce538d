"""The data layer's error: one line naming the file (or dataset) and what was expected."""

from chainrule.errors import ChainruleError


class DataError(ChainruleError, ValueError):
    """A data file that is missing, truncated, corrupt or not what it claims to be."""


class DataLoaderError(ChainruleError, ValueError):
    """A DataLoader argument that cannot work (named, with its value and what would)."""


class DatasetPickleError(ChainruleError, TypeError):
    """A dataset or ``worker_init_fn`` that cannot be sent to worker processes."""


class WorkerError(ChainruleError, RuntimeError):
    """A worker process that died, timed out or could not start; also an exception from
    a worker that cannot be rebuilt as its own type."""


class WorkerKeyError(ChainruleError, KeyError):
    """A KeyError re-raised from a worker: its message printed as text, not as a repr."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""
