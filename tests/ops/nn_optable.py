"""Op-table rows for nn.functional and the fused primitives in chainrule.ops.

Same ``Row`` and harness as optable.py: float64 gradcheck (first and second order),
float32 kept, and PyTorch's torch.nn.functional as the oracle.
"""

from __future__ import annotations

import numpy as np

import chainrule as cr
import chainrule.nn.functional as F

from .nn_conv_optable import ROWS as CONV_ROWS
from .optable import Row


def _tf():
    import torch.nn.functional as tf

    return tf


def _t(a):
    import torch

    return torch.as_tensor(a)


T3 = np.array([2, 0, 1])  # class targets for (3, C) logits
T4 = np.array([1, 3, 0, 3])
T4_TENSOR = cr.tensor(np.array([0, 2, 2, 1], dtype=np.int32))  # targets as an int tensor
B34 = (np.arange(12).reshape(3, 4) % 2).astype(np.float64)  # binary targets
P34 = np.linspace(0.05, 0.95, 12).reshape(3, 4)  # soft targets (probabilities)
W4 = np.array([0.5, 2.0, 1.0, 1.5])  # class weights for 4 classes
W5 = np.array([1.0, 0.25, 2.0, 0.5, 3.0])
T4_IGNORED = np.array([1, -100, 0, 3])  # -100: PyTorch's default ignore_index
T4_NONE_COUNTS = np.full(4, -100)
T_ND = np.array([[[0, 3], [2, 2], [1, 0]], [[3, 1], [-100, 2], [0, 1]]])  # (2, 3, 2), 4 classes
T_ND_COUNTED = np.where(T_ND < 0, 1, T_ND)
P_ND = np.random.default_rng(9).dirichlet(np.ones(4), (2, 3, 2)).transpose(0, 3, 1, 2)
POS_W4 = np.array([3.0, 0.5, 1.0, 2.0])  # pos_weight, one per column
ROW_W3 = np.array([[0.5], [2.0], [1.0]])  # a weight per row, broadcast along the columns


def _ce(x, t, **kw):
    return F.cross_entropy(x, t, **kw)


def _like(a, x):
    """A constant as a torch tensor, floats in x's dtype (torch refuses to mix them)."""
    if a is None:
        return None
    a = _t(a)
    return a.to(x.dtype) if a.is_floating_point() else a


def _tce(x, t, weight=None, **kw):
    return _tf().cross_entropy(x, _like(t, x), _like(weight, x), **kw)


def _tnll(x, t, weight=None, **kw):
    return _tf().nll_loss(x, _like(t, x), _like(weight, x), **kw)


def _tbce_logits(x, t, weight=None, pos_weight=None, **kw):
    return _tf().binary_cross_entropy_with_logits(
        x, _like(t, x), _like(weight, x), pos_weight=_like(pos_weight, x), **kw)


def _tbce(p, t, weight=None, **kw):
    return _tf().binary_cross_entropy(p, _like(t, p), _like(weight, p), **kw)


def _tkl(a, b, **kw):
    import warnings

    with warnings.catch_warnings():  # its 'mean' warning, which chainrule's tests check
        warnings.simplefilter("ignore")
        return _tf().kl_div(a, b, **kw)


def _kl(a, b, **kw):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return F.kl_div(a, b, **kw)


def sync_bn(x, w, b, weighting=1.0):
    from chainrule.nn.sync_batchnorm import sync_batch_norm

    return sync_batch_norm(x, w, b, 1e-5, weighting)[0]


def all_reduce_sum(x, weight=1.0):
    from chainrule.nn.sync_batchnorm import all_reduce_sum

    return all_reduce_sum(x, weight)


def bn(x, w, b, axes):
    from chainrule.ops.norm import batch_norm

    return batch_norm(x, w, b, axes, 1e-5)[0]


