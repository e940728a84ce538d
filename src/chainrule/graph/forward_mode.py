"""Forward mode: the levels at which tangents ride along with the values (per thread).

``chainrule.func.jvp`` opens a level, gives its inputs tangents at that level and runs the
function; every op then computes its output's tangent from its inputs' (its ``jvp`` rule,
ops/core.py) besides its value. A tensor keeps its tangents in ``_tangents``, a dict
level -> tangent tensor, unset on almost every tensor (read it with ``tangents(t)``).

Levels nest, as ``jvp`` of ``jvp`` does: each has an id of its own, never reused, so a
tangent left on a tensor by a finished level is never mistaken for a live one. While an op
computes its tangent at level L, only the levels outside L are active, so the rule's own
arithmetic carries the outer tangents (a second derivative across levels) and never L's
(which would confuse the two perturbations).

Per thread, as grad mode: ``off``-style, ``on[0]`` counts the threads with a level open,
so that while it is 0 (the usual case) an op reads no thread-local state at all.
"""

from __future__ import annotations

import itertools
import threading


class _State(threading.local):
    levels: tuple = ()  # the active level ids, outermost first


state = _State()
on = [0]  # threads with at least one level open now
_ids = itertools.count(1)  # next() is atomic under the GIL: no two levels share an id
_lock = threading.Lock()


def enter() -> int:
    """Open a new innermost level in this thread; return its id."""
    level = next(_ids)
    if not state.levels:
        with _lock:
            on[0] += 1
    state.levels = state.levels + (level,)
    return level


def exit(level: int) -> None:  # noqa: A001 - the pair of enter
    """Close ``level`` (the innermost one open in this thread)."""
    levels = state.levels
    if not levels or levels[-1] != level:
        raise RuntimeError(f"forward mode: level {level} closed out of order ({levels})")
    state.levels = levels[:-1]
    if not state.levels:
        with _lock:
            on[0] -= 1


def active() -> bool:
    """Is any forward-mode level open in this thread?"""
    return bool(on[0]) and bool(state.levels)


def tangents(t) -> dict | None:
    """``t``'s tangents by level (None for a constant or a tensor without any)."""
    return getattr(t, "_tangents", None)


def tangent(t, level: int):
    """``t``'s tangent at ``level``, or None (zero)."""
    d = getattr(t, "_tangents", None)
    return None if d is None else d.get(level)
