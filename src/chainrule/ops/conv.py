"""Convolution and pooling primitives: im2col (Unfold), col2im (Fold), the GEMM with its
bias (Affine) and max pooling, channels first.
"""

from __future__ import annotations

import numpy as np

from chainrule import _backend as B
from chainrule.ops import generic
from chainrule.ops.core import INPUT, OUTPUT, Op, apply, tangent_sum
from chainrule.tensor import Tensor


def _is_tensor(x) -> bool:
    """unfold, fold and MaxPool2d's vjp record on tensors (create_graph) and take their
    fast, in-place routes on arrays."""
    return isinstance(x, Tensor)


# --- convolution and pooling: im2col, channels first -----------------------------------------
#
# NOTE on layout: im2col here has one ROW per (c, u, v) and one COLUMN per output pixel
# (n, i, j), so every copy in Unfold and every add in Fold moves whole image rows, and the
# convolution's product W @ cols comes out as (O, N, Ho, Wo): the layer returns that array
# viewed as NCHW. The channels-innermost layout (one row per pixel) makes NumPy loop over
# runs of only C elements; measured 3-5x slower for Fold with C = 8, 2x for Unfold.


def _windows(x, kh, kw, sh, sw, writeable=False, dh=1, dw=1):
    """(N, C, H, W) -> a view (N, C, Ho, Wo, kh, kw) of every window, strides (sh, sw),
    the window's taps (dh, dw) apart (dilation)."""
    span = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    v = np.lib.stride_tricks.sliding_window_view(x, span, axis=(2, 3), writeable=writeable)
    v = v[:, :, ::sh, ::sw]
    return v if dh == dw == 1 else v[..., ::dh, ::dw]


def _taps(x, kh, kw, sh, sw, dh, dw, ho, wo):
    """The portable ``_windows``: per window offset (u, v), the strided slice of x (N, C,
    Ho, Wo) holding that tap of every window (the array API has no sliding_window_view)."""
    return [x[:, :, u * dh:u * dh + sh * (ho - 1) + 1:sh, v * dw:v * dw + sw * (wo - 1) + 1:sw]
            for u in range(kh) for v in range(kw)]


def out_size(n: int, k: int, s: int, d: int = 1) -> int:
    """How many windows of k taps d apart, at stride s, fit in n (PyTorch's floor mode)."""
    return (n - d * (k - 1) - 1) // s + 1


class Unfold(Op):
    """im2col: y[(c, u, v), (n, i, j)] = x[n, c, i*sh + u*dh, j*sw + v*dw];  dx = fold(g)

    jvp: dy = unfold(dx)

    Turns a convolution into one matrix product W (O, C*kh*kw) @ y: one BLAS call per
    layer. Rows are in PyTorch's weight order (c, u, v), so the weight needs only a reshape.
    (dh, dw) is the dilation (1: contiguous windows).
    """

    portable = True

    def forward(self, x):
        self.in_shape = x.shape
        kh, kw = self.kh, self.kw
        xp = getattr(self, "xp", np)  # a bare instance (unfold on arrays) is NumPy's
        if xp is not np:
            n, c, h, w = x.shape
            ho, wo = out_size(h, kh, self.sh, self.dh), out_size(w, kw, self.sw, self.dw)
            taps = xp.stack(_taps(x, kh, kw, self.sh, self.sw, self.dh, self.dw, ho, wo))
            return xp.reshape(xp.permute_dims(taps, (2, 0, 1, 3, 4)), (c * kh * kw, -1))
        win = _windows(x, kh, kw, self.sh, self.sw, dh=self.dh, dw=self.dw)
        n, c, ho, wo = win.shape[:4]
        return win.transpose(1, 4, 5, 0, 2, 3).reshape(c * kh * kw, n * ho * wo)

    def jvp(self, xs, y, dxs):
        return unfold(dxs[0], self.kh, self.kw, self.sh, self.sw, self.dh, self.dw)

    def vjp(self, g):
        return fold(g, self.in_shape, self.kh, self.kw, self.sh, self.sw, self.dh, self.dw)


