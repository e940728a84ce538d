"""DataLoader worker processes: the pool the main process drives, and the loop each worker runs.

The split of work (the contract with ``DataLoader``):
- the main process owns the order: it draws the shuffle, cuts it into index arrays and
  hands batch k to worker ``k % num_workers`` (round robin, as PyTorch does);
- a worker only fetches and collates: ``fetch(dataset, idx)``, the very function the
  single-process loader calls, so both paths give bitwise the same batches;
- each worker answers on its own pipe, in the order it was asked, so the main process
  reads batch k from worker ``k % num_workers`` and needs no reordering buffer.

Wire format, worker -> main, one message per task (pickled by ``Connection.send``):
``("ok", batch, arrays)``, ``("error", batch, details)`` for an exception in the
dataset, or ``("setup", None, details)`` when the worker could not start at all
(dataset failed to unpickle, ``worker_init_fn`` raised). ``details`` is a dict holding
the exception's type name, message and traceback text, and the exception itself when
it pickles.
"""

from __future__ import annotations

import pickle
import queue
import random
import signal
import time
import traceback
import weakref
from dataclasses import dataclass
from multiprocessing import connection

import numpy as np

from chainrule.data.dataset import fetch

# A worker polls its task queue this often to notice that the main process is gone
# (a main process killed by SIGKILL runs no clean-up, and workers must not outlive it).
_PARENT_POLL_S = 1.0
# How long shutdown waits, in all, for workers to leave on their own before terminating
# them: long enough to finish a batch already started, short enough not to stall a
# `break` out of an epoch of slow batches.
_JOIN_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker (PyTorch's fields)."""

    id: int
    num_workers: int
    seed: int
    dataset: object


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """Inside a DataLoader worker: its id, the worker count, its seed and its dataset copy.

    In the main process: ``None``. Use it in ``worker_init_fn`` or ``__getitem__`` to
    split work or seed a private generator per worker.
    """
    return _worker_info


def _describe(exc: BaseException) -> dict:
    """An exception as plain data that always crosses a pipe: name, message, traceback."""
    details = {"type": type(exc).__name__, "message": str(exc),
               "traceback": "".join(traceback.format_exception(exc)), "exception": None}
    try:
        # Sent along so the main process can raise the same type; many exceptions
        # (custom ones with required arguments, ones holding open files) do not pickle.
        pickle.loads(pickle.dumps(exc))
        details["exception"] = exc
    except Exception:
        pass
    return details


def _seed_worker(seed: int) -> None:
    """Seed every global generator a dataset is likely to draw from, once per worker."""
    from chainrule import _backend as B

    B.random.seed(seed)  # cr.manual_seed's generator: cr.rand, dropout, ...
    random.seed(seed)
    # Datasets written against the legacy global API draw from it; it takes 32 bits.
    np.random.seed(seed % 2**32)  # noqa: NPY002


def worker_loop(worker_id: int, num_workers: int, payload: tuple[bytes, bytes], seed: int,
                tasks, results) -> None:
    """Run in a worker process: unpack the dataset, then fetch batches until told to stop.

    ``payload`` is the pickled dataset and the pickled ``worker_init_fn``, apart so that
    a failure names the one that failed.
    ``tasks`` yields ``(batch, idx)`` or ``None`` (stop); every task gets exactly one
    answer on ``results``, in order.
    """
    import multiprocessing


    global _worker_info
    # NOTE: Ctrl-C reaches the whole process group; the main process handles it and
    # shuts the workers down, so a worker printing its own KeyboardInterrupt is noise.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    try:
        stage = "unpickling the dataset"
        try:
            dataset = pickle.loads(payload[0])
            stage = "unpickling worker_init_fn"
            worker_init_fn = pickle.loads(payload[1])
            del payload
            _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
            _seed_worker(seed)
            stage = "worker_init_fn"
            if worker_init_fn is not None:
                worker_init_fn(worker_id)
        except Exception as exc:
            results.send(("setup", None, {**_describe(exc), "stage": stage}))
            return
        while True:
            try:
                task = tasks.get(timeout=_PARENT_POLL_S)
            except queue.Empty:
                if parent is not None and not parent.is_alive():
                    return
                continue
            if task is None:
                return
            batch, idx = task
            try:
                message = ("ok", batch, fetch(dataset, idx))
            except Exception as exc:
                message = ("error", batch, _describe(exc))
            results.send(message)
    except (BrokenPipeError, EOFError, OSError):
        return  # the main process closed our pipe: it is shutting down, nothing to say
    finally:
        results.close()


class WorkerPool:
    """``num_workers`` processes, a task queue and a result pipe each, and their shutdown.

    ``pending[w]`` counts tasks sent to worker w whose answers are not yet read; a new
    epoch on a persistent pool first discards what an abandoned epoch left behind.
    """

    def __init__(self, ctx, num_workers: int, payload: tuple[bytes, bytes],
                 base_seed: int):
        self.num_workers = num_workers
        self.procs, self.tasks, self.results = [], [], []
        self.pending = [0] * num_workers
        self.answered = [0] * num_workers  # a worker that never answered died starting
        self.broken = False  # a worker died: the pool cannot be reused
        self.owner = None  # the iterator now driving a persistent pool
        try:
            for w in range(num_workers):
                tasks = ctx.Queue()
                # NOTE: a queue's feeder thread is joined at interpreter exit; if its
                # worker is gone and the pipe is full that join never returns. Tasks
                # left unsent at exit are worthless, so never wait for them.
                tasks.cancel_join_thread()
                reader, writer = ctx.Pipe(duplex=False)
                proc = ctx.Process(
                    target=worker_loop, name=f"chainrule DataLoader worker {w}",
                    args=(w, num_workers, payload, (base_seed + w) % 2**64, tasks, writer),
                    daemon=True)  # daemonic: multiprocessing ends it at exit if we could not
                self.procs.append(proc)
                self.tasks.append(tasks)
                self.results.append(reader)
                proc.start()
                writer.close()  # only the worker writes; our copy would hide its EOF
        except BaseException:
            self.shutdown()
            raise
        # Runs when the pool is garbage-collected or at interpreter exit, whichever is first.
        self._finalizer = weakref.finalize(self, _shutdown, self.procs, self.tasks, self.results)

    def submit(self, worker: int, batch: int, idx) -> None:
        self.tasks[worker].put((batch, idx))
        self.pending[worker] += 1

    def receive(self, worker: int, timeout: float | None):
        """The next answer of ``worker``: a message tuple, or ``("died", exitcode, None)``
        or ``("timeout", None, None)``."""
        conn, proc = self.results[worker], self.procs[worker]
        ready = connection.wait([conn, proc.sentinel], timeout)
        if not ready:
            return ("timeout", None, None)
        if conn in ready:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                message = None
            if message is not None:
                self.pending[worker] -= 1
                self.answered[worker] += 1
                return message
        proc.join(_JOIN_TIMEOUT_S)  # its pipe closed first; the exit code follows
        self.broken = True
        return ("died", proc.exitcode, None)

    def drain(self, timeout: float | None) -> bool:
        """Read and drop every answer still owed (an epoch abandoned midway); False if a
        worker died or timed out meanwhile."""
        for w in range(self.num_workers):
            while self.pending[w]:
                kind = self.receive(w, timeout)[0]
                if kind in ("died", "timeout", "setup"):
                    return False
        return True

    def alive(self) -> bool:
        return not self.broken and all(p.is_alive() for p in self.procs)

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def shutdown(self) -> None:
        # A broken pool (a worker died, hung or failed to start) gets no grace period:
        # a hung worker would only make us wait the whole of it.
        if self.broken:
            for proc in self.procs:
                if proc.pid is not None and proc.is_alive():
                    proc.terminate()
        finalizer = getattr(self, "_finalizer", None)
        if finalizer is not None:
            finalizer()
        else:
            _shutdown(self.procs, self.tasks, self.results)


def _shutdown(procs, tasks, results) -> None:
    """Stop the workers: ask, then close their pipes, then wait a little, then terminate."""
    for q in tasks:
        try:
            q.put(None)
        except (ValueError, OSError):
            pass
    # A worker blocked sending a big batch nobody will read gets EPIPE and leaves.
    for conn in results:
        conn.close()
    deadline = time.monotonic() + _JOIN_TIMEOUT_S
    for proc in procs:
        if proc.pid is not None:  # it was started
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                proc.terminate()
                proc.join()
    for q in tasks:
        q.close()
