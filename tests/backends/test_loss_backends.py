"""Every loss, and the adaptive pools, on PyTorch tensors and array-api-strict arrays (on its
non-default device, where a hidden move to NumPy raises) equal the NumPy result, value and
gradients, with every option; float32 stays float32; labels stay on their device (one host
read per call, of a few numbers); bad input gets the same typed errors as on NumPy."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import _backend as B
from chainrule.nn import functional as F

from ..ops.backends import BACKENDS, host, put

pytest.importorskip("torch")
pytest.importorskip("array_api_strict")

T4 = np.array([1, 3, 0, 3])
T4_IGNORED = np.array([1, -100, 0, 3])
W5 = np.array([1.0, 0.25, 2.0, 0.5, 3.0])
T_ND = np.array([[[0, 3], [2, 2], [1, 0]], [[3, 1], [-100, 2], [0, 1]]])  # (2, 3, 2), 4 classes
W4 = np.array([0.5, 2.0, 1.0, 1.5])
B45 = (np.arange(20).reshape(4, 5) % 2).astype(np.float64)
P45 = np.linspace(0.05, 0.95, 20).reshape(4, 5)

# name -> (loss of x, x's shape); every constant is NumPy's, as a user passes labels
LOSSES = {
    "ce": (lambda x: F.cross_entropy(x, T4), (4, 5)),
    "ce_none": (lambda x: F.cross_entropy(x, T4, reduction="none"), (4, 5)),
    "ce_weight": (lambda x: F.cross_entropy(x, T4, weight=W5), (4, 5)),
    "ce_ignored_sum": (lambda x: F.cross_entropy(x, T4_IGNORED, reduction="sum"), (4, 5)),
    "ce_ignore_index_0": (lambda x: F.cross_entropy(x, T4, ignore_index=0), (4, 5)),
    "ce_all_ignored": (lambda x: F.cross_entropy(x, np.full(4, -100)), (4, 5)),
    "ce_smoothing_weight_ignored": (
        lambda x: F.cross_entropy(x, T4_IGNORED, weight=W5, label_smoothing=0.2), (4, 5)),
    "ce_smoothing_none": (
        lambda x: F.cross_entropy(x, T4, label_smoothing=0.1, reduction="none"), (4, 5)),
    "ce_probabilities": (lambda x: F.cross_entropy(x, P45 / P45.sum(1, keepdims=True)),
                         (4, 5)),
    "ce_probabilities_weight_smoothing": (
        lambda x: F.cross_entropy(x, P45, weight=W5, label_smoothing=0.3, reduction="sum"),
        (4, 5)),
    "ce_nd_weight_ignored": (lambda x: F.cross_entropy(x, T_ND, weight=W4), (2, 4, 3, 2)),
    "ce_nd_none": (lambda x: F.cross_entropy(x, np.where(T_ND < 0, 1, T_ND),
                                             reduction="none"), (2, 4, 3, 2)),
    "ce_unbatched": (lambda x: F.cross_entropy(x, np.array(2)), (5,)),
    "nll": (lambda x: F.nll_loss(F.log_softmax(x, axis=1), T4), (4, 5)),
    "nll_weight_ignored": (lambda x: F.nll_loss(x, T4_IGNORED, weight=W5), (4, 5)),
    "nll_ignored_none": (lambda x: F.nll_loss(x, T4_IGNORED, reduction="none"), (4, 5)),
    "nll_all_ignored": (lambda x: F.nll_loss(x, np.full(4, -100), reduction="sum"), (4, 5)),
    "nll_nd_weight": (lambda x: F.nll_loss(x, T_ND, weight=W4), (2, 4, 3, 2)),
    "kl_div_batchmean": (lambda x: F.kl_div(F.log_softmax(x, axis=1), P45,
                                            reduction="batchmean"), (4, 5)),
    "kl_div_log_target": (lambda x: F.kl_div(x, np.log(P45), log_target=True,
                                             reduction="sum"), (4, 5)),
    "bce_logits": (lambda x: F.binary_cross_entropy_with_logits(x * 30, B45), (4, 5)),
    "bce_logits_soft_none": (
        lambda x: F.binary_cross_entropy_with_logits(x, P45, reduction="none"), (4, 5)),
    "bce_logits_weight_pos_weight": (
        lambda x: F.binary_cross_entropy_with_logits(x, B45, weight=P45, pos_weight=W5),
        (4, 5)),
    "bce_logits_row_weight_sum": (
        lambda x: F.binary_cross_entropy_with_logits(x, B45, weight=W4.reshape(4, 1),
                                                     reduction="sum"), (4, 5)),
    "bce": (lambda x: F.binary_cross_entropy(x.sigmoid(), P45), (4, 5)),
    "bce_weight_none": (lambda x: F.binary_cross_entropy(x.sigmoid(), B45, weight=W5,
                                                         reduction="none"), (4, 5)),
    "bce_saturated": (lambda x: F.binary_cross_entropy((x * 100).sigmoid(), B45,
                                                       reduction="sum"), (4, 5)),
    "adaptive_avg": (lambda x: F.adaptive_avg_pool2d(x, (3, 2)), (2, 3, 5, 4)),
    "adaptive_avg_upsizing": (lambda x: F.adaptive_avg_pool2d(x, (None, 7)), (1, 2, 3, 4)),
    "adaptive_max": (lambda x: F.adaptive_max_pool2d(x, (3, 4)), (2, 3, 5, 7)),
    "adaptive_max_global": (lambda x: F.adaptive_max_pool2d(x, 1), (2, 3, 4, 4)),
    "adaptive_max_upsizing": (lambda x: F.adaptive_max_pool2d(x, 5), (1, 2, 3, 4)),
}
CASES = [pytest.param(name, backend, id=f"{backend}-{name}") for backend in BACKENDS
         for name in LOSSES]


def _run(fn, x: np.ndarray, backend: str | None):
    t = cr.tensor(x if backend is None else put(x, backend), requires_grad=True)
    y = fn(t)
    g = np.random.default_rng(1).standard_normal(tuple(y.shape)).astype(x.dtype)
    y.backward(g if backend is None else put(g, backend))
    return y, t.grad


@pytest.mark.parametrize(("name", "backend"), CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_equals_numpy_value_and_gradient(name, backend, dtype):
    fn, shape = LOSSES[name]
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    want, want_grad = _run(fn, x, None)
    got, grad = _run(fn, x, backend)
    assert got.backend == backend and grad.backend == backend
    assert B.dtype_name(got.dtype) == B.dtype_name(grad.dtype) == np.dtype(dtype).name
    assert tuple(got.shape) == want.shape and tuple(grad.shape) == want_grad.shape
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(host(got.data), want.data, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(host(grad.data), want_grad.data, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["ce_weight", "ce_smoothing_weight_ignored",
                                  "nll_weight_ignored", "bce_logits_weight_pos_weight",
                                  "ce_probabilities", "bce", "adaptive_max"])
def test_gradcheck_float64(name, backend):
    fn, shape = LOSSES[name]
    x = cr.tensor(put(np.random.default_rng(2).standard_normal(shape), backend),
                  requires_grad=True)
    assert cr.gradcheck(fn, [x])
    assert cr.gradgradcheck(fn, [x])


@pytest.mark.parametrize("backend", BACKENDS)
def test_labels_on_the_device_give_the_same_loss(backend):
    x = np.random.default_rng(3).standard_normal((4, 5))
    want = F.cross_entropy(cr.tensor(x), T4_IGNORED, weight=W5, label_smoothing=0.1)
    labels = put(T4_IGNORED, backend)
    for t in (labels, cr.tensor(labels)):  # a raw array and a tensor of the library
        got = F.cross_entropy(cr.tensor(put(x, backend)), t, weight=put(W5, backend),
                              label_smoothing=0.1)
        np.testing.assert_allclose(host(got.data), want.data, rtol=1e-12)
        got = F.nll_loss(cr.tensor(put(x, backend)), t, weight=cr.tensor(put(W5, backend)))
        np.testing.assert_allclose(host(got.data),
                                   F.nll_loss(cr.tensor(x), T4_IGNORED, weight=W5).data,
                                   rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_one_host_read_per_loss_and_none_for_the_pools(backend, monkeypatch):
    reads = []
    to_numpy = B.to_numpy
    monkeypatch.setattr(B, "to_numpy", lambda a: reads.append(a) or to_numpy(a))
    x = cr.tensor(put(np.random.default_rng(4).standard_normal((4, 5)), backend),
                  requires_grad=True)
    for fn in (lambda: F.cross_entropy(x, T4_IGNORED, weight=W5, label_smoothing=0.1),
               lambda: F.cross_entropy(x, T4), lambda: F.nll_loss(x, T4_IGNORED, weight=W5)):
        reads.clear()
        fn().backward()
        assert len(reads) == 1 and tuple(reads[0].shape) == (4,)  # the labels' summary
    reads.clear()
    F.adaptive_max_pool2d(x.reshape(1, 1, 4, 5), (3, 2)).sum().backward()
    F.binary_cross_entropy_with_logits(x, B45).backward()
    assert reads == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_adaptive_max_pool_ties_and_nans_as_numpy(backend):
    x = np.array([[[[1.0, 3.0, 3.0, 0.0], [3.0, 2.0, np.nan, 5.0], [np.nan, 1.0, 5.0, 5.0],
                    [-np.inf, -np.inf, 2.0, np.inf]]]])
    want, want_grad = _run(lambda t: F.adaptive_max_pool2d(t, (2, 3)), x, None)
    got, grad = _run(lambda t: F.adaptive_max_pool2d(t, (2, 3)), x, backend)
    np.testing.assert_array_equal(host(got.data), want.data)
    np.testing.assert_array_equal(host(grad.data), want_grad.data)  # the same elements


@pytest.mark.parametrize("backend", BACKENDS)
def test_minus_inf_logits_with_no_target_weight_stay_finite(backend):
    x = np.array([[0.5, -np.inf, 1.0], [2.0, 0.0, -np.inf]])

    def fn(t):
        return F.cross_entropy(t, np.array([0, 1]), weight=np.array([1.0, 2.0, 0.5]))

    want, want_grad = _run(fn, x, None)
    got, grad = _run(fn, x, backend)
    assert np.isfinite(want.data).all()
    np.testing.assert_allclose(host(got.data), want.data, rtol=1e-12)
    np.testing.assert_allclose(host(grad.data), want_grad.data, rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_input_gets_the_numpy_paths_errors(backend):
    x = cr.tensor(put(np.zeros((4, 5)), backend), requires_grad=True)
    with pytest.raises(IndexError, match="target class 5 is out of range for 5 classes"):
        F.cross_entropy(x, np.array([1, 5, 0, 3]))
    with pytest.raises(IndexError, match="target class -2 is out of range"):
        F.nll_loss(x, put(np.array([1, -2, 0, 3]), backend))
    with pytest.raises(IndexError, match="target class 7 is out of range"):  # before take
        F.cross_entropy(x, put(np.array([7, 1, -100, 0]), backend), weight=W5)
    with pytest.raises(IndexError, match="target class -101 is out of range"):
        F.nll_loss(x, np.array([1, -101, 0, 3]), weight=W5, reduction="none")
    with pytest.raises(TypeError, match="integer class indices, got dtype float"):
        F.cross_entropy(x, np.zeros(4))
    with pytest.raises(cr.ShapeError, match=r"expected 4 targets of shape \(4,\)"):
        F.nll_loss(x, np.zeros(3, dtype=np.int64))
    with pytest.raises(cr.ShapeError, match=r"weight has shape \(4,\), expected \(5,\)"):
        F.cross_entropy(x, T4, weight=np.ones(4))
    with pytest.raises(ValueError, match="weight requires grad"):
        F.cross_entropy(x, T4, weight=cr.tensor(put(W5, backend), requires_grad=True))
    with pytest.raises(cr.ShapeError, match="pos_weight of shape"):
        F.binary_cross_entropy_with_logits(x, B45, pos_weight=np.ones(4))
    with pytest.raises(cr.ShapeError, match="logits .* and target .* differ"):
        F.binary_cross_entropy_with_logits(x, np.zeros((5, 4)))
    with pytest.raises(ValueError, match=r"every input value must be in \[0, 1\]"):
        F.binary_cross_entropy(x - 1, B45)
    with pytest.raises(ValueError, match=r"every target value must be in \[0, 1\]"):
        F.binary_cross_entropy(x.sigmoid(), B45 * 2)
    other = "torch" if backend != "torch" else "array_api_strict"
    with pytest.raises(cr.BackendError, match="two array libraries"):
        F.cross_entropy(x, put(T4, other))
