"""Tensor's in-place updates: ``+=``, ``add_``, ``copy_``, ``t[i] = v`` and the version counter.

A mixin that ``Tensor`` (tensor.py) inherits, kept apart from the class's core because
every in-place method runs through one path, ``_update``, with its own rules: outside the
graph it writes the memory and bumps the version (so a node that saved the old values
refuses to backpropagate); inside the graph it records the out-of-place form. The writes,
their recorded forms and ``_write_frozen`` (writing memory the engine made read-only)
sit below the class.

tensor.py imports this module before it defines ``Tensor``, and the ops import ``Tensor``,
so the ops and the names from tensor.py are imported late: tensor.py calls
``_late_imports()`` at its end, once they exist.
"""

from __future__ import annotations

import numpy as np

from chainrule import _backend as B
from chainrule.errors import BackwardError, ShapeError
from chainrule.graph import forward_mode, grad_mode, trace
from chainrule.graph.node import note_write


class InPlace:
    """In-place updates of a tensor (see the module docstring)."""

    __slots__ = ()  # Tensor keeps __slots__: no base may add a __dict__

    @property
    def _version(self) -> int:
        """How many in-place updates this tensor's memory has had (shared with its views)."""
        return self._vc[0]

    def bump_version(self) -> None:
        """Record that ``data`` was changed in place by other means (e.g. ``data -= ...``)."""
        note_write(self._vc)

    def _update(self, what: str, write, recorded, other):
        """``self <- f(self, other)`` in place: the one path of every in-place method.

        - Outside the graph (grad mode off, or no operand requires grad) the memory is
          written in place (``write(data, other)``) and the version bumped, so a node that
          saved it refuses to backpropagate instead of using the new values.
        - Inside the graph the update is recorded as its out-of-place form
          (``recorded(self, other)``) and this tensor takes the result, as PyTorch's
          in-place ops do: the gradient flows through the update, and what earlier nodes
          saved is untouched (so their gradients stay right).
        - A leaf that requires grad changes only under ``no_grad`` (optimizers do); a view,
          or a tensor with views, cannot be updated inside the graph (the other views would
          not see the recorded update): both are errors with help.
        """
        if trace.active[0]:
            trace.refuse(f"{what} changes a tensor in place inside the step")
        moving = forward_mode.on[0] and forward_mode.state.levels and (
            forward_mode.tangents(self) or forward_mode.tangents(other))
        if moving or grad_mode.state.enabled and (
                self._rg or (type(other) is not int and type(other) is not float
                             and _requires_grad(other))):
            # (forward mode: the update must go through the ops to carry its tangent)
            if self._rg and self._node is None and grad_mode.state.enabled:
                raise BackwardError(
                    f"{what}: a leaf tensor that requires grad cannot be changed in place "
                    "while grad mode is on (its gradient would describe values it no longer "
                    "has). help: wrap the update in `with cr.no_grad():` (as optimizers do)"
                )
            if self._vc[1]:
                raise BackwardError(
                    f"{what}: this tensor shares memory with another (a view, or a tensor "
                    "viewed by one) and is part of the graph, so an in-place update cannot "
                    "be recorded for both. help: use the out-of-place form (x = x + y), or "
                    "update under `with cr.no_grad():`"
                )
            result = recorded(self, other)
            if result.shape != self.data.shape:
                raise ShapeError(
                    f"{what}: the result has shape {result.shape} but the tensor has shape "
                    f"{self.shape}; an in-place update cannot change the shape. help: use "
                    "the out-of-place form, which broadcasts"
                )
            if result.dtype != self.data.dtype:
                result = ops.astype(result, self.data.dtype)
            self.data = result.data
            self._node = result._node
            self._rg = result._rg
            self._tangents = forward_mode.tangents(result)
            self._vc = [self._vc[0] + 1, False, 0]  # new memory: earlier saves untouched
            return self
        data = self.data
        if type(data) is not np.ndarray:  # another library's: the same form, through the seam
            return self._update_foreign(what, recorded, other)
        try:
            if data.flags.writeable:
                write(data, _data(other))
            else:
                _write_frozen(data, write, _data(other), what)
        except ValueError as e:
            if "broadcast" not in str(e):
                raise
            raise ShapeError(
                f"{what}: an operand of shape {np.shape(_data(other))} does not broadcast to "
                f"the tensor's shape {self.shape}, and an in-place update cannot change its "
                "shape. help: use the out-of-place form, which broadcasts"
            ) from None
        note_write(self._vc)
        return self

    def _update_foreign(self, what: str, recorded, other):
        """``_update`` outside the graph for another library's array: the out-of-place form
        (through the ops, so through the seam), written back into the same memory, so
        views see it as with NumPy."""
        with grad_mode.no_grad():
            result = recorded(self, other)
        if result.shape != self.data.shape:
            raise ShapeError(
                f"{what}: an operand of shape {tuple(getattr(_data(other), 'shape', ()))} "
                f"does not broadcast to the tensor's shape {self.shape}, and an in-place "
                "update cannot change "
                "its shape. help: use the out-of-place form, which broadcasts")
        self.data[...] = B.astype(result.data, self.data.dtype)
        note_write(self._vc)
        return self

    def add_(self, other, alpha=1):
        other = as_operand(other) if alpha == 1 else as_operand(other) * alpha
        return self._update("add_", _iadd, _add, other)

    def sub_(self, other, alpha=1):
        other = as_operand(other) if alpha == 1 else as_operand(other) * alpha
        return self._update("sub_", _isub, _sub, other)

    def mul_(self, other):
        return self._update("mul_", _imul, _mul, as_operand(other))

    def div_(self, other):
        return self._update("div_", _idiv, _div, as_operand(other))

    def __iadd__(self, other):
        return self._update("+=", _iadd, _add, as_operand(other))

    def __isub__(self, other):
        return self._update("-=", _isub, _sub, as_operand(other))

    def __imul__(self, other):
        return self._update("*=", _imul, _mul, as_operand(other))

    def __itruediv__(self, other):
        return self._update("/=", _idiv, _div, as_operand(other))

    def copy_(self, other):
        return self._update("copy_", _assign, _replace, as_operand(other))

    def fill_(self, value):
        return self._update("fill_", _assign, _replace, as_operand(value))

    def zero_(self):
        return self.fill_(0)

    def clamp_(self, min=None, max=None):  # noqa: A002
        return self._update("clamp_", lambda d, o: np.clip(d, min, max, out=d),
                            lambda t, o: ops.clip(t, min, max), None)

    def relu_(self):
        """max(x, 0) in place (``nn.ReLU(inplace=True)``); relu'(0) = 0 as ``relu``."""
        return self._update("relu_", lambda d, o: np.maximum(d, 0, out=d),
                            lambda t, o: t.relu(), None)

    def __setitem__(self, index, value):
        """``t[index] = value``: in place, as every in-place update (see ``_update``)."""
        parsed, _ = _index_arg(index)
        self._update("setitem", lambda d, o: d.__setitem__(parsed, o),
                     lambda t, o: ops.setitem(t, index, o), as_operand(value))


