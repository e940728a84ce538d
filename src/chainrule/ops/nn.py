"""Primitives for neural networks, fused where one node beats a composition.

Each says why it is fused. Their VJPs take the differentiable route under
``create_graph`` (tensors in, e.g. ``softmax(x)`` recomputed from the saved input) and
the fast route on arrays otherwise (reusing what the forward pass computed).
"""

from __future__ import annotations

import math

import numpy as np

from chainrule.errors import ShapeError
from chainrule.ops import dual
from chainrule.ops.core import Op, apply
from chainrule.tensor import Tensor


def _graph_mode(x) -> bool:
    return isinstance(x, Tensor)


class Linear(Op):
    """y = x @ W^T + b;  dx = g @ W,  dW = g^T @ x,  db = sum of g over the batch

    Fused: one node instead of transpose + matmul + add, for every layer of every MLP.
    """

    def forward(self, x, w, b=None):
        self.save(x=x, w=w)
        if (x.ndim == 2 and 16 <= x.shape[0] <= 32 and w.shape[0] >= 128
                and x.dtype == w.dtype == np.float32):
            # Same y, other GEMM orientation. Measured with NumPy's OpenBLAS (0.3.31, 1 and
            # 2 threads): for 16-32 rows and a wide layer, float32 x @ w.T takes 1.4-1.9x as
            # long as w @ x.T (float64: no gain, up to 1.2x slower, so not there); its
            # transpose goes back to row order in the pass that adds the bias.
            y = np.empty((x.shape[0], w.shape[0]), dtype=np.float32)
            if b is None:
                np.copyto(y, (w @ x.T).T)
            else:
                np.add((w @ x.T).T, b, out=y)
            return y
        y = x @ w.T
        if b is not None:
            y += b
        return y

    def vjp(self, g):
        x, w = self.x, self.w
        dx = g @ w if self.needs(0) else None
        g2 = g.reshape(-1, g.shape[-1])
        dw = g2.T @ x.reshape(-1, x.shape[-1]) if self.needs(1) else None
        db = g2.sum(axis=0) if len(self.parents) > 2 and self.needs(2) else None
        return dx, dw, db


class LogSoftmax(Op):
    """y = x - logsumexp(x) along ``axis``;  dx = g - softmax(x) * sum(g)

    A primitive for stability (never exp of a large number) and because its VJP reuses y.
    """

    def forward(self, x):
        m = x.max(axis=self.axis, keepdims=True)
        shifted = x - m
        y = shifted - np.log(np.exp(shifted).sum(axis=self.axis, keepdims=True))
        self.save(y=y)
        return y

    def vjp(self, g):
        return g - dual.exp(self.y) * g.sum(axis=self.axis, keepdims=True)


class CrossEntropy(Op):
    """l_n = logsumexp(x_n) - x_n[t_n];  dx_n = g_n * (softmax(x_n) - onehot(t_n))

    Fused with log-softmax: stable for logits of any magnitude, one node instead of four,
    and the softmax computed for the forward pass is the gradient's main term. ``target``
    (class indices) and ``reduction`` ('mean', 'sum' or 'none') are constants of the op.
    """

    def forward(self, x):
        n = x.shape[0]
        rows = np.arange(n)
        m = x.max(axis=1, keepdims=True)
        shifted = x - m
        e = np.exp(shifted)
        s = e.sum(axis=1, keepdims=True)
        losses = np.log(s[:, 0]) - shifted[rows, self.target]
        if self.parents is not None:  # recorded: keep softmax(x) for the backward pass
            self.save(x=x, p=e / s)
        if self.reduction == "none":
            return losses
        total = losses.sum()
        return total / n if self.reduction == "mean" else total

    def vjp(self, g):
        x, t = self.x, self.target
        n = x.shape[0]
        if _graph_mode(x):
            onehot = np.zeros(x.shape, dtype=x.dtype)
            onehot[np.arange(n), t] = 1
            d = softmax(x, axis=1) - onehot
        else:
            d = self.p.copy()
            d[np.arange(n), t] -= 1
        if self.reduction == "none":
            return d * g.reshape(n, 1)
        return d * (g / n if self.reduction == "mean" else g)


