"""The conv, pooling and resizing options against torch.nn.functional over shapes drawn by
hypothesis (strides, dilations, groups, padding, ceil mode), and their error messages."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import chainrule as cr
import chainrule.nn.functional as F

torch = pytest.importorskip("torch")
tf = torch.nn.functional


def check_against_torch(fn, tfn, arrays, seed=0, rtol=1e-7, atol=1e-10):
    """fn and tfn on the same float64 arrays: equal values and gradients."""
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
def conv_cases(draw, dims=2):
    groups = draw(st.integers(1, 3))
    c, o = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    k = [draw(st.integers(1, 3)) for _ in range(dims)]
    d = [draw(st.integers(1, 3)) for _ in range(dims)]
    kind = draw(st.sampled_from(["ints", "same", "valid"]))
    s = [1] * dims if kind == "same" else [draw(st.integers(1, 3)) for _ in range(dims)]
    p = [draw(st.integers(0, 2)) for _ in range(dims)] if kind == "ints" else [0] * dims
    sizes = [draw(st.integers(max(1, di * (ki - 1) + 1 - 2 * pi), 9))
             for ki, di, pi in zip(k, d, p)]
    one = draw(st.booleans())  # an int where all axes agree, as users write it

    def arg(v):
        return v[0] if one and len(set(v)) == 1 else tuple(v)

    return dict(x=(draw(st.integers(1, 2)), c, *sizes), w=(o, c // groups, *k),
                bias=draw(st.booleans()), stride=arg(s), dilation=arg(d), groups=groups,
                padding=kind if kind != "ints" else arg(p))


def _conv_check(case, seed, conv, tconv):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(case["x"]), rng.standard_normal(case["w"])]
    if case["bias"]:
        arrays.append(rng.standard_normal(case["w"][0]))
    kw = {k: case[k] for k in ("stride", "padding", "dilation", "groups")}
    check_against_torch(lambda *a: conv(*a, **kw), lambda *a: tconv(*a, **kw), arrays, seed)


@settings(max_examples=60, deadline=None)
@given(conv_cases(), st.integers(0, 2**16))
def test_conv2d_options_match_torch_for_any_shape(case, seed):
    _conv_check(case, seed, F.conv2d, tf.conv2d)


@settings(max_examples=30, deadline=None)
@given(conv_cases(dims=1), st.integers(0, 2**16))
def test_conv1d_options_match_torch_for_any_shape(case, seed):
    _conv_check(case, seed, F.conv1d, tf.conv1d)


@st.composite
def pool_cases(draw, dilated=True):
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if dilated else (1, 1)
    span = [di * (ki - 1) + 1 for ki, di in zip(k, d)]
    p = tuple(draw(st.integers(0, ki // 2)) for ki in k)
    s = draw(st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    hw = [draw(st.integers(max(1, sp - 2 * pi), 8)) for sp, pi in zip(span, p)]
    return (draw(st.integers(1, 2)), draw(st.integers(1, 2)), *hw), k, s, p, d


@settings(max_examples=60, deadline=None)
@given(pool_cases(), st.integers(0, 2**16), st.booleans(), st.booleans())
def test_max_pool2d_options_match_torch_for_any_shape(case, seed, ceil_mode, ties):
    shape, k, s, p, d = case
    rng = np.random.default_rng(seed)
    # ties: few distinct values, so windows tie; the first maximum must win, as torch's
    x = rng.integers(-2, 3, shape).astype(np.float64) if ties else rng.standard_normal(shape)
    # NOTE: with dilation a window can hold padding only: its maximum is -inf and no input
    # element made it, yet PyTorch's kernel sends its gradient to some element. chainrule
    # sends it nowhere (test_a_window_of_padding_only_passes_no_gradient); compare the rest.
    assume(np.isfinite(tf.max_pool2d(torch.tensor(x), k, s, p, d, ceil_mode).numpy()).all())
    check_against_torch(lambda a: F.max_pool2d(a, k, s, p, d, ceil_mode),
                        lambda a: tf.max_pool2d(a, k, s, p, d, ceil_mode), [x], seed)


@settings(max_examples=60, deadline=None)
@given(pool_cases(dilated=False), st.integers(0, 2**16), st.booleans(), st.booleans(),
       st.sampled_from([None, 1, 5]))
def test_avg_pool2d_options_match_torch_for_any_shape(case, seed, ceil_mode, include, divisor):
    shape, k, s, p, _ = case
    x = np.random.default_rng(seed).standard_normal(shape)
    check_against_torch(lambda a: F.avg_pool2d(a, k, s, p, ceil_mode, include, divisor),
                        lambda a: tf.avg_pool2d(a, k, s, p, ceil_mode, include, divisor), [x],
                        seed)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 9), st.integers(1, 3), st.integers(1, 3), st.integers(0, 1),
       st.booleans(), st.integers(0, 2**16))
def test_pool1d_options_match_torch_for_any_shape(n, k, s, p, ceil_mode, seed):
    assume(p <= k // 2 and n + 2 * p >= k)
    x = np.random.default_rng(seed).standard_normal((2, 2, n))
    check_against_torch(lambda a: F.max_pool1d(a, k, s, p, 1, ceil_mode),
                        lambda a: tf.max_pool1d(a, k, s, p, 1, ceil_mode), [x], seed)
    check_against_torch(lambda a: F.avg_pool1d(a, k, s, p, ceil_mode, False),
                        lambda a: tf.avg_pool1d(a, k, s, p, ceil_mode, False), [x], seed)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 9), st.integers(1, 9), st.integers(1, 6), st.one_of(st.none(),
       st.integers(1, 6)), st.integers(0, 2**16), st.booleans())
def test_adaptive_pools_match_torch_for_any_shape(h, w, oh, ow, seed, ties):
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, (2, 2, h, w)).astype(np.float64) if ties else \
        rng.standard_normal((2, 2, h, w))
    size = (oh, ow)
    check_against_torch(lambda a: F.adaptive_avg_pool2d(a, size),
                        lambda a: tf.adaptive_avg_pool2d(a, size), [x], seed)
    check_against_torch(lambda a: F.adaptive_max_pool2d(a, size),
                        lambda a: tf.adaptive_max_pool2d(a, size), [x], seed)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 7), st.integers(1, 7), st.one_of(
    st.tuples(st.integers(1, 12), st.integers(1, 12)).map(lambda s: dict(size=s)),
    st.floats(0.3, 3.5).map(lambda f: dict(scale_factor=round(f, 2))),
    st.tuples(st.floats(0.5, 3), st.floats(0.5, 3)).map(
        lambda f: dict(scale_factor=(round(f[0], 1), round(f[1], 1))))),
    st.sampled_from(["nearest", "nearest-exact"]), st.integers(0, 2**16))
def test_interpolate_nearest_matches_torch_for_any_size(h, w, how, mode, seed):
    assume("size" in how or min(int(h * np.min(how["scale_factor"])),
                                int(w * np.min(how["scale_factor"]))) >= 1)
    x = np.random.default_rng(seed).standard_normal((1, 2, h, w))
    check_against_torch(lambda a: F.interpolate(a, mode=mode, **how),
                        lambda a: tf.interpolate(a, mode=mode, **how), [x], seed)


@pytest.mark.parametrize("shape", [(2, 2, 2), (1, 2, 3, 2, 4)], ids=["1d", "3d"])
@pytest.mark.parametrize("factor", [1.3, 2.2, 0.6, 1.02])
def test_interpolate_nearest_1d_and_3d_match_torch_and_their_own_gradient(shape, factor):
    """Values as PyTorch's (whose 1-d and 3-d kernels take no shortcut at an output of the
    input's size or twice it). NOTE: there PyTorch's backward does take it, so its gradient
    disagrees with its own forward (torch.autograd.gradcheck fails on factor 1.3); the
    gradient here is the derivative of the forward, checked by finite differences."""
    x = np.random.default_rng(0).standard_normal(shape)
    k = len(shape) - 2
    out = F.interpolate(cr.tensor(x), scale_factor=(factor,) * k).numpy()
    expected = tf.interpolate(torch.tensor(x), scale_factor=(factor,) * k).numpy()
    np.testing.assert_array_equal(out, expected)
    assert cr.gradcheck(lambda a: F.interpolate(a, scale_factor=(factor,) * k),
                        [cr.tensor(x, requires_grad=True)])


def test_max_pool_padding_never_takes_the_gradient():
    """A window whose real elements are all -inf: its maximum is -inf, tied by the -inf
    padding; the gradient goes to the first real element, as PyTorch's."""
    x = np.full((1, 1, 3, 3), -np.inf)
    x[0, 0, 2, 2] = 1.0
    check_against_torch(lambda a: F.max_pool2d(a, 3, 1, padding=1),
                        lambda a: tf.max_pool2d(a, 3, 1, padding=1), [x])
    check_against_torch(lambda a: F.max_pool2d(a, 2, ceil_mode=True),
                        lambda a: tf.max_pool2d(a, 2, ceil_mode=True), [x])


