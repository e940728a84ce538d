"""The physical layout of batched values under vmap: the batch on axis 0, a sample's axes
after it. Shared by the batched tensors (func/batched.py) and the batching rules
(func/batching.py): how operands line up, and where an index goes."""

from __future__ import annotations

import numpy as np

from chainrule import _backend as B
from chainrule.ops import shape as _sh
from chainrule.ops.core import apply
from chainrule.tensor import _wrap

array = B.asarray  # an array of any library stays there; Python data through np.asarray


def is_array(x) -> bool:
    """An array a transform can map over or differentiate: NumPy's or another library's."""
    return isinstance(x, np.ndarray) or B.is_foreign(x)


def shape_of(x) -> tuple:
    s = getattr(x, "shape", None)  # a tensor, an array (np.shape refuses a graph's tensors)
    return tuple(s) if s is not None else ()


def lndim(x, batched: bool) -> int:
    """The sample's number of axes."""
    return len(shape_of(x)) - batched


def reshaped(x, shape):
    return x if shape_of(x) == tuple(shape) else apply(_sh.Reshape, x, shape=tuple(shape))


def lift(x, nd: int):
    """Batched ``x`` with 1s inserted after the batch axis up to ``nd`` sample axes, so that
    broadcasting against a sample's operand (aligned on trailing axes) keeps the batch
    axis apart."""
    s = shape_of(x)
    return reshaped(x, s[:1] + (1,) * (nd - (len(s) - 1)) + s[1:])


def align(xs, bs, n: int, nd: int = 0):
    nd = max([nd] + [lndim(x, b) for x, b in zip(xs, bs)])
    return [lift(x, nd) if b else x for x, b in zip(xs, bs)]


def batched_copy(x, n: int):
    """A sample's operand copied to every sample (a broadcast view, recorded)."""
    if not hasattr(x, "_vc"):
        x = _wrap(array(x))
    return apply(_sh.BroadcastTo, reshaped(x, (1,) + shape_of(x)), shape=(n,) + shape_of(x))


def batch_index(index):
    """``index`` with a leading full slice for the batch axis, or None where NumPy would
    move the advanced indices' axes to the front (separated advanced indices)."""
    parts = index if isinstance(index, tuple) else (index,)
    advanced = [i for i, p in enumerate(parts)
                if not (p is None or p is Ellipsis or isinstance(p, (slice, int, np.integer)))]
    if advanced and advanced[-1] - advanced[0] + 1 != len(advanced):
        return None
    return (slice(None),) + parts
