"""Dataset and DataLoader: samples in, batches of tensors out, in a seeded order.

The main process always owns the order (the shuffle); with ``num_workers > 0`` worker
processes (``_worker.py``) only fetch and collate the index arrays it hands them, with
the same ``fetch`` as the single-process path, so the batches are the same either way.
The main process's side of that pool (starting it, feeding it, reading it back, and the
errors that say what a worker's failure means) is in ``_parallel.py``.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import pickle

import numpy as np

from chainrule import _backend as B
from chainrule.data._parallel import iter_workers
from chainrule.data._worker import get_worker_info
from chainrule.data.dataset import Dataset, TensorDataset, _to_tensor, fetch
from chainrule.data.errors import (
    DataLoaderError,
    DatasetPickleError,
    WorkerError,
)
from chainrule.tensor import _wrap

__all__ = ["DataLoader", "DataLoaderError", "Dataset", "DatasetPickleError", "TensorDataset",
           "WorkerError", "get_worker_info"]


class DataLoader:
    """Batches of a dataset as tuples of tensors.

    ``shuffle`` draws a new order every epoch (every ``iter``) from ``generator`` (a NumPy
    Generator), or from one seeded by ``seed``, or from chainrule's global generator
    (``cr.manual_seed``). ``drop_last`` drops a final batch smaller than ``batch_size``.
    ``sampler`` (e.g. a ``DistributedSampler``) gives the indices instead, in its order.

    PyTorch's multiprocessing arguments, with its meanings:
    ``num_workers`` worker processes fetch and collate the batches (0: this process);
    each keeps up to ``prefetch_factor`` batches in flight; ``persistent_workers`` keeps
    them alive across epochs; ``worker_init_fn(worker_id)`` runs in each worker after it
    is seeded; ``timeout`` (seconds, 0 = forever) bounds the wait for one batch;
    ``multiprocessing_context`` is a start method name or a context ('forkserver' by
    default where it exists, else 'spawn'). ``pin_memory`` is accepted and does nothing.

    ``backend`` ("numpy", "torch", "cupy", "array_api_strict"; default: the global default,
    ``cr.set_default_backend``, NumPy at start) and ``device`` (that library's; default its
    default device) say where the batches arrive: every batch is made in NumPy (in this
    process or a worker) and moved there in this process, one explicit move per array.
    """

    def __init__(self, dataset, batch_size: int = 1, shuffle: bool = False,
                 drop_last: bool = False, seed: int | None = None, generator=None, *,
                 num_workers: int = 0, pin_memory: bool = False, timeout: float = 0,
                 worker_init_fn=None, multiprocessing_context=None, prefetch_factor: int = 2,
                 persistent_workers: bool = False, sampler=None, backend: str | None = None,
                 device=None):
        _check_count("batch_size", batch_size, 1,
                     "it is the number of samples per batch, e.g. batch_size=32")
        _check_count("num_workers", num_workers, 0,
                     "0 loads batches in this process; N > 0 starts N worker processes")
        _check_count("prefetch_factor", prefetch_factor, 1,
                     "it is how many batches each worker prepares ahead (default 2)")
        self.backend, self.device = _check_place(backend, device)
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
        if sampler is not None and shuffle:
            raise DataLoaderError("DataLoader: sampler and shuffle=True both choose the order. "
                                  "help: drop shuffle (a DistributedSampler shuffles itself: "
                                  "DistributedSampler(dataset, shuffle=True))")
        self.sampler = sampler
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
        n = len(self.sampler if self.sampler is not None else self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        n = len(self.dataset)
        if self.num_workers:
            base_seed = self._worker_seed()  # before the shuffle draws: it does not draw
        if self.sampler is not None:
            order = np.fromiter(iter(self.sampler), dtype=np.int64)
            n = len(order)
        else:
            order = self.generator.permutation(n) if self.shuffle else np.arange(n)
        self.epoch += 1
        stop = len(self) * self.batch_size
        starts = range(0, min(stop, n), self.batch_size)
        if self.num_workers == 0:
            size = self.batch_size
            batches = (tuple(_to_tensor(x) for x in fetch(self.dataset, order[s:s + size]))
                       for s in starts)
        else:
            batches = iter_workers(self, [order[start:start + self.batch_size]
                                          for start in starts], base_seed)
        if self.backend == "numpy":
            yield from batches
            return
        for batch in batches:
            yield tuple(_wrap(B.convert(t.data, self.backend, self.device)) for t in batch)

    def _worker_seed(self) -> int:
        """A 64-bit seed for this epoch's workers, derived from (shuffle state, epoch).

        NOTE: derived, not drawn: drawing would advance the shuffling generator and make
        the order differ from ``num_workers=0``'s for the same seed.
        """
        state = pickle.dumps((self.generator.bit_generator.state, self.epoch))
        return int.from_bytes(hashlib.blake2b(state, digest_size=8).digest(), "little")

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


def _check_place(backend, device) -> tuple:
    """(backend, device) checked: a known and installed library (``BackendError`` with the
    pip command otherwise), and NumPy only on the host."""
    backend = B.DEFAULT_BACKEND if backend is None else B.check_backend(backend)
    if backend == "numpy":
        if device not in (None, "cpu"):
            raise DataLoaderError(f"DataLoader: device={device!r} with NumPy batches, which "
                                  "live on the host ('cpu'). help: give backend= too, e.g. "
                                  "backend='torch', device='cuda'")
        return backend, None
    B.namespace_of(backend)  # raises, with help, when the library is not installed
    if device is not None:  # an unknown or absent device: here, not at the first batch
        try:
            B.convert(np.zeros(0, np.float32), backend, device)
        except Exception as e:  # noqa: BLE001 - each library raises its own kind
            said = (str(e).splitlines() or [""])[0][:160]  # PyTorch's runs to 50 lines
            raise DataLoaderError(f"DataLoader: backend={backend!r} has no device {device!r} "
                                  f"here ({type(e).__name__}: {said}). help: leave device= "
                                  "out for the library's default device") from e
    return backend, device


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
