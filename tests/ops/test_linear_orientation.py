"""Linear's other GEMM orientation (float32, 16-32 rows into a wide layer) gives the same
values and gradients as the usual one."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F


@pytest.mark.parametrize("rows", [15, 16, 24, 32, 33])
@pytest.mark.parametrize("bias", [True, False])
def test_float32_linear_matches_float64_on_both_sides_of_the_window(rows, bias):
    rng = np.random.default_rng(rows)
    x = rng.standard_normal((rows, 40))
    w = rng.standard_normal((130, 40))
    b = rng.standard_normal(130) if bias else None

    def run(dtype):
        xt = cr.tensor(x.astype(dtype), requires_grad=True)
        wt = cr.tensor(w.astype(dtype), requires_grad=True)
        bt = cr.tensor(b.astype(dtype), requires_grad=True) if bias else None
        y = F.linear(xt, wt, bt)
        assert y.data.flags.c_contiguous and y.dtype == dtype
        (y * y).sum().backward()
        return [y.data, xt.grad.data, wt.grad.data] + ([bt.grad.data] if bias else [])

    for got, want in zip(run(np.float32), run(np.float64)):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-3)
