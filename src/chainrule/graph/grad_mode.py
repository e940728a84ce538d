"""Grad mode: whether ops record themselves into the graph.

Per thread, as PyTorch's: ``no_grad`` in one thread (an evaluation loop, a data worker)
must not switch recording off in another that is training. Every recorded op reads the
flag; a thread-local read costs several times a plain one, so ``off[0]`` counts the
threads that have grad mode off right now, and while it is 0 (the usual case in a
training step) an op needs no thread-local read at all (ops/core.py).
"""

from __future__ import annotations

import functools
import threading


class _State(threading.local):
    enabled = True  # the class attribute is every new thread's starting value


state = _State()
off = [0]  # threads with grad mode off now: while 0, it is on in every thread
_lock = threading.Lock()


def _set(flag: bool) -> bool:
    """Set this thread's grad mode; return the previous one. The only writer of ``state``.

    The count goes up before a thread turns recording off and down after it turns it back
    on, so a thread that reads 0 never has it off itself.
    """
    prev = state.enabled
    if flag != prev:
        if flag:
            state.enabled = True
            with _lock:
                off[0] -= 1
        else:
            with _lock:
                off[0] += 1
            state.enabled = False
    return prev


def is_grad_enabled() -> bool:
    return state.enabled


class _GradMode:
    """Context manager and decorator that sets grad mode and restores it on exit."""

    mode: bool

    def __enter__(self):
        self._prev = _set(self.mode)
        return self

    def __exit__(self, *exc):
        _set(self._prev)
        return False

    def __call__(self, fn):
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev = _set(mode)
            try:
                return fn(*args, **kwargs)
            finally:
                _set(prev)

        return wrapper


class no_grad(_GradMode):
    """Run without recording the graph: ``with cr.no_grad(): ...`` or ``@cr.no_grad()``."""

    mode = False


class enable_grad(_GradMode):
    """Record the graph again inside a ``no_grad`` region."""

    mode = True


class set_grad_enabled(_GradMode):
    """Set grad mode to ``mode``: at once when called (``cr.set_grad_enabled(False)``, as
    PyTorch's function form, until changed again in this thread), or for a region as a
    context manager (restored on exit), or for a function as a decorator."""

    def __init__(self, mode: bool = True):
        self.mode = bool(mode)
        self._prev = _set(self.mode)  # NOTE: a plain call must act, as in PyTorch

    def __enter__(self):
        return self  # already set by __init__; __exit__ restores what was before

    def __call__(self, fn):
        _set(self._prev)  # as a decorator, it acts only while fn runs
        return super().__call__(fn)


class inference_mode(_GradMode):
    """PyTorch's ``inference_mode``: here the same as ``no_grad`` (nothing is recorded, and
    chainrule has no per-tensor inference flag to set)."""

    def __init__(self, mode: bool = True):
        self.mode = not mode
