"""Shape primitives: they move entries around without changing them.

Their VJPs move g back: reshape back, transpose by the inverse permutation, sum out
broadcast axes, scatter indexed entries back (adding on repeats), slice pads away.
"""

from __future__ import annotations

import builtins

import numpy as np

from chainrule import _backend as B
from chainrule.errors import ShapeError
from chainrule.ops import generic, positions
from chainrule.ops.core import Op, apply, torch_names, unbroadcast
from chainrule.tensor import Tensor, as_tensor


class Reshape(Op):
    """y = x viewed with ``shape``;  dx = g reshaped to x's shape

    jvp: dy = dx reshaped to ``shape``
    """

    portable = True

    def forward(self, x):
        self.in_shape = x.shape
        if self.xp is not np:
            return self.xp.reshape(x, self.shape)
        return x.reshape(self.shape)

    def jvp(self, xs, y, dxs):
        return apply(Reshape, dxs[0], shape=y.shape)

    def vjp(self, g):
        return g.reshape(self.in_shape)


class Transpose(Op):
    """y = x with axes permuted by ``axes``;  dx = g permuted by the inverse

    jvp: dy = dx permuted by ``axes``
    """

    portable = True

    def forward(self, x):
        if self.xp is not np:
            return self.xp.permute_dims(x, self.axes)
        return x.transpose(self.axes)

    def jvp(self, xs, y, dxs):
        return apply(Transpose, dxs[0], axes=self.axes)

    def vjp(self, g):
        return g.transpose(tuple(np.argsort(self.axes)))


class BroadcastTo(Op):
    """y = x broadcast to ``shape``;  dx = g summed over the broadcast axes

    jvp: dy = dx broadcast to ``shape``
    """

    portable = True

    def forward(self, x):
        self.in_shape = x.shape
        return self.xp.broadcast_to(x, self.shape)

    def jvp(self, xs, y, dxs):
        return apply(BroadcastTo, dxs[0], shape=self.shape)

    def vjp(self, g):
        return unbroadcast(g, self.in_shape)


class GetItem(Op):
    """y = x[index];  dx = zeros with g added at index (repeated indices accumulate)

    jvp: dy = dx[index]
    """

    portable = True  # other libraries: ops/positions.py unless the index is basic
    backends_note = "array API (advanced indices: a take at positions found on the host)"

    def forward(self, x):
        self.in_shape = x.shape
        if self.xp is not np:
            if self.basic and not _negative_step(self.index):  # a view, as NumPy's
                return x[_explicit(self.index)]
            return positions.take(self.xp, self.device, x,
                                  positions.flat_positions(x.shape, self.index))
        return x[self.index]

    def jvp(self, xs, y, dxs):
        return apply(GetItem, dxs[0], index=self.index, basic=self.basic)

    def vjp(self, g):
        return generic.scatter_add(g, self.in_shape, self.index, self.basic)


class ScatterAdd(Op):
    """y = zeros(shape) with x added at index;  dx = g[index]   (GetItem's adjoint)

    jvp: dy = zeros(shape) with dx added at index
    """

    portable = True  # as GetItem's
    backends_note = ("array API; repeated indices add up by the library's own scatter-add "
                     "(PyTorch, CuPy) or an exact, slow segment sum (array-api-strict)")

    def forward(self, x):
        if self.xp is not np:
            if not self.basic or _negative_step(self.index):  # repeats must accumulate
                return positions.scatter_add(self.xp, self.device, x, self.shape,
                                             positions.flat_positions(self.shape, self.index))
            y = self.xp.zeros(self.shape, dtype=x.dtype, device=self.device)
            # The array API assigns through no None (new axes of size 1, so x only loses
            # them); basic indices never repeat an element, so assignment adds.
            index = _explicit(tuple(i for i in _as_tuple(self.index) if i is not None))
            y[index] = self.xp.reshape(x, y[index].shape)
            return y
        return generic.scatter_add_array(x, self.shape, self.index, self.basic)

    def jvp(self, xs, y, dxs):
        return apply(ScatterAdd, dxs[0], shape=self.shape, index=self.index, basic=self.basic)

    def vjp(self, g):
        return g[self.index]


