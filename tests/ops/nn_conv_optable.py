"""Op-table rows for the conv, pooling, resizing and normalization options (dilation,
groups, "same"/"valid" padding, pad modes, pooling padding/ceil_mode/count_include_pad,
adaptive pools, nearest interpolation, batch norm on (N, C, L), without affine or in
evaluation, layer norm, group norm). nn_optable.py appends them to its ROWS: the same
harness runs float64 gradcheck (first and second order), float32 kept, and
torch.nn.functional as the oracle for values and gradients.
"""

from __future__ import annotations

import numpy as np

import chainrule.nn.functional as F

from .optable import Row


def _tf():
    import torch.nn.functional as tf

    return tf


def _t(a):
    import torch

    return torch.as_tensor(a)


RUNNING_MEAN = np.array([0.3, -0.2, 0.1])
RUNNING_VAR = np.array([0.8, 1.5, 0.6])
CONV = ("Unfold", "Fold", "Reshape", "Transpose")


def conv_row(name, kwargs, shapes, covers=("Affine",), conv="conv2d"):
    """A row for F.conv2d (or conv1d) with the same keyword arguments in both libraries."""
    return Row(name, CONV + covers, lambda *a: getattr(F, conv)(*a, **kwargs),
               lambda *a: getattr(_tf(), conv)(*a, **kwargs), shapes)


def same_row(name, fn, shapes, domain="any", covers=()):
    """A row where ``fn(F, *inputs)`` reads the same in both libraries."""
    return Row(name, covers, lambda *a: fn(F, *a), lambda *a: fn(_tf(), *a), shapes, domain)