class MSELoss(Op):
    """l = (p - t)^2 per element (then 'mean', 'sum' or 'none');  dp = 2 (p - t) g,  dt = -dp

    Fused: one node instead of sub, mul, sum and scale, for every regression step.
    """

    def forward(self, p, t):
        d = p - t
        self.save(p=p, t=t)
        if self.reduction == "none":
            return d * d
        total = np.vdot(d, d)  # one pass, no temporary (p - t)^2 array
        return total / d.size if self.reduction == "mean" else total

    def vjp(self, g):
        d = self.p - self.t
        scale = g * (2.0 / d.size) if self.reduction == "mean" else g * 2.0
        dp = d * scale
        return dp, (-dp if self.needs(1) else None)


class BCEWithLogits(Op):
    """l = max(x, 0) - x t + log(1 + e^-|x|);  dx = g * (sigmoid(x) - t)

    A primitive: stable for any x, and exact at x = 0 (a composition through |x| and max
    would take a one-sided derivative there). ``target`` is a constant of the op.
    """

    def forward(self, x):
        t = self.target
        losses = np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))
        self.save(x=x)
        if self.reduction == "none":
            return losses
        total = losses.sum()
        return total / losses.size if self.reduction == "mean" else total

    def vjp(self, g):
        x = self.x
        d = (x.sigmoid() if _graph_mode(x) else _sigmoid(x)) - self.target
        if self.reduction == "mean":
            return d * (g / x.size)
        return d * g


def _sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


class Erf(Op):
    """y = erf(x);  dx = g * 2/sqrt(pi) * exp(-x^2)

    NumPy has no erf: float32 (and float16) arrays get ``erf_float32``, vectorized and
    about 4.5x faster than ``math.erf`` per element; float64 gets ``math.erf`` itself,
    exact, as gradcheck needs.
    """

    def forward(self, x):
        self.save(x=x)
        if x.dtype in (np.float32, np.float16):
            return erf_float32(x).astype(x.dtype, copy=False)
        return np.asarray(_erf_exact(x), dtype=x.dtype)

    def vjp(self, g):
        x = self.x
        return g * (2 / math.sqrt(math.pi)) * dual.exp(-(x * x))


_erf_exact = np.frompyfunc(math.erf, 1, 1)


def _erf_pieces(width: float = 0.5, degree: int = 9, top: float = 4.0) -> np.ndarray:
    """Polynomials for erf(a) / a on [0, top), one per piece of ``width``, highest power first.

    Each interpolates math.erf at Chebyshev points of its piece, in u in [-1, 1] across
    the piece. Dividing by a makes the first piece's polynomial carry erf's slope at 0, so
    tiny arguments keep their relative accuracy.
    """
    cheb = np.polynomial.chebyshev
    rows = []
    for lo in np.arange(0.0, top, width):
        def h(u, lo=lo):
            a = lo + (np.atleast_1d(u) + 1) * (width / 2)
            return np.array([math.erf(v) / v if v else 2 / math.sqrt(math.pi) for v in a])

        rows.append(cheb.cheb2poly(cheb.chebinterpolate(h, degree))[::-1])
    return np.array(rows).T.copy()  # (degree + 1, pieces): row j = every piece's j-th coefficient


_ERF_PIECES = _erf_pieces()


def erf_float32(x: np.ndarray) -> np.ndarray:
    """erf of a float32 array, correctly rounded on a 400,001-point grid over [-6, 6] and
    within 2e-7 relative for tiny arguments (tests/ops/test_erf.py), computed in float64
    with eight degree-9 pieces.

    erf is odd, and in float32 it is exactly 1 from |x| = 4 on (erfc(4) = 1.5e-8 is below
    half a float32 ulp of 1), so only [0, 4) needs a polynomial.
    """
    a = np.abs(x, dtype=np.float64)
    np.minimum(a, 4 - 1e-9, out=a)
    with np.errstate(invalid="ignore"):  # NaN: any piece will do, u is NaN too
        piece = (a * 2).astype(np.intp)  # width 0.5
    u = a * 4
    u -= 2 * piece + 1  # position within the piece, in [-1, 1]
    y = np.take(_ERF_PIECES[0], piece, mode="clip")
    for coefficients in _ERF_PIECES[1:]:
        y *= u
        y += np.take(coefficients, piece, mode="clip")
    y *= a
    return np.copysign(y, x).astype(np.float32)