class SetItem(Op):
    """y = x with y[index] = v;  dx = g with zeros at index,  dv = g[index] summed to v's shape

    jvp: dy = dx with dy[index] = dv   (a missing tangent: zeros)

    The recorded form of ``t[index] = v`` (Tensor.__setitem__) inside the graph. Repeated
    integer indices are refused before this runs: only the last write would survive, and
    no gradient for v would be right.
    """

    portable = True  # other libraries: a gather and a where (ops/positions.py)

    def forward(self, x, v):
        if self.xp is not np:
            y, keep = positions.set_at(self.xp, self.device, x, v,
                                       positions.flat_positions(x.shape, self.index))
            if self.recording:
                self.save(keep=keep)
            return y
        y = x.copy()
        y[self.index] = v
        if self.recording:
            keep = np.ones(x.shape, dtype=x.dtype)
            keep[self.index] = 0
            self.save(keep=keep)
        return y

    def jvp(self, xs, y, dxs):
        (x, v), (dx, dv) = xs, dxs
        dx = np.zeros(np.shape(generic.constant(x)), y.dtype) if dx is None else dx
        dv = np.zeros(np.shape(generic.constant(v)), y.dtype) if dv is None else dv
        return apply(SetItem, dx, dv, index=self.index, basic=self.basic)

    def vjp(self, g):
        dx = g * self.keep if self.needs(0) else None
        dv = None
        if self.needs(1):
            shape = self.input_shape(1)
            dv = g[self.index]
            if dv.ndim < len(shape):  # v had extra leading axes of size 1
                dv = dv.reshape((1,) * (len(shape) - dv.ndim) + dv.shape)
            dv = unbroadcast(dv, shape)
        return dx, dv


class Concatenate(Op):
    """y = [x1, x2, ...] joined along ``axis``;  dxi = the slice of g where xi went

    jvp: dy = [dx1, dx2, ...] joined along ``axis``   (a missing tangent: zeros)
    """

    portable = True

    def forward(self, *xs):
        self.sizes = [x.shape[self.axis] for x in xs]
        if self.xp is not np:
            return self.xp.concat(xs, axis=self.axis)
        return np.concatenate(xs, axis=self.axis)

    def jvp(self, xs, y, dxs):
        parts = [np.zeros(np.shape(generic.constant(x)), y.dtype) if dx is None else dx
                 for x, dx in zip(xs, dxs)]
        return apply(Concatenate, *parts, axis=self.axis)

    def vjp(self, g):
        grads, start = [], 0
        lead = (slice(None),) * self.axis
        for i, n in enumerate(self.sizes):
            grads.append(g[lead + (slice(start, start + n),)] if self.needs(i) else None)
            start += n
        return tuple(grads)


class Pad(Op):
    """y = x padded with a constant;  dx = g with the padding sliced away

    jvp: dy = dx padded with zeros
    """

    portable = True

    def forward(self, x):
        self.inner = tuple(slice(b, b + n) for (b, _), n in zip(self.pad_width, x.shape))
        if self.xp is not np:  # the array API has no pad: fill, then write x inside
            shape = tuple(b + n + a for (b, a), n in zip(self.pad_width, x.shape))
            y = self.xp.full(shape, self.value, dtype=x.dtype, device=self.device)
            y[self.inner] = x
            return y
        return np.pad(x, self.pad_width, mode="constant", constant_values=self.value)

    def jvp(self, xs, y, dxs):
        return apply(Pad, dxs[0], pad_width=self.pad_width, value=0)

    def vjp(self, g):
        return g[self.inner]


def _as_tuple(index) -> tuple:
    return index if isinstance(index, tuple) else (index,)


def _explicit(index) -> tuple:
    """A basic index with the trailing ``...`` that NumPy implies and the array API wants."""
    index = _as_tuple(index)
    return index if any(i is Ellipsis for i in index) else index + (Ellipsis,)


