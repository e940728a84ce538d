"""nn.functional's convolutions and padding: conv2d, conv1d (a view over conv2d) and pad,
with PyTorch's arguments (``stride``, ``padding`` as ints, pairs, ``"same"`` or
``"valid"``, ``dilation``, ``groups``; ``pad``'s modes).

conv2d is im2col: unfold every (dilated) window into a column (``Unfold``), then one
matrix product with the weight reshaped to (O, C*kh*kw), plus the bias (``Affine``); with
groups, one batched product, group by group. The gradient of the unfold is a fold
(``Fold``) and the fold's is an unfold again, so create_graph works.
"""

from __future__ import annotations

import numpy as np

import chainrule as cr
from chainrule.errors import ShapeError
from chainrule.ops import conv as _conv
from chainrule.tensor import as_tensor

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
PAD_MODES = ("constant", "reflect", "replicate", "circular")
# np.pad's names for PyTorch's modes; an index array padded so picks the padded elements
_NP_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _ntuple(v, n: int, what: str, name: str, least: int) -> tuple:
    """An int or a sequence of ``n`` ints, each >= ``least``, as an n-tuple."""
    t = (v,) * n if isinstance(v, (int, np.integer)) else tuple(v) if isinstance(
        v, (tuple, list)) else None
    if (t is None or len(t) != n or not all(isinstance(a, (int, np.integer))
                                            and not isinstance(a, bool) for a in t)
            or min(t) < least):
        several = "a pair" if n == 2 else f"a {n}-tuple"
        raise ValueError(f"{what}: {name} must be an int >= {least} or {several} of them, got "
                         f"{v!r}. help: e.g. {name}={max(least, 1)}")
    return tuple(int(a) for a in t)


def _pair(v, what: str, name: str, least: int) -> tuple[int, int]:
    """An int or a pair of ints, each >= ``least``, as a pair."""
    return _ntuple(v, 2, what, name, least)