def _requires_grad(x) -> bool:
    return isinstance(x, Tensor) and x._rg


# In-place writes (outside the graph) and their recorded out-of-place forms (inside it).
def _iadd(d, o):
    d += o


def _isub(d, o):
    d -= o


def _imul(d, o):
    d *= o


def _idiv(d, o):
    d /= o


def _assign(d, o):
    d[...] = o


def _add(t, o):
    return t + o


def _sub(t, o):
    return t - o


def _mul(t, o):
    return t * o


def _div(t, o):
    return t / o


def _replace(t, o):
    # The new value is o everywhere: no gradient reaches t's old value, all of it reaches o.
    return ops.where(np.zeros(t.shape, dtype=bool), t, o)


def _write_frozen(data: np.ndarray, write, other, what: str) -> None:
    """Write into an array the engine made read-only while a node keeps it for backward
    (the version bump that follows makes that node refuse to run)."""
    chain = []
    a = data
    while isinstance(a, np.ndarray) and not a.flags.writeable:
        chain.append(a)
        a = a.base
    try:
        for a in reversed(chain):
            a.setflags(write=True)
    except ValueError:
        for a in chain:
            a.setflags(write=False)
        raise TypeError(
            f"{what}: this tensor's memory is read-only (a broadcast view, or a NumPy array "
            "marked read-only). help: make a copy first (t = t.clone() or cr.tensor(array))"
        ) from None
    try:
        write(data, other)
    finally:
        for a in chain:
            a.setflags(write=False)


def _late_imports() -> None:
    """Bind the ops and the names from tensor.py; tensor.py calls this at its end, once
    ``Tensor`` (which the ops import) exists."""
    global Tensor, _data, as_operand, ops, _index_arg
    from chainrule import ops
    from chainrule.ops.shape import _index_arg
    from chainrule.tensor import Tensor, _data, as_operand
