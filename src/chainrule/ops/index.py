"""Indexing ops: gather, take_along_axis, index_select, scatter_add, index_add, masked_fill,
tril and triu.

No new derivative rule: each is composed of primitives that have one. A gather is
``x[index]`` with an advanced index built from ``index`` and ``dim`` (GetItem, whose VJP
adds g back at the indices, so repeated indices accumulate); a scatter-add is ``x`` plus
ScatterAdd (GetItem's adjoint, whose VJP gathers g); masked_fill, tril and triu are Where
with a constant mask. Their gradients, to any order, are those of GetItem, ScatterAdd and
Where.

Index arrays follow PyTorch where the name is PyTorch's (gather, index_select,
scatter_add, index_add: every index in [0, n); the index may be smaller than the tensor
in the other dims) and NumPy where it is NumPy's (take_along_axis: negative indices count
from the end; index and tensor broadcast). An index out of range, or one that is not
integer, is an error, never wrapped or truncated.
"""

from __future__ import annotations

import numpy as np

from chainrule import _backend as B
from chainrule.errors import ShapeError
from chainrule.ops.core import apply, torch_names
from chainrule.ops.elementwise import Where, astype
from chainrule.ops.shape import GetItem, ScatterAdd
from chainrule.tensor import Tensor, as_tensor


def check_dim(dim, ndim: int, op: str) -> int:
    """``dim`` (negatives count from the end) as an axis in [0, ndim); a 0-d tensor takes
    dim 0 or -1, as in PyTorch."""
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{op}: dim must be an int, got {dim!r}. help: pass one axis, e.g. "
                        "dim=1 (or dim=-1 for the last)")
    n = ndim or 1
    if not -n <= dim < n:
        raise np.exceptions.AxisError(
            f"{op}: dim {dim} is out of range for a tensor of {ndim} dimension(s). help: use "
            f"a dim from {-n} to {n - 1} (negative dims count from the end)")
    return int(dim) % n


def index_array(index, op: str) -> np.ndarray:
    """The integer array behind ``index`` (a tensor, ndarray or list), or a clear error."""
    arr = B.to_numpy(index.data if isinstance(index, Tensor) else index)  # read on the host
    if arr.dtype.kind not in "iu":
        raise TypeError(
            f"{op}: the index must hold integers, got dtype {arr.dtype}. help: convert it "
            "with .astype(cr.int64) (PyTorch: .long()); a boolean mask goes to masked_fill "
            "or to t[mask]")
    return arr


def checked_positions(idx: np.ndarray, n: int, op: str, dim: int, wrap: bool) -> np.ndarray:
    """``idx`` as positions along an axis of size ``n``, checked, in a new intp array: the op
    keeps it, so a later edit of the caller's array cannot change the gradient. With
    ``wrap`` (NumPy's rule) -n <= i < 0 counts from the end; otherwise (PyTorch's) it is an
    error, as is any index >= n."""
    lo = -n if wrap else 0
    if idx.size and (idx.min() < lo or idx.max() >= n):
        bad = idx[(idx < lo) | (idx >= n)].flat[0]
        span = f"from {-n} to {n - 1}" if wrap else f"from 0 to {n - 1}"
        raise IndexError(
            f"{op}: index {bad} is out of range for dim {dim}, of size {n}. help: indices "
            f"along this dim run {span}" + ("" if wrap else " (negative indices are not "
                                            "wrapped here; cr.take_along_axis wraps them)"))
    positions = idx.astype(np.intp, copy=True)
    if wrap:
        positions[positions < 0] += n
    return positions


def along(axis: int, idx: np.ndarray, sizes: tuple) -> tuple:
    """The advanced index that takes ``idx`` along ``axis`` and every position ``0..n-1``
    of ``sizes`` elsewhere (the index NumPy's take_along_axis builds)."""
    nd = len(sizes)
    return tuple(idx if d == axis else np.arange(n).reshape((1,) * d + (n,) + (1,) * (nd - d - 1))
                 for d, n in enumerate(sizes))


def _select(x, index: tuple):
    return apply(GetItem, x, index=index, basic=False)


# --- gather and friends --------------------------------------------------------------------


def gather(x, dim, index):
    """PyTorch's gather: ``out[i][j][k] = x[index[i][j][k]][j][k]`` for dim 0 (and so on).

    ``index`` has as many dims as ``x``, no larger than ``x`` outside ``dim``; the output
    has its shape. Gradient: g added back at the gathered positions (repeats accumulate).
    """
    x = as_tensor(x)
    idx = index_array(index, "gather")
    axis = check_dim(dim, x.ndim, "gather")
    if x.ndim == 0:  # PyTorch takes a 0-d tensor as one element
        return gather(x.reshape(1), 0, idx.reshape(1)).reshape(())
    if idx.ndim != x.ndim:
        raise ShapeError(
            f"gather: the index has {idx.ndim} dimension(s), the tensor {x.ndim} (shape "
            f"{x.shape}). help: give the index as many dimensions as the tensor (PyTorch's "
            "rule), or use cr.take_along_axis, which broadcasts them as NumPy does")
    if any(m > n for d, (m, n) in enumerate(zip(idx.shape, x.shape)) if d != axis):
        raise ShapeError(
            f"gather: the index has shape {idx.shape}, larger than the tensor's {x.shape} "
            f"outside dim {axis}. help: outside dim, the index may be smaller than the tensor "
            "(its leading block is read), never larger")
    idx = checked_positions(idx, x.shape[axis], "gather", axis, wrap=False)
    return _select(x, along(axis, idx, idx.shape))


