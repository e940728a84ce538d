"""nn.functional's pooling and resizing: max and average pooling (2-d, and 1-d as a view
over them) with PyTorch's ``padding``, ``dilation``, ``ceil_mode`` and
``count_include_pad``; adaptive average and max pooling; nearest-neighbour
``interpolate``.

Output sizes follow PyTorch's rule: floor((n + 2p - d(k-1) - 1) / s) + 1, rounded up
instead with ``ceil_mode``, but never a window that starts past the input and its left
padding.
"""

from __future__ import annotations

import math

import numpy as np

import chainrule as cr
from chainrule import _backend as B
from chainrule.errors import ShapeError
from chainrule.nn.functional_conv import _ntuple, _pair
from chainrule.ops import conv as _conv
from chainrule.tensor import as_tensor

INTERPOLATE_MODES = ("nearest", "nearest-exact")


def _pool_out(n: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """PyTorch's pooling_output_shape."""
    out = (n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1  # the last window would start in the right padding
    return out


def _pool_args(x, kernel_size, stride, padding, dilation, ceil_mode, what):
    """Checked pooling arguments: (x, (kh, kw), (sh, sw), (ph, pw), (dh, dw), (Ho, Wo))."""
    x = as_tensor(x)
    if x.ndim != 4:
        raise ShapeError(f"{what}: expected (N, C, H, W), got {x.shape}. help: add the batch "
                         "axis with x.expand_dims(0)")
    k = _pair(kernel_size, what, "kernel_size", 1)
    s = k if stride is None else _pair(stride, what, "stride", 1)
    p = _pair(padding, what, "padding", 0)
    d = _pair(dilation, what, "dilation", 1)
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError(f"{what}: padding {p} is more than half the window {k}, as PyTorch "
                         "refuses too. help: pad at most kernel_size // 2")
    if not p[0] and not p[1] and (x.shape[2] < d[0] * (k[0] - 1) + 1
                                  or x.shape[3] < d[1] * (k[1] - 1) + 1):
        raise ShapeError(f"{what}: window {k[0]}x{k[1]} is larger than the input's "
                         f"{x.shape[2]}x{x.shape[3]} (shape {x.shape}). help: use a smaller "
                         "kernel_size, or pad the input")
    out = tuple(_pool_out(n, *a, ceil_mode) for n, a in zip(x.shape[2:], zip(k, s, p, d)))
    if min(out) < 1:
        raise ShapeError(f"{what}: window {k[0]}x{k[1]} (dilation {d}, padding {p}) leaves "
                         f"no output for the input's {x.shape[2]}x{x.shape[3]} (shape "
                         f"{x.shape}). help: use a smaller kernel_size or dilation")
    return x, k, s, p, d, out


def _padded(x, k, s, p, d, out, value):
    """x padded by p before each spatial axis and as much after as the last window needs
    (p in floor mode, up to s - 1 more in ceil mode); None when nothing is padded."""
    after = [max(0, (o - 1) * si + di * (ki - 1) + 1 - pi - n)
             for n, ki, si, pi, di, o in zip(x.shape[2:], k, s, p, d, out)]
    if not (p[0] or p[1] or after[0] or after[1]):
        return None
    return cr.pad(x, ((0, 0), (0, 0), (p[0], after[0]), (p[1], after[1])), value=value)


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """y[n, c, i, j] = max of the window x[n, c, i*sh + u*dh, j*sw + v*dw] (u < kh, v < kw)
    of x padded with -inf; ``stride`` defaults to ``kernel_size``. The gradient goes to each
    window's first maximum (never to padding), as PyTorch's."""
    if return_indices:
        raise ValueError("max_pool2d: return_indices=True is not supported. help: the values "
                         "are differentiable as they are; x.argmax finds positions")
    x, k, s, p, d, out = _pool_args(x, kernel_size, stride, padding, dilation, ceil_mode,
                                    "max_pool2d")
    padded = _padded(x, k, s, p, d, out, -np.inf)
    if padded is None:
        return _conv.max_pool2d(x, *k, *s, *d)
    valid = (p[0], x.shape[2], p[1], x.shape[3])
    return _conv.max_pool2d(padded, *k, *s, *d, valid=valid)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """y[n, c, i, j] = the sum of the window x[n, c, i*sh : i*sh + kh, j*sw : j*sw + kw]
    (x zero-padded) over its divisor: kh*kw, or with ``ceil_mode`` the part of the window
    inside the padded input, or with ``count_include_pad=False`` the part inside x
    itself, or ``divisor_override`` (PyTorch's rules). ``stride`` defaults to
    ``kernel_size``; an unfold, then a sum over each window."""
    x, (kh, kw), (sh, sw), (ph, pw), _, (ho, wo) = _pool_args(
        x, kernel_size, stride, padding, 1, ceil_mode, "avg_pool2d")
    if divisor_override is not None and (not isinstance(divisor_override, (int, np.integer))
                                         or divisor_override == 0):
        raise ValueError(f"avg_pool2d: divisor_override must be a nonzero int, got "
                         f"{divisor_override!r}. help: leave it None to divide by the window")
    n, c, h, w = x.shape
    padded = _padded(x, (kh, kw), (sh, sw), (ph, pw), (1, 1), (ho, wo), 0)
    cols = _conv.unfold(x if padded is None else padded, kh, kw, sh, sw)
    cols = cols.reshape(c, kh * kw, n, ho, wo)
    divisor = _divisors(h, kh, sh, ph, ho, count_include_pad)[:, None] * _divisors(
        w, kw, sw, pw, wo, count_include_pad)[None, :]
    if divisor_override is None and (divisor == kh * kw).all():
        return cols.mean(axis=1).transpose(1, 0, 2, 3)
    if divisor_override is not None:
        divisor = np.full((ho, wo), divisor_override)
    return (cols.sum(axis=1) / B.constant(divisor, x._backing())).transpose(1, 0, 2, 3)


def _divisors(n, k, s, p, out, count_include_pad) -> np.ndarray:
    """Along one axis, how many of each window's taps count: those in the padded input
    (count_include_pad) or those in x itself (PyTorch's avg_pool2d kernel)."""
    start = np.arange(out) * s - p
    end = np.minimum(start + k, n + p)
    if count_include_pad:
        return end - start
    return np.minimum(end, n) - np.maximum(start, 0)


def _pool1d(pool2d, x, kernel_size, stride, padding, what, **options):
    """A 1-d pooling as the 2-d one over (N, C, 1, L)."""
    x = as_tensor(x)
    if x.ndim != 3:
        raise ShapeError(f"{what}: expected (N, C, L), got {x.shape}. help: add the batch "
                         "axis with x.expand_dims(0)")
    (k,) = _ntuple(kernel_size, 1, what, "kernel_size", 1)
    s = k if stride is None else _ntuple(stride, 1, what, "stride", 1)[0]
    (p,) = _ntuple(padding, 1, what, "padding", 0)
    if x.shape[2] + 2 * p < k:
        raise ShapeError(f"{what}: window {k} is larger than the padded input's "
                         f"{x.shape[2] + 2 * p} (shape {x.shape}, padding {p}). help: use a "
                         "smaller kernel_size")
    return pool2d(x.expand_dims(2), (1, k), (1, s), (0, p), **options).squeeze(2)


def max_pool1d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """max_pool2d over (N, C, L), as (N, C, 1, L) with a 1 x k window."""
    (d,) = _ntuple(dilation, 1, "max_pool1d", "dilation", 1)
    return _pool1d(max_pool2d, x, kernel_size, stride, padding, "max_pool1d", dilation=(1, d),
                   ceil_mode=ceil_mode, return_indices=return_indices)


def avg_pool1d(x, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """avg_pool2d over (N, C, L), as (N, C, 1, L) with a 1 x k window."""
    return _pool1d(avg_pool2d, x, kernel_size, stride, padding, "avg_pool1d",
                   ceil_mode=ceil_mode, count_include_pad=count_include_pad)


def _adaptive_args(x, output_size, what):
    x = as_tensor(x)
    if x.ndim != 4:
        raise ShapeError(f"{what}: expected (N, C, H, W), got {x.shape}. help: add the batch "
                         "axis with x.expand_dims(0)")
    sizes = (output_size,) * 2 if not isinstance(output_size, (tuple, list)) else output_size
    if len(sizes) != 2 or not all(
            o is None or (isinstance(o, (int, np.integer)) and not isinstance(o, bool) and o >= 1)
            for o in sizes):
        raise ValueError(f"{what}: output_size must be an int >= 1 or a pair of them (None "
                         f"keeps that axis), got {output_size!r}. help: output_size=1 pools "
                         "each channel to one value")
    if 0 in x.shape[2:]:
        raise ShapeError(f"{what}: the input {x.shape} has an empty spatial axis. help: give "
                         "an input with H, W >= 1")
    return x, tuple(n if o is None else int(o) for o, n in zip(sizes, x.shape[2:]))


def _bins(n: int, out: int):
    """PyTorch's adaptive bins along one axis: bin i is [floor(i n / out), ceil((i+1) n / out))."""
    return [((i * n) // out, -(-((i + 1) * n) // out)) for i in range(out)]


def adaptive_avg_pool2d(x, output_size):
    """y[n, c, i, j] = the mean of x[n, c] over bin i of the rows and bin j of the columns
    (bin i of n rows into out: [floor(i n / out), ceil((i+1) n / out))); as two products
    with constant 0/1 bin matrices (NumPy's, moved to x's library by the ops), then a
    division by the bin sizes."""
    x, (oh, ow) = _adaptive_args(x, output_size, "adaptive_avg_pool2d")
    rows, cols = _bins(x.shape[2], oh), _bins(x.shape[3], ow)
    dtype = B.numpy_dtype(x.dtype)
    by_row = np.zeros((oh, x.shape[2]), dtype=dtype)
    by_col = np.zeros((x.shape[3], ow), dtype=dtype)
    for i, (a, b) in enumerate(rows):
        by_row[i, a:b] = 1
    for j, (a, b) in enumerate(cols):
        by_col[a:b, j] = 1
    sizes = np.outer([b - a for a, b in rows], [b - a for a, b in cols]).astype(dtype)
    return cr.matmul(by_row, cr.matmul(x, by_col)) / sizes


def adaptive_max_pool2d(x, output_size, return_indices=False):
    """y[n, c, i, j] = the max of x[n, c] over bin i of the rows and bin j of the columns
    (adaptive_avg_pool2d's bins); x indexed at each bin's first maximum (its last NaN if it
    holds one, as PyTorch), so the gradient goes there alone."""
    if return_indices:
        raise ValueError("adaptive_max_pool2d: return_indices=True is not supported. help: "
                         "the values are differentiable as they are")
    x, (oh, ow) = _adaptive_args(x, output_size, "adaptive_max_pool2d")
    if B.is_foreign(x._backing()):
        return _adaptive_max_portable(x, oh, ow)
    n, c, h, w = x.shape
    at_h = np.empty((n, c, oh, ow), dtype=np.intp)
    at_w = np.empty_like(at_h)
    data = x.data
    for i, (r0, r1) in enumerate(_bins(h, oh)):
        for j, (c0, c1) in enumerate(_bins(w, ow)):
            window = data[:, :, r0:r1, c0:c1].reshape(n, c, -1)
            first = window.argmax(axis=2)  # NaN compares as a maximum here too
            nan = np.isnan(window)
            last_nan = window.shape[2] - 1 - nan[..., ::-1].argmax(axis=2)
            flat = np.where(nan.any(axis=2), last_nan, first)
            at_h[:, :, i, j] = r0 + flat // (c1 - c0)
            at_w[:, :, i, j] = c0 + flat % (c1 - c0)
    batch = np.arange(n)[:, None, None, None]
    channel = np.arange(c)[None, :, None, None]
    return x[batch, channel, at_h, at_w]


def _adaptive_max_portable(x, oh: int, ow: int):
    """adaptive_max_pool2d on another library's tensor, which has no integer-array index:
    each bin's window (a basic slice) keeps its chosen element through a where over a
    one-hot mask of it (the first maximum, or the last NaN), then a sum; the where sends
    the gradient to that element alone, as the index does on NumPy. The positions are found
    on the device: nothing is read to the host."""
    n, c, h, w = x.shape
    xp = B.namespace(x._backing())
    out = []
    for r0, r1 in _bins(h, oh):
        for c0, c1 in _bins(w, ow):
            window = x[:, :, r0:r1, c0:c1].reshape(n, c, -1)
            data = window.data
            at = xp.arange(data.shape[2], device=B.device(data))
            nan = xp.isnan(data)
            last_nan = xp.max(xp.where(nan, at, -1), axis=2, keepdims=True)
            first = xp.argmax(data, axis=2, keepdims=True)
            chosen = xp.where(xp.any(nan, axis=2, keepdims=True), last_nan, first)
            out.append(cr.where(at == chosen, window, 0.0).sum(axis=2))
    return cr.stack(out, axis=2).reshape(n, c, oh, ow)


def interpolate(x, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize the spatial axes of x (N, C, *spatial) by nearest neighbour, as PyTorch:
    output index i reads input index min(floor(i * scale), n - 1) ('nearest') or
    min(floor((i + 0.5) * scale), n - 1) ('nearest-exact'), scale = 1 / scale_factor when
    given, else n / size, in float32 as PyTorch's kernel computes it. An indexing, so the
    gradient of each input element is the sum over the outputs that copy it."""
    x = as_tensor(x)
    if mode not in INTERPOLATE_MODES:
        raise ValueError(f"interpolate: mode {mode!r} is not supported; chainrule has "
                         f"{', '.join(map(repr, INTERPOLATE_MODES))}. help: mode='nearest'")
    if align_corners is not None or antialias:
        raise ValueError("interpolate: align_corners and antialias are for the interpolating "
                         "modes (linear, bilinear, ...), not nearest, as in PyTorch. help: "
                         "drop them")
    if x.ndim < 3:
        raise ShapeError(f"interpolate: expected (N, C, *spatial), got {x.shape}. help: add "
                         "the batch and channel axes with x.expand_dims(0)")
    spatial = x.shape[2:]
    k = len(spatial)
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: give exactly one of size and scale_factor. help: "
                         "e.g. scale_factor=2")
    if size is not None:
        out = _ntuple(size, k, "interpolate", "size", 1)
        scales = [None] * k
    else:
        factors = (scale_factor,) * k if not isinstance(scale_factor, (tuple, list)) \
            else tuple(scale_factor)
        if len(factors) != k or not all(isinstance(f, (int, float)) and f > 0
                                        for f in factors):
            raise ValueError(f"interpolate: scale_factor must be a positive number or {k} of "
                             f"them, got {scale_factor!r}. help: e.g. scale_factor=2")
        out = tuple(math.floor(n * float(f)) for n, f in zip(spatial, factors))
        if min(out) < 1:
            raise ShapeError(f"interpolate: scale_factor {scale_factor} leaves no output for "
                             f"the input {x.shape}. help: use a larger scale_factor")
        scales = [None] * k if recompute_scale_factor else list(factors)
    index = [_nearest(n, o, f, mode == "nearest-exact", k == 2)
             for n, o, f in zip(spatial, out, scales)]
    return x[(slice(None), slice(None)) + np.ix_(*index)]


def _nearest(n: int, out: int, factor, exact: bool, shortcuts: bool) -> np.ndarray:
    """The input index each output index copies, along one axis (PyTorch's nearest_idx and
    nearest_exact_idx: the scale rounded to float32; the product in float32 for 'nearest',
    in float64 then rounded to float32 (floorf's argument) for 'nearest-exact', as its
    kernel's C++ types make them).

    NOTE: PyTorch's 2-d 'nearest' kernel copies straight through when the output size is
    the input's, or twice it, whatever the scale factor (1.3 on 2 pixels: both kept); its
    1-d and 3-d kernels compute those cases from the scale too (1.3 on 2: pixel 0 twice).
    ``shortcuts`` follows it, found by comparing every small case with PyTorch 2.13.
    """
    if shortcuts and not exact and out == n:
        return np.arange(n)
    if shortcuts and not exact and out == 2 * n:
        return np.arange(out) >> 1
    scale = np.float32(1.0 / factor) if factor is not None else np.float32(n) / np.float32(out)
    if exact:
        src = ((np.arange(out) + 0.5) * np.float64(scale)).astype(np.float32)
    else:
        src = np.arange(out, dtype=np.float32) * scale
    return np.minimum(np.floor(src).astype(np.intp), n - 1)