# --- convolution and pooling: im2col, channels first -----------------------------------------
#
# NOTE on layout: im2col here has one ROW per (c, u, v) and one COLUMN per output pixel
# (n, i, j), so every copy in Unfold and every add in Fold moves whole image rows, and the
# convolution's product W @ cols comes out as (O, N, Ho, Wo): the layer returns that array
# viewed as NCHW. The channels-innermost layout (one row per pixel) makes NumPy loop over
# runs of only C elements; measured 3-5x slower for Fold with C = 8, 2x for Unfold.


def _windows(x, kh, kw, sh, sw, writeable=False):
    """(N, C, H, W) -> a view (N, C, Ho, Wo, kh, kw) of every window, strides (sh, sw)."""
    v = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3), writeable=writeable)
    return v[:, :, ::sh, ::sw]


def out_size(n: int, k: int, s: int) -> int:
    """How many windows of size k at stride s fit in n (PyTorch's floor mode)."""
    return (n - k) // s + 1


class Unfold(Op):
    """im2col: y[(c, u, v), (n, i, j)] = x[n, c, i*sh + u, j*sw + v];  dx = fold(g)

    Turns a convolution into one matrix product W (O, C*kh*kw) @ y: one BLAS call per
    layer. Rows are in PyTorch's weight order (c, u, v), so the weight needs only a reshape.
    """

    def forward(self, x):
        self.in_shape = x.shape
        kh, kw = self.kh, self.kw
        win = _windows(x, kh, kw, self.sh, self.sw)
        n, c, ho, wo = win.shape[:4]
        return win.transpose(1, 4, 5, 0, 2, 3).reshape(c * kh * kw, n * ho * wo)

    def vjp(self, g):
        return fold(g, self.in_shape, self.kh, self.kw, self.sh, self.sw)


class Fold(Op):
    """col2im, Unfold's adjoint: x[n, c, i*sh + u, j*sw + v] += cols[(c, u, v), (n, i, j)]
    (where windows overlap, their entries add up);  dx = unfold(g)

    One strided add per kernel offset (u, v), into a channels-first (C, N, H, W) buffer
    returned viewed as NCHW.
    """

    def forward(self, cols):
        n, c, h, w = self.shape
        kh, kw, sh, sw = self.kh, self.kw, self.sh, self.sw
        ho, wo = out_size(h, kh, sh), out_size(w, kw, sw)
        blocks = cols.reshape(c, kh, kw, n, ho, wo)
        out = np.zeros((c, n, h, w), dtype=cols.dtype)
        for u in range(kh):
            for v in range(kw):
                out[:, :, u:u + sh * ho:sh, v:v + sw * wo:sw] += blocks[:, u, v]
        return out.transpose(1, 0, 2, 3)

    def vjp(self, g):
        return unfold(g, self.kh, self.kw, self.sh, self.sw)


class Affine(Op):
    """y = w @ x + b[:, None];  dw = g @ x^T,  dx = w^T @ g,  db = sum of g along rows

    conv2d's product: w (O, C*kh*kw), x the unfolded columns (C*kh*kw, N*Ho*Wo), one bias
    per output channel. Fused: the bias is added in place instead of making a second
    (O, N*Ho*Wo) array, and dw is computed as (x @ g^T)^T, the GEMM orientation OpenBLAS
    runs faster for these long, thin products (measured 1.6 ms vs 2.5 ms, 16 x 72 x 36864).
    """

    def forward(self, w, x, b=None):
        self.save(w=w, x=x)
        y = w @ x
        if b is not None:
            y += b.reshape(-1, 1)
        return y

    def vjp(self, g):
        w, x = self.w, self.x
        dw = (x @ g.T).T if self.needs(0) else None
        dx = w.T @ g if self.needs(1) else None
        db = g.sum(axis=1) if len(self.parents) > 2 and self.needs(2) else None
        return dw, dx, db


def unfold(x, kh, kw, sh=1, sw=1):
    """im2col of x (N, C, H, W): (C*kh*kw, N*Ho*Wo). Recorded for tensors, plain for arrays."""
    if _graph_mode(x):
        return apply(Unfold, x, kh=kh, kw=kw, sh=sh, sw=sw)
    return Unfold.forward(_bare(Unfold, kh=kh, kw=kw, sh=sh, sw=sw), x)