class Fold(Op):
    """col2im, Unfold's adjoint: x[n, c, i*sh + u*dh, j*sw + v*dw] += cols[(c, u, v), (n, i, j)]
    (where windows overlap, their entries add up);  dx = unfold(g)

    jvp: dy = fold(dcols)

    One strided add per kernel offset (u, v), into a channels-first (C, N, H, W) buffer
    returned viewed as NCHW.
    """

    portable = True

    def forward(self, cols):
        n, c, h, w = self.shape
        kh, kw, sh, sw, dh, dw = self.kh, self.kw, self.sh, self.sw, self.dh, self.dw
        ho, wo = out_size(h, kh, sh, dh), out_size(w, kw, sw, dw)
        xp = getattr(self, "xp", np)
        if xp is not np:
            blocks = xp.reshape(cols, (c, kh, kw, n, ho, wo))
            out = xp.zeros((c, n, h, w), dtype=cols.dtype, device=self.device)
            for u in range(kh):
                for v in range(kw):
                    at = (slice(None), slice(None), slice(u * dh, u * dh + sh * (ho - 1) + 1, sh),
                          slice(v * dw, v * dw + sw * (wo - 1) + 1, sw))
                    out[at] = out[at] + blocks[:, u, v, ...]
            return xp.permute_dims(out, (1, 0, 2, 3))
        blocks = cols.reshape(c, kh, kw, n, ho, wo)
        out = np.zeros((c, n, h, w), dtype=cols.dtype)
        for u in range(kh):
            for v in range(kw):
                i, j = u * dh, v * dw
                out[:, :, i:i + sh * ho:sh, j:j + sw * wo:sw] += blocks[:, u, v]
        return out.transpose(1, 0, 2, 3)

    def jvp(self, xs, y, dxs):
        return fold(dxs[0], self.shape, self.kh, self.kw, self.sh, self.sw, self.dh, self.dw)

    def vjp(self, g):
        return unfold(g, self.kh, self.kw, self.sh, self.sw, self.dh, self.dw)


class Affine(Op):
    """y = w @ x + b[:, None];  dw = g @ x^T,  dx = w^T @ g,  db = sum of g along rows

    jvp: dy = dw @ x + w @ dx + db[:, None]

    conv2d's product: w (O, C*kh*kw), x the unfolded columns (C*kh*kw, N*Ho*Wo), one bias
    per output channel. Fused: the bias is added in place instead of making a second
    (O, N*Ho*Wo) array, and dw is computed as (x @ g^T)^T, the GEMM orientation OpenBLAS
    runs faster for these long, thin products (measured 1.6 ms vs 2.5 ms, 16 x 72 x 36864).
    """

    portable = True

    def forward(self, w, x, b=None):
        self.save(w=INPUT(0), x=INPUT(1))
        y = w @ x
        if b is not None:
            if self.xp is not np:
                return y + self.xp.reshape(b, (-1, 1))
            y += b.reshape(-1, 1)
        return y

    def jvp(self, xs, y, dxs):
        (w, x), (dw, dx) = xs[:2], dxs[:2]
        db = dxs[2] if len(dxs) > 2 else None
        return tangent_sum(y.shape, None if dw is None else apply(Affine, dw, x),
                           None if dx is None else apply(Affine, w, dx),
                           None if db is None else db.reshape(-1, 1))

    def vjp(self, g):
        w, x = self.w, self.x
        dw = (x @ g.T).T if self.needs(0) else None
        dx = w.T @ g if self.needs(1) else None
        db = g.sum(axis=1) if len(self.parents) > 2 and self.needs(2) else None
        return dw, dx, db


def unfold(x, kh, kw, sh=1, sw=1, dh=1, dw=1):
    """im2col of x (N, C, H, W): (C*kh*kw, N*Ho*Wo). Recorded for tensors, plain for arrays."""
    params = dict(kh=kh, kw=kw, sh=sh, sw=sw, dh=dh, dw=dw)
    if _is_tensor(x):
        return apply(Unfold, x, **params)
    return Unfold.forward(_bare(Unfold, **params), x)


def fold(cols, shape, kh, kw, sh=1, sw=1, dh=1, dw=1):
    """col2im back to ``shape`` (N, C, H, W). Recorded for tensors, plain for arrays."""
    params = dict(shape=tuple(shape), kh=kh, kw=kw, sh=sh, sw=sw, dh=dh, dw=dw)
    if _is_tensor(cols):
        return apply(Fold, cols, **params)
    return Fold.forward(_bare(Fold, **params), cols)


