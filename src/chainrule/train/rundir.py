"""Run directories: a run never lands on another one, and one process at a time uses one.

- ``claim_new(base)``: ``base`` if it does not exist, else ``base-2``, ``base-3``, ... (the
  first free name, as Ultralytics numbers its runs), made with an atomic ``mkdir`` so that
  two runs started at once get different directories.
- ``claim(path, overwrite)``: an explicit directory. Empty or new: used. Holding a run:
  refused (``RunExistsError``), or with ``overwrite`` emptied first, so that no old file
  stays beside the new ones. Holding anything else: refused even with ``overwrite``
  (it would delete files that are not a run's).
- ``RunLock``: ``fcntl.flock`` on ``DIR/train.lock`` for the run's whole life. The OS drops
  the lock when the process ends, however it ends, so a lock file that a killed run left
  behind is stale (nobody holds it) and is taken over. The file holds the holder's pid for
  the message; a run that ends normally removes it.
"""

from __future__ import annotations

import errno
import fcntl
import itertools
import os
import shutil
import tempfile
from pathlib import Path

from chainrule.train.errors import RunBusyError, RunDirError, RunExistsError

LOCK_NAME = "train.lock"
#: Names `chainrule train` writes; any of them marks a directory as a run.
RUN_MARKERS = ("checkpoints", "metrics.json", "curves.png")


def show(path) -> str:
    """``path`` for a message: bytes that are not UTF-8 appear as ``\\xff``, never crash."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


class RunLock:
    """An exclusive lock on a run directory (``RunLock.acquire(dir)``; ``release()``)."""

    def __init__(self, directory: Path, fd: int, stale_pid: int | None):
        self.directory, self.path, self.fd = directory, directory / LOCK_NAME, fd
        #: the pid a killed run left in the lock file, when this lock took it over
        self.stale_pid = stale_pid

    @classmethod
    def acquire(cls, directory) -> RunLock:
        directory = Path(directory)
        path = directory / LOCK_NAME
        _probe_writable(directory)
        for _ in range(10):
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as e:
                raise RunDirError(f"{show(directory)}: cannot write there "
                                  f"({e.strerror})") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                pid = _read_pid(fd)
                os.close(fd)
                if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise RunDirError(f"{show(path)}: cannot lock it ({e.strerror})") from None
                raise _busy(directory, pid) from None
            # NOTE: the holder may have removed the file between our open and our flock;
            # then we hold a lock on a deleted file: start again on the file that is there.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(path))
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            stale = _read_pid(fd)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            return cls(directory, fd, stale if stale != os.getpid() else None)
        raise RunDirError(f"{show(path)}: the lock file keeps changing; another process is "
                          "starting and stopping runs there")

    def release(self) -> None:
        if self.fd is None:
            return
        try:  # remove the file while still holding the lock (see acquire's NOTE)
            os.unlink(self.path)
        except OSError:
            pass
        os.close(self.fd)
        self.fd = None

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _busy(directory: Path, pid: int | None) -> RunBusyError:
    holder = f"process {pid}" if pid else "another process"
    return RunBusyError(f"{show(directory)} is in use by another run ({holder} holds "
                        f"{LOCK_NAME}). help: wait for that run to end (or stop it), or train "
                        "into another directory")


def holder(directory) -> int | None:
    """The pid in ``directory``'s lock while a live process holds it (0: pid unknown);
    None when nobody does."""
    try:
        fd = os.open(Path(directory) / LOCK_NAME, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            # NOTE: held for an instant; a run starting in that instant is refused as busy
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return _read_pid(fd) or 0
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _probe_writable(directory: Path) -> None:
    try:
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as e:
        raise RunDirError(f"{show(directory)}: cannot write there ({e.strerror})") from None


def contents(path: Path) -> str:
    """``"missing"``, ``"empty"`` (a stale lock file at most), ``"run"`` or ``"other"``."""
    path = Path(path)
    if not path.exists():
        return "missing"
    if not path.is_dir():
        return "other"
    names = {p.name for p in path.iterdir()} - {LOCK_NAME}
    if not names:
        return "empty"
    return "run" if names & set(RUN_MARKERS) else "other"


def check_target(path, overwrite: bool = False, locked: bool = False) -> None:
    """Refuse, before anything is computed or written, a directory that ``claim`` refuses
    (``locked``: the caller holds its lock, so only the contents are checked)."""
    path = Path(path)
    pid = holder(path) if path.is_dir() and not locked else None
    if pid is not None:
        raise _busy(path, pid)
    kind = contents(path)
    if kind == "other":
        if path.exists() and not path.is_dir():
            raise RunDirError(f"{show(path)}: is a file, not a directory. help: choose a new "
                              "directory for the run")
        found = ", ".join(sorted(p.name for p in path.iterdir())[:3])
        raise RunDirError(
            f"{show(path)}: holds files that are not a chainrule run ({found}...); a run "
            "needs a new or empty directory. help: choose another directory (--overwrite "
            "only replaces a run)")
    if kind == "run" and not overwrite:
        marks = ", ".join(m + ("/" if m == "checkpoints" else "") for m in RUN_MARKERS
                          if (path / m).exists())
        raise RunExistsError(
            f"{show(path)} already holds a run ({marks}); a run is never overwritten. "
            f"help: continue it with --resume {show(path)}, replace it whole with "
            "--overwrite, or leave out --out to get the next free directory")


def claim(path, overwrite: bool = False) -> RunLock:
    """Create (or reuse an empty) ``path`` for a new run and lock it; see the module doc."""
    path = Path(path)
    check_target(path, overwrite)
    created = _mkdirs(path)
    try:
        lock = RunLock.acquire(path)
    except RunDirError:
        _rmdirs(created)
        raise
    try:
        check_target(path, overwrite, locked=True)  # again: now no other run can change it
        if contents(path) == "run":
            clear(path)
    except BaseException:
        lock.release()
        raise
    return lock


def claim_new(base) -> tuple[Path, RunLock]:
    """The first free directory of ``base``, ``base-2``, ``base-3``... created and locked."""
    base = Path(base)
    created = _mkdirs(base.parent)
    for n in itertools.count(1):
        path = base if n == 1 else base.with_name(f"{base.name}-{n}")
        try:
            path.mkdir()
        except FileExistsError:
            if n < 100_000:
                continue
            raise RunDirError(f"{show(base)}: no free name up to {show(path)}") from None
        except OSError as e:
            _rmdirs(created)
            raise RunDirError(f"{show(path)}: cannot write there ({e.strerror})") from None
        try:
            return path, RunLock.acquire(path)
        except RunDirError:
            _rmdirs([path, *created])
            raise
    raise AssertionError("unreachable")  # pragma: no cover


def clear(path: Path) -> None:
    """Remove everything in the run directory ``path`` but its lock (held by the caller)."""
    for entry in Path(path).iterdir():
        if entry.name == LOCK_NAME:
            continue
        try:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        except OSError as e:
            raise RunDirError(f"{show(entry)}: cannot remove it to overwrite the run "
                              f"({e.strerror})") from None


def _mkdirs(path: Path) -> list[Path]:
    """``mkdir -p path``; the directories it made, deepest first (to undo on failure)."""
    missing = []
    p = Path(path)
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        _rmdirs(missing)
        raise RunDirError(f"{show(path)}: cannot write there ({e.strerror})") from None
    return missing


def _rmdirs(paths) -> None:
    for p in paths:
        try:
            p.rmdir()
        except OSError:
            pass