def fold(cols, shape, kh, kw, sh=1, sw=1):
    """col2im back to ``shape`` (N, C, H, W). Recorded for tensors, plain for arrays."""
    if _graph_mode(cols):
        return apply(Fold, cols, shape=tuple(shape), kh=kh, kw=kw, sh=sh, sw=sw)
    return Fold.forward(_bare(Fold, shape=tuple(shape), kh=kh, kw=kw, sh=sh, sw=sw), cols)


def _bare(cls, **params):
    """An unrecorded instance of a primitive, to run its forward on arrays inside a vjp."""
    op = object.__new__(cls)
    op.__dict__.update(params)
    return op


class MaxPool2d(Op):
    """y[n, c, i, j] = max over the window x[n, c, i*sh : i*sh + kh, j*sw : j*sw + kw];
    dx = g routed to each window's first maximum (row-major order)

    As PyTorch: exactly one element per window gets the gradient, even at ties (common
    after a ReLU: a window of zeros), and a NaN in a window is its maximum. The forward takes the
    maximum over the kh*kw strided views of the window offsets (no copy of the windows);
    the backward finds each window's first maximum again from the saved x and y.
    NOTE: y and the backward's work arrays take x's memory layout (``empty_like`` of a
    view): with channels-first activations a C-ordered y made every pass 1.5-2x slower.
    """

    def forward(self, x):
        win = _windows(x, self.kh, self.kw, self.sh, self.sw)
        y = np.empty_like(win[..., 0, 0])  # x's layout, not C order
        np.copyto(y, win[..., 0, 0])
        for u, v in self.offsets()[1:]:
            np.maximum(y, win[..., u, v], out=y)
        self.save(x=x, y=y)
        return y

    def offsets(self) -> list:
        return [(u, v) for u in range(self.kh) for v in range(self.kw)]

    def first_maxima(self, x, y):
        """For each window offset (u, v): a boolean like y, True where the element at that
        offset is its window's first maximum. (The same array is reused: use it at once.)

        NOTE: in a window holding NaN (y is NaN there) the gradient goes to its *last* NaN,
        as PyTorch's kernel does (its scan keeps any NaN it meets).
        """
        win = _windows(x, self.kh, self.kw, self.sh, self.sw)
        offsets = self.offsets()
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
            hit &= free
            free ^= hit
            yield u, v, hit

    def vjp(self, g):
        x, y = dual.constant(self.x), dual.constant(self.y)
        kh, kw, sh, sw = self.kh, self.kw, self.sh, self.sw
        if _graph_mode(g):  # create_graph: route g through a recorded fold, masks constant
            masks = [hit.copy() for _, _, hit in self.first_maxima(x, y)]
            mask = np.stack(masks, axis=1).astype(g.dtype)  # (N, kh*kw, C, Ho, Wo)
            n, c, ho, wo = y.shape
            cols = g.reshape(n, 1, c, ho, wo) * mask.reshape(n, kh * kw, c, ho, wo)
            cols = cols.transpose(2, 1, 0, 3, 4).reshape(c * kh * kw, n * ho * wo)
            return fold(cols, x.shape, kh, kw, sh, sw)
        dx = np.zeros_like(x)  # x's memory layout (often channels-first)
        dwin = _windows(dx, kh, kw, sh, sw, writeable=True)
        disjoint = sh >= kh and sw >= kw  # each element in one window at most: assign
        routed = np.empty_like(y, dtype=g.dtype)
        for u, v, hit in self.first_maxima(x, y):
            np.multiply(g, hit, out=routed)
            if disjoint:
                dwin[..., u, v] = routed
            else:
                dwin[..., u, v] += routed  # one offset's elements are distinct: no lost adds
        return dx


