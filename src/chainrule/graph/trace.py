"""The seam between the engine and a step recorder (``chainrule.compile``).

``cr.compile`` records a step while it runs eagerly: each primitive's application, each
backward pass, each optimizer update. Those live on floors below ``compile/``, so they
report to whatever recorder this thread has installed here, through the few functions
below; with no recorder (always, outside a compiled function's first call) each is one
test of ``active[0]``, a plain list read, as grad mode's ``off`` count (grad_mode.py).

What library code says here:

- ``call(fn, *args)``: run ``fn``, a plain array function of tensors and arrays (a dropout
  mask, a running-statistics update), and have it run again on every replay with the
  replay's arrays: raw NumPy work outside the primitives that a replay must not skip.
- ``depends(fn, *args)``: ``fn`` computes what the Python code branched on (are there
  ignored targets?) or checks the values (class indices in range); a replay calls it
  again and runs eagerly if the answer changed, so data-dependent control flow in the
  library is a guard, not a frozen guess.
- ``refuse(reason)``: what cannot be recorded (``.item()``, an in-place edit, a hook):
  the compiled function falls back to eager and says why.
- ``opaque(fn)``: a method (``optimizer.step``) recorded as one call and replayed as one
  call; nothing inside it is recorded.
"""

from __future__ import annotations

import functools
import threading


class _State(threading.local):
    recorder = None  # this thread's recorder while it records a step, else None


state = _State()
active = [0]  # threads recording now: while 0, every function here returns at once
_lock = threading.Lock()


def recorder():
    """This thread's recorder, or None (the common case costs one list read)."""
    return state.recorder if active[0] else None


def install(rec) -> None:
    """Make ``rec`` this thread's recorder (``None`` removes it)."""
    prev = state.recorder
    if (prev is None) == (rec is None):
        state.recorder = rec
        return
    with _lock:
        active[0] += 1 if rec is not None else -1
    state.recorder = rec


def call(fn, *args):
    """``fn(*args)``, recorded to run again on every replay (see the module docstring)."""
    rec = recorder()
    if rec is None:
        return fn(*args)
    return rec.call(fn, args)


def depends(fn, *args):
    """``fn(*args)``, whose answer a replay checks again (see the module docstring)."""
    rec = recorder()
    if rec is None:
        return fn(*args)
    return rec.depends(fn, args)


def refuse(reason: str) -> None:
    """This step cannot be recorded, because ``reason``: the recorder falls back to eager."""
    rec = recorder()
    if rec is not None:
        rec.refuse(reason)


def opaque(method):
    """Decorate a method that a recording keeps as one call (``optimizer.step``)."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        rec = recorder()
        if rec is None:
            return method(self, *args, **kwargs)
        return rec.opaque(method, self, args, kwargs)

    return wrapper


def made(t) -> None:
    """Tensor ``t`` was made inside the step (``cr.tensor``, a factory): its values come
    from outside the recorded ops, so an op that reads it cannot be replayed (unless its
    array is a step input's)."""
    rec = recorder()
    if rec is not None:
        rec.made(t)


def alias(t, source) -> None:
    """Tensor ``t`` holds ``source``'s values (``detach()``): a replay gives it the same."""
    rec = recorder()
    if rec is not None:
        rec.alias(t, source)


def grad_set(t, value) -> None:
    """``t.grad = value`` inside the step (a plain attribute write, which a replay would
    otherwise not repeat: gradients would pile up across calls)."""
    rec = recorder()
    if rec is not None:
        rec.grad_set(t, value)


def module(m) -> None:
    """Module ``m`` runs inside the step: the recording depends on its mode and hooks."""
    rec = recorder()
    if rec is not None:
        rec.module(m)
