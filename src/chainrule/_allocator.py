"""Keep freed memory for reuse: the C allocator's settings for training loops.

Every training step frees and allocates again the same large arrays (im2col columns,
activations, their gradients). With glibc's defaults, blocks above a threshold are
mapped and unmapped each time, and the heap is trimmed when its top is free, so every
step writes to fresh pages: measured on the Fashion-MNIST CNN step (1 thread), 7,900
page faults and 61 ms per step with the defaults, none and 42 ms with the settings here.
PyTorch avoids this with its own caching allocator; NumPy has none.

The settings: blocks up to 32 MiB (glibc's maximum) come from the heap, and up to 1 GiB of
free heap top is kept. The cost is that a process's memory is returned to the system
later. Linux with glibc only; ``CHAINRULE_MALLOC=system`` in the environment keeps the
system's defaults.

They apply to the whole process (every library's malloc), and glibc has no way back to its
adaptive defaults, so they are set where training is about to pay for them and nowhere
else: ``chainrule train`` and ``chainrule.train.run`` / ``fit`` call ``keep_freed_memory``,
as does benchmarks/run.py, for every framework it measures alike. ``import chainrule``
changes nothing.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading

_M_TRIM_THRESHOLD = -1  # <malloc.h>
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 1 << 30

#: Whether this process's allocator holds the settings above: False until
#: ``keep_freed_memory`` applied them (never at import).
active = False
_lock = threading.Lock()  # two threads starting to train call mallopt once


def keep_freed_memory() -> bool:
    """Apply the settings above to this process (once); True if the C library holds them.

    False, and nothing changed, with ``CHAINRULE_MALLOC=system`` or without glibc.
    """
    global active
    with _lock:
        if active:
            return True
        if os.environ.get("CHAINRULE_MALLOC") == "system" or not sys.platform.startswith("linux"):
            return False
        try:
            mallopt = ctypes.CDLL(None).mallopt  # the process's own C library
        except (OSError, AttributeError):  # no mallopt: not glibc
            return False
        mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
        active = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                      and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
        return active