def test_a_window_of_padding_only_passes_no_gradient():
    """Dilation 2 over one column padded by 1 on each side: the window's taps are both
    padding. Its maximum is -inf, as PyTorch's, and no element of x gets its gradient."""
    x = cr.tensor(np.ones((1, 1, 2, 1)), requires_grad=True)
    y = F.max_pool2d(x, (1, 2), padding=(0, 1), dilation=(1, 2), ceil_mode=True)
    tx = torch.ones((1, 1, 2, 1))
    np.testing.assert_array_equal(
        y.numpy(), tf.max_pool2d(tx, (1, 2), padding=(0, 1), dilation=(1, 2),
                                 ceil_mode=True).numpy())
    assert np.isneginf(y.numpy()).all()
    y.backward(np.ones(y.shape))
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((1, 1, 2, 1)))


def test_adaptive_max_pool_propagates_nan_like_torch():
    x = np.arange(30, dtype=np.float64).reshape(1, 1, 5, 6)
    x[0, 0, 0, 1] = x[0, 0, 1, 0] = np.nan  # two in the first bin: torch routes to the last
    mine = cr.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    out, tout = F.adaptive_max_pool2d(mine, (2, 3)), tf.adaptive_max_pool2d(theirs, (2, 3))
    np.testing.assert_array_equal(out.numpy(), tout.detach().numpy())
    out.sum().backward()
    tout.sum().backward()
    np.testing.assert_array_equal(mine.grad.numpy(), theirs.grad.numpy())


