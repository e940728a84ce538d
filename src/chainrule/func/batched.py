"""Batched tensors: what a function under ``vmap`` sees, and how its ops reach the rules.

A ``BatchedTensor`` looks like one sample (``shape``, ``ndim``, ``size``, ``len`` are the
sample's) and holds the whole batch in ``_value``, a tensor with the batch on axis 0.
Under nested vmaps ``_value`` is itself batched at the outer level, so the array at the
bottom holds the outer batch axes first. Every op on a batched tensor goes through the
dispatcher of func/batching.py (registered in the graph layer's seam, called by
``ops.core.apply``): the op's batching rule runs it once on ``_value``, or, where there
is no rule, a loop runs it sample by sample and stacks. Either way the ops that run are
ordinary recorded ops on whole arrays, so reverse mode inside vmap backpropagates
through them as through any other graph: ``vmap(grad(f))`` needs no batched backward.

Reading a batched tensor's values (``.data``, ``item()``, ``bool()``, ``numpy()``) is
what a batch cannot do for one sample: it raises ``BatchedRead``, which the vmap that
owns the tensor catches, then runs the function as a loop over the samples instead
(slower, never wrong).

Glossary: ``level`` = one open vmap (an id, innermost largest); ``physical`` = the array
with the batch axes; ``logical`` = the per-sample view.
"""

from __future__ import annotations

import threading

import numpy as np

from chainrule.errors import VmapError
from chainrule.func.layout import align, array, batch_index, lift, lndim
from chainrule.graph import batching_mode
from chainrule.ops.shape import _index_arg, broadcast_to, reshape
from chainrule.tensor import Tensor, _Size, _wrap

_new = object.__new__


class BatchedRead(VmapError):
    """A function under vmap read a batched tensor's values; its vmap loops instead."""

    def __init__(self, level: int, what: str):
        super().__init__(
            f"vmap: the function {what} of a batched tensor. help: a batch cannot answer "
            "that for one sample; vmap then runs the function once per sample (this "
            "error escaped that vmap, so it was raised outside the function vmap runs)")
        self.level = level


class BatchedTensor(Tensor):
    """One sample's view of a batch (see the module docstring). Made only by vmap."""

    __slots__ = ("_value", "_level")

    def _read(self, what: str):
        size_of(self._level)  # a tensor kept from a finished vmap: that error instead
        return BatchedRead(self._level, what)

    @property
    def data(self):
        raise self._read("read .data")

    def _backing(self):
        return self._value._backing()

    @property
    def shape(self) -> tuple:
        return self._value.shape[1:]

    @property
    def ndim(self) -> int:
        return self._value.ndim - 1

    @property
    def dtype(self):
        return self._value.dtype

    @property
    def size(self) -> int:
        return _Size(int(np.prod(self.shape, dtype=np.int64)))

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    @property
    def requires_grad(self) -> bool:
        return self._value.requires_grad

    @requires_grad.setter
    def requires_grad(self, flag) -> None:
        raise VmapError("vmap: requires_grad cannot be set on a batched tensor. help: use "
                        "chainrule.func.grad inside vmap for gradients")

    @property
    def is_leaf(self) -> bool:
        return self._value.is_leaf

    @property
    def grad_fn(self):
        return self._value.grad_fn

    @property
    def _tangents(self):
        return getattr(self._value, "_tangents", None)

    def numpy(self):
        raise self._read("called numpy()")

    def item(self):
        raise self._read("called item() (or float(), int(), bool(), an `if`)")

    def tolist(self):
        raise self._read("called tolist()")

    def __bool__(self):
        raise self._read("branched on the value (bool(t), `if t`)")

    def __array__(self, dtype=None, copy=None):
        raise self._read("converted to a NumPy array")

    def backward(self, gradient=None, retain_graph=None, create_graph=False):
        raise VmapError("vmap: backward() inside vmap. help: use chainrule.func.grad (or "
                        "vjp) inside vmap: vmap(grad(loss))(...) gives per-sample gradients")

    def register_hook(self, fn):
        raise VmapError("vmap: hooks on batched tensors are not supported. help: register "
                        "the hook outside vmap")

    def retain_grad(self):
        raise VmapError("vmap: retain_grad on a batched tensor. help: use func.grad")

    def __setitem__(self, index, value):
        """``t[index] = v`` in place on every sample: the physical tensor is written at
        ``(:, index)``. A batched ``v`` written into a tensor batched at fewer levels
        cannot be (each sample would write its own into the one shared tensor): the
        vmap that batched ``v`` then loops."""
        vlevel = level_of(value)
        if vlevel > self._level:
            raise BatchedRead(vlevel, "wrote a batched value into a tensor shared by "
                                      "the samples")
        parsed, _ = _index_arg(index)
        at = batch_index(parsed)
        if at is None:
            raise BatchedRead(self._level, "indexed with separated advanced indices")
        if vlevel == self._level:
            sel = np.broadcast_to(np.zeros((), bool), self.shape)[parsed]
            value = lift(value._value, sel.ndim) if lndim(value._value, True) < sel.ndim \
                else value._value
        self._value[at] = value

    def detach(self):
        return wrap(self._value.detach(), self._level)

    def __repr__(self) -> str:
        return (f"BatchedTensor(level={self._level}, batch={self._value.shape[0]}, "
                f"shape={self.shape}, dtype={self.dtype})")

    # Comparisons and logic have no gradient and no op: each runs on the physical values.
    def __lt__(self, other):
        return _logic(Tensor.__lt__, self, other)

    def __le__(self, other):
        return _logic(Tensor.__le__, self, other)

    def __gt__(self, other):
        return _logic(Tensor.__gt__, self, other)

    def __ge__(self, other):
        return _logic(Tensor.__ge__, self, other)

    def __eq__(self, other):
        return _logic(Tensor.__eq__, self, other)

    def __ne__(self, other):
        return _logic(Tensor.__ne__, self, other)

    def __and__(self, other):
        return _logic(Tensor.__and__, self, other)

    def __or__(self, other):
        return _logic(Tensor.__or__, self, other)

    def __invert__(self):
        return wrap(~self._value, self._level)

    __hash__ = Tensor.__hash__


