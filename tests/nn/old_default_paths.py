"""Verbatim copies of the default conv, pooling and normalization paths as they were before
dilation, groups, pooling padding and the norm options were added (commit 3e87a20), kept
to prove that the new code computes today's default paths bit for bit
(test_default_paths_bitwise.py): the CNN recipes' measured accuracies depend on it.

Edits to the copies, none to their arithmetic: the primitives subclass ``Node`` instead of
``Op`` (so they do not register as primitives of their own), the nn.functional copies
call the copied primitives (ops/conv.py's max_pool2d renamed op_max_pool2d beside
nn.functional's), and the two modules' ``forward`` methods are functions that
take what were class attributes (``axes``, ``expected``) as arguments.
"""

from __future__ import annotations

import numpy as np

import chainrule as cr
from chainrule.errors import ShapeError
from chainrule.graph.node import INPUT, OUTPUT, Node
from chainrule.ops import generic
from chainrule.ops.core import apply
from chainrule.tensor import Tensor, as_tensor

# --- ops/conv.py -------------------------------------------------------------------------


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


def _windows(x, kh, kw, sh, sw, writeable=False):
    """(N, C, H, W) -> a view (N, C, Ho, Wo, kh, kw) of every window, strides (sh, sw)."""
    v = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3), writeable=writeable)
    return v[:, :, ::sh, ::sw]


def out_size(n: int, k: int, s: int) -> int:
    """How many windows of size k at stride s fit in n (PyTorch's floor mode)."""
    return (n - k) // s + 1


class Unfold(Node):
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


class Fold(Node):
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


class Affine(Node):
    """y = w @ x + b[:, None];  dw = g @ x^T,  dx = w^T @ g,  db = sum of g along rows

    conv2d's product: w (O, C*kh*kw), x the unfolded columns (C*kh*kw, N*Ho*Wo), one bias
    per output channel. Fused: the bias is added in place instead of making a second
    (O, N*Ho*Wo) array, and dw is computed as (x @ g^T)^T, the GEMM orientation OpenBLAS
    runs faster for these long, thin products (measured 1.6 ms vs 2.5 ms, 16 x 72 x 36864).
    """

    def forward(self, w, x, b=None):
        self.save(w=INPUT(0), x=INPUT(1))
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
    if _is_tensor(x):
        return apply(Unfold, x, kh=kh, kw=kw, sh=sh, sw=sw)
    return Unfold.forward(_bare(Unfold, kh=kh, kw=kw, sh=sh, sw=sw), x)


def fold(cols, shape, kh, kw, sh=1, sw=1):
    """col2im back to ``shape`` (N, C, H, W). Recorded for tensors, plain for arrays."""
    if _is_tensor(cols):
        return apply(Fold, cols, shape=tuple(shape), kh=kh, kw=kw, sh=sh, sw=sw)
    return Fold.forward(_bare(Fold, shape=tuple(shape), kh=kh, kw=kw, sh=sh, sw=sw), cols)


def _bare(cls, **params):
    """An unrecorded instance of a primitive, to run its forward on arrays inside a vjp."""
    op = object.__new__(cls)
    op.__dict__.update(params)
    return op


class MaxPool2d(Node):
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
        self.save(x=INPUT(0), y=OUTPUT)
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
        x, y = generic.constant(self.x), generic.constant(self.y)
        kh, kw, sh, sw = self.kh, self.kw, self.sh, self.sw
        if _is_tensor(g):  # create_graph: route g through a recorded fold, masks constant
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


def affine(w, x, b=None):
    return apply(Affine, w, x) if b is None else apply(Affine, w, x, b)


def op_max_pool2d(x, kh, kw, sh, sw):
    return apply(MaxPool2d, x, kh=kh, kw=kw, sh=sh, sw=sw)


# --- ops/norm.py -------------------------------------------------------------------------


