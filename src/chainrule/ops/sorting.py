"""Ordering ops: sort, argsort and topk, under PyTorch's names and arguments.

One primitive, ``Sort``, finds the order in its forward pass (so the order always belongs
to the values it sorts) and returns the values; each value's gradient goes back to the one
input element it came from. The order itself (the indices, int64) has no gradient.

Ties: chainrule always sorts stably. Equal elements keep their order of index, first
occurrence first, ascending or descending (PyTorch's ``stable=True``, which ``stable=False``
permits); so at a tie ``topk`` picks, and gives the gradient to, the element with the
lowest index. NaN counts as larger than every number, as in PyTorch (last ascending, first
descending).
"""

from __future__ import annotations

import numpy as np

from chainrule import _backend as B
from chainrule.ops import generic, positions
from chainrule.ops.core import Op, apply, torch_names
from chainrule.ops.index import along, check_dim
from chainrule.ops.reduce import ValuesIndices
from chainrule.ops.shape import GetItem
from chainrule.tensor import _wrap, as_tensor


class Sort(Op):
    """y = x sorted along ``axis`` (only the first ``k``: topk), ties in order of index;
    dx = zeros with each g put back where its value came from

    jvp: dy = dx taken in the same order
    """

    portable = True  # other libraries: their argsort, the order then read on the host
    backends_note = "array API (the order is read on the host, for the gradient)"

    def forward(self, x):
        order = stable_order(x, self.axis, self.descending)
        if self.k is not None:
            order = order[(slice(None),) * self.axis + (slice(0, self.k), Ellipsis)]
        self.in_shape = x.shape
        if self.xp is not np:
            # The gradient's scatter needs the order on the host (positions.py): one
            # explicit move (a synchronisation on a GPU); the caller gets the library's.
            self.found["indices"] = B.copy(order)
            host = B.to_numpy(order)
            self.at = along(self.axis, host, host.shape)
            return positions.take(self.xp, self.device, x,
                                  positions.flat_positions(x.shape, self.at))
        if self.k is not None:
            order = order.copy()  # NumPy's slice is a view: the op keeps its own
        self.found["indices"] = order.copy()  # the caller's: editing it cannot move the gradient
        self.at = along(self.axis, order, order.shape)
        return x[self.at]

    def jvp(self, xs, y, dxs):
        return apply(GetItem, dxs[0], index=self.at, basic=False)

    def vjp(self, g):
        return generic.scatter_add(g, self.in_shape, self.at, basic=False)


def stable_order(data: np.ndarray, axis: int, descending: bool) -> np.ndarray:
    """The permutation that sorts ``data`` along ``axis``, ties in order of index (int64)."""
    if B.is_foreign(data):  # the standard's argsort: stable keeps ties in order, descending too
        xp = B.namespace(data)
        return xp.astype(xp.argsort(data, axis=axis, descending=descending, stable=True),
                         xp.int64)
    if not descending:
        return np.argsort(data, axis=axis, kind="stable").astype(np.int64, copy=False)
    # Descending, ties still first-index-first: sort the reversed axis ascending (ties then
    # come last-index-first), read the result backwards, and map positions back.
    n = data.shape[axis]
    order = np.argsort(np.flip(data, axis), axis=axis, kind="stable")
    return (n - 1 - np.flip(order, axis)).astype(np.int64, copy=False)


def _prepare(x, dim, axis, op):
    axis, _ = torch_names(op, axis, None, dim, None)
    x = as_tensor(x)
    axis = check_dim(-1 if axis is None else axis, x.ndim, op)
    return x, axis


def sort(x, dim=None, descending: bool = False, stable: bool = False, *, axis=None):
    """(values, indices) sorted along ``dim`` (default: the last), as torch.sort.

    ``stable`` is accepted for PyTorch's signature: the sort is always stable.
    """
    x, axis = _prepare(x, dim, axis, "sort")
    if x.ndim == 0:
        return ValuesIndices(x, _zero_index(x))
    return _sorted(x, axis, bool(descending), None)


def _sorted(x, axis: int, descending: bool, k) -> ValuesIndices:
    found: dict = {}
    values = apply(Sort, x, axis=axis, descending=descending, k=k, found=found)
    return ValuesIndices(values, _wrap(found["indices"]))


def argsort(x, dim=None, descending: bool = False, stable: bool = False, *, axis=None):
    """The indices (int64) that sort ``x`` along ``dim`` (default: the last); no gradient."""
    x, axis = _prepare(x, dim, axis, "argsort")
    if x.ndim == 0:
        return _zero_index(x)
    return _wrap(stable_order(x.data, axis, bool(descending)))


def _zero_index(x):
    """The index of a 0-d tensor's one element, in its library."""
    data = B.array_of(x)
    zero = np.zeros((), dtype=np.int64)
    return _wrap(B.like(zero, data) if B.is_foreign(data) else zero)


def topk(x, k: int, dim=None, largest: bool = True, sorted: bool = True, *, axis=None):  # noqa: A002
    """(values, indices) of the ``k`` largest (``largest=False``: smallest) elements along
    ``dim`` (default: the last), as torch.topk; the gradient reaches those k elements.

    The values come largest first (smallest first for ``largest=False``) whatever
    ``sorted`` says: PyTorch leaves the order unspecified for ``sorted=False``.
    """
    x, axis = _prepare(x, dim, axis, "topk")
    n = x.shape[axis] if x.ndim else 1
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k <= n:
        raise ValueError(f"topk: k = {k!r} is out of range for dim {axis} of size {n} "
                         f"(shape {x.shape}). help: pick k from 0 to {n}")
    if x.ndim == 0:
        return sort(x)
    return _sorted(x, axis, bool(largest), int(k))