ROWS = [
    conv_row("conv2d_dilation", dict(dilation=2), ((2, 2, 7, 7), (3, 2, 3, 3), (3,))),
    conv_row("conv2d_dilation_pairs", dict(dilation=(2, 1), stride=(1, 2), padding=(2, 1)),
             ((1, 2, 6, 7), (2, 2, 2, 3)), ("Affine", "Pad")),
    conv_row("conv2d_groups", dict(groups=2), ((2, 4, 5, 5), (6, 2, 3, 3), (6,)),
             ("MatMul", "Add")),
    conv_row("conv2d_depthwise", dict(groups=3, padding=1), ((2, 3, 5, 4), (6, 1, 3, 3)),
             ("MatMul", "Pad")),
    conv_row("conv2d_groups_dilation_stride", dict(groups=2, dilation=2, stride=2, padding=2),
             ((1, 4, 7, 6), (2, 2, 3, 2), (2,)), ("MatMul", "Pad")),
    conv_row("conv2d_same", dict(padding="same"), ((2, 2, 5, 6), (3, 2, 3, 3), (3,)),
             ("Affine", "Pad")),
    conv_row("conv2d_same_even_dilated", dict(padding="same", dilation=(1, 2)),
             ((1, 2, 5, 6), (2, 2, 2, 4)), ("Affine", "Pad")),  # odd padding: more after
    conv_row("conv2d_valid", dict(padding="valid"), ((2, 2, 5, 4), (3, 2, 2, 3), (3,))),
    conv_row("conv1d", dict(stride=2, padding=1), ((2, 3, 9), (4, 3, 3), (4,)),
             ("Affine", "Pad"), conv="conv1d"),
    conv_row("conv1d_same_dilated_depthwise", dict(padding="same", dilation=2, groups=3),
             ((2, 3, 8), (3, 1, 3)), ("MatMul", "Pad"), conv="conv1d"),
    conv_row("conv1d_valid_dilated", dict(padding="valid", dilation=3), ((1, 2, 10),
                                                                         (2, 2, 3), (2,)),
             conv="conv1d"),
    same_row("pad_reflect", lambda f, x: f.pad(x, (1, 2, 2, 1), mode="reflect"),
             ((2, 3, 4, 5),), covers=("GetItem",)),
    same_row("pad_replicate", lambda f, x: f.pad(x, (2, 1, 3, 0), mode="replicate"),
             ((2, 3, 2, 3),), covers=("GetItem",)),
    same_row("pad_circular", lambda f, x: f.pad(x, (1, 2, 2, 2), mode="circular"),
             ((1, 2, 3, 4),), covers=("GetItem",)),
    same_row("pad_reflect_1d", lambda f, x: f.pad(x, (2, 1), mode="reflect"), ((2, 3, 5),),
             covers=("GetItem",)),
    same_row("pad_constant_value", lambda f, x: f.pad(x, (1, 2, 0, 1), value=0.5),
             ((2, 3, 4),), covers=("Pad",)),
    same_row("conv2d_reflect_padding_mode",  # nn.Conv2d(padding_mode='reflect')'s forward
             lambda f, x, w: f.conv2d(f.pad(x, (1, 1, 2, 2), mode="reflect"), w),
             ((2, 2, 4, 5), (3, 2, 5, 3)), covers=("GetItem", "Unfold", "Fold")),
    # pooling: "distinct" keeps every window's maximum away from ties
    same_row("max_pool2d_padding", lambda f, x: f.max_pool2d(x, 3, 2, padding=1),
             ((2, 2, 7, 6),), "distinct", ("MaxPool2d", "Pad")),
    same_row("max_pool2d_ceil_mode", lambda f, x: f.max_pool2d(x, 2, ceil_mode=True),
             ((2, 2, 5, 7),), "distinct", ("MaxPool2d", "Pad")),
    same_row("max_pool2d_dilation", lambda f, x: f.max_pool2d(x, 2, 1, dilation=2),
             ((1, 2, 6, 6),), "distinct", ("MaxPool2d", "Fold")),
    same_row("max_pool2d_all_options",
             lambda f, x: f.max_pool2d(x, (3, 2), (2, 1), (1, 1), (1, 2), ceil_mode=True),
             ((1, 2, 7, 8),), "distinct", ("MaxPool2d", "Pad", "Fold")),
    same_row("max_pool1d", lambda f, x: f.max_pool1d(x, 3, 2, padding=1, ceil_mode=True),
             ((2, 3, 8),), "distinct", ("MaxPool2d", "Pad")),
    same_row("avg_pool2d_padding", lambda f, x: f.avg_pool2d(x, 3, 2, padding=1),
             ((2, 2, 5, 6),), covers=("Unfold", "Pad", "Sum")),
    same_row("avg_pool2d_padding_excluded",
             lambda f, x: f.avg_pool2d(x, 3, 2, padding=1, count_include_pad=False),
             ((2, 2, 5, 6),), covers=("Unfold", "Pad", "Div")),
    same_row("avg_pool2d_ceil_mode", lambda f, x: f.avg_pool2d(x, 2, ceil_mode=True),
             ((1, 2, 5, 7),), covers=("Unfold", "Pad", "Div")),
    same_row("avg_pool2d_ceil_padding_excluded",
             lambda f, x: f.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
             ((1, 2, 6, 7),), covers=("Unfold", "Pad", "Div")),
    same_row("avg_pool2d_divisor_override",
             lambda f, x: f.avg_pool2d(x, (2, 3), padding=1, divisor_override=4),
             ((2, 1, 4, 6),), covers=("Unfold", "Div")),
    same_row("avg_pool1d",
             lambda f, x: f.avg_pool1d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
             ((2, 3, 8),), covers=("Unfold", "Div")),
    same_row("adaptive_avg_pool2d", lambda f, x: f.adaptive_avg_pool2d(x, (3, 2)),
             ((2, 2, 7, 5),), covers=("MatMul", "Div")),
    same_row("adaptive_avg_pool2d_global", lambda f, x: f.adaptive_avg_pool2d(x, 1),
             ((2, 3, 4, 4),), covers=("MatMul",)),
    same_row("adaptive_avg_pool2d_none_upsizing",
             lambda f, x: f.adaptive_avg_pool2d(x, (None, 7)), ((1, 2, 3, 4),),
             covers=("MatMul",)),
    same_row("adaptive_max_pool2d", lambda f, x: f.adaptive_max_pool2d(x, (3, 4)),
             ((2, 2, 7, 5),), "distinct", ("GetItem",)),
    same_row("adaptive_max_pool2d_upsizing", lambda f, x: f.adaptive_max_pool2d(x, 5),
             ((1, 2, 3, 4),), "distinct", ("GetItem",)),
    same_row("interpolate_nearest_2x", lambda f, x: f.interpolate(x, scale_factor=2),
             ((2, 2, 3, 4),), covers=("GetItem",)),
    same_row("interpolate_nearest_size", lambda f, x: f.interpolate(x, size=(5, 7)),
             ((1, 2, 3, 4),), covers=("GetItem",)),
    same_row("interpolate_nearest_fraction", lambda f, x: f.interpolate(x, scale_factor=1.7),
             ((1, 2, 4, 3),), covers=("GetItem",)),
    same_row("interpolate_nearest_exact_down",
             lambda f, x: f.interpolate(x, size=(3, 4), mode="nearest-exact"),
             ((1, 2, 5, 7),), covers=("GetItem",)),
    same_row("interpolate_nearest_1d", lambda f, x: f.interpolate(x, scale_factor=2.5),
             ((2, 3, 5),), covers=("GetItem",)),
    # normalization
    same_row("batch_norm_ncl",
             lambda f, x, w, b: f.batch_norm(x, None, None, w, b, training=True),
             ((4, 3, 5), (3,), (3,)), covers=("BatchNorm",)),
    same_row("batch_norm_no_affine",
             lambda f, x: f.batch_norm(x, None, None, training=True), ((4, 3, 2, 2),),
             covers=("BatchNorm",)),
    Row("batch_norm_eval", ("Sub", "Mul", "Add"),  # float64 statistics, cast as x's dtype
        lambda x, w, b: F.batch_norm(x, RUNNING_MEAN, RUNNING_VAR, w, b),
        lambda x, w, b: _tf().batch_norm(x, _t(RUNNING_MEAN).to(x.dtype),
                                         _t(RUNNING_VAR).to(x.dtype), w, b),
        ((5, 3, 4), (3,), (3,))),
    same_row("layer_norm", lambda f, x, w, b: f.layer_norm(x, (4,), w, b),
             ((3, 4), (4,), (4,)), covers=("Sum", "Sqrt", "Div")),
    same_row("layer_norm_two_axes_no_affine", lambda f, x: f.layer_norm(x, (3, 4)),
             ((2, 3, 4),), covers=("Sum", "Sqrt", "Div")),
    same_row("group_norm", lambda f, x, w, b: f.group_norm(x, 2, w, b),
             ((3, 4, 2, 3), (4,), (4,)), covers=("Sum", "Sqrt", "Div", "Reshape")),
    same_row("group_norm_3d_no_affine", lambda f, x: f.group_norm(x, 3), ((2, 6, 5),),
             covers=("Sum", "Sqrt", "Div")),
    same_row("group_norm_per_channel", lambda f, x, w: f.group_norm(x, 4, w),
             ((2, 4, 3), (4,)), covers=("Sum", "Mul")),
]
