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
the helpers in ``chainrule.ops.generic``, so the same code runs on raw arrays in an
ordinary backward pass (fast, nothing recorded) and on tensors under
``create_graph=True`` (every step recorded, so gradients of gradients come free). What a
forward saves says where it comes from (``save``), so the engine knows what to
version-check and what to swap for tensors; no array is ever recognised by its ``id()``.
"""

from __future__ import annotations

import itertools
import threading

import numpy as np

from chainrule._backend import memory_id  # noqa: F401 - re-exported for ops.core


class Input:
    """``INPUT(i)`` in ``save``: the array of the op's input i."""

    __slots__ = ("index",)

    def __init__(self, index: int):
        self.index = index

    def __repr__(self) -> str:
        return f"INPUT({self.index})"


class _Output:
    """``OUTPUT`` in ``save``: the array the op's forward returns."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "OUTPUT"


OUTPUT = _Output()
_INPUTS = tuple(Input(i) for i in range(8))


def INPUT(index: int) -> Input:  # noqa: N802 - reads as the marker it is
    return _INPUTS[index] if index < 8 else Input(index)


class HookHandle:
    """Returned by ``register_hook`` and ``register_prehook``; ``remove()`` unregisters."""

    def __init__(self, hooks: list, fn):
        self._hooks, self._fn = hooks, fn

    def remove(self) -> None:
        if self._fn in self._hooks:
            self._hooks.remove(self._fn)


class Node:
    """Base class of every primitive. Subclasses define ``forward`` and ``vjp``."""

    # Class-level defaults: most nodes never set these, so no per-instance cost.
    parents: tuple | None = None  # edges, one per input; None while not recording
    hooks: list | None = None  # hooks registered on the output tensor (non-leaf)
    retained = None  # weakref to the output tensor when it called retain_grad()
    released = False  # saved arrays freed by a backward without retain_graph
    _saved: dict | tuple = ()  # name -> array, what forward kept for the vjp
    out_shape: tuple = ()
    out_dtype = None
    # Per input, for a leaf that requires grad: its shape when recorded; None for other
    # inputs, and no list at all when no input is such a leaf. It holds even if
    # ``leaf.data`` is rebound (see engine._check_leaf_shape).
    leaves: list | None = None
    # For a node that saved a tensor input or its output: (i, version counter) per saved
    # one (i = -1: the output), and the write clock when it was recorded. Backward checks
    # them, so an in-place edit of anything saved is an error, not a wrong gradient
    # (check_versions). None when no tensor was saved.
    counters: list | None = None
    clock_at = 0
    frozen: list | None = None  # saved arrays of the engine's own, read-only until released
    # A fused op whose vjp uses arrays derived from its inputs (a softmax, a normalized x)
    # defines ``composed(*inputs)``: its output written with chainrule ops. Under
    # create_graph the engine differentiates that instead (engine._vjp_composed), so the
    # derived arrays never stand in as constants.
    composed = None
    # Forward mode (graph/forward_mode.py), set only while a level is open: the output's
    # tangents by level, and the inputs that carry tangents but want no gradient (by index),
    # so that a backward under create_graph carries tangents too (forward-over-reverse).
    tangents: dict | None = None
    dual_inputs: dict | None = None
    sums_over_steps = False  # set on Add: checked for running totals that keep graphs alive
    # The array namespace and device of the inputs (_backend.py): NumPy unless an input is
    # another library's array, then set by ``apply``. A forward calls ``self.xp.exp(x)``;
    # a NumPy-only fast path checks ``self.xp is np`` first. ``portable`` says that the op's
    # forward and vjp keep to the array API, so ``apply`` lets other libraries' arrays in.
    xp = np
    device = None
    portable = False

    def __init__(self, **params):
        # Op parameters (axis, shape, index ...) are plain attributes. (``apply`` skips
        # __init__ and sets them itself: it is on the hot path.)
        self.__dict__.update(params)

    @property
    def name(self) -> str:
        return type(self).__name__

    def register_prehook(self, fn) -> HookHandle:
        """PyTorch's ``Node.register_prehook``: ``fn(grad_outputs)`` runs when the gradient
        at this node's output is complete, before its vjp, with a 1-tuple (dL/d(output),
        a tensor); it may return a tuple holding a replacement. For watching a graph whose
        tensors are gone (the drawing does); ``t.register_hook`` is the same on a tensor."""
        def hook(g):
            out = fn((g,))
            return None if out is None else out[0]

        if self.hooks is None:
            self.hooks = []
        self.hooks.append(hook)
        return HookHandle(self.hooks, hook)

    def forward(self, *arrays):  # pragma: no cover - abstract
        raise NotImplementedError

    def vjp(self, g):  # pragma: no cover - abstract
        raise NotImplementedError

    def jvp(self, xs, y, dxs):
        """Forward mode: the tangent of the output ``y`` from the inputs' tangents ``dxs``
        (None: zero; tensors), given the inputs ``xs`` (tensors or constants) and ``y``."""
        raise NotImplementedError(f"{self.name} has no jvp rule, so forward mode (func.jvp, "
                                  "jacfwd, hessian) cannot pass through it")

    # --- saving for backward -------------------------------------------------------------

    def save(self, **arrays) -> None:
        """Keep arrays for the backward pass, by name, saying where each comes from:
        ``self.save(x=INPUT(0), y=OUTPUT, mask=mask)``, then ``self.x`` in the vjp.

        ``INPUT(i)`` is input i's array, ``OUTPUT`` the array the forward returns (both
        filled in by ``apply``, version-checked at backward, and under ``create_graph``
        swapped for their tensors so that gradients flow through them); anything else is a
        derived array, a snapshot the vjp uses as a constant (a mask, a sign, tie weights).
        A derived array whose derivative matters needs ``composed`` (see above). Nothing is
        kept when the op is not being recorded.
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
            return leaves[i]
        return self.parents[i].out_shape

    def check_versions(self) -> None:
        """Refuse to backpropagate through a saved tensor written in place since it was saved.

        Called only when some in-place write happened anywhere after this node was
        recorded (the engine compares the clock first).
        """
        for i, counter in self.counters:
            if counter[2] > self.clock_at:
                from chainrule.errors import BackwardError

                what = f"the output of {self.name}" if i < 0 else f"input {i} of {self.name}"
                shape = self.out_shape if i < 0 else self.saved_input(i).shape
                raise BackwardError(
                    f"backward: {what} (a tensor of shape {shape}) was saved by {self.name} "
                    f"for backward and then modified by an inplace operation (it is at "
                    f"version {counter[0]} now), so its gradient would be wrong. help: do "
                    "the in-place update after backward() (optimizer.step() after "
                    "loss.backward()), or use the out-of-place form (x = x + 1, not x += 1 "
                    "or x.add_(1)); cr.detect_anomaly() names the line that made the op"
                )

    def saved_input(self, i: int):
        """The array saved as ``INPUT(i)``."""
        for name, kind in (self._saved.items() if self._saved else ()):
            if type(kind) is Input and kind.index == i:
                return self.__dict__[name]
        raise KeyError(f"{self.name} saved no INPUT({i})")

    def release(self) -> None:
        """Free the saved arrays: the graph cannot be walked through this node again."""
        if self.frozen is not None:
            for array in self.frozen:
                array.setflags(write=True)
            self.frozen = None
        if self._saved:
            d = self.__dict__
            for name in self._saved:
                d.pop(name, None)
            self._saved = ()
        self.released = True

    def vjp_recorded(self, g, make_tensor):
        """Run ``vjp`` on tensors so that it is itself recorded (``create_graph=True``).

        Each saved ``INPUT(i)`` is swapped for the tensor that stands where it came from
        (the leaf itself, or the input's node's output), ``OUTPUT`` for this node's output;
        derived arrays stay as they are: constants.
        """
        d = self.__dict__
        originals = {}
        # Another library's arrays do not defer to a tensor in `array @ tensor` as NumPy's
        # do (array-api-strict raises), so there the constants become tensors too.
        foreign = self.xp is not np
        for name, kind in (self._saved.items() if self._saved else ()):
            if kind is OUTPUT:
                tensor = self.stand_in(d[name], self, make_tensor)
            elif type(kind) is Input:
                edge = self.parents[kind.index]
                if edge is None:
                    if self.dual_inputs is None or kind.index not in self.dual_inputs:
                        if not (foreign and hasattr(d[name], "shape")):
                            continue  # a constant input: no gradient flows there
                        tensor = make_tensor(d[name])
                    else:
                        tensor = self.dual_inputs[kind.index]  # no gradient, but a tangent
                elif isinstance(edge, Node):
                    tensor = self.stand_in(d[name], edge, make_tensor)
                else:
                    tensor = edge
            elif foreign and hasattr(d[name], "shape") and not hasattr(d[name], "_node"):
                tensor = make_tensor(d[name])
            else:
                continue
            originals[name] = d[name]
            d[name] = tensor
        try:
            return self.vjp(g)
        finally:
            d.update(originals)

    @staticmethod
    def stand_in(array, node, make_tensor):
        """A tensor for ``node``'s output (``array``) in a recorded backward, with the
        tangents that output had (forward-over-reverse)."""
        tensor = make_tensor(array, node)
        if node.tangents is not None:
            tensor._tangents = node.tangents
        return tensor

    def __repr__(self) -> str:
        return f"<{self.name}>"


# --- versions ----------------------------------------------------------------------------
# A tensor's version counter is a list [version, shared, written_at], shared by the tensors
# that view one memory (views, detach(), Parameter(t)): ``version`` counts in-place writes,
# ``shared`` says another tensor views the same memory, ``written_at`` is the write clock
# at the last write. ``clock[0]`` counts in-place writes in the process: a node recorded at
# clock c needs checking at backward only if the clock moved since (usually it has not:
# optimizers write between steps, not inside them).
clock = [0]
_ticks = itertools.count(1)
_write_lock = threading.Lock()


def note_write(counter: list) -> None:
    """Record an in-place write through a tensor whose version counter is ``counter``."""
    # NOTE: under a lock, so that clock[0] only moves forward. Without it, a thread that
    # took tick t and stored it after another thread stored t + 1 set the clock back; a
    # node recorded then took that other thread's finished write for a later one: a false
    # BackwardError in two threads training separate models (seen under load), and a
    # backwards clock could also hide a real write from the engine's quick check.
    with _write_lock:
        tick = next(_ticks)
        counter[0] += 1
        counter[2] = tick
        clock[0] = tick
