"""The vectorized float32 erf behind GELU: correctly rounded where we can check it all."""

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.ops.numerics import erf_float32


def _correctly_rounded(x: np.ndarray) -> np.ndarray:
    return np.array([math.erf(float(v)) for v in x]).astype(np.float32)


def test_matches_math_erf_rounded_to_float32_on_a_dense_grid():
    x = np.linspace(-6, 6, 400_001, dtype=np.float32)
    got = erf_float32(x)
    want = _correctly_rounded(x)
    assert got.dtype == np.float32
    ulps = np.abs(got.astype(np.float64) - want) / np.spacing(np.abs(want))
    assert ulps.max() <= 1  # 0 on this grid when written; one ulp of slack for libm


def test_tiny_arguments_keep_their_relative_accuracy():
    x = np.float32(10) ** np.linspace(-38, -1, 2001, dtype=np.float32)
    x = np.concatenate([x, -x])
    got, want = erf_float32(x), _correctly_rounded(x)
    np.testing.assert_allclose(got, want, rtol=2e-7, atol=0)


@pytest.mark.parametrize("v", [0.0, -0.0, 4.0, -4.0, 7.5, 1e30, -np.inf, np.inf])
def test_special_values(v):
    got = erf_float32(np.array([v], dtype=np.float32))[0]
    assert got == np.float32(math.erf(v))
    assert math.copysign(1, got) == math.copysign(1, v)


def test_nan_stays_nan():
    assert np.isnan(erf_float32(np.array([np.nan], dtype=np.float32))[0])


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_gelu_keeps_its_dtype_and_agrees_with_the_float64_path(dtype):
    x = np.random.default_rng(0).standard_normal((16, 8)).astype(dtype)
    got = cr.nn.functional.gelu(cr.tensor(x)).data
    exact = cr.nn.functional.gelu(cr.tensor(x.astype(np.float64))).data
    assert got.dtype == dtype
    tol = {np.float16: 1e-3, np.float32: 1e-6, np.float64: 0}[dtype]
    np.testing.assert_allclose(got, exact.astype(dtype), rtol=tol, atol=tol)


def test_float32_gelu_forward_and_gradient_match_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(1).standard_normal((64, 32)).astype(np.float32) * 3
    t = cr.tensor(x, requires_grad=True)
    y = cr.nn.functional.gelu(t)
    (y * y).sum().backward()
    tt = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.gelu(tt)
    (ty * ty).sum().backward()
    assert y.dtype == np.float32 and t.grad.dtype == np.float32
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(t.grad.data, tt.grad.numpy(), rtol=1e-5, atol=1e-5)
