"""Indexing on libraries other than NumPy: any NumPy index, as flat positions.

An index (integer arrays, boolean masks, slices with negative steps, ``None``, ``...``,
mixed) lives on the host: the public functions read a tensor index there once (an explicit
move; on a GPU, a synchronisation). NumPy itself applies it to virtual arrays of coordinates
(``np.broadcast_to`` views, no memory of x's size), which gives, for each element of
``x[index]``, its position in ``x.reshape(-1)``: NumPy's rules exactly, on every library,
and a mask's data-dependent shape is known on the host before the library sees it. Then

- GetItem is ``take`` at those positions (the array API has ``take``);
- ScatterAdd (its adjoint, where repeated positions must ACCUMULATE) is the library's own
  scatter-add (``_backend.scatter_add``: PyTorch's ``index_add_``, CuPy's
  ``cupyx.scatter_add``) or, where there is none (array-api-strict), ``segment_sum``:
  exact, but slow (gathers of the size of the largest repeat count times the distinct
  positions);
- SetItem (positions never repeat there: ``setitem`` refuses repeats) is a gather and a
  ``where``.

NumPy's own path never comes here (the ops test ``self.xp is not np`` first).
"""

from __future__ import annotations

import numpy as np

from chainrule import _backend as B


def flat_positions(shape: tuple, index) -> np.ndarray:
    """The position in ``x.reshape(-1)`` of each element of ``x[index]`` (int64, in the
    shape of ``x[index]``), for an ``x`` of ``shape``; NumPy's errors for a bad index."""
    flat = np.broadcast_to(np.zeros((), np.int64), shape)[index]
    stride = 1
    for d in reversed(range(len(shape))):
        n = shape[d]
        coord = np.arange(n, dtype=np.int64).reshape((n,) + (1,) * (len(shape) - d - 1))
        flat = flat + np.broadcast_to(coord, shape)[index] * stride
        stride *= n
    return np.asarray(flat, dtype=np.int64)


def device_positions(flat: np.ndarray, like):
    """``flat`` (host int64) as a 1-d array of ``like``'s library and device."""
    return B.like(flat.reshape(-1), like)


def take(xp, device, x, flat: np.ndarray):
    """``x`` read at positions ``flat``, in ``flat``'s shape (GetItem's portable forward)."""
    got = xp.take(xp.reshape(x, (-1,)), device_positions(flat, x), axis=0)
    return xp.reshape(got, flat.shape)


def scatter_add(xp, device, values, shape: tuple, flat: np.ndarray):
    """zeros(``shape``) with ``values`` (in ``flat``'s shape) added at positions ``flat``,
    repeats accumulating (ScatterAdd's portable forward)."""
    n = int(np.prod(shape))
    values = xp.reshape(values, (-1,))
    out = xp.zeros((n,), dtype=values.dtype, device=device)
    index = device_positions(flat, out)
    done = B.scatter_add(xp, out, index, values)
    if done is None:
        done = segment_sum(xp, device, values, n, flat.reshape(-1))
    return xp.reshape(done, shape)


def segment_sum(xp, device, values, n: int, flat: np.ndarray):
    """The sums of ``values`` by position (1-d, length ``n``), with gathers alone: for a
    library with no scatter (array-api-strict). Exact (each sum adds its own terms and
    zeros, never a difference of running totals), and slow for a position repeated many
    times: the gather is (distinct positions) x (largest repeat count).

    On the host: sort the positions (stably), cut them into runs of one position, and lay
    the runs out as rows of a matrix padded with a pointer to an extra zero."""
    m = flat.size
    if m == 0:
        return xp.zeros((n,), dtype=values.dtype, device=device)
    order = np.argsort(flat, kind="stable")
    sorted_pos = flat[order]
    starts = np.flatnonzero(np.r_[True, sorted_pos[1:] != sorted_pos[:-1]])
    counts = np.diff(np.r_[starts, m])
    rows = np.full((starts.size, counts.max()), m, dtype=np.int64)  # m: the padding zero
    run = np.repeat(np.arange(starts.size), counts)
    rows[run, np.arange(m) - starts[run]] = order
    padded = xp.concat([values, xp.zeros((1,), dtype=values.dtype, device=device)])
    gathered = xp.take(padded, device_positions(rows, values), axis=0)
    sums = xp.sum(xp.reshape(gathered, rows.shape), axis=1)
    where = np.full(n, starts.size, dtype=np.int64)  # starts.size: a zero after the sums
    where[sorted_pos[starts]] = np.arange(starts.size)
    sums = xp.concat([sums, xp.zeros((1,), dtype=values.dtype, device=device)])
    return xp.take(sums, device_positions(where, values), axis=0)


def set_at(xp, device, x, v, flat: np.ndarray):
    """``x`` with ``x.reshape(-1)[flat] = v`` (``v`` broadcast to ``flat``'s shape as NumPy's
    assignment does; no position repeats), and the mask of the untouched entries in x's
    dtype (SetItem's portable forward)."""
    target = flat.shape
    vshape = tuple(v.shape) if hasattr(v, "shape") else ()
    while len(vshape) > len(target) and vshape[0] == 1:  # NumPy drops leading 1s here
        vshape = vshape[1:]
    try:
        fits = np.broadcast_shapes(vshape, target) == target
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"setitem: a value of shape {tuple(getattr(v, 'shape', ()))} does "
                         f"not broadcast to the indexed shape {target}. help: give a value "
                         "of that shape, or one that broadcasts to it")
    if not hasattr(v, "shape"):
        v = xp.asarray(v, dtype=x.dtype, device=device)
    elif not B.same_dtype(v.dtype, x.dtype):  # NumPy's assignment casts to x's dtype
        v = xp.astype(v, x.dtype)
    v = xp.reshape(xp.broadcast_to(xp.reshape(v, vshape), target), (-1,))
    n = int(np.prod(x.shape))
    source = np.full(n, flat.size, dtype=np.int64)  # flat.size: keep x's own value
    source[flat.reshape(-1)] = np.arange(flat.size)
    keep = source == flat.size
    padded = xp.concat([v, xp.zeros((1,), dtype=x.dtype, device=device)])
    new = xp.take(padded, device_positions(source, padded), axis=0)
    mask = B.like(keep, new)
    y = xp.where(mask, xp.reshape(x, (-1,)), new)
    return xp.reshape(y, x.shape), xp.reshape(xp.astype(mask, x.dtype), x.shape)