class BatchNorm(Node):
    """y = xhat * w + b, xhat = (x - mean) / sqrt(var + eps), statistics over ``axes``;
    dx = inv * w * (g - mean(g) - xhat * mean(g * xhat)),  inv = 1 / sqrt(var + eps);
    dw = sum(g * xhat);  db = sum(g)   (means and sums over ``axes``, per channel)

    Fused: seven passes over the activations and two new arrays each way, instead of a
    dozen elementwise nodes and their temporaries. Under ``create_graph`` the engine
    differentiates ``composed``, the same formula written with chainrule ops.
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
        self.save(x=INPUT(0), w=INPUT(1), b=INPUT(2), xhat=xhat, inv=inv)
        self.stats["mean"], self.stats["var"] = mean.reshape(-1), var.reshape(-1)
        return y

    def composed(self, x, w, b):
        return batch_norm_composed(x, w, b, self.axes, self.shape, self.eps)

    def vjp(self, g):
        axes, shape = self.axes, self.shape
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


def batch_norm(x, weight, bias, axes, eps):
    """Training-mode batch norm over ``axes``: (y, batch mean, biased batch variance)."""
    shape = tuple(1 if i in axes else n for i, n in enumerate(x.shape))
    stats: dict = {}
    y = apply(BatchNorm, x, weight, bias, axes=axes, shape=shape, eps=eps, stats=stats)
    return y, stats["mean"], stats["var"]


# --- nn/functional.py: conv2d and the pools ----------------------------------------------


def _pair(v, what: str, name: str, least: int) -> tuple[int, int]:
    """An int or a pair of ints, each >= ``least``, as a pair."""
    pair = (v, v) if isinstance(v, (int, np.integer)) else tuple(v) if isinstance(
        v, (tuple, list)) else None
    if (pair is None or len(pair) != 2 or not all(isinstance(a, (int, np.integer))
                                                  and not isinstance(a, bool) for a in pair)
            or min(pair) < least):
        raise ValueError(f"{what}: {name} must be an int >= {least} or a pair of them, got "
                         f"{v!r}")
    return int(pair[0]), int(pair[1])


def conv2d(x, weight, bias=None, stride=1, padding=0):
    """Cross-correlation in NCHW: x (N, C, H, W), weight (O, C, kh, kw) -> (N, O, Ho, Wo),

    y[n, o, i, j] = b[o] + sum over c, u, v of w[o, c, u, v] x[n, c, i*sh + u, j*sw + v]

    (x zero-padded by ``padding`` first; ``stride`` and ``padding`` are ints or pairs).
    im2col: unfold every window into a column (``Unfold``), then one matrix product with
    the weight reshaped to (O, C*kh*kw), plus the bias (``Affine``). The gradient of the
    unfold is a fold (``Fold``) and the fold's is an unfold again, so create_graph works.
    """
    x = as_tensor(x)
    if x.ndim != 4 or weight.ndim != 4:
        raise ShapeError(f"conv2d: expected x (N, C, H, W) and weight (O, C, kh, kw), got "
                         f"{x.shape} and {tuple(weight.shape)}. help: add the batch axis with "
                         "x.expand_dims(0), or the channel axis with x.expand_dims(1)")
    n, c, h, w = x.shape
    o, cw, kh, kw = weight.shape
    if c != cw:
        raise ShapeError(f"conv2d: input has {c} channels (shape {x.shape}) but the weight "
                         f"expects {cw} (weight shape {tuple(weight.shape)}). help: check "
                         "in_channels and the previous layer's out_channels")
    if bias is not None and tuple(bias.shape) != (o,):
        raise ShapeError(f"conv2d: bias has shape {tuple(bias.shape)}, expected ({o},), one "
                         f"per output channel of the weight {tuple(weight.shape)}")
    sh, sw = _pair(stride, "conv2d", "stride", 1)
    ph, pw = _pair(padding, "conv2d", "padding", 0)
    hp, wp = h + 2 * ph, w + 2 * pw
    if hp < kh or wp < kw:
        raise ShapeError(f"conv2d: the {kh}x{kw} kernel is larger than the padded input "
                         f"{hp}x{wp} (input {x.shape}, padding {(ph, pw)}). help: use a "
                         "smaller kernel or more padding")
    if ph or pw:
        x = cr.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    ho, wo = out_size(hp, kh, sh), out_size(wp, kw, sw)
    cols = unfold(x, kh, kw, sh, sw)  # (C*kh*kw, N*Ho*Wo)
    out = affine(weight.reshape(o, c * kh * kw), cols, bias)  # (O, N*Ho*Wo): one GEMM
    return out.reshape(o, n, ho, wo).transpose(1, 0, 2, 3)


def _pool_args(x, kernel_size, stride, what):
    x = as_tensor(x)
    if x.ndim != 4:
        raise ShapeError(f"{what}: expected (N, C, H, W), got {x.shape}. help: add the batch "
                         "axis with x.expand_dims(0)")
    kh, kw = _pair(kernel_size, what, "kernel_size", 1)
    sh, sw = (kh, kw) if stride is None else _pair(stride, what, "stride", 1)
    if x.shape[2] < kh or x.shape[3] < kw:
        raise ShapeError(f"{what}: window {kh}x{kw} is larger than the input's "
                         f"{x.shape[2]}x{x.shape[3]} (shape {x.shape})")
    return x, kh, kw, sh, sw


def max_pool2d(x, kernel_size, stride=None):
    """y[n, c, i, j] = max of the window x[n, c, i*sh : i*sh + kh, j*sw : j*sw + kw];
    ``stride`` defaults to ``kernel_size``. The gradient goes to each window's first
    maximum, as PyTorch's."""
    x, kh, kw, sh, sw = _pool_args(x, kernel_size, stride, "max_pool2d")
    return op_max_pool2d(x, kh, kw, sh, sw)