def take_along_axis(x, indices, axis=None, *, dim=None):
    """NumPy's take_along_axis (PyTorch's take_along_dim): ``gather`` whose index and tensor
    broadcast against each other outside ``axis``, with negative indices counting from the
    end; ``axis=None`` reads the flattened tensor with a 1-d index."""
    axis, _ = torch_names("take_along_axis", axis, None, dim, None)
    x = as_tensor(x)
    idx = index_array(indices, "take_along_axis")
    if axis is None:
        if idx.ndim != 1:
            raise ShapeError(f"take_along_axis: with axis=None the index must be 1-d, got "
                             f"shape {idx.shape}. help: flatten it, or give an axis")
        x, axis = x.reshape(-1), 0
    axis = check_dim(axis, x.ndim, "take_along_axis")
    if idx.ndim != x.ndim or any(m != n and 1 not in (m, n) for d, (m, n) in
                                 enumerate(zip(idx.shape, x.shape)) if d != axis):
        raise ShapeError(
            f"take_along_axis: an index of shape {idx.shape} does not fit a tensor of shape "
            f"{x.shape} along axis {axis}. help: the index needs as many dimensions as the "
            "tensor, and outside the axis each size must equal the tensor's or be 1")
    idx = checked_positions(idx, x.shape[axis], "take_along_axis", axis, wrap=True)
    return _select(x, along(axis, idx, x.shape))


take_along_dim = take_along_axis  # PyTorch's name (NumPy's semantics there too)


def index_select(x, dim, index):
    """PyTorch's index_select: the slices ``index`` (1-d) along ``dim``, in that order,
    repeats allowed; gradient: g added back to the slices it came from."""
    x = as_tensor(x)
    idx = index_array(index, "index_select")
    axis = check_dim(dim, x.ndim, "index_select")
    idx = _vector(idx, "index_select")
    if x.ndim == 0:
        idx = checked_positions(idx, 1, "index_select", axis, wrap=False)
        return _select(x.reshape(1), (idx,))
    idx = checked_positions(idx, x.shape[axis], "index_select", axis, wrap=False)
    return _select(x, (slice(None),) * axis + (idx,))


def _vector(idx: np.ndarray, op: str) -> np.ndarray:
    if idx.ndim > 1:
        raise ShapeError(f"{op}: the index must be 1-d, got shape {idx.shape}. help: "
                         "flatten it (index.reshape(-1)), or use gather for an index per "
                         "element")
    return idx.reshape(-1)


def scatter_add(x, dim, index, src):
    """PyTorch's scatter_add: x with ``src[i][j][k]`` added at ``[index[i][j][k]][j][k]``
    for dim 0 (and so on), repeats accumulating; out of place. ``index`` has as many dims as
    ``x`` and ``src``, no larger than ``src``, nor than ``x`` outside ``dim``.
    Gradients: dx = g; dsrc = g gathered at ``index`` (0 where ``index`` does not reach)."""
    x, src = as_tensor(x), as_tensor(src)
    axis, idx = scatter_args(x, dim, index, src)
    if idx.shape != src.shape:  # the block of src that the index covers
        src = apply(GetItem, src, index=tuple(slice(0, m) for m in idx.shape), basic=True)
    return x + apply(ScatterAdd, src, shape=x.shape, index=along(axis, idx, idx.shape),
                     basic=False)


def scatter_args(x, dim, index, src):
    """The checked arguments of scatter_add(_): the axis and the positions."""
    op = "scatter_add"
    idx = index_array(index, op)
    axis = check_dim(dim, x.ndim, op)
    if x.dtype != src.dtype:
        raise TypeError(f"{op}: the tensor is {x.dtype} and src is {src.dtype}. help: "
                        f"convert src first (src.astype(cr.{x.dtype}))")
    if x.ndim == 0 or not idx.ndim == src.ndim == x.ndim:
        raise ShapeError(
            f"{op}: the tensor {x.shape}, the index {idx.shape} and src {src.shape} need the "
            "same number of dimensions (at least 1). help: reshape them to match, e.g. "
            "index.unsqueeze(1)")
    if any(m > s or (d != axis and m > n) for d, (m, s, n) in
           enumerate(zip(idx.shape, src.shape, x.shape))):
        raise ShapeError(
            f"{op}: an index of shape {idx.shape} is larger than src {src.shape}, or than "
            f"the tensor {x.shape} outside dim {axis}. help: the index may be smaller (its "
            "block of src is added), never larger")
    return axis, checked_positions(idx, x.shape[axis], op, axis, wrap=False)


