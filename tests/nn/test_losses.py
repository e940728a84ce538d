"""The losses' options against torch.nn.functional: shapes and options drawn by hypothesis,
the edges PyTorch defines (nothing counted, zero weights, -inf logits, saturated
probabilities), the loss modules, the errors, and two threads."""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F

torch = pytest.importorskip("torch")
tf = torch.nn.functional


def _compare(fn, tfn, arrays, seed=0, rtol=1e-10, atol=1e-12):
    """Value and gradient of every input, chainrule against torch, float64."""
    mine = [cr.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, tout = fn(*mine), tfn(*theirs)
    assert out.shape == tuple(tout.shape)
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=rtol, atol=atol)
    g = np.random.default_rng(seed).standard_normal(out.shape)
    out.backward(g)
    tout.backward(torch.as_tensor(g))
    for m, t in zip(mine, theirs):
        np.testing.assert_allclose(m.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=atol)


@st.composite
def classification_cases(draw):
    n, c = draw(st.integers(1, 4)), draw(st.integers(1, 5))
    spatial = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    unbatched = not spatial and draw(st.booleans())
    shape = (c,) if unbatched else (n, c) + spatial
    options = {"reduction": draw(st.sampled_from(["mean", "sum", "none"]))}
    if draw(st.booleans()):
        options["weight"] = draw(st.lists(st.floats(0.1, 3.0), min_size=c, max_size=c))
    if draw(st.booleans()):
        options["label_smoothing"] = draw(st.floats(0.0, 1.0))
    probabilities = draw(st.booleans())
    ignore = None if probabilities else draw(st.sampled_from([None, -100, 0]))
    return shape, options, probabilities, ignore


@settings(max_examples=60, deadline=None)
@given(classification_cases(), st.integers(0, 2**16))
def test_cross_entropy_matches_torch_for_any_shape_and_options(case, seed):
    shape, options, probabilities, ignore = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 2
    c = shape[0] if len(shape) == 1 else shape[1]
    if probabilities:
        target = rng.dirichlet(np.ones(c), shape[:1] + shape[2:] if len(shape) > 1 else ())
        target = np.moveaxis(target, -1, 1 if len(shape) > 1 else 0)
        t_torch = torch.as_tensor(target)
    else:
        target = rng.integers(0, c, shape[:1] + shape[2:] if len(shape) > 1 else ())
        if ignore is not None:
            target = np.where(rng.random(target.shape) < 0.3, ignore, target)
            if ignore == -100 and target.ndim:  # some ignored, but keep one counted
                target.flat[0] = 0
            options = dict(options, ignore_index=ignore)
        t_torch = torch.as_tensor(target)
    torch_options = dict(options)
    if "weight" in options:
        torch_options["weight"] = torch.tensor(options["weight"], dtype=torch.float64)
        options = dict(options, weight=np.array(options["weight"]))
    _compare(lambda a: F.cross_entropy(a, target, **options),
             lambda a: tf.cross_entropy(a, t_torch, **torch_options), [x], seed)


@settings(max_examples=30, deadline=None)
@given(classification_cases(), st.integers(0, 2**16))
def test_nll_loss_matches_torch_for_any_shape_and_options(case, seed):
    shape, options, _, ignore = case
    options.pop("label_smoothing", None)
    rng = np.random.default_rng(seed)
    c = shape[0] if len(shape) == 1 else shape[1]
    target = rng.integers(0, c, shape[:1] + shape[2:] if len(shape) > 1 else ())
    if ignore is not None:
        target = np.where(rng.random(target.shape) < 0.3, ignore, target)
        if target.ndim:
            target.flat[0] = 1 if ignore == 0 and c > 1 else 0
        options["ignore_index"] = ignore
    torch_options = dict(options)
    if "weight" in options:
        torch_options["weight"] = torch.tensor(options["weight"], dtype=torch.float64)
        options["weight"] = np.array(options["weight"])
    x = rng.standard_normal(shape)
    _compare(lambda a: F.nll_loss(a, target, **options),
             lambda a: tf.nll_loss(a, torch.as_tensor(target), **torch_options), [x], seed)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("options", [{}, {"label_smoothing": 0.2},
                                     {"weight": np.array([1.0, 2.0, 0.5])}])
