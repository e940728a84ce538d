"""Grad mode: whether ops record themselves into the graph.

Per thread, as PyTorch's: ``no_grad`` in one thread (an evaluation loop, a data worker)
must not switch recording off in another that is training. The flag is read by every op;
a thread-local attribute costs about 20 ns more than a plain one (measured), which is
the price of not sharing it.
"""

from __future__ import annotations

import functools
import threading


class _State(threading.local):
    enabled = True  # the class attribute is every new thread's starting value


state = _State()


def is_grad_enabled() -> bool:
    return state.enabled


class _GradMode:
    """Context manager and decorator that sets grad mode and restores it on exit."""

    mode: bool

    def __enter__(self):
        self._prev = state.enabled
        state.enabled = self.mode
        return self

    def __exit__(self, *exc):
        state.enabled = self._prev
        return False

    def __call__(self, fn):
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev = state.enabled
            state.enabled = mode
            try:
                return fn(*args, **kwargs)
            finally:
                state.enabled = prev

        return wrapper


class no_grad(_GradMode):
    """Run without recording the graph: ``with cr.no_grad(): ...`` or ``@cr.no_grad()``."""

    mode = False


class enable_grad(_GradMode):
    """Record the graph again inside a ``no_grad`` region."""

    mode = True


class set_grad_enabled(_GradMode):
    """Set grad mode to ``mode`` for a region."""

    def __init__(self, mode: bool = True):
        self.mode = bool(mode)


class inference_mode(_GradMode):
    """PyTorch's ``inference_mode``: here the same as ``no_grad`` (nothing is recorded, and
    chainrule has no per-tensor inference flag to set)."""

    def __init__(self, mode: bool = True):
        self.mode = not mode