ROWS = [
    Row("linear", ("Linear",), lambda x, w, b: F.linear(x, w, b),
        lambda x, w, b: _tf().linear(x, w, b), ((4, 3), (5, 3), (5,))),
    Row("linear_nobias_batched", ("Linear",), lambda x, w: F.linear(x, w),
        lambda x, w: _tf().linear(x, w), ((2, 4, 3), (5, 3))),
    Row("linear_1d_input", ("Linear",), lambda x, w, b: F.linear(x, w, b),
        lambda x, w, b: _tf().linear(x, w, b), ((3,), (2, 3), (2,))),
    # 16-32 rows into a wide layer: in float32 Linear takes its other GEMM orientation
    # (ops/linalg.py), exercised by these rows' float32 checks and test_linear_orientation.py
    Row("linear_16_rows_wide", ("Linear",), lambda x, w, b: F.linear(x, w, b),
        lambda x, w, b: _tf().linear(x, w, b), ((16, 3), (128, 3), (128,))),
    Row("linear_32_rows_wide_nobias", ("Linear",), lambda x, w: F.linear(x, w),
        lambda x, w: _tf().linear(x, w), ((32, 2), (130, 2))),
    Row("relu", ("Relu",), lambda x: F.relu(x), lambda x: _tf().relu(x), ((3, 4),), "nonzero"),
    Row("sigmoid_tanh", ("Sigmoid", "Tanh"), lambda x: F.tanh(F.sigmoid(x)),
        lambda x: _tf().sigmoid(x).tanh(), ((3, 4),)),
    Row("log_softmax", ("LogSoftmax", "Exp"), lambda x: F.log_softmax(x, axis=1),
        lambda x: _tf().log_softmax(x, dim=1), ((3, 5),)),
    Row("log_softmax_3d_axis0", ("LogSoftmax",), lambda x: F.log_softmax(x, axis=0),
        lambda x: _tf().log_softmax(x, dim=0), ((3, 2, 4),)),
    Row("softmax_axis0", ("LogSoftmax", "Exp"), lambda x: F.softmax(x, axis=0),
        lambda x: _tf().softmax(x, dim=0), ((3, 5),)),
    Row("softmax_last", ("LogSoftmax", "Exp"), lambda x: F.softmax(x),
        lambda x: _tf().softmax(x, dim=-1), ((2, 3, 4),)),
    Row("cross_entropy_mean", ("CrossEntropy", "LogSoftmax"), lambda x: F.cross_entropy(x, T3),
        lambda x: _tf().cross_entropy(x, _t(T3)), ((3, 4),)),
    Row("cross_entropy_sum", ("CrossEntropy", "LogSoftmax"),
        lambda x: F.cross_entropy(x, T4, reduction="sum"),
        lambda x: _tf().cross_entropy(x, _t(T4), reduction="sum"), ((4, 5),)),
    Row("cross_entropy_none", ("CrossEntropy", "LogSoftmax"),
        lambda x: F.cross_entropy(x, T4, reduction="none"),
        lambda x: _tf().cross_entropy(x, _t(T4), reduction="none"), ((4, 5),)),
    Row("cross_entropy_huge_logits", ("CrossEntropy",),
        lambda x: F.cross_entropy(x * 1e4, T3), lambda x: _tf().cross_entropy(x * 1e4, _t(T3)),
        ((3, 4),), "distinct", second_order=False),
    Row("cross_entropy_int_tensor_targets", ("CrossEntropy",),
        lambda x: F.cross_entropy(x, T4_TENSOR),
        lambda x: _tf().cross_entropy(x, _t(T4_TENSOR.numpy()).long()), ((4, 3),)),
    Row("nll_loss", ("GetItem", "LogSoftmax"),
        lambda x: F.nll_loss(F.log_softmax(x, axis=1), T3),
        lambda x: _tf().nll_loss(_tf().log_softmax(x, dim=1), _t(T3)), ((3, 4),)),
    Row("nll_loss_sum", ("GetItem",), lambda x: F.nll_loss(x, T4, reduction="sum"),
        lambda x: _tf().nll_loss(x, _t(T4), reduction="sum"), ((4, 5),)),
    Row("nll_loss_none", ("GetItem",), lambda x: F.nll_loss(x, T4, reduction="none"),
        lambda x: _tf().nll_loss(x, _t(T4), reduction="none"), ((4, 5),)),
    Row("bce_with_logits", ("BCEWithLogits", "Sigmoid"),
        lambda x: F.binary_cross_entropy_with_logits(x, B34),
        lambda x: _tf().binary_cross_entropy_with_logits(x, _t(B34)), ((3, 4),)),
    Row("bce_with_logits_none", ("BCEWithLogits", "Sigmoid"),
        lambda x: F.binary_cross_entropy_with_logits(x * 30, B34, reduction="none"),
        lambda x: _tf().binary_cross_entropy_with_logits(x * 30, _t(B34), reduction="none"),
        ((3, 4),)),
    Row("bce_with_logits_soft_sum", ("BCEWithLogits",),
        lambda x: F.binary_cross_entropy_with_logits(x, P34, reduction="sum"),
        lambda x: _tf().binary_cross_entropy_with_logits(x, _t(P34), reduction="sum"),
        ((3, 4),)),
    Row("mse_loss", ("MSELoss",), lambda a, b: F.mse_loss(a, b),
        lambda a, b: _tf().mse_loss(a, b), ((3, 4), (3, 4))),
    Row("mse_loss_sum", ("MSELoss",), lambda a, b: F.mse_loss(a, b, reduction="sum"),
        lambda a, b: _tf().mse_loss(a, b, reduction="sum"), ((5,), (5,))),
    Row("mse_loss_none", ("MSELoss",), lambda a, b: F.mse_loss(a, b, reduction="none"),
        lambda a, b: _tf().mse_loss(a, b, reduction="none"), ((2, 3), (2, 3))),
    # --- loss options (issue 19): weights, ignore_index, smoothing, probabilities, N-d ---
    Row("cross_entropy_weight", ("SoftCrossEntropy",), lambda x: _ce(x, T4, weight=W5),
        lambda x: _tce(x, T4, weight=W5), ((4, 5),)),
    Row("cross_entropy_weight_sum", ("SoftCrossEntropy",),
        lambda x: _ce(x, T4, weight=W5, reduction="sum"),
        lambda x: _tce(x, T4, weight=W5, reduction="sum"), ((4, 5),)),
    Row("cross_entropy_weight_none", ("SoftCrossEntropy",),
        lambda x: _ce(x, T4, weight=W5, reduction="none"),
        lambda x: _tce(x, T4, weight=W5, reduction="none"), ((4, 5),)),
    Row("cross_entropy_ignore_index", ("SoftCrossEntropy",), lambda x: _ce(x, T4_IGNORED),
        lambda x: _tce(x, T4_IGNORED), ((4, 5),)),
    Row("cross_entropy_ignore_index_custom_none", ("SoftCrossEntropy",),
        lambda x: _ce(x, T4, ignore_index=3, reduction="none"),
        lambda x: _tce(x, T4, ignore_index=3, reduction="none"), ((4, 5),)),
    Row("cross_entropy_all_ignored_sum", ("SoftCrossEntropy",),
        lambda x: _ce(x, T4_NONE_COUNTS, weight=W5, reduction="sum", label_smoothing=0.2),
        lambda x: _tce(x, T4_NONE_COUNTS, weight=W5, reduction="sum", label_smoothing=0.2),
        ((4, 5),)),
    Row("cross_entropy_all_ignored_none", ("SoftCrossEntropy",),
        lambda x: _ce(x, T4_NONE_COUNTS, reduction="none"),
        lambda x: _tce(x, T4_NONE_COUNTS, reduction="none"), ((4, 5),)),
    Row("cross_entropy_smoothing", ("SoftCrossEntropy",),
        lambda x: _ce(x, T3, label_smoothing=0.1), lambda x: _tce(x, T3, label_smoothing=0.1),
        ((3, 4),)),
    Row("cross_entropy_smoothing_weight_ignore", ("SoftCrossEntropy",),
        lambda x: _ce(x, T4_IGNORED, weight=W5, label_smoothing=0.3),
        lambda x: _tce(x, T4_IGNORED, weight=W5, label_smoothing=0.3), ((4, 5),)),
    Row("cross_entropy_smoothing_weight_none", ("SoftCrossEntropy",),
        lambda x: _ce(x, T4_IGNORED, weight=W5, label_smoothing=0.3, reduction="none"),
        lambda x: _tce(x, T4_IGNORED, weight=W5, label_smoothing=0.3, reduction="none"),
        ((4, 5),)),
    Row("cross_entropy_huge_logits_weight_ignore", ("SoftCrossEntropy",),
        lambda x: _ce(x * 1e4, T4_IGNORED, weight=W5, label_smoothing=0.1),
        lambda x: _tce(x * 1e4, T4_IGNORED, weight=W5, label_smoothing=0.1), ((4, 5),),
        "distinct", second_order=False),
    Row("cross_entropy_probabilities", ("SoftCrossEntropy",), lambda x: _ce(x, P34),
        lambda x: _tce(x, P34), ((3, 4),)),
    Row("cross_entropy_probabilities_weight_smoothing_sum", ("SoftCrossEntropy",),
        lambda x: _ce(x, P34, weight=W4, label_smoothing=0.2, reduction="sum"),
        lambda x: _tce(x, P34, weight=W4, label_smoothing=0.2, reduction="sum"), ((3, 4),)),
    Row("cross_entropy_probabilities_differentiable", ("SoftCrossEntropy", "Mul", "Add"),
        lambda x, p: _ce(x, p, label_smoothing=0.1, reduction="none"),
        lambda x, p: _tf().cross_entropy(x, p, label_smoothing=0.1, reduction="none"),
        ((3, 4), (3, 4))),
    Row("cross_entropy_nd", ("CrossEntropy", "Transpose", "Reshape"),
        lambda x: _ce(x, T_ND_COUNTED), lambda x: _tce(x, T_ND_COUNTED), ((2, 4, 3, 2),)),
    Row("cross_entropy_nd_none", ("CrossEntropy", "Transpose", "Reshape"),
        lambda x: _ce(x, T_ND_COUNTED, reduction="none"),
        lambda x: _tce(x, T_ND_COUNTED, reduction="none"), ((2, 4, 3, 2),)),
    Row("cross_entropy_nd_weight_ignore", ("SoftCrossEntropy", "Transpose"),
        lambda x: _ce(x, T_ND, weight=W4), lambda x: _tce(x, T_ND, weight=W4),
        ((2, 4, 3, 2),)),
    Row("cross_entropy_nd_weight_smoothing_none", ("SoftCrossEntropy", "Reshape"),
        lambda x: _ce(x, T_ND, weight=W4, label_smoothing=0.2, reduction="none"),
        lambda x: _tce(x, T_ND, weight=W4, label_smoothing=0.2, reduction="none"),
        ((2, 4, 3, 2),)),
    Row("cross_entropy_nd_probabilities", ("SoftCrossEntropy", "Transpose"),
        lambda x: _ce(x, P_ND, weight=W4), lambda x: _tce(x, P_ND, weight=W4),
        ((2, 4, 3, 2),)),
    Row("cross_entropy_unbatched", ("CrossEntropy",), lambda x: _ce(x, np.array(2)),
        lambda x: _tce(x, np.array(2)), ((5,),)),
    Row("nll_loss_weight_ignore", ("GetItem", "Mul", "Where"),
        lambda x: F.nll_loss(x, T4_IGNORED, weight=W5),
        lambda x: _tnll(x, T4_IGNORED, weight=W5), ((4, 5),)),
    Row("nll_loss_weight_sum", ("GetItem", "Mul"),
        lambda x: F.nll_loss(x, T4, weight=W5, reduction="sum"),
        lambda x: _tnll(x, T4, weight=W5, reduction="sum"), ((4, 5),)),
    Row("nll_loss_ignore_none", ("GetItem", "Where"),
        lambda x: F.nll_loss(x, T4_IGNORED, reduction="none"),
        lambda x: _tnll(x, T4_IGNORED, reduction="none"), ((4, 5),)),
    Row("nll_loss_all_ignored_sum", ("GetItem", "Where"),
        lambda x: F.nll_loss(x, T4_NONE_COUNTS, reduction="sum"),
        lambda x: _tnll(x, T4_NONE_COUNTS, reduction="sum"), ((4, 5),)),
    Row("nll_loss_nd_weight", ("GetItem", "Transpose"),
        lambda x: F.nll_loss(F.log_softmax(x, axis=1), T_ND, weight=W4),
        lambda x: _tnll(_tf().log_softmax(x, dim=1), T_ND, weight=W4), ((2, 4, 3, 2),)),
    Row("bce_with_logits_pos_weight", ("WeightedBCEWithLogits", "Sigmoid"),
        lambda x: F.binary_cross_entropy_with_logits(x, B34, pos_weight=POS_W4),
        lambda x: _tbce_logits(x, B34, pos_weight=POS_W4), ((3, 4),)),
    Row("bce_with_logits_weight_pos_weight_none", ("WeightedBCEWithLogits",),
        lambda x: F.binary_cross_entropy_with_logits(x * 30, P34, ROW_W3, reduction="none",
                                                     pos_weight=POS_W4),
        lambda x: _tbce_logits(x * 30, P34, ROW_W3, reduction="none", pos_weight=POS_W4),
        ((3, 4),)),
    Row("bce_with_logits_weight_sum", ("WeightedBCEWithLogits",),
        lambda x: F.binary_cross_entropy_with_logits(x, B34, W4, reduction="sum"),
        lambda x: _tbce_logits(x, B34, W4, reduction="sum"), ((3, 4),)),
    Row("binary_cross_entropy", ("BinaryCrossEntropy", "Sigmoid"),
        lambda x: F.binary_cross_entropy(F.sigmoid(x), P34),
        lambda x: _tbce(x.sigmoid(), P34), ((3, 4),)),
    Row("binary_cross_entropy_weight_none", ("BinaryCrossEntropy", "Maximum"),
        lambda x: F.binary_cross_entropy(F.sigmoid(x), B34, ROW_W3, reduction="none"),
        lambda x: _tbce(x.sigmoid(), B34, ROW_W3, reduction="none"), ((3, 4),)),
    Row("binary_cross_entropy_weight_sum", ("BinaryCrossEntropy",),
        lambda x: F.binary_cross_entropy(F.sigmoid(x), B34, W4, reduction="sum"),
        lambda x: _tbce(x.sigmoid(), B34, W4, reduction="sum"), ((3, 4),)),
    Row("l1_loss", ("Abs", "Sub"), lambda a, b: F.l1_loss(a, b),
        lambda a, b: _tf().l1_loss(a, b), ((3, 4), (3, 4))),
    Row("l1_loss_sum_constant_target", ("Abs",), lambda a: F.l1_loss(a, P34, reduction="sum"),
        lambda a: _tf().l1_loss(a, _t(P34), reduction="sum"), ((3, 4),)),
    Row("l1_loss_none", ("Abs",), lambda a, b: F.l1_loss(a, b, reduction="none"),
        lambda a, b: _tf().l1_loss(a, b, reduction="none"), ((2, 3), (2, 3))),
    Row("smooth_l1_loss", ("Where", "Abs"), lambda a, b: F.smooth_l1_loss(a, b),
        lambda a, b: _tf().smooth_l1_loss(a, b), ((3, 4), (3, 4))),
    Row("smooth_l1_loss_beta_none", ("Where",),
        lambda a, b: F.smooth_l1_loss(a, b, reduction="none", beta=0.5),
        lambda a, b: _tf().smooth_l1_loss(a, b, reduction="none", beta=0.5),
        ((3, 4), (3, 4))),
    Row("smooth_l1_loss_beta0_sum", ("Abs",),
        lambda a, b: F.smooth_l1_loss(a, b, reduction="sum", beta=0.0),
        lambda a, b: _tf().smooth_l1_loss(a, b, reduction="sum", beta=0.0), ((3, 4), (3, 4))),
    Row("huber_loss", ("Where", "Abs"), lambda a, b: F.huber_loss(a, b),
        lambda a, b: _tf().huber_loss(a, b), ((3, 4), (3, 4))),
    Row("huber_loss_delta_sum", ("Where",),
        lambda a, b: F.huber_loss(a, b, reduction="sum", delta=0.4),
        lambda a, b: _tf().huber_loss(a, b, reduction="sum", delta=0.4), ((3, 4), (3, 4))),
    Row("huber_loss_delta_none", ("Where",),
        lambda a, b: F.huber_loss(a, b, reduction="none", delta=2.0),
        lambda a, b: _tf().huber_loss(a, b, reduction="none", delta=2.0), ((3, 4), (3, 4))),
    Row("kl_div_batchmean", ("LogSoftmax", "Mul"),
        lambda x: _kl(F.log_softmax(x, axis=1), P34, reduction="batchmean"),
        lambda x: _tkl(_tf().log_softmax(x, dim=1), _t(P34), reduction="batchmean"),
        ((3, 4),)),
    Row("kl_div_mean_differentiable_target", ("Log", "Where", "Mul"),
        lambda x, y: _kl(F.log_softmax(x, axis=1), F.softmax(y, axis=1)),
        lambda x, y: _tkl(_tf().log_softmax(x, dim=1), _tf().softmax(y, dim=1)),
        ((3, 4), (3, 4))),
    Row("kl_div_zero_target_sum", ("Where",),
        lambda x: _kl(F.log_softmax(x, axis=1), B34 / 2, reduction="sum"),
        lambda x: _tkl(_tf().log_softmax(x, dim=1), _t(B34 / 2), reduction="sum"), ((3, 4),)),
    Row("kl_div_log_target_none", ("Exp", "Sub"),
        lambda x, y: _kl(F.log_softmax(x, axis=1), F.log_softmax(y, axis=1), reduction="none",
                         log_target=True),
        lambda x, y: _tkl(_tf().log_softmax(x, dim=1), _tf().log_softmax(y, dim=1),
                          reduction="none", log_target=True), ((3, 4), (3, 4))),
    Row("gelu", ("Erf", "Exp"), lambda x: F.gelu(x), lambda x: _tf().gelu(x), ((3, 4),)),
    Row("gelu_tanh", ("Tanh",), lambda x: F.gelu(x, approximate="tanh"),
        lambda x: _tf().gelu(x, approximate="tanh"), ((3, 4),)),
    Row("leaky_relu", ("Where",), lambda x: F.leaky_relu(x, 0.1),
        lambda x: _tf().leaky_relu(x, 0.1), ((3, 4),), "nonzero"),
    Row("leaky_relu_default", ("Where",), lambda x: F.leaky_relu(x),
        lambda x: _tf().leaky_relu(x), ((2, 5),), "nonzero"),
    Row("conv2d", ("Unfold", "Fold", "Affine", "Reshape", "Transpose"),
        lambda x, w, b: F.conv2d(x, w, b), lambda x, w, b: _tf().conv2d(x, w, b),
        ((2, 3, 5, 5), (4, 3, 3, 3), (4,))),
    Row("conv2d_stride_pad", ("Unfold", "Fold", "Affine", "Pad"),
        lambda x, w: F.conv2d(x, w, stride=2, padding=1),
        lambda x, w: _tf().conv2d(x, w, stride=2, padding=1), ((2, 2, 5, 6), (3, 2, 3, 2))),
    Row("conv2d_pairs_bias", ("Unfold", "Fold", "Pad"),
        lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=(1, 2)),
        lambda x, w, b: _tf().conv2d(x, w, b, stride=(2, 1), padding=(1, 2)),
        ((1, 2, 6, 4), (2, 2, 2, 3), (2,))),
    Row("conv2d_1x1", ("Unfold", "Fold"), lambda x, w: F.conv2d(x, w),
        lambda x, w: _tf().conv2d(x, w), ((2, 3, 2, 3), (4, 3, 1, 1))),
    Row("max_pool2d", ("MaxPool2d", "Fold"), lambda x: F.max_pool2d(x, 2),
        lambda x: _tf().max_pool2d(x, 2), ((2, 3, 4, 6),), "distinct"),
    Row("max_pool2d_overlap", ("MaxPool2d", "Fold"), lambda x: F.max_pool2d(x, 3, stride=2),
        lambda x: _tf().max_pool2d(x, 3, stride=2), ((1, 2, 7, 7),), "distinct"),
    Row("max_pool2d_rect_uncovered", ("MaxPool2d",),
        lambda x: F.max_pool2d(x, (2, 3), stride=(1, 2)),
        lambda x: _tf().max_pool2d(x, (2, 3), stride=(1, 2)), ((2, 1, 4, 6),), "distinct"),
    Row("avg_pool2d", ("Unfold", "Sum"), lambda x: F.avg_pool2d(x, 2),
        lambda x: _tf().avg_pool2d(x, 2), ((2, 3, 4, 6),)),
    Row("avg_pool2d_overlap", ("Unfold", "Fold"), lambda x: F.avg_pool2d(x, 3, stride=2),
        lambda x: _tf().avg_pool2d(x, 3, stride=2), ((1, 2, 7, 6),)),
    Row("batch_norm_train", ("BatchNorm",),
        lambda x, w, b: bn(x, w, b, (0, 2, 3)),
        lambda x, w, b: _tf().batch_norm(x, None, None, w, b, training=True),
        ((4, 3, 2, 2), (3,), (3,))),
    Row("batch_norm_1d", ("BatchNorm",), lambda x, w, b: bn(x, w, b, (0,)),
        lambda x, w, b: _tf().batch_norm(x, None, None, w, b, training=True),
        ((5, 3), (3,), (3,))),
    # In the test process (a world of 1) the synchronised statistics are the batch's own:
    # PyTorch's batch_norm is the oracle; tests/distributed checks them across ranks.
    Row("sync_batch_norm_2d", ("BatchNormSync", "AllReduceSum"),
        lambda x, w, b: sync_bn(x, w, b, weighting=4.0),
        lambda x, w, b: _tf().batch_norm(x, None, None, w, b, training=True),
        ((4, 3, 2, 2), (3,), (3,))),
    Row("sync_batch_norm_1d", ("BatchNormSync", "AllReduceSum"), lambda x, w, b: sync_bn(x, w, b),
        lambda x, w, b: _tf().batch_norm(x, None, None, w, b, training=True),
        ((5, 3), (3,), (3,))),
    Row("all_reduce_sum_weighted", ("AllReduceSum",), lambda x: all_reduce_sum(x, 3.0),
        lambda x: x * 1, ((2, 3),)),
]
ROWS += CONV_ROWS  # conv, pooling and normalization options: nn_conv_optable.py
