"""vmap's seam in the op path: the levels at which tensors carry a batch axis (per thread).

``chainrule.func.vmap`` opens a level and hands its function batched tensors (a subclass
of Tensor, func/batched.py) that look like one sample but hold the whole batch. ``apply``
(ops/core.py) asks ``dispatch`` first, while ``on[0]`` says some thread has a level open:
an op with a batched input then runs once on the whole batch by its batching rule
(func/batching.py), or as a loop over the samples where it has none. The graph layer
knows no rule: func registers its dispatcher here (``register``), as the engine does in
tensor.py, so nothing imports upward.
"""

from __future__ import annotations

import itertools
import threading


class _State(threading.local):
    levels: tuple = ()  # the open vmap levels of this thread, outermost first: (id, size)


state = _State()
on = [0]  # threads with at least one vmap level open now
_ids = itertools.count(1)  # never reused: a batched tensor from a closed level is stale
_lock = threading.Lock()


def _no_dispatcher(op_cls, inputs, params):
    return None


_dispatch = [_no_dispatcher]


def register(fn) -> None:
    """Called by chainrule.func on import: ``fn(op_cls, inputs, params)`` returns the
    batched output, or None when no input is batched."""
    _dispatch[0] = fn


def dispatch(op_cls, inputs, params):
    return _dispatch[0](op_cls, inputs, params)


def enter(size: int) -> int:
    """Open a new innermost level of batch size ``size``; return its id."""
    level = next(_ids)
    if not state.levels:
        with _lock:
            on[0] += 1
    state.levels = state.levels + ((level, size),)
    return level


def exit(level: int) -> None:  # noqa: A001 - the pair of enter
    levels = state.levels
    if not levels or levels[-1][0] != level:
        raise RuntimeError(f"vmap: level {level} closed out of order ({levels})")
    state.levels = levels[:-1]
    if not state.levels:
        with _lock:
            on[0] -= 1


def active() -> tuple:
    """The open levels of this thread, outermost first, as (id, batch size) pairs."""
    return state.levels if on[0] else ()


# --- functions with a batching rule of their own ---------------------------------------
# A few public functions read their inputs' values before any op runs (cross_entropy
# checks its class indices), which a batch cannot answer for one sample. Such a function
# is marked ``batchable``; func registers a rule for it by name, run instead of it when
# an argument is batched.

FUNCTION_RULES: dict = {}  # "module.name" -> rule(fn, args, kwargs) or NotImplemented


def batchable(fn):
    import functools

    name = f"{fn.__module__}.{fn.__qualname__}"

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if on[0] and state.levels:
            rule = FUNCTION_RULES.get(name)
            if rule is not None:
                out = rule(wrapper, args, kwargs)
                if out is not NotImplemented:
                    return out
        return fn(*args, **kwargs)

    return wrapper
