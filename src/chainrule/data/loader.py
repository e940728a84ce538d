"""Dataset and DataLoader: samples in, batches of tensors out, in a seeded order.

The main process always owns the order (the shuffle); with ``num_workers > 0`` worker
processes (``_worker.py``) only fetch and collate the index arrays it hands them, with
the same ``fetch`` as the single-process path, so the batches are the same either way.
"""

from __future__ import annotations

import hashlib
import io
import multiprocessing
import os
import pickle
import re
import signal
import sys

import numpy as np

from chainrule import _backend as B
from chainrule.data._worker import WorkerPool, get_worker_info
from chainrule.errors import ChainruleError

__all__ = ["DataLoader", "DataLoaderError", "Dataset", "DatasetPickleError", "TensorDataset",
           "WorkerError", "get_worker_info"]


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


class Dataset:
    """A sized, indexable collection of samples: ``len(ds)`` and ``ds[i]``."""

    def __len__(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def __getitem__(self, index):  # pragma: no cover - abstract
        raise NotImplementedError


class TensorDataset(Dataset):
    """Samples are rows of equally long arrays: ``ds[i] = (a[i], b[i], ...)``.

    An index array gives a whole batch at once, so ``DataLoader`` batches by one fancy
    index per array instead of a Python loop over samples.
    """

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("TensorDataset: give at least one array")
        arrays = tuple(np.asarray(a.numpy() if hasattr(a, "numpy") else a) for a in arrays)
        n = len(arrays[0])
        for i, a in enumerate(arrays):
            if a.ndim == 0 or len(a) != n:
                lengths = [len(x) if x.ndim else "scalar" for x in arrays]
                raise ValueError(f"TensorDataset: array {i} has a different length: {lengths}")
        self.arrays = arrays

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, index):
        return tuple(a[index] for a in self.arrays)


