"""Node: one recorded application of a primitive op.

Glossary (one word per concept, used throughout chainrule):

- ``g``     the gradient arriving at an op from its output: dL/d(output).
- ``grad``  dL/dt stored on a tensor (``t.grad``).
- ``node``  one recorded op application; ``t.grad_fn`` is the node that made ``t``.
- ``edge``  what a node's input points back to: the input's node, the input itself when
            it is a leaf that requires grad, or None when no gradient is wanted there.
- ``vjp``   vector-Jacobian product: given g, the gradient for each input (chain rule).

Every primitive (see ``chainrule.ops``) subclasses Node and defines ``forward`` on raw
arrays and ``vjp``. A ``vjp`` is written once, with operators, NumPy-named methods and
the helpers in ``chainrule.ops.dual``, so the same code runs on raw arrays in an ordinary
backward pass (fast, nothing recorded) and on tensors under ``create_graph=True`` (every
step recorded, so gradients of gradients come free).
"""

from __future__ import annotations

import itertools

import numpy as np


class Node:
    """Base class of every primitive. Subclasses define ``forward`` and ``vjp``."""

    # Class-level defaults: most nodes never set these, so no per-instance cost.
    parents: tuple | None = None  # edges, one per input; None while not recording
    hooks: list | None = None  # hooks registered on the output tensor (non-leaf)
    retained = None  # weakref to the output tensor when it called retain_grad()
    released = False  # saved arrays freed by a backward without retain_graph
    _saved: dict | tuple = ()  # name -> array, what forward kept for the vjp
    out_id = 0  # id() of the output array, to recognise it among saved ones
    out_shape: tuple = ()
    out_dtype = None
    # Per input, for a leaf that requires grad: (id() of its array, its shape) when
    # recorded; None for other inputs, and no list at all when no input is such a leaf.
    # They hold even if ``leaf.data`` is rebound.
    leaves: list | None = None
    # For a node that saved arrays: the version counters of its inputs (None for a
    # constant) and, last, of its output; and the write clock when it was recorded.
    # Backward checks them, so an in-place edit of anything saved is an error, not a
    # wrong gradient (check_versions). None when nothing was saved.
    counters: list | None = None
    clock_at = 0
    frozen: tuple = ()  # saved arrays of the engine's own made read-only until released
    sums_over_steps = False  # set on Add: checked for running totals that keep graphs alive

    def __init__(self, **params):
        # Op parameters (axis, shape, index ...) are plain attributes. (``apply`` skips
        # __init__ and sets them itself: it is on the hot path.)
        self.__dict__.update(params)

    @property
    def name(self) -> str:
        return type(self).__name__

    def forward(self, *arrays):  # pragma: no cover - abstract
        raise NotImplementedError

    def vjp(self, g):  # pragma: no cover - abstract
        raise NotImplementedError

    # --- saving for backward -------------------------------------------------------------

    def save(self, **arrays) -> None:
        """Keep arrays for the backward pass, by name: ``self.save(x=x)`` then ``self.x``.

        Nothing is kept when the op is not being recorded. Under ``create_graph`` a saved
        input or output is swapped for its tensor (see ``vjp_recorded``), so that
        gradients flow through it.
        """
        if self.parents is None:
            return
        self.__dict__.update(arrays)
        if self._saved:
            self._saved.update(arrays)
        else:
            self._saved = arrays

    @property
    def recording(self) -> bool:
        """Is this application recorded? A forward that builds an array only for its vjp
        (a mask, tie weights) checks this first, so inference skips that pass."""
        return self.parents is not None

    def needs(self, i: int) -> bool:
        """Does input ``i`` want a gradient? Lets a vjp skip work nobody will use."""
        return self.parents[i] is not None

    def input_shape(self, i: int) -> tuple:
        """The shape of input ``i`` (one that wants a gradient), for ``unbroadcast``.

        Read off the edge rather than saved by every forward: the input's node knows its
        output's shape, and a leaf's shape was recorded with it.
        """
        leaves = self.leaves
        if leaves is not None and leaves[i] is not None:
            return leaves[i][1]
        return self.parents[i].out_shape

    def check_versions(self) -> None:
        """Refuse to backpropagate through a saved array that was modified in place since.

        Called only when some in-place write happened anywhere after this node was
        recorded (the engine compares the clock first). A counter written after then
        matters only when this node saved that memory (the array itself or a view of it);
        a copy derived from it is a snapshot and stays right.
        """
        counters = self.counters
        last = len(counters) - 1
        for i, counter in enumerate(counters):
            if counter is None or counter[2] <= self.clock_at:
                continue
            for v in self._saved.values():
                if isinstance(v, np.ndarray) and memory_id(v) == counter[3]:
                    from chainrule.errors import BackwardError

                    what = (f"the output of {self.name}" if i == last
                            else f"input {i} of {self.name}")
                    raise BackwardError(
                        f"backward: {what} (a tensor of shape {v.shape}) was saved by "
                        f"{self.name} for backward and then modified by an inplace operation "
                        f"(it is at version {counter[0]} now), so its gradient would be "
                        "wrong. help: do the in-place update after backward() "
                        "(optimizer.step() after loss.backward()), or use the out-of-place "
                        "form (x = x + 1, not x += 1 or x.add_(1)); cr.detect_anomaly() names "
                        "the line that made the op"
                    )

    def release(self) -> None:
        """Free the saved arrays: the graph cannot be walked through this node again."""
        for array in self.frozen:
            array.setflags(write=True)
        self.frozen = ()
        if self._saved:
            d = self.__dict__
            for name in self._saved:
                d.pop(name, None)
            self._saved = ()
        self.released = True

    def vjp_recorded(self, g, make_tensor):
        """Run ``vjp`` on tensors so that it is itself recorded (``create_graph=True``).

        Saved arrays are swapped for tensors that stand where they came from: the input
        tensor (or its node's output) for a saved input, this node's output for the
        saved output, and a constant for anything else.
        """
        originals = dict(self._saved)
        leaves = self.leaves or (None,) * len(self.parents)
        for name, value in originals.items():
            vid = id(value)
            if vid == self.out_id:
                setattr(self, name, make_tensor(value, self))
                continue
            # Ids identify: a saved array and the input it came from were alive together.
            for edge, leaf in zip(self.parents, leaves):
                if leaf is not None:
                    if leaf[0] == vid:  # a leaf tensor: use it, so its grad is reached
                        setattr(self, name, edge)
                        break
                elif edge is not None and edge.out_id == vid:
                    setattr(self, name, make_tensor(value, edge))
                    break
        try:
            return self.vjp(g)
        finally:
            self.__dict__.update(originals)

    def __repr__(self) -> str:
        return f"<{self.name}>"