def test_float32_stays_float32_through_the_options():
    rng = np.random.default_rng(1)
    x = cr.tensor(rng.standard_normal((2, 4, 9, 9)).astype(np.float32), requires_grad=True)
    w = cr.tensor(rng.standard_normal((4, 2, 3, 3)).astype(np.float32), requires_grad=True)
    h = F.conv2d(x, w, padding="same", dilation=2, groups=2)
    h = F.max_pool2d(h, 3, 2, padding=1, ceil_mode=True)
    h = F.avg_pool2d(F.pad(h, (1, 1, 1, 1), mode="reflect"), 3, 2, 1, True, False)
    h = F.interpolate(F.adaptive_avg_pool2d(h, (3, 2)), scale_factor=1.5)
    h = F.group_norm(F.adaptive_max_pool2d(h, 2), 2) + F.batch_norm(h[:, :, :2, :2], None,
                                                                    None, training=True)
    assert h.dtype == np.float32
    h.sum().backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32


def test_two_threads_get_the_same_results_as_one():
    """The ops keep no state between calls: two threads at once compute what one does."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 4, 8, 8))
    w = rng.standard_normal((4, 1, 3, 3))

    def run():
        xt, wt = cr.tensor(x, requires_grad=True), cr.tensor(w, requires_grad=True)
        h = F.conv2d(xt, wt, padding="same", groups=4, dilation=2)
        h = F.max_pool2d(h, 3, 2, padding=1, ceil_mode=True)
        y = F.interpolate(F.avg_pool2d(h, 2, ceil_mode=True, count_include_pad=False), size=5)
        y.sum().backward()
        return y.numpy(), xt.grad.numpy(), wt.grad.numpy()

    alone = run()
    results = [None, None]

    def worker(i):
        for _ in range(20):
            results[i] = run()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got in results:
        for a, b in zip(got, alone):
            np.testing.assert_array_equal(a, b)


ERRORS = [  # (call, exception, what the message says); every message carries a help
    (lambda: F.conv2d(cr.randn(1, 1, 4, 4), cr.randn(1, 1, 3, 3), dilation=2), cr.ShapeError,
     r"conv2d: the 3x3 kernel \(dilated: 5x5\) is larger than the padded input 4x4"),
    (lambda: F.conv1d(cr.randn(1, 1, 4), cr.randn(1, 1, 5)), cr.ShapeError,
     "conv1d: the 5 kernel is larger than the padded input 4"),
    (lambda: F.conv2d(cr.randn(1, 4, 5, 5), cr.randn(3, 2, 3, 3), groups=2), cr.ShapeError,
     r"conv2d: with groups=2 .* 3 output channels divisible by 2"),
    (lambda: F.conv2d(cr.randn(1, 3, 5, 5), cr.randn(4, 1, 3, 3), groups=2), cr.ShapeError,
     "input's 3 channels"),
    (lambda: F.conv2d(cr.randn(1, 2, 5, 5), cr.randn(2, 2, 3, 3), groups=0), ValueError,
     "conv2d: groups must be an int >= 1"),
    (lambda: F.conv2d(cr.randn(1, 1, 5, 5), cr.randn(1, 1, 3, 3), padding=-1), ValueError,
     "conv2d: padding must be an int >= 0"),
    (lambda: F.conv2d(cr.randn(1, 1, 5, 5), cr.randn(1, 1, 3, 3), stride=2, padding="same"),
     ValueError, "padding='same' is not supported for strided convolutions"),
    (lambda: F.conv2d(cr.randn(1, 1, 5, 5), cr.randn(1, 1, 3, 3), padding="full"), ValueError,
     "conv2d: padding must be an int, 2 ints, 'same' or 'valid'"),
    (lambda: F.conv1d(cr.randn(1, 1, 5, 5), cr.randn(1, 1, 3)), cr.ShapeError,
     r"conv1d: expected x \(N, C, L\)"),
    (lambda: F.conv2d(cr.randn(1, 1, 5, 5), cr.randn(1, 1, 3, 3), dilation=(1, 0)), ValueError,
     "conv2d: dilation must be an int >= 1"),
    (lambda: F.max_pool2d(cr.randn(1, 1, 5, 5), 3, padding=2), ValueError,
     r"max_pool2d: padding \(2, 2\) is more than half the window"),
    (lambda: F.avg_pool2d(cr.randn(1, 1, 5, 5), 2, padding=(0, 2)), ValueError,
     r"avg_pool2d: padding \(0, 2\) is more than half the window \(2, 2\)"),
    (lambda: F.avg_pool2d(cr.randn(1, 1, 5, 5), 2, divisor_override=0), ValueError,
     "divisor_override must be a nonzero int"),
    (lambda: F.max_pool2d(cr.randn(1, 1, 5, 5), 2, return_indices=True), ValueError,
     "return_indices=True is not supported"),
    (lambda: F.max_pool1d(cr.randn(1, 5, 5, 5), 2), cr.ShapeError,
     r"max_pool1d: expected \(N, C, L\)"),
    (lambda: F.max_pool2d(cr.randn(1, 1, 5, 5), 3, dilation=3), cr.ShapeError,
     "max_pool2d: window 3x3 is larger"),
    (lambda: F.adaptive_avg_pool2d(cr.randn(1, 1, 5, 5), 0), ValueError,
     "output_size must be an int >= 1"),
    (lambda: F.interpolate(cr.randn(1, 1, 4, 4), scale_factor=2, mode="bilinear"),
     ValueError, "mode 'bilinear' is not supported"),
    (lambda: F.interpolate(cr.randn(1, 1, 4, 4), scale_factor=2, align_corners=True),
     ValueError, "align_corners"),
    (lambda: F.interpolate(cr.randn(1, 1, 4, 4)), ValueError, "exactly one of size"),
    (lambda: F.interpolate(cr.randn(4, 4), size=2), cr.ShapeError, "interpolate: expected"),
    (lambda: F.pad(cr.randn(1, 1, 3, 3), (3, 0, 0, 0), mode="reflect"), cr.ShapeError,
     "mode='reflect' needs padding at most 2"),
    (lambda: F.pad(cr.randn(1, 1, 3), (4, 0), mode="circular"), cr.ShapeError,
     "mode='circular' needs padding at most 3"),
    (lambda: F.pad(cr.randn(1, 1, 3, 3), (1, 1), mode="reflect"), cr.ShapeError,
     "pads the last 1 axes of a 2-d or 3-d input"),
    (lambda: F.pad(cr.randn(3, 3), (1, -1)), ValueError, "negative padding"),
    (lambda: F.pad(cr.randn(3, 3), (1, 1), mode="wrap"), ValueError, "pad: mode must be"),
    (lambda: F.pad(cr.randn(3, 3), (1,)), ValueError, "an even number of ints"),
]


@pytest.mark.parametrize("call, exc, message", ERRORS, ids=[m for _, _, m in ERRORS])
def test_bad_input_gets_a_clear_error_with_help(call, exc, message):
    with pytest.raises(exc, match=message) as info:
        call()
    assert "help:" in str(info.value)
