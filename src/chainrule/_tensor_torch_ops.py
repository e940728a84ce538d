"""Tensor's methods for the indexing, ordering, scan and norm ops, under PyTorch's names:
``t.gather(1, idx)``, ``t.topk(3)``, ``t.cumsum(dim=0)``, ``t.masked_fill_(mask, 0)`` ...

A mixin that ``Tensor`` (tensor.py) inherits; each method is a thin call into
``chainrule.ops`` (index, sorting, scan, contraction, vector_norm). The in-place forms
(``scatter_add_``, ``index_add_``, ``masked_fill_``) run through ``InPlace._update``, as
every in-place update does: written in place outside the graph (a version bump), recorded
out of place inside it.

tensor.py imports this module before it defines ``Tensor``, and the ops import ``Tensor``,
so the ops are imported late: tensor.py calls ``_late_imports()`` at its end.
"""

from __future__ import annotations

import numpy as np


class TorchOps:
    """Indexing, ordering, scans and norms as tensor methods (see the module docstring)."""

    __slots__ = ()  # Tensor keeps __slots__: no base may add a __dict__

    # --- indexing ------------------------------------------------------------------------

    def gather(self, dim, index):
        return _index.gather(self, dim, index)

    def take_along_dim(self, indices, dim=None):
        return _index.take_along_axis(self, indices, dim)

    def index_select(self, dim, index):
        return _index.index_select(self, dim, index)

    def scatter_add(self, dim, index, src):
        return _index.scatter_add(self, dim, index, src)

    def scatter_add_(self, dim, index, src):
        src = _as_tensor(src)
        axis, idx = _index.scatter_args(self, dim, index, src)
        at = _index.along(axis, idx, idx.shape)
        block = tuple(slice(0, m) for m in idx.shape)  # the part of src the index covers
        return self._update("scatter_add_", lambda d, o: np.add.at(d, at, o[block]),
                            lambda t, o: _index.scatter_add(t, dim, idx, o), src)

    def index_add(self, dim, index, source, *, alpha=1):
        return _index.index_add(self, dim, index, source, alpha=alpha)

    def index_add_(self, dim, index, source, *, alpha=1):
        source = _as_tensor(source)
        axis, idx = _index.index_add_args(self, dim, index, source)
        at = (slice(None),) * axis + (idx,)
        return self._update("index_add_", lambda d, o: np.add.at(d, at, o * alpha),
                            lambda t, o: _index.index_add(t, dim, idx, o, alpha=alpha), source)

    def masked_fill(self, mask, value):
        return _index.masked_fill(self, mask, value)

    def masked_fill_(self, mask, value):
        m = _index.fill_mask(self, mask, "masked_fill_")
        _index.check_fill_value(value, "masked_fill_")
        return self._update("masked_fill_",
                            lambda d, o: np.copyto(d, o, casting="unsafe", where=m),
                            lambda t, o: _index.masked_fill(t, m, o), value)

    def where(self, condition, other):
        """PyTorch's ``x.where(condition, y)``: ``cr.where(condition, x, y)``."""
        return _ops.where(condition, self, other)

    def tril(self, diagonal=0):
        return _index.tril(self, diagonal)

    def triu(self, diagonal=0):
        return _index.triu(self, diagonal)

    def long(self):
        """PyTorch's name for a copy as int64 (the dtype indices come in)."""
        return _ops.astype(self, np.int64)

    # --- ordering, scans, products, norms ------------------------------------------------

    def sort(self, dim=None, descending=False, stable=False):
        """PyTorch's sort: (values, indices), not NumPy's in-place sort."""
        return _sorting.sort(self, dim, descending, stable)

    def argsort(self, dim=None, descending=False, stable=False):
        return _sorting.argsort(self, dim, descending, stable)

    def topk(self, k, dim=None, largest=True, sorted=True):  # noqa: A002 - PyTorch's name
        return _sorting.topk(self, k, dim, largest, sorted)

    def cumsum(self, axis=None, *, dim=None):
        return _scan.cumsum(self, axis, dim=dim)

    def cumprod(self, axis=None, *, dim=None):
        return _scan.cumprod(self, axis, dim=dim)

    def outer(self, other):
        return _ops.outer(self, other)

    def norm(self, p="fro", dim=None, keepdim=None, *, axis=None, keepdims=False):
        return _vector_norm.norm(self, p, dim, keepdim, axis=axis, keepdims=keepdims)


def _late_imports() -> None:
    """Bind the ops; tensor.py calls this at its end, once ``Tensor`` (which they import)
    exists."""
    global _ops, _index, _sorting, _scan, _vector_norm, _as_tensor
    from chainrule import ops as _ops
    from chainrule.ops import index as _index
    from chainrule.ops import scan as _scan
    from chainrule.ops import sorting as _sorting
    from chainrule.ops import vector_norm as _vector_norm
    from chainrule.tensor import as_tensor as _as_tensor