def index_add(x, dim, index, source, *, alpha=1):
    """PyTorch's index_add: x with ``alpha * source`` added to the slices ``index`` (1-d)
    along ``dim``, repeats accumulating; out of place. Gradients: dx = g;
    dsource = alpha * the slices of g at ``index``."""
    x, source = as_tensor(x), as_tensor(source)
    axis, idx = index_add_args(x, dim, index, source)
    if alpha != 1:
        source = source * alpha
    return x + apply(ScatterAdd, source, shape=x.shape,
                     index=(slice(None),) * axis + (idx,), basic=False)


def index_add_args(x, dim, index, source):
    """The checked arguments of index_add(_): the axis and the positions."""
    op = "index_add"
    idx = _vector(index_array(index, op), op)
    axis = check_dim(dim, x.ndim, op)
    if x.dtype != source.dtype:
        raise TypeError(f"{op}: the tensor is {x.dtype} and source is {source.dtype}. "
                        f"help: convert source first (source.astype(cr.{x.dtype}))")
    want = x.shape[:axis] + (len(idx),) + x.shape[axis + 1:]
    if x.ndim == 0 or source.shape != want:
        raise ShapeError(
            f"{op}: source has shape {source.shape}; adding {len(idx)} slice(s) along dim "
            f"{dim} of a tensor of shape {x.shape} needs {want}. help: source holds one "
            "slice per index, in the tensor's shape elsewhere")
    return axis, checked_positions(idx, x.shape[axis], op, axis, wrap=False)


# --- masks -----------------------------------------------------------------------------------


def masked_fill(x, mask, value):
    """PyTorch's masked_fill: ``value`` where ``mask`` (boolean, broadcast to x's shape) is
    True, x elsewhere; x's dtype is kept. Gradients: dx = g where not mask; dvalue (a 0-d
    tensor) = the sum of g where mask."""
    x = as_tensor(x)
    mask = fill_mask(x, mask, "masked_fill")
    if isinstance(check_fill_value(value, "masked_fill"), Tensor):
        value = astype(value, x.dtype)
    else:
        value = B.constant(value, x._backing())  # as PyTorch: the tensor's dtype wins
    return apply(Where, value, x, cond=mask)


def check_fill_value(value, op: str):
    """``value``, if it is a number or a 0-d tensor (PyTorch's rule for masked_fill)."""
    shape = np.shape(value.data if isinstance(value, Tensor) else value)
    if shape != ():
        raise ShapeError(f"{op}: value must be a number or a 0-d tensor, got shape "
                         f"{shape}. help: for a tensor of values use "
                         "cr.where(mask, values, x)")
    return value


def fill_mask(x, mask, op: str) -> np.ndarray:
    """The boolean array behind ``mask``, checked to broadcast to ``x``'s shape."""
    m = B.to_numpy(mask.data if isinstance(mask, Tensor) else mask)
    if m.dtype != bool:
        raise TypeError(f"{op}: the mask must be boolean, got dtype {m.dtype}. help: "
                        "compare to make one, e.g. x > 0 (or mask.astype(bool))")
    try:
        fits = np.broadcast_shapes(m.shape, x.shape) == x.shape
    except ValueError:
        fits = False
    if not fits:
        raise ShapeError(f"{op}: a mask of shape {m.shape} does not broadcast to the tensor's "
                         f"shape {x.shape}. help: the mask's axes must match the tensor's or "
                         "be 1, counted from the right")
    return m.copy()  # the op keeps it: a later edit of the caller's mask changes nothing


def tril(x, diagonal: int = 0):
    """The lower triangle of the last two axes (``diagonal`` > 0 keeps that many diagonals
    above the main one, < 0 drops some below), zeros elsewhere; gradient: g likewise."""
    return _triangle(x, diagonal, "tril")


def triu(x, diagonal: int = 0):
    """The upper triangle of the last two axes (``diagonal`` as tril's), zeros elsewhere."""
    return _triangle(x, diagonal, "triu")


def _triangle(x, diagonal, op):
    x = as_tensor(x)
    if x.ndim < 2:
        raise ShapeError(f"{op}: needs a tensor of at least 2 dimensions (a matrix, or a "
                         f"batch of them), got shape {x.shape}. help: reshape a vector to "
                         "(1, n) or (n, 1) first")
    n, m = x.shape[-2:]
    k = int(diagonal)
    # np.tri(n, m, k) is True where j - i <= k: tril's entries; triu's are those of j - i >= k.
    keep = np.tri(n, m, k, dtype=bool) if op == "tril" else ~np.tri(n, m, k - 1, dtype=bool)
    return apply(Where, x, B.constant(0, x._backing()), cond=keep)
