"""What runs when a leaf's gradient is complete, and when a backward pass ends.

- Post-accumulate-grad hooks (PyTorch's ``Tensor.register_post_accumulate_grad_hook``):
  ``fn(tensor)`` runs as soon as the backward pass has accumulated the leaf's gradient
  for this pass into ``.grad``, while the walk goes on to the rest of the graph. Data
  parallelism launches its gradient all-reduces from here, overlapped with the rest of
  the backward pass.
- ``queue_callback(fn)``: ``fn()`` runs once the backward pass now running in this thread
  has finished (PyTorch's ``Variable._execution_engine.queue_callback``).

The hooks live in a registry keyed by the tensor's id (a Tensor has no room for them:
``__slots__``), dropped when the tensor is collected. The engine consults the registry
only while it holds something, so a backward pass without such hooks costs nothing more.
"""

from __future__ import annotations

import threading
import weakref

from chainrule.errors import BackwardError
from chainrule.graph.node import HookHandle

#: id(tensor) -> (weak reference to the tensor, its hooks)
registry: dict = {}


def register(tensor, fn) -> HookHandle:
    key = id(tensor)
    entry = registry.get(key)
    if entry is None or entry[0]() is not tensor:
        entry = (weakref.ref(tensor, _forgetter(key)), [])
        registry[key] = entry
    entry[1].append(fn)
    return HookHandle(entry[1], fn)


def _forgetter(key: int):
    """The weak reference's callback: drop the entry once its tensor is gone. (The
    registry is bound now: at interpreter exit this module's globals may be gone first.)"""
    def forget(ref, registry=registry):
        entry = registry.get(key)
        if entry is not None and entry[0] is ref:
            del registry[key]

    return forget


def hooks_of(tensor) -> list:
    entry = registry.get(id(tensor))
    return entry[1] if entry is not None and entry[0]() is tensor else []


class _Passes(threading.local):
    """The backward passes running in this thread, innermost last: each a callback list."""

    def __init__(self):
        self.stack: list = []


_passes = _Passes()


def open_pass() -> list:
    """A backward pass starts: the list its queued callbacks go into."""
    queued: list = []
    _passes.stack.append(queued)
    return queued


def close_pass() -> None:
    _passes.stack.pop()


def queue_callback(fn) -> None:
    """Run ``fn()`` when the backward pass running in this thread ends (not if it fails)."""
    if not _passes.stack:
        raise BackwardError("queue_callback: no backward pass is running in this thread. "
                            "help: call it from a hook that runs during backward()")
    _passes.stack[-1].append(fn)