class BatchNorm(Op):
    """y = xhat * w + b, xhat = (x - mean) / sqrt(var + eps), statistics over ``axes``;
    dx = inv * w * (g - mean(g) - xhat * mean(g * xhat)),  inv = 1 / sqrt(var + eps);
    dw = sum(g * xhat);  db = sum(g)   (means and sums over ``axes``, per channel)

    Fused: seven passes over the activations and two new arrays each way, instead of a
    dozen elementwise nodes and their temporaries. Under ``create_graph`` the vjp
    differentiates the same formula written with chainrule ops.
    """

    def forward(self, x, w, b):
        axes, shape = self.axes, self.shape
        mean = x.mean(axis=axes, keepdims=True)
        xhat = x - mean
        y = np.multiply(xhat, xhat)  # (x - mean)^2 for the variance; y's buffer after
        var = y.mean(axis=axes, keepdims=True)
        inv = 1 / np.sqrt(var + self.eps)
        xhat *= inv
        np.multiply(xhat, w.reshape(shape), out=y)
        y += b.reshape(shape)
        self.save(x=x, w=w, b=b, xhat=xhat, inv=inv)
        self.stats["mean"], self.stats["var"] = mean.reshape(-1), var.reshape(-1)
        return y

    def vjp(self, g):
        axes, shape = self.axes, self.shape
        if _graph_mode(g):
            return _recorded_vjp(self, g, lambda x, w, b: batch_norm_composed(
                x, w, b, axes, shape, self.eps))
        xhat, inv, w = self.xhat, self.inv, self.w
        m = g.size // g.shape[1]  # values per channel
        db = g.sum(axis=axes)
        dx = np.multiply(g, xhat)
        dw = dx.sum(axis=axes)
        np.multiply(xhat, (dw / m).reshape(shape), out=dx)  # the buffer is reused from here
        np.subtract(g, dx, out=dx)
        dx -= (db / m).reshape(shape)
        dx *= inv * w.reshape(shape)
        return dx, dw, db


def batch_norm_composed(x, w, b, axes, shape, eps):
    """The batch-norm formula with chainrule ops (what the fused primitive computes)."""
    mean = x.mean(axis=axes, keepdims=True)
    d = x - mean
    var = (d * d).mean(axis=axes, keepdims=True)
    return d / (var + eps).sqrt() * w.reshape(shape) + b.reshape(shape)


def _recorded_vjp(op, g, composed):
    """The vjp of a fused op under create_graph: differentiate its composed formula."""
    from chainrule.autograd import engine

    inputs = [op.x, op.w, op.b]
    with_grad = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    y = composed(*inputs)
    grads = iter(engine.grad(y, with_grad, gradient=g, create_graph=True))
    return tuple(next(grads) if any(t is u for u in with_grad) else None for t in inputs)


# --- public functions (used by nn.functional) ----------------------------------------------


def linear(x, weight, bias=None):
    if x.shape[-1] != weight.shape[-1]:
        raise ShapeError(
            f"linear: input has {x.shape[-1]} features (shape {x.shape}) but the weight expects "
            f"{weight.shape[-1]} (weight shape {weight.shape}). help: check the previous "
            "layer's output size, or add a Flatten")
    if bias is None:
        return apply(Linear, x, weight)
    return apply(Linear, x, weight, bias)


def affine(w, x, b=None):
    return apply(Affine, w, x) if b is None else apply(Affine, w, x, b)


def log_softmax(x, axis=-1):
    return apply(LogSoftmax, x, axis=axis)


def softmax(x, axis=-1):
    return log_softmax(x, axis).exp()


def erf(x):
    return apply(Erf, x)


def cross_entropy(logits, target, reduction="mean"):
    return apply(CrossEntropy, logits, target=target, reduction=reduction)


def mse_loss(pred, target, reduction="mean"):
    return apply(MSELoss, pred, target, reduction=reduction)


def binary_cross_entropy_with_logits(logits, target, reduction="mean"):
    return apply(BCEWithLogits, logits, target=target, reduction=reduction)


def max_pool2d(x, kh, kw, sh, sw):
    return apply(MaxPool2d, x, kh=kh, kw=kw, sh=sh, sw=sw)


def batch_norm(x, weight, bias, axes, eps):
    """Training-mode batch norm over ``axes``: (y, batch mean, biased batch variance)."""
    shape = tuple(1 if i in axes else n for i, n in enumerate(x.shape))
    stats: dict = {}
    y = apply(BatchNorm, x, weight, bias, axes=axes, shape=shape, eps=eps, stats=stats)
    return y, stats["mean"], stats["var"]