def test_mean_over_nothing_counted_is_nan_with_zero_gradients_as_torch(dtype, options):
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(dtype)
    target = np.full(4, -100)
    topts = {k: torch.as_tensor(v.astype(dtype)) if k == "weight" else v
             for k, v in options.items()}
    for fn, tfn in ((F.cross_entropy, tf.cross_entropy), (F.nll_loss, tf.nll_loss)):
        if fn is F.nll_loss and "label_smoothing" in options:
            continue
        logits = cr.tensor(x, requires_grad=True)
        tlogits = torch.tensor(x, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no RuntimeWarning from 0 / 0 either
            loss = fn(logits, target, **options)
            loss.backward()
        tloss = tfn(tlogits, torch.as_tensor(target), **topts)
        tloss.backward()
        assert np.isnan(loss.item()) and np.isnan(tloss.item())
        assert loss.dtype == dtype and logits.grad.dtype == dtype
        np.testing.assert_array_equal(logits.grad.numpy(), tlogits.grad.numpy())
        if fn is F.nll_loss:
            continue  # linear in its input: no second derivative to take
        # second order: the gradient of a mean over nothing is 0, its derivative too
        logits = cr.tensor(x, requires_grad=True)
        (grad,) = cr.autograd.grad(fn(logits, target, **options), logits, create_graph=True)
        np.testing.assert_array_equal(grad.numpy(), np.zeros_like(x))
        (grad * grad).sum().backward()
        np.testing.assert_array_equal(logits.grad.numpy(), np.zeros_like(x))


def test_counted_targets_of_zero_weight_give_nan_as_torch():
    x = np.random.default_rng(1).standard_normal((3, 4))
    w = np.array([0.0, 1.0, 1.0, 1.0])
    t = np.zeros(3, dtype=np.int64)
    for fn, tfn in ((F.cross_entropy, tf.cross_entropy), (F.nll_loss, tf.nll_loss)):
        logits, tlogits = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        loss, tloss = fn(logits, t, w), tfn(tlogits, torch.as_tensor(t), torch.as_tensor(w))
        loss.backward()
        tloss.backward()
        assert np.isnan(loss.item()) and np.isnan(tloss.item())
        assert np.isnan(logits.grad.numpy()).any()
        np.testing.assert_array_equal(logits.grad.numpy(), tlogits.grad.numpy())


def test_minus_inf_logits_off_target_stay_finite_as_torch():
    """Masked logits (-inf) where no target weight falls: 0 * -inf must not turn into NaN."""
    x = np.array([[0.5, -np.inf, 1.0], [-np.inf, 2.0, 0.0], [1.0, 1.0, -np.inf]])
    t = np.array([0, 1, -100])
    w = np.array([1.0, 2.0, 0.5])
    _compare(lambda a: F.cross_entropy(a, t, w), lambda a: tf.cross_entropy(
        a, torch.as_tensor(t), torch.as_tensor(w)), [x])
    _compare(lambda a: F.nll_loss(F.log_softmax(a, axis=1), t, w, reduction="sum"),
             lambda a: tf.nll_loss(tf.log_softmax(a, 1), torch.as_tensor(t),
                                   torch.as_tensor(w), reduction="sum"), [x])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy_at_saturated_probabilities_matches_torch(reduction):
    p = np.array([0.0, 1.0, 0.0, 1.0, 0.5, 1e-30])
    t = np.array([1.0, 0.0, 0.0, 1.0, 0.3, 1.0])
    _compare(lambda a: F.binary_cross_entropy(a, t, reduction=reduction),
                 lambda a: tf.binary_cross_entropy(a, torch.as_tensor(t),
                                                   reduction=reduction), [p])


def test_bce_with_logits_weights_are_stable_for_huge_logits():
    x = np.array([[-800.0, -30.0, 0.0, 30.0, 800.0]])
    t = np.array([[0.0, 1.0, 0.5, 0.0, 1.0]])
    pw = np.array([2.0, 0.5, 3.0, 1.0, 4.0])
    w = np.array([[0.5, 1.0, 2.0, 1.0, 0.1]])
    _compare(lambda a: F.binary_cross_entropy_with_logits(a, t, w, pos_weight=pw),
             lambda a: tf.binary_cross_entropy_with_logits(
                 a, torch.as_tensor(t), torch.as_tensor(w), pos_weight=torch.as_tensor(pw)),
             [x])


def test_kl_div_batchmean_is_the_divergence_per_sample_and_mean_warns():
    rng = np.random.default_rng(2)
    logp = F.log_softmax(cr.tensor(rng.standard_normal((4, 3))), axis=1)
    target = rng.dirichlet(np.ones(3), 4)
    total = F.kl_div(logp, target, reduction="sum")
    np.testing.assert_allclose(F.kl_div(logp, target, reduction="batchmean").item(),
                               total.item() / 4, rtol=1e-15)
    with pytest.warns(UserWarning, match="batchmean"):
        F.kl_div(logp, target)


def test_errors_name_what_is_wrong_and_help():
    x = cr.randn(3, 4)
    cases = [
        (IndexError, r"cross_entropy: target class 7 is out of range for 4 classes .*help",
         lambda: F.cross_entropy(x, np.array([0, 7, -100]))),
        (IndexError, r"nll_loss: target class -2 is out of range for 4 classes",
         lambda: F.nll_loss(x, np.array([0, -2, 1]))),
        (IndexError, r"target class -100 is out of range .*ignore_index=0",
         lambda: F.cross_entropy(x, np.array([0, -100, 1]), ignore_index=0)),
        (TypeError, r"integer class indices.*probabilities \(floats\) must have the input's "
         r"shape \(3, 4\)", lambda: F.cross_entropy(x, np.array([0.0, 1.0, 2.0]))),
        (cr.ShapeError, r"expected 6 targets of shape \(3, 2\) .*got shape \(3,\).*help",
         lambda: F.cross_entropy(cr.randn(3, 4, 2), np.array([0, 1, 2]))),
        (cr.ShapeError, r"weight has shape \(3,\), expected \(4,\).*help",
         lambda: F.cross_entropy(x, np.array([0, 1, 2]), weight=np.ones(3))),
        (ValueError, r"weight requires grad.*help: pass weight.detach\(\)",
         lambda: F.nll_loss(x, np.array([0, 1, 2]), cr.ones(4, requires_grad=True))),
        (ValueError, r"label_smoothing must be in \[0, 1\]",
         lambda: F.cross_entropy(x, np.array([0, 1, 2]), label_smoothing=1.5)),
        (ValueError, r"ignore_index applies to class-index targets.*help",
         lambda: F.cross_entropy(x, np.full((3, 4), 0.25), ignore_index=0)),
        (cr.ShapeError, r"the input must have a class axis.*help",
         lambda: F.cross_entropy(cr.tensor(1.0), np.array(0))),
        (cr.ShapeError, r"pos_weight of shape \(3,\) does not broadcast .*help",
         lambda: F.binary_cross_entropy_with_logits(x, np.zeros((3, 4)), pos_weight=np.ones(3))),
        (cr.ShapeError, r"logits \(3, 4\) and target \(3,\) differ. help",
         lambda: F.binary_cross_entropy_with_logits(x, np.zeros(3))),
        (ValueError, r"binary_cross_entropy: every input value must be in \[0, 1\].*help",
         lambda: F.binary_cross_entropy(x, np.zeros((3, 4)))),
        (ValueError, r"every target value must be in \[0, 1\]",
         lambda: F.binary_cross_entropy(x.sigmoid(), np.full((3, 4), 2.0))),
        (ValueError, r"smooth_l1_loss: beta must be >= 0.*help",
         lambda: F.smooth_l1_loss(x, x, beta=-1.0)),
        (ValueError, r"huber_loss: delta must be > 0.*help",
         lambda: F.huber_loss(x, x, delta=0.0)),
        (ValueError, r"kl_div: reduction must be one of .*'batchmean', got 'avg'",
         lambda: F.kl_div(x, x, reduction="avg")),
        (ValueError, r"l1_loss: reduction must be one of 'mean', 'sum', 'none', got "
         r"'batchmean'", lambda: F.l1_loss(x, x, reduction="batchmean")),
        (TypeError, r"got the reduction twice.*help",
         lambda: F.cross_entropy(x, np.array([0, 1, 2]), "sum", reduction="none")),
    ]
    for kind, message, call in cases:
        with pytest.raises(kind, match=message):
            call()


@pytest.mark.parametrize("fn", [F.mse_loss, F.l1_loss, F.smooth_l1_loss, F.huber_loss,
                                F.kl_div])
def test_elementwise_losses_never_broadcast_n_against_n_by_1(fn):
    """PyTorch warns and broadcasts (N,) against (N, 1) to (N, N): every pair compared."""
    with pytest.raises(cr.ShapeError, match=r"prediction \(5, 1\) and target \(5,\) differ.*"
                                            r"help: .*reshape\(-1, 1\)"):
        fn(cr.randn(5, 1), np.zeros(5))
    with pytest.raises(cr.ShapeError, match=r"prediction \(5,\) and target \(5, 1\)"):
        fn(cr.randn(5), cr.zeros(5, 1))


def test_elementwise_losses_keep_float32_with_float64_targets():
    pred = cr.tensor(np.full((3, 2), 0.25, np.float32), requires_grad=True)
    for fn in (F.l1_loss, F.smooth_l1_loss, F.huber_loss, F.kl_div, F.binary_cross_entropy):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loss = fn(pred, np.full((3, 2), 0.5))
        assert loss.dtype == np.float32, fn.__name__
        pred.grad = None
        loss.backward()
        assert pred.grad.dtype == np.float32, fn.__name__


def test_loss_modules_call_their_functions_with_their_options():
    rng = np.random.default_rng(3)
    x, p = cr.tensor(rng.standard_normal((4, 3))), cr.tensor(rng.standard_normal((4, 3)))
    t = np.array([2, -100, 0, 1])
    b = (rng.random((4, 3)) > 0.5).astype(np.float64)
    w, pw = np.array([0.5, 2.0, 1.0]), np.array([3.0, 1.0, 0.5])
    pairs = [
        (nn.CrossEntropyLoss(w, ignore_index=-100, label_smoothing=0.1, reduction="sum"),
         F.cross_entropy(x, t, w, label_smoothing=0.1, reduction="sum"), (x, t)),
        (nn.CrossEntropyLoss("none"), F.cross_entropy(x, t, reduction="none"), (x, t)),
        (nn.NLLLoss(weight=w, ignore_index=1), F.nll_loss(x, abs(t) % 3, w, ignore_index=1),
         (x, abs(t) % 3)),
        (nn.BCEWithLogitsLoss(w, pos_weight=pw), F.binary_cross_entropy_with_logits(
            x, b, w, pos_weight=pw), (x, b)),
        (nn.BCELoss(w, reduction="none"), F.binary_cross_entropy(x.sigmoid(), b, w, "none"),
         (x.sigmoid(), b)),
        (nn.L1Loss("sum"), F.l1_loss(x, p, "sum"), (x, p)),
        (nn.SmoothL1Loss(beta=0.3), F.smooth_l1_loss(x, p, beta=0.3), (x, p)),
        (nn.HuberLoss(delta=0.3), F.huber_loss(x, p, delta=0.3), (x, p)),
        (nn.KLDivLoss("batchmean", log_target=True), F.kl_div(x, p, "batchmean", True), (x, p)),
        (nn.MSELoss("none"), F.mse_loss(x, p, "none"), (x, p)),
    ]
    for module, expected, args in pairs:
        np.testing.assert_array_equal(module(*args).numpy(), expected.numpy(), str(module))


def test_loss_weights_are_buffers_as_in_torch():
    w = np.array([0.5, 2.0, 1.0])
    loss = nn.CrossEntropyLoss(weight=cr.tensor(w))
    assert list(loss.state_dict()) == ["weight"] and not list(loss.parameters())
    assert list(nn.CrossEntropyLoss().state_dict()) == []
    assert list(nn.BCEWithLogitsLoss(pos_weight=w).state_dict()) == ["pos_weight"]
    ref = torch.nn.CrossEntropyLoss(weight=torch.as_tensor(w))
    assert list(loss.state_dict()) == list(ref.state_dict())
    loss.to(np.float32)
    assert loss.weight.dtype == np.float32
    x = np.random.default_rng(4).standard_normal((3, 3))
    np.testing.assert_allclose(loss(cr.tensor(x), np.array([0, 1, 2])).item(),
                               ref(torch.as_tensor(x), torch.tensor([0, 1, 2])).item(),
                               rtol=1e-6)
    with pytest.raises(ValueError, match="CrossEntropyLoss: label_smoothing"):
        nn.CrossEntropyLoss(label_smoothing=-0.1)
    with pytest.raises(ValueError, match="KLDivLoss: reduction must be"):
        nn.KLDivLoss("avg")


def test_losses_from_two_threads_agree_with_one():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((64, 10))
    t = np.where(rng.random(64) < 0.2, -100, rng.integers(0, 10, 64))
    w = rng.uniform(0.5, 2.0, 10)

    def run():
        logits = cr.tensor(x, requires_grad=True)
        loss = F.cross_entropy(logits, t, w, label_smoothing=0.1)
        loss.backward()
        return loss.item(), logits.grad.numpy()

    want = run()
    results, errors = [], []

    def worker():
        try:
            for _ in range(20):
                results.append(run())
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors and len(results) == 40
    for value, grad in results:
        assert value == want[0]
        np.testing.assert_array_equal(grad, want[1])