def memory_id(array) -> int:
    """Identity of the memory an array views: its base's id, or its own for an owner.

    Two arrays share memory this way exactly when one is a view of the other or both
    view a third (NumPy keeps ``base`` pointing at the owner).
    """
    base = array.base
    while base is not None:
        array = base
        base = getattr(array, "base", None)
    return id(array)


# --- versions ----------------------------------------------------------------------------
# A tensor's version counter is a list [version, shared, written_at, memory], shared by the
# tensors that view one memory (views, detach(), Parameter(t)): ``version`` counts in-place
# writes, ``shared`` says another tensor views the same memory, ``written_at`` is the write
# clock at the last write, ``memory`` the memory_id of what it wrote. ``clock[0]`` counts
# in-place writes in the process: a node recorded at clock c, at backward, needs checking
# only if the clock moved since (usually it has not: optimizers write between steps).
clock = [0]
_ticks = itertools.count(1)  # next() is atomic under the GIL: no two writes share a tick


def note_write(counter: list, data) -> None:
    """Record an in-place write of ``data`` through the tensor owning ``counter``."""
    # NOTE: no lock (an optimizer calls this per parameter per step). Two threads writing
    # at once can leave clock[0] a tick behind a finished write; a node recorded in that
    # instant takes the write for a later one: at worst a false error in code that races
    # in-place writes between threads, never a missed one.
    tick = next(_ticks)
    counter[0] += 1
    counter[2] = tick
    counter[3] = id(data) if data.base is None else memory_id(data)
    clock[0] = tick
