"""Generic helpers: they run on raw arrays *and* on tensors, for writing a VJP once.

In an ordinary backward pass a VJP gets ndarrays and these call NumPy; under
``create_graph=True`` it gets tensors and these call chainrule ops, which record
themselves. Operators and NumPy-named methods (``g.sum(axis=...)``, ``g.reshape``,
``a @ b``) need no helper: tensors and ndarrays share them.
"""

from __future__ import annotations

import numpy as np

from chainrule.tensor import Tensor


def _any_tensor(*xs) -> bool:
    return any(isinstance(x, Tensor) for x in xs)


def exp(x):
    return x.exp() if isinstance(x, Tensor) else np.exp(x)


def log(x):
    return x.log() if isinstance(x, Tensor) else np.log(x)


def sin(x):
    return x.sin() if isinstance(x, Tensor) else np.sin(x)


def cos(x):
    return x.cos() if isinstance(x, Tensor) else np.cos(x)


def sigmoid(x):
    if isinstance(x, Tensor):
        return x.sigmoid()
    e = np.exp(-np.abs(x))  # never exp of a large positive number
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def where(cond, a, b):
    """``cond`` is a constant boolean array: it selects, it is never differentiated."""
    if _any_tensor(a, b):
        from chainrule.ops.elementwise import where as where_op

        return where_op(cond, a, b)
    return np.where(cond, a, b)


def broadcast_to(x, shape):
    if isinstance(x, Tensor):
        return x.broadcast_to(shape)
    return np.broadcast_to(x, shape)


def scatter_add(g, shape, index, basic: bool):
    """The adjoint of ``x[index]``: zeros of ``shape`` with ``g`` added at ``index``."""
    if isinstance(g, Tensor):
        from chainrule.ops.core import apply
        from chainrule.ops.shape import ScatterAdd

        return apply(ScatterAdd, g, shape=shape, index=index, basic=basic)
    return scatter_add_array(g, shape, index, basic)


def scatter_add_array(g, shape, index, basic: bool):
    """``scatter_add`` on ndarrays; also the forward of the ``ScatterAdd`` primitive."""
    out = np.zeros(shape, dtype=g.dtype)
    if basic:
        out[index] = g  # basic indexing never repeats an element: plain assignment
    else:
        np.add.at(out, index, g)  # NOTE: repeated indices must accumulate, not overwrite
    return out


def constant(x):
    """The raw array of ``x``: for masks and signs, whose derivative is zero."""
    return x.data if isinstance(x, Tensor) else x