def avg_pool2d(x, kernel_size, stride=None):
    """y[n, c, i, j] = mean of the window x[n, c, i*sh : i*sh + kh, j*sw : j*sw + kw];
    ``stride`` defaults to ``kernel_size`` (an unfold, then a mean over each window)"""
    x, kh, kw, sh, sw = _pool_args(x, kernel_size, stride, "avg_pool2d")
    n, c, h, w = x.shape
    ho, wo = out_size(h, kh, sh), out_size(w, kw, sw)
    cols = unfold(x, kh, kw, sh, sw).reshape(c, kh * kw, n, ho, wo)
    return cols.mean(axis=1).transpose(1, 0, 2, 3)


# --- nn/layers.py: _BatchNorm.forward and LayerNorm.forward ------------------------------


def batch_norm_module_forward(self, x, axes, expected):
    if x.ndim != len(expected.split(",")) or x.shape[1] != self.num_features:
        raise ShapeError(f"expected {expected} with C = {self.num_features} "
                         f"channels, got shape {x.shape}. help: check num_features and "
                         "the previous layer")
    shape = (1, self.num_features) + (1,) * (x.ndim - 2)
    if self.training:
        m = x.size // self.num_features  # values per channel
        if m < 2:
            raise ValueError(f"{type(self).__name__}: training needs more than one value "
                             f"per channel, got input of shape {x.shape}. help: use a "
                             "batch of at least 2, or call model.eval()")
        y, mean, var = batch_norm(x, self.weight, self.bias, axes, self.eps)
        self.num_batches_tracked.data += 1
        f = (1 / int(self.num_batches_tracked.data) if self.momentum is None
             else self.momentum)
        rm, rv = self.running_mean.data, self.running_var.data
        rm *= 1 - f
        rm += f * mean
        rv *= 1 - f
        rv += (f * m / (m - 1)) * var  # the running variance is unbiased
        return y
    mean = self.running_mean.data.reshape(shape)
    inv = 1 / np.sqrt(self.running_var.data.reshape(shape) + self.eps)
    xhat = (x - mean.astype(x.dtype)) * inv.astype(x.dtype)
    return xhat * self.weight.reshape(shape) + self.bias.reshape(shape)


def layer_norm_module_forward(self, x):
    k = len(self.normalized_shape)
    if tuple(x.shape[-k:]) != self.normalized_shape:
        raise ShapeError(f"expected the last axes to be {self.normalized_shape}, got "
                         f"shape {x.shape}. help: check normalized_shape")
    axes = tuple(range(x.ndim - k, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    d = x - mean
    var = (d * d).mean(axis=axes, keepdims=True)
    return d / (var + self.eps).sqrt() * self.weight + self.bias
