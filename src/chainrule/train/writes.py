"""An epoch's files, written by a background thread while the next epoch trains.

Each write of a run's files waits for the disk: a durable atomic write is two fsyncs and a
rename, 12 ms on this project's machine whatever the size, and the digits recipe wrote
four of them per epoch (its epoch trains in about 30 ms: the writes took 60 % of the run).
What an epoch leaves is therefore encoded on the training thread (a snapshot: the bytes
hold the state at the end of the epoch) and handed to one thread that writes it, in
order, while the next epoch trains.

While it writes, the GIL changes hands every 0.5 ms instead of Python's 5: each of the
writer's system calls (about 30 an epoch: open, write, fsync, rename, link...) needs the
GIL back when it returns, and waits a whole switch interval for the training thread to
give it up. At 5 ms an epoch's writes took longer than the epoch, and the training thread
paid for every hand-over; measured on the digits recipe's 100 epochs (load average 7 on
2 cores): wall 7.4-8.6 s at 5 ms, 6.4 s at 0.5 ms, 7.6-7.8 s writing on the training
thread itself. The interval is restored once no writes are in flight.

At most one epoch's writes are in flight: ``submit`` first waits for the previous ones.
So a hard kill loses at most the files of the epoch being written (``last`` then holds
the epoch before, from which a resume is exact), and memory holds one epoch's bytes. A
write that fails is raised by the next ``submit`` or ``wait``, with its path.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from pathlib import Path


class WriteFailed(Exception):
    def __init__(self, path: Path, error: OSError):
        super().__init__(f"{path}: {error}")
        self.path, self.error = path, error


class Writes:
    def __init__(self):
        self._thread: threading.Thread | None = None
        self._failed: WriteFailed | None = None

    def submit(self, jobs: list) -> None:
        """Run ``jobs``, a list of ``(path, function, *args)`` (``function(*args)`` writes
        ``path``), in order in the background, after the previous ones are done. A job
        that raises ``OSError`` stops those after it."""
        self.wait()
        self._thread = threading.Thread(target=self._run, args=(jobs,),
                                        name="chainrule-writes")
        self._thread.start()

    def wait(self) -> None:
        """Until every job submitted is done; raises ``WriteFailed`` for one that failed."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        failed, self._failed = self._failed, None
        if failed is not None:
            raise failed

    def close(self) -> None:
        """Wait for the jobs in flight, dropping a failure: for a run that stops on another
        error, which is the one to report."""
        try:
            self.wait()
        except WriteFailed:
            pass

    def _run(self, jobs: list) -> None:
        with _prompt_handovers():
            for path, function, *args in jobs:
                try:
                    function(*args)
                except OSError as e:
                    self._failed = WriteFailed(path, e)
                    return


#: The GIL's switch interval while writes are in flight (see the module's docstring).
SWITCH_INTERVAL = 0.0005
_lock = threading.Lock()
_writing = 0  # batches of writes in flight, in every Writes of the process
_interval = 0.0  # the interval to restore when the last one ends


@contextlib.contextmanager
def _prompt_handovers():
    global _writing, _interval
    with _lock:
        if not _writing:
            _interval = sys.getswitchinterval()
            sys.setswitchinterval(min(_interval, SWITCH_INTERVAL))
        _writing += 1
    try:
        yield
    finally:
        with _lock:
            _writing -= 1
            if not _writing:
                sys.setswitchinterval(_interval)
