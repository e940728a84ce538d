"""DataLoader with ``num_workers > 0``: the main process's side of the worker pool.

``DataLoader.__iter__`` hands this module the epoch's batches (index arrays, already
shuffled: the main process owns the order); here the pool is started (the start method,
the forkserver preload, the dataset pickled once, with the part that will not pickle
named when it fails), fed ``prefetch_factor`` batches ahead, and read back in order, and
a worker's failure becomes an error that says what went wrong and what to do.

Its own module because this is where all of the loader's multiprocessing lives: the
single-process path (``loader.py``) needs none of it, and the worker processes' own
loop and the pool's plumbing stay in ``_worker.py``. It reads the loader's settings and
keeps a persistent pool in ``loader._pool``, which ``shutdown_workers`` and pickling of
the loader also use.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import pickle
import re
import signal
import sys

from chainrule.data._worker import WorkerPool
from chainrule.data.dataset import _to_tensor
from chainrule.data.errors import DatasetPickleError, WorkerError, WorkerKeyError


def iter_workers(loader, batches, base_seed: int):
    """Batch k goes to worker k % num_workers and is read back from it in turn, with
    up to prefetch_factor * num_workers batches asked for ahead of the one yielded."""
    if not batches:
        return
    pool = _start_pool(loader, base_seed)
    token = object()
    pool.owner = token  # a newer iter() over a persistent pool takes it over
    wait = loader.timeout or None
    try:
        if not pool.drain(wait):  # answers an abandoned epoch left behind
            raise WorkerError("DataLoader: a worker died or timed out while finishing "
                              "the tasks of an abandoned epoch. help: iterate again to "
                              "start fresh workers")
        ahead = min(loader.prefetch_factor * loader.num_workers, len(batches))
        for k in range(ahead):
            pool.submit(k % loader.num_workers, k, batches[k])
        for k in range(len(batches)):
            if pool.owner is not token:
                raise WorkerError("DataLoader: this iterator was superseded by a newer "
                                  "iter() over the same loader, which took over its "
                                  "persistent workers. help: finish (or drop) one epoch "
                                  "before starting the next")
            arrays = _receive(loader, pool, k, batches[k])
            if k + ahead < len(batches):
                pool.submit((k + ahead) % loader.num_workers, k + ahead, batches[k + ahead])
            yield tuple(_to_tensor(x) for x in arrays)
    finally:
        if not loader.persistent_workers or pool.broken:
            pool.shutdown()
            if loader._pool is pool:
                loader._pool = None


def _start_pool(loader, base_seed: int) -> WorkerPool:
    if loader._pool is not None:
        if loader._pool.alive():
            return loader._pool
        loader._pool.shutdown()
        loader._pool = None
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        # We are a worker process importing the user's script (spawn/forkserver do):
        # the script iterates a DataLoader at top level, which would recurse.
        raise WorkerError(
            f"DataLoader: num_workers={loader.num_workers} was asked for while a worker "
            f"process was importing the main script, which iterates a DataLoader at top "
            f"level. help: put that code under `if __name__ == \"__main__\":` (workers "
            f"import the script to find its classes), or use num_workers=0")
    ctx = _context(loader.multiprocessing_context)
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if ctx.get_start_method() != "fork" and main_file and not os.path.isfile(main_file):
        raise WorkerError(
            f"DataLoader: worker processes re-import the main script by its path, and "
            f"{main_file!r} is not a file (a script read from stdin?). help: save the "
            f"script to a file and run that, or use num_workers=0")
    payload = _payload(loader)
    pool = WorkerPool(ctx, loader.num_workers, payload, base_seed)
    if loader.persistent_workers:
        loader._pool = pool
    return pool


def _payload(loader) -> tuple[bytes, bytes]:
    """The dataset and worker_init_fn, each pickled once for every worker."""
    try:
        return tuple(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
                     for obj in (loader.dataset, loader.worker_init_fn))
    except Exception:
        pass
    path, obj, error = (_find_unpicklable(loader.dataset, "dataset")
                        or _find_unpicklable(loader.worker_init_fn, "worker_init_fn"))
    raise DatasetPickleError(
        f"DataLoader: num_workers={loader.num_workers} sends the dataset to worker "
        f"processes by pickling it, but {path} ({_what(obj)}) cannot be pickled: "
        f"{type(error).__name__}: {error}. help: {_pickle_help(obj)}") from None


def _receive(loader, pool: WorkerPool, k: int, idx):
    """Batch k's arrays from its worker, or the worker's failure raised here."""
    worker = k % loader.num_workers
    kind, batch, body = pool.receive(worker, loader.timeout or None)
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
                          f"within timeout={loader.timeout:g} s. help: raise timeout, or "
                          f"set timeout=0 to wait as long as it takes")
    if kind == "died":
        raise WorkerError(f"DataLoader worker {worker} (pid {pid}) exited unexpectedly "
                          f"({_exit_status(batch)}) while making batch {k}. help: "
                          f"{_death_help(batch, pool.answered[worker] > 0)}")
    raise WorkerError(f"DataLoader: worker {worker} answered batch {batch} ({kind}) "
                      f"when batch {k} was due. help: this is a chainrule bug; please "
                      f"report it")


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