def conv_padding(padding, kernel, dilation, stride, what: str) -> tuple:
    """``padding`` (int, ints, "same" or "valid") as (before, after) per spatial axis.

    "same" pads d*(k-1) in all, half before, the odd one after (as PyTorch), and is
    refused for strided convolutions (as PyTorch: the output could not be the input's size).
    """
    n = len(kernel)
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * n
        if padding != "same":
            raise ValueError(f"{what}: padding must be an int, {n} ints, 'same' or 'valid', "
                             f"got {padding!r}. help: padding='same' keeps the size")
        if any(s != 1 for s in stride):
            raise ValueError(f"{what}: padding='same' is not supported for strided "
                             f"convolutions (stride {stride}), as in PyTorch. help: give the "
                             "padding as a number, e.g. padding=k // 2 for an odd kernel k")
        total = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return tuple((t // 2, t - t // 2) for t in total)
    return tuple((p, p) for p in _ntuple(padding, n, what, "padding", 0))


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Cross-correlation in NCHW: x (N, C, H, W), weight (O, C / groups, kh, kw) ->
    (N, O, Ho, Wo),

    y[n, o, i, j] = b[o] + sum over c, u, v of w[o, c, u, v] x[n, g*C/groups + c,
    i*sh + u*dh, j*sw + v*dw]   (g = the group of output channel o)

    x is zero-padded by ``padding`` first (an int, a pair, ``"same"`` or ``"valid"``);
    ``stride`` and ``dilation`` are ints or pairs. ``groups`` splits the channels into that
    many independent convolutions (``groups=C`` with weight (k*C, 1, kh, kw): depthwise).
    """
    x = as_tensor(x)
    if x.ndim != 4 or weight.ndim != 4:
        raise ShapeError(f"conv2d: expected x (N, C, H, W) and weight (O, C, kh, kw), got "
                         f"{x.shape} and {tuple(weight.shape)}. help: add the batch axis with "
                         "x.expand_dims(0), or the channel axis with x.expand_dims(1)")
    stride = _pair(stride, "conv2d", "stride", 1)
    dilation = _pair(dilation, "conv2d", "dilation", 1)
    pads = conv_padding(padding, weight.shape[2:], dilation, stride, "conv2d")
    return _conv2d(x, weight, bias, stride, pads, dilation, groups, "conv2d", x.shape,
                   tuple(weight.shape))


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Cross-correlation in NCL: x (N, C, L), weight (O, C / groups, k) -> (N, O, Lo),
    y[n, o, i] = b[o] + sum over c, u of w[o, c, u] x[n, g*C/groups + c, i*s + u*d];
    conv2d on the inputs viewed as (N, C, 1, L), the same arguments."""
    x = as_tensor(x)
    if x.ndim != 3 or weight.ndim != 3:
        raise ShapeError(f"conv1d: expected x (N, C, L) and weight (O, C, k), got {x.shape} "
                         f"and {tuple(weight.shape)}. help: add the batch axis with "
                         "x.expand_dims(0), or the channel axis with x.expand_dims(1)")
    (s,) = _ntuple(stride, 1, "conv1d", "stride", 1)
    (d,) = _ntuple(dilation, 1, "conv1d", "dilation", 1)
    (pads,) = conv_padding(padding, weight.shape[2:], (d,), (s,), "conv1d")
    y = _conv2d(x.expand_dims(2), weight.expand_dims(2), bias, (1, s), ((0, 0), pads), (1, d),
                groups, "conv1d", x.shape, tuple(weight.shape))
    return y.squeeze(2)


def _conv2d(x, weight, bias, stride, pads, dilation, groups, what, shown_x, shown_w):
    """conv2d on checked arguments; ``what``, ``shown_x`` and ``shown_w`` are what errors
    name (conv1d's own shapes for conv1d)."""
    n, c, h, w = x.shape
    o, cg, kh, kw = weight.shape
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"{what}: groups must be an int >= 1, got {groups!r}. help: groups=1 "
                         "is an ordinary convolution, groups=in_channels a depthwise one")
    if groups == 1 and c != cg:
        raise ShapeError(f"{what}: input has {c} channels (shape {shown_x}) but the weight "
                         f"expects {cg} (weight shape {shown_w}). help: check in_channels "
                         "and the previous layer's out_channels")
    if groups > 1 and (c != cg * groups or o % groups):
        raise ShapeError(f"{what}: with groups={groups} the input's {c} channels (shape "
                         f"{shown_x}) must be {groups} x the weight's {cg} per group, and its "
                         f"{o} output channels divisible by {groups} (weight shape {shown_w})."
                         f" help: a weight of shape ({o}, {c // groups}, ...) needs in and out "
                         "channels that are multiples of groups")
    if bias is not None and tuple(bias.shape) != (o,):
        raise ShapeError(f"{what}: bias has shape {tuple(bias.shape)}, expected ({o},), one "
                         f"per output channel of the weight {shown_w}")
    (sh, sw), (dh, dw) = stride, dilation
    (pt, pb), (pl, pr) = pads
    hp, wp = h + pt + pb, w + pl + pr
    eh, ew = dh * (kh - 1) + 1, dw * (kw - 1) + 1  # the window's span, dilated
    if hp < eh or wp < ew:
        if what == "conv1d":
            kernel, span, padded, shown_pads = f"{kw}", f"{ew}", f"{wp}", pads[1]
        else:
            kernel, span, padded, shown_pads = f"{kh}x{kw}", f"{eh}x{ew}", f"{hp}x{wp}", pads
        dilated = "" if (eh, ew) == (kh, kw) else f" (dilated: {span})"
        raise ShapeError(f"{what}: the {kernel} kernel{dilated} is larger than the padded "
                         f"input {padded} (input {shown_x}, padding before and after "
                         f"{shown_pads}). help: use a smaller kernel or dilation, or more "
                         "padding")
    if pt or pb or pl or pr:
        x = cr.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    ho, wo = _conv.out_size(hp, kh, sh, dh), _conv.out_size(wp, kw, sw, dw)
    cols = _conv.unfold(x, kh, kw, sh, sw, dh, dw)  # (C*kh*kw, N*Ho*Wo)
    if groups == 1:
        out = _conv.affine(weight.reshape(o, c * kh * kw), cols, bias)  # (O, N*Ho*Wo): one GEMM
    else:
        # cols' rows are (c, u, v), channel first: group g's are one contiguous block
        k = cg * kh * kw
        out = cr.matmul(weight.reshape(groups, o // groups, k), cols.reshape(groups, k, -1))
        out = out.reshape(o, n * ho * wo)
        if bias is not None:
            out = out + bias.reshape(o, 1)
    return out.reshape(o, n, ho, wo).transpose(1, 0, 2, 3)


def pad(x, pad, mode: str = "constant", value=None):
    """PyTorch's F.pad: ``pad`` = (before, after) pairs for the last axes, the last axis
    first: (left, right, top, bottom) pads W, then H. ``mode``: 'constant' (``value``, 0
    unless given), 'reflect' (mirrored, the edge not repeated), 'replicate' (the edge
    repeated) or 'circular' (wrapped around). The other modes gather the padded axes by
    index arrays, so their gradient adds up the copies of each element."""
    x = as_tensor(x)
    if mode not in PAD_MODES:
        raise ValueError(f"pad: mode must be one of {', '.join(map(repr, PAD_MODES))}, got "
                         f"{mode!r}. help: 'constant' pads with value (0 by default)")
    if (not isinstance(pad, (tuple, list)) or len(pad) % 2 or len(pad) > 2 * x.ndim
            or not all(isinstance(p, (int, np.integer)) for p in pad)):
        raise ValueError(f"pad: pad must be an even number of ints, at most 2 per axis of the "
                         f"{x.ndim}-d input, got {pad!r}. help: (left, right) pads the last "
                         "axis, (left, right, top, bottom) the last two")
    if min(pad, default=0) < 0:
        raise ValueError(f"pad: negative padding {pad!r} is not supported. help: slice the "
                         "tensor to crop it, e.g. x[..., 1:-1]")
    k = len(pad) // 2
    pairs = [(int(pad[2 * i]), int(pad[2 * i + 1])) for i in range(k)][::-1]  # axes in order
    if mode == "constant":
        width = [(0, 0)] * (x.ndim - k) + pairs
        return cr.pad(x, width, value=0 if value is None else value)
    if value is not None:
        raise ValueError(f"pad: value= is for mode='constant', got mode={mode!r}. help: drop "
                         "value=")
    if x.ndim not in (k + 1, k + 2):
        raise ShapeError(f"pad: mode={mode!r} pads the last {k} axes of a {k + 1}-d or "
                         f"{k + 2}-d input (as PyTorch), got shape {x.shape}. help: give "
                         f"{2 * (x.ndim - 2)} pad values for this input, or reshape it")
    lead = x.ndim - k
    index = []
    for (a, b), size in zip(pairs, x.shape[lead:]):
        # reflect mirrors without the edge, circular wraps once: both as PyTorch allows
        limit = {"reflect": size - 1, "circular": size}.get(mode, max(a, b))
        if max(a, b) > limit or size == 0:
            raise ShapeError(f"pad: mode={mode!r} needs padding at most {limit} on an axis of "
                             f"size {size}, got {(a, b)} (input {x.shape}). help: pad less, or "
                             "use mode='replicate' or 'constant'")
        index.append(np.pad(np.arange(size), (a, b), mode=_NP_MODES[mode]))
    return x[(slice(None),) * lead + np.ix_(*index)]