def _negative_step(index) -> bool:
    return any(isinstance(i, slice) and i.step is not None and i.step < 0
               for i in _as_tuple(index))


# --- public functions ---------------------------------------------------------------------


def _shape_arg(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(n) for n in shape)


def reshape(x, *shape):
    x = as_tensor(x)
    shape = _shape_arg(shape)
    try:
        resolved = np.empty(x.shape, dtype=bool).reshape(shape).shape  # checks; no data
    except ValueError:
        raise ShapeError(
            f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} elements) to "
            f"{shape}. help: the product of the new shape must be {x.size} (use -1 for one "
            "axis to infer it)"
        ) from None
    if resolved == x.shape:  # x.reshape(-1, n) of an (m, n) x included: no node
        return x
    return apply(Reshape, x, shape=shape)


def transpose(x, *axes):
    x = as_tensor(x)
    if not axes or (len(axes) == 1 and axes[0] is None):
        axes = tuple(reversed(range(x.ndim)))
    else:
        axes = _shape_arg(axes)
        axes = tuple(a % x.ndim if x.ndim else a for a in axes)
        if len(axes) == 2 and x.ndim == 2 and axes == (0, 1):
            # NOTE: NumPy reads (0, 1) as the identity permutation, PyTorch as "swap 0 and
            # 1": the same call means two things, so neither is guessed.
            raise ShapeError(
                "transpose(0, 1) on a 2-d tensor: as a permutation (NumPy, chainrule) it "
                "leaves the tensor as it is; as PyTorch's transpose it swaps the axes. help: "
                "use .T or swapaxes(0, 1) (or permute(1, 0)) to swap them"
            )
        if sorted(axes) != list(range(x.ndim)):
            raise ShapeError(
                f"transpose: axes {axes} are not a permutation of the {x.ndim} axes of a "
                f"tensor of shape {x.shape}. help: give every axis exactly once, or use "
                "swapaxes(a, b)"
            )
    if axes == tuple(range(x.ndim)):
        return x
    return apply(Transpose, x, axes=axes)


def swapaxes(x, axis1: int, axis2: int):
    x = as_tensor(x)
    axes = list(range(x.ndim))
    axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
    return transpose(x, *axes)


def squeeze(x, axis=None, *, dim=None):
    axis, _ = torch_names("squeeze", axis, None, dim, None)
    x = as_tensor(x)
    if axis is None:
        return reshape(x, tuple(n for n in x.shape if n != 1))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    axes = tuple(a % x.ndim for a in axes)
    for a in axes:
        if x.shape[a] != 1:
            raise ShapeError(
                f"squeeze: axis {a} has size {x.shape[a]}, not 1 (shape {x.shape}). "
                "help: only axes of size 1 can be squeezed"
            )
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if i not in axes))


def unsqueeze(x, dim: int):
    """PyTorch's name for expand_dims."""
    return expand_dims(x, dim)


def expand_dims(x, axis):
    x = as_tensor(x)
    return reshape(x, np.expand_dims(np.empty(x.shape, dtype=bool), axis).shape)


def flatten(x, start_axis: int = 0, end_axis: int = -1, *, start_dim=None, end_dim=None):
    """Merge axes start_axis..end_axis (inclusive, as PyTorch's start_dim/end_dim) into one."""
    start_axis, _ = torch_names("flatten", start_axis if start_dim is None else None, None,
                                start_dim, None)
    end_axis, _ = torch_names("flatten", end_axis if end_dim is None else None, None,
                              end_dim, None)
    x = as_tensor(x)
    if x.ndim == 0:
        return reshape(x, (1,))
    start, end = start_axis % x.ndim, end_axis % x.ndim
    if start > end:
        raise ShapeError(f"flatten: start axis {start_axis} comes after end axis {end_axis} "
                         f"for a tensor of shape {x.shape}")
    merged = int(np.prod(x.shape[start:end + 1]))
    return reshape(x, x.shape[:start] + (merged,) + x.shape[end + 1:])