class DataLoader:
    """Batches of a dataset as tuples of tensors.

    ``shuffle`` draws a new order every epoch (every ``iter``) from ``generator`` (a NumPy
    Generator), or from one seeded by ``seed``, or from chainrule's global generator
    (``cr.manual_seed``). ``drop_last`` drops a final batch smaller than ``batch_size``.

    PyTorch's multiprocessing arguments, with its meanings:
    ``num_workers`` worker processes fetch and collate the batches (0: this process);
    each keeps up to ``prefetch_factor`` batches in flight; ``persistent_workers`` keeps
    them alive across epochs; ``worker_init_fn(worker_id)`` runs in each worker after it
    is seeded; ``timeout`` (seconds, 0 = forever) bounds the wait for one batch;
    ``multiprocessing_context`` is a start method name or a context ('forkserver' by
    default where it exists, else 'spawn'). ``pin_memory`` is accepted and does nothing:
    chainrule's tensors live in NumPy arrays in ordinary memory.
    """

    def __init__(self, dataset, batch_size: int = 1, shuffle: bool = False,
                 drop_last: bool = False, seed: int | None = None, generator=None, *,
                 num_workers: int = 0, pin_memory: bool = False, timeout: float = 0,
                 worker_init_fn=None, multiprocessing_context=None, prefetch_factor: int = 2,
                 persistent_workers: bool = False):
        _check_count("batch_size", batch_size, 1,
                     "it is the number of samples per batch, e.g. batch_size=32")
        _check_count("num_workers", num_workers, 0,
                     "0 loads batches in this process; N > 0 starts N worker processes")
        _check_count("prefetch_factor", prefetch_factor, 1,
                     "it is how many batches each worker prepares ahead (default 2)")
        if (isinstance(timeout, bool) or not isinstance(timeout, (int, float, np.number))
                or not timeout >= 0):
            raise DataLoaderError(f"DataLoader: timeout must be a number of seconds >= 0, got "
                                  f"{timeout!r}. help: 0 waits for each batch as long as it "
                                  f"takes")
        if worker_init_fn is not None and not callable(worker_init_fn):
            raise DataLoaderError(f"DataLoader: worker_init_fn must be a function of the "
                                  f"worker id or None, got {worker_init_fn!r}. help: e.g. "
                                  f"def init(worker_id): ...")
        if persistent_workers and num_workers == 0:
            raise DataLoaderError("DataLoader: persistent_workers=True needs num_workers > 0, "
                                  "got num_workers=0. help: set num_workers=N, or drop "
                                  "persistent_workers (there are no workers to keep)")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        if generator is None:
            generator = (np.random.default_rng(seed) if seed is not None
                         else np.random.default_rng(B.random.generator.integers(2**63)))
        self.generator = generator
        self.epoch = 0
        self.num_workers = int(num_workers)
        self.prefetch_factor = int(prefetch_factor)
        self.persistent_workers = bool(persistent_workers)
        self.pin_memory = bool(pin_memory)  # NOTE: a no-op: no device memory to pin for
        self.timeout = float(timeout)
        self.worker_init_fn = worker_init_fn
        _check_context(multiprocessing_context)
        self.multiprocessing_context = multiprocessing_context
        self._pool = None  # the workers kept between epochs when persistent_workers

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        n = len(self.dataset)
        if self.num_workers:
            base_seed = self._worker_seed()  # before the shuffle draws: it does not draw
        order = self.generator.permutation(n) if self.shuffle else np.arange(n)
        self.epoch += 1
        stop = len(self) * self.batch_size
        starts = range(0, min(stop, n), self.batch_size)
        if self.num_workers == 0:
            for start in starts:
                idx = order[start:start + self.batch_size]
                yield tuple(_to_tensor(x) for x in fetch(self.dataset, idx))
        else:
            batches = [order[start:start + self.batch_size] for start in starts]
            yield from self._iter_workers(batches, base_seed)

    def _worker_seed(self) -> int:
        """A 64-bit seed for this epoch's workers, derived from (shuffle state, epoch).

        NOTE: derived, not drawn: drawing would advance the shuffling generator and make
        the order differ from ``num_workers=0``'s for the same seed.
        """
        state = pickle.dumps((self.generator.bit_generator.state, self.epoch))
        return int.from_bytes(hashlib.blake2b(state, digest_size=8).digest(), "little")

    def _iter_workers(self, batches, base_seed: int):
        """Batch k goes to worker k % num_workers and is read back from it in turn, with
        up to prefetch_factor * num_workers batches asked for ahead of the one yielded."""
        if not batches:
            return
        pool = self._start_pool(base_seed)
        token = object()
        pool.owner = token  # a newer iter() over a persistent pool takes it over
        wait = self.timeout or None
        try:
            if not pool.drain(wait):  # answers an abandoned epoch left behind
                raise WorkerError("DataLoader: a worker died or timed out while finishing "
                                  "the tasks of an abandoned epoch. help: iterate again to "
                                  "start fresh workers")
            ahead = min(self.prefetch_factor * self.num_workers, len(batches))
            for k in range(ahead):
                pool.submit(k % self.num_workers, k, batches[k])
            for k in range(len(batches)):
                if pool.owner is not token:
                    raise WorkerError("DataLoader: this iterator was superseded by a newer "
                                      "iter() over the same loader, which took over its "
                                      "persistent workers. help: finish (or drop) one epoch "
                                      "before starting the next")
                arrays = self._receive(pool, k, batches[k])
                if k + ahead < len(batches):
                    pool.submit((k + ahead) % self.num_workers, k + ahead, batches[k + ahead])
                yield tuple(_to_tensor(x) for x in arrays)
        finally:
            if not self.persistent_workers or pool.broken:
                pool.shutdown()
                if self._pool is pool:
                    self._pool = None

    def _start_pool(self, base_seed: int) -> WorkerPool:
        if self._pool is not None:
            if self._pool.alive():
                return self._pool
            self._pool.shutdown()
            self._pool = None
        if getattr(multiprocessing.current_process(), "_inheriting", False):
            # We are a worker process importing the user's script (spawn/forkserver do):
            # the script iterates a DataLoader at top level, which would recurse.
            raise WorkerError(
                f"DataLoader: num_workers={self.num_workers} was asked for while a worker "
                f"process was importing the main script, which iterates a DataLoader at top "
                f"level. help: put that code under `if __name__ == \"__main__\":` (workers "
                f"import the script to find its classes), or use num_workers=0")
        ctx = _context(self.multiprocessing_context)
        main_file = getattr(sys.modules.get("__main__"), "__file__", None)
        if ctx.get_start_method() != "fork" and main_file and not os.path.isfile(main_file):
            raise WorkerError(
                f"DataLoader: worker processes re-import the main script by its path, and "
                f"{main_file!r} is not a file (a script read from stdin?). help: save the "
                f"script to a file and run that, or use num_workers=0")
        payload = self._payload()
        pool = WorkerPool(ctx, self.num_workers, payload, base_seed)
        if self.persistent_workers:
            self._pool = pool
        return pool

    def _payload(self) -> tuple[bytes, bytes]:
        """The dataset and worker_init_fn, each pickled once for every worker."""
        try:
            return tuple(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
                         for obj in (self.dataset, self.worker_init_fn))
        except Exception:
            pass
        path, obj, error = (_find_unpicklable(self.dataset, "dataset")
                            or _find_unpicklable(self.worker_init_fn, "worker_init_fn"))
        raise DatasetPickleError(
            f"DataLoader: num_workers={self.num_workers} sends the dataset to worker "
            f"processes by pickling it, but {path} ({_what(obj)}) cannot be pickled: "
            f"{type(error).__name__}: {error}. help: {_pickle_help(obj)}") from None

    def _receive(self, pool: WorkerPool, k: int, idx):
        """Batch k's arrays from its worker, or the worker's failure raised here."""
        worker = k % self.num_workers
        kind, batch, body = pool.receive(worker, self.timeout or None)
        pid = pool.procs[worker].pid
        if kind == "ok" and batch == k:
            return body
        if kind == "error":
            _reraise(body, f"DataLoader worker {worker} (pid {pid}) raised {body['type']}: "
                           f"{body['message']} while making batch {k} (sample indices "
                           f"{_indices(idx)}). help: run with num_workers=0 to debug the "
                           f"dataset in this process\n\nTraceback in worker {worker}:\n"
                           f"{body['traceback'].rstrip()}")
        pool.broken = True  # nothing below leaves the pool in a state to reuse
        if kind == "setup":
            _reraise(body, f"DataLoader worker {worker} (pid {pid}) could not start: "
                           f"{body['stage']} raised {body['type']}: {body['message']}. "
                           f"help: {_setup_help(body)}\n\nTraceback in worker {worker}:\n"
                           f"{body['traceback'].rstrip()}")
        if kind == "timeout":
            raise WorkerError(f"DataLoader: worker {worker} (pid {pid}) sent no batch {k} "
                              f"within timeout={self.timeout:g} s. help: raise timeout, or "
                              f"set timeout=0 to wait as long as it takes")
        if kind == "died":
            raise WorkerError(f"DataLoader worker {worker} (pid {pid}) exited unexpectedly "
                              f"({_exit_status(batch)}) while making batch {k}. help: "
                              f"{_death_help(batch, pool.answered[worker] > 0)}")
        raise WorkerError(f"DataLoader: worker {worker} answered batch {batch} ({kind}) "
                          f"when batch {k} was due. help: this is a chainrule bug; please "
                          f"report it")

    def shutdown_workers(self) -> None:
        """Stop persistent workers now rather than when the loader is garbage-collected."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_pool"] = None  # processes do not travel; a copy starts its own
        return state

    def state_dict(self) -> dict:
        """The epoch count and the shuffling generator's state: enough to resume exactly."""
        return {"epoch": self.epoch, "generator": self.generator.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.epoch = int(state["epoch"])
        self.generator.bit_generator.state = state["generator"]


def fetch(dataset, idx):
    """The batch of ``dataset`` at the index array ``idx``, as a tuple of arrays.

    The one way a batch is made, in this process or in a worker: a ``TensorDataset``
    with one fancy index per array, any other dataset sample by sample, stacked.
    """
    if isinstance(dataset, TensorDataset):
        return dataset[idx]
    samples = [dataset[int(i)] for i in idx]
    if not isinstance(samples[0], tuple):
        return (np.stack([np.asarray(s) for s in samples]),)
    return tuple(np.stack([np.asarray(s[j]) for s in samples])
                 for j in range(len(samples[0])))


def _check_count(name: str, value, minimum: int, help: str) -> None:
    if (isinstance(value, bool) or not isinstance(value, (int, np.integer))
            or value < minimum):
        raise DataLoaderError(f"DataLoader: {name} must be an integer >= {minimum}, got "
                              f"{value!r}. help: {help}")


def _check_context(choice) -> None:
    if choice is None or (isinstance(choice, str) and choice in
                          multiprocessing.get_all_start_methods()):
        return
    if isinstance(choice, str):
        raise DataLoaderError(f"DataLoader: multiprocessing_context={choice!r} is not a start "
                              f"method here. help: use one of "
                              f"{', '.join(multiprocessing.get_all_start_methods())}, or "
                              f"None for the default")
    if not hasattr(choice, "Process") or not hasattr(choice, "get_start_method"):
        raise DataLoaderError(f"DataLoader: multiprocessing_context must be a start method "
                              f"name or a multiprocessing context, got {choice!r}. help: e.g. "
                              f"multiprocessing_context='spawn'")


def _context(choice):
    """The multiprocessing context workers start from (``choice`` already checked).

    Default 'forkserver' (else 'spawn'): 'fork' copies a process that may hold threads
    (the progress bar's refresh thread, BLAS pools), and a child can deadlock on a lock
    one of them held. A forkserver pays the interpreter and import start-up once;
    each worker after that is a fork of a clean, single-threaded server.
    """
    if choice is None:
        choice = ("forkserver" if "forkserver" in multiprocessing.get_all_start_methods()
                  else "spawn")
    if not isinstance(choice, str):
        return choice  # the user's own context, as it is
    ctx = multiprocessing.get_context(choice)
    if choice == "forkserver":
        _preload_forkserver(ctx)
    return ctx


def _preload_forkserver(ctx) -> None:
    """Have the fork server import chainrule once, so each worker starts with it loaded."""
    from multiprocessing import forkserver

    server = getattr(forkserver, "_forkserver", None)
    preload = getattr(server, "_preload_modules", None)
    # NOTE: only ever add to the list, and only to the default one: a program that
    # set its own preload keeps it, and a running server ignores the list anyway.
    if preload == ["__main__"]:
        ctx.set_forkserver_preload(["__main__", "chainrule.data._worker"])


def _find_unpicklable(obj, path: str, depth: int = 0):
    """The deepest attribute or item under ``obj`` that fails to pickle, as (path, object,
    error), or None when ``obj`` pickles."""
    try:
        pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        return None
    except Exception as exc:
        error = exc
    if depth < 4:
        for sub_path, child in _children(obj, path):
            found = _find_unpicklable(child, sub_path, depth + 1)
            if found is not None:
                return found
    return path, obj, error


def _children(obj, path: str):
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield f"{path}[{key!r}]", value
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            yield f"{path}[{i}]", value
    elif isinstance(getattr(obj, "__dict__", None), dict) and not isinstance(obj, type):
        for name, value in vars(obj).items():
            yield f"{path}.{name}", value


def _what(obj) -> str:
    name = getattr(obj, "__qualname__", None)
    if name is not None and callable(obj):
        return f"{type(obj).__name__} {name}"
    return f"a {type(obj).__qualname__} object"


def _pickle_help(obj) -> str:
    name = getattr(obj, "__qualname__", None) or type(obj).__qualname__
    if "<lambda>" in name:
        specific = "replace the lambda with a function defined at module level"
    elif "<locals>" in name:
        specific = "define it at module level, not inside a function"
    elif isinstance(obj, io.IOBase):
        specific = "keep the file's path, and open the file in __getitem__ (or once per worker)"
    else:
        specific = "keep arrays, numbers, paths and module-level functions in the dataset"
    return (f"{specific}; or use num_workers=0 (a dataset for workers must pickle: a class "
            f"defined at module level)")


def _setup_help(details: dict) -> str:
    missing = re.match(r"Can't get attribute '([^']+)' on <module '__(mp_)?main__'",
                       details["message"])
    if details["type"] == "AttributeError" and missing:
        return (f"{missing.group(1)} is defined where worker processes cannot import it "
                f"(under `if __name__ == \"__main__\":`, in `python -c` or in a notebook): "
                f"define it at the top level of a .py file, or use num_workers=0")
    if details["type"] in ("ModuleNotFoundError", "ImportError"):
        return ("worker processes import the dataset's module by name: make it importable "
                "(on sys.path / PYTHONPATH), or use num_workers=0")
    if details["stage"] == "worker_init_fn":
        return "fix worker_init_fn (it runs once in each worker), or use num_workers=0"
    return "the dataset must unpickle in a fresh process; or use num_workers=0"


def _exit_status(code) -> str:
    if code is None:
        return "no exit code"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _death_help(code, had_answered: bool) -> str:
    if code == -signal.SIGKILL:
        return ("SIGKILL often means the system ran out of memory: use fewer workers, a "
                "smaller batch_size or prefetch_factor, or num_workers=0")
    if had_answered:
        return ("it ended inside the dataset's code (os._exit, sys.exit, a crash in an "
                "extension): run with num_workers=0 to find the fault in the dataset")
    return ("it died while starting; if a traceback was printed above, it failed importing "
            "your script: put the code that iterates the DataLoader under "
            "`if __name__ == \"__main__\":`, or use num_workers=0")


def _indices(idx) -> str:
    idx = [int(i) for i in idx]
    shown = ", ".join(map(str, idx[:8]))
    return f"[{shown}, ... {len(idx)} in all]" if len(idx) > 8 else f"[{shown}]"


def _reraise(details: dict, text: str):
    """Raise ``text`` as the worker's exception type when that type takes one message
    (so ``except ValueError`` still works, as in PyTorch), else as a WorkerError."""
    original = details["exception"]
    cls = type(original) if original is not None else None
    error = None
    if cls is KeyError:
        error = WorkerKeyError(text)  # KeyError's str() would print the text as a repr
    elif cls is not None:
        try:
            error = cls(text)
            if str(error) != text:  # a type that rewrites its message would garble ours
                error = None
        except Exception:
            error = None
    raise (error if error is not None else WorkerError(text)) from None


def _to_tensor(x):
    from chainrule.tensor import Tensor, _wrap

    arr = np.asarray(x)
    if arr.dtype == np.float64:
        arr = arr.astype(B.DEFAULT_FLOAT)  # datasets in float64 train in float32
    return _wrap(arr) if isinstance(arr, np.ndarray) else Tensor(arr)