def wrap(value: Tensor, level: int) -> BatchedTensor:
    """A batched tensor at ``level`` around ``value`` (batch on axis 0)."""
    t = _new(BatchedTensor)
    t._value = value
    t._level = level
    t._grad = None
    t._hooks = None
    t._vc = value._vc
    t._rg = False
    t._node = None
    return t


def level_of(x):
    return x._level if isinstance(x, BatchedTensor) else 0


def size_of(level: int) -> int:
    for lv, n in batching_mode.state.levels:
        if lv == level:
            return n
    raise VmapError("vmap: a batched tensor was used outside the vmap that made it (kept "
                    "from an earlier call, or passed to another thread). help: return it "
                    "from the function; vmap then gives it back unbatched")


def physical(x) -> tuple:
    """The array at the bottom of ``x`` (a plain tensor or constant) and the levels it
    is batched at, outermost first (its leading axes, in that order)."""
    levels = []
    while isinstance(x, BatchedTensor):
        levels.append(x._level)
        x = x._value
    return x, tuple(reversed(levels))


def expand(x) -> Tensor:
    """``x``'s physical tensor with one leading axis per open level of this thread, the
    levels ``x`` is not batched at broadcast (a recorded op: gradients sum back)."""
    p, have = physical(x)
    if not isinstance(p, Tensor):
        p = _wrap(array(p))
    levels = batching_mode.active()
    if len(have) == len(levels):
        return p
    open_ids = [lv for lv, _ in levels]
    if any(lv not in open_ids for lv in have):
        size_of(-1)  # raises: a stale batched tensor
    logical = p.shape[len(have):]
    shape = tuple(n if lv in have else 1 for lv, n in levels) + logical
    full = tuple(n for _, n in levels) + logical
    return broadcast_to(reshape(p, shape), full)


def rewrap(p: Tensor, levels=None):
    """``p`` (one leading axis per level, outermost first) batched at each of ``levels``
    (default: every open level): the outermost level's wrapper innermost."""
    for lv, _ in (batching_mode.active() if levels is None else levels):
        p = wrap(p, lv)
    return p


# --- the dispatcher (registered with the graph layer's seam) ---------------------------


class _Log(threading.local):
    looped: list | None = None  # op names run as a loop, while a test or tool watches


log = _Log()


def _logic(method, a, b):
    """A comparison or logic operator with a batched operand, on the physical values,
    the operands lined up as an elementwise op's (func/batching.py)."""
    level = max(level_of(a), level_of(b))
    n = size_of(level)
    xs = [x._value if level_of(x) == level else x for x in (a, b)]
    bs = [level_of(x) == level for x in (a, b)]
    xs = align(xs, bs, n)
    x0 = xs[0] if isinstance(xs[0], Tensor) else _wrap(array(xs[0]))
    return wrap(method(x0, xs[1]), level)

