"""A busy machine on demand: a second process spinning on one core.

``spinning()`` starts ``python -c "while True: pass"`` pinned to the last core this
process may use (where a benchmark's second BLAS thread would run), and stops it on exit.
It stands for the other work a shared machine carries (another user's job, a build).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys


@contextlib.contextmanager
def spinning(enabled: bool = True):
    """While open, one core (the last of this process's) is kept busy by another process."""
    if not enabled:
        yield None
        return
    core = sorted(os.sched_getaffinity(0))[-1]
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        os.sched_setaffinity(proc.pid, {core})
        yield core
    finally:
        proc.kill()
        proc.wait()