def broadcast_to(x, shape):
    x = as_tensor(x)
    shape = tuple(shape)
    try:
        np.broadcast_shapes(x.shape, shape)
        if np.broadcast_shapes(x.shape, shape) != shape:
            raise ValueError
    except ValueError:
        raise ShapeError(
            f"broadcast_to: a tensor of shape {x.shape} cannot be broadcast to {shape}. "
            "help: axes must match or be 1, counted from the right"
        ) from None
    if shape == x.shape:
        return x
    return apply(BroadcastTo, x, shape=shape)


def _index_arg(index):
    """Tensors and lists in an index become arrays; says whether indexing is basic."""
    parts = index if isinstance(index, tuple) else (index,)
    out, basic = [], True
    for p in parts:
        if isinstance(p, Tensor):
            p = p.data
        elif isinstance(p, list):
            p = np.asarray(p)
        if not (p is None or p is Ellipsis or isinstance(p, (slice, int, np.integer))):
            basic = False
            if type(p) is not np.ndarray and B.is_foreign(p):  # read on the host: an explicit
                p = B.to_numpy(p)  # move, once (ops/positions.py)
        out.append(p)
    return (tuple(out) if isinstance(index, tuple) else out[0]), basic


def getitem(x, index):
    x = as_tensor(x)
    index, basic = _index_arg(index)
    return apply(GetItem, x, index=index, basic=basic)


def setitem(x, index, value):
    """``x`` with ``x[index] = value``, out of place and recorded (for ``t[index] = v``)."""
    x = as_tensor(x)
    index, basic = _index_arg(index)
    if not basic:
        hits = np.zeros(x.shape, dtype=np.int64)
        np.add.at(hits, index, 1)
        if hits.max(initial=0) > 1:
            raise ValueError(
                "setitem: the index names some entries more than once; assignment keeps only "
                "the last value there, so no gradient would be right. help: make the "
                "indices unique (np.unique), or build the result out of place"
            )
    return apply(SetItem, x, value, index=index, basic=basic)


def concatenate(tensors, axis: int | None = None, *, dim=None):
    axis, _ = torch_names("concatenate", axis, None, dim, None)
    axis = 0 if axis is None else axis
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("concatenate: need at least one tensor")
    ndim = tensors[0].ndim
    if ndim == 0:
        raise ShapeError("concatenate: 0-d tensors cannot be concatenated. help: use stack")
    axis = axis % ndim
    for t in tensors:
        if t.ndim != ndim or any(
            a != b for i, (a, b) in enumerate(zip(t.shape, tensors[0].shape)) if i != axis
        ):
            shapes = ", ".join(str(t.shape) for t in tensors)
            raise ShapeError(
                f"concatenate: shapes {shapes} differ outside axis {axis}. help: all sizes "
                "except the concatenation axis must match"
            )
    return apply(Concatenate, *tensors, axis=axis)


cat = concatenate  # PyTorch's name: cr.cat(tensors, dim=1)


def stack(tensors, axis: int | None = None, *, dim=None):
    axis, _ = torch_names("stack", axis, None, dim, None)
    axis = 0 if axis is None else axis
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("stack: need at least one tensor")
    shapes = {t.shape for t in tensors}
    if len(shapes) != 1:
        raise ShapeError(
            f"stack: all tensors must have the same shape, got {sorted(shapes)}"
        )
    axis = axis % (tensors[0].ndim + 1)
    return concatenate([expand_dims(t, axis) for t in tensors], axis=axis)


def pad(x, pad_width, value=0):
    x = as_tensor(x)
    pw = np.broadcast_to(np.asarray(pad_width, dtype=int), (x.ndim, 2))
    if (pw < 0).any():
        raise ValueError(f"pad: pad widths must be >= 0, got {pad_width}")
    pw = tuple((builtins.int(a), builtins.int(b)) for a, b in pw)
    return apply(Pad, x, pad_width=pw, value=value)