def _bare(cls, **params):
    """An unrecorded instance of a primitive, to run its forward on arrays inside a vjp."""
    op = object.__new__(cls)
    op.__dict__.update(params)
    return op


class MaxPool2d(Op):
    """y[n, c, i, j] = max over the window x[n, c, i*sh + u*dh, j*sw + v*dw] (u < kh, v < kw);
    dx = g routed to each window's first maximum (row-major order)

    jvp: dy = dx at each window's first maximum (the element that gets g)

    As PyTorch: exactly one element per window gets the gradient, even at ties (common
    after a ReLU: a window of zeros), and a NaN in a window is its maximum. The forward takes the
    maximum over the kh*kw strided views of the window offsets (no copy of the windows);
    the backward finds each window's first maximum again from the saved x and y.
    NOTE: y and the backward's work arrays take x's memory layout (``empty_like`` of a
    view): with channels-first activations a C-ordered y made every pass 1.5-2x slower.
    (dh, dw) is the dilation. ``valid`` = (top, h, left, w), when x arrives padded with -inf
    (pooling's padding and ceil mode): only x[:, :, top:top + h, left:left + w] is real, and
    a padding element never takes the gradient, even tied with a real -inf (PyTorch's
    windows skip the padding).
    """

    portable = True

    def forward(self, x):
        if self.xp is not np:
            taps = self._taps(x, x.shape)
            y = taps[0]
            for tap in taps[1:]:
                y = self.xp.maximum(y, tap)
            self.save(x=INPUT(0), y=OUTPUT)
            return y
        win = _windows(x, self.kh, self.kw, self.sh, self.sw, dh=self.dh, dw=self.dw)
        y = np.empty_like(win[..., 0, 0])  # x's layout, not C order
        np.copyto(y, win[..., 0, 0])
        for u, v in self.offsets()[1:]:
            np.maximum(y, win[..., u, v], out=y)
        self.save(x=INPUT(0), y=OUTPUT)
        return y

    def offsets(self) -> list:
        return [(u, v) for u in range(self.kh) for v in range(self.kw)]

    def _taps(self, x, shape):
        ho, wo = out_size(shape[2], self.kh, self.sh, self.dh), \
            out_size(shape[3], self.kw, self.sw, self.dw)
        return _taps(x, self.kh, self.kw, self.sh, self.sw, self.dh, self.dw, ho, wo)

    def _first_maxima_portable(self, x, y):
        """``first_maxima`` in the array API: one mask per window offset, stacked
        (N, kh*kw, C, Ho, Wo) in y's dtype, for the recorded route of ``vjp``."""
        xp = self.xp
        taps = self._taps(x, x.shape)
        real = None if self.valid is None else self.real(*y.shape[2:])
        last_nan = None
        if B.any_true(xp.isnan(y)):
            last_nan = xp.full(y.shape, -1, dtype=xp.int32, device=self.device)
            for i, tap in enumerate(taps):
                last_nan = xp.where(xp.isnan(tap), i, last_nan)
        free = xp.ones(y.shape, dtype=xp.bool, device=self.device)
        masks = []
        for i, ((u, v), tap) in enumerate(zip(self.offsets(), taps)):
            hit = tap == y
            if last_nan is not None:
                hit = hit | (last_nan == i)
            if real is not None and real[u, v] is not None:
                hit = hit & xp.asarray(real[u, v], device=self.device)
            hit = hit & free
            free = free & ~hit
            masks.append(xp.astype(hit, y.dtype))
        return xp.stack(masks, axis=1)

    def real(self, ho, wo):
        """Per window offset (u, v): a (Ho, Wo) boolean, True where the tap is a real
        element and not padding; None where every tap at that offset is real."""
        top, h, left, w = self.valid
        rows = [(top <= r) & (r < top + h) for r in
                (np.arange(ho) * self.sh + u * self.dh for u in range(self.kh))]
        cols = [(left <= c) & (c < left + w) for c in
                (np.arange(wo) * self.sw + v * self.dw for v in range(self.kw))]
        return {(u, v): None if rows[u].all() and cols[v].all()
                else rows[u][:, None] & cols[v][None, :] for u, v in self.offsets()}

    def first_maxima(self, x, y):
        """For each window offset (u, v): a boolean like y, True where the element at that
        offset is its window's first maximum. (The same array is reused: use it at once.)

        NOTE: in a window holding NaN (y is NaN there) the gradient goes to its *last* NaN,
        as PyTorch's kernel does (its scan keeps any NaN it meets).
        """
        win = _windows(x, self.kh, self.kw, self.sh, self.sw, dh=self.dh, dw=self.dw)
        offsets = self.offsets()
        real = None if self.valid is None else self.real(*y.shape[2:])
        last_nan = None
        if np.isnan(y).any():
            last_nan = np.full(y.shape, -1, dtype=np.int32)
            for i, (u, v) in enumerate(offsets):
                last_nan[np.isnan(win[..., u, v])] = i
        free = np.ones_like(y, dtype=bool)  # windows whose maximum is not found yet
        hit = np.empty_like(free)
        for i, (u, v) in enumerate(offsets):
            np.equal(win[..., u, v], y, out=hit)  # never true where y is NaN
            if last_nan is not None:
                hit |= last_nan == i
            if real is not None and real[u, v] is not None:
                hit &= real[u, v]  # padding (-inf) ties only a real -inf: never pick it
            hit &= free
            free ^= hit
            yield u, v, hit

    def jvp(self, xs, y, dxs):
        x, out = generic.constant(xs[0]), generic.constant(y)
        kh, kw = self.kh, self.kw
        if self.xp is not np:
            mask = self._first_maxima_portable(x, out)
        else:
            masks = [hit.copy() for _, _, hit in self.first_maxima(x, out)]
            mask = np.stack(masks, axis=1).astype(y.dtype)  # (N, kh*kw, C, Ho, Wo)
        n, c, ho, wo = out.shape
        cols = unfold(dxs[0], kh, kw, self.sh, self.sw, self.dh, self.dw)  # rows (c, u, v)
        cols = cols.reshape(c, kh * kw, n, ho, wo).transpose(2, 1, 0, 3, 4)
        return (cols * mask).sum(axis=1)

    def vjp(self, g):
        x, y = generic.constant(self.x), generic.constant(self.y)
        kh, kw, sh, sw, dh, dw = self.kh, self.kw, self.sh, self.sw, self.dh, self.dw
        if _is_tensor(g):  # create_graph: route g through a recorded fold, masks constant
            if self.xp is not np:
                mask = Tensor(self._first_maxima_portable(x, y))  # a constant of its library
            else:
                masks = [hit.copy() for _, _, hit in self.first_maxima(x, y)]
                mask = np.stack(masks, axis=1).astype(g.dtype)  # (N, kh*kw, C, Ho, Wo)
            n, c, ho, wo = y.shape
            cols = g.reshape(n, 1, c, ho, wo) * mask.reshape(n, kh * kw, c, ho, wo)
            cols = cols.transpose(2, 1, 0, 3, 4).reshape(c * kh * kw, n * ho * wo)
            return fold(cols, x.shape, kh, kw, sh, sw, dh, dw)
        dx = np.zeros_like(x)  # x's memory layout (often channels-first)
        dwin = _windows(dx, kh, kw, sh, sw, writeable=True, dh=dh, dw=dw)
        # each element in one window at most: assign
        disjoint = sh >= dh * (kh - 1) + 1 and sw >= dw * (kw - 1) + 1
        routed = np.empty_like(y, dtype=g.dtype)
        for u, v, hit in self.first_maxima(x, y):
            np.multiply(g, hit, out=routed)
            if disjoint:
                dwin[..., u, v] = routed
            else:
                dwin[..., u, v] += routed  # one offset's elements are distinct: no lost adds
        return dx


# --- public functions (used by nn.functional) ----------------------------------------------


def affine(w, x, b=None):
    return apply(Affine, w, x) if b is None else apply(Affine, w, x, b)


def max_pool2d(x, kh, kw, sh, sw, dh=1, dw=1, valid=None):
    """Max pooling of x (N, C, H, W); ``valid`` marks x's real part when x arrives padded
    with -inf (see MaxPool2d)."""
    return apply(MaxPool2d, x, kh=kh, kw=kw, sh=sh, sw=sw, dh=dh, dw=dw, valid=valid)
