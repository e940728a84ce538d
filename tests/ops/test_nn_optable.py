"""Runs the nn rows (nn_optable.py) through the op-table harness of test_optable.py:
float64 gradcheck of first and second derivatives, float32 kept float32, and
torch.nn.functional as the oracle for values and gradients."""

from __future__ import annotations

import pytest

from .nn_optable import ROWS
from .test_optable import test_float32_stays_float32 as float32_stays_float32
from .test_optable import test_gradcheck as gradcheck_row
from .test_optable import test_gradgradcheck as gradgradcheck_row
from .test_optable import test_matches_torch_float64 as matches_torch_float64

pytest.importorskip("torch")


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.id)
def test_gradcheck(row):
    gradcheck_row(row)


@pytest.mark.parametrize("row", [r for r in ROWS if r.second_order], ids=lambda r: r.id)
def test_gradgradcheck(row):
    gradgradcheck_row(row)


@pytest.mark.parametrize("row", [r for r in ROWS if r.torch_fn], ids=lambda r: r.id)
def test_matches_torch_float64(row):
    matches_torch_float64(row)


@pytest.mark.parametrize("row", [r for r in ROWS if r.torch_fn], ids=lambda r: r.id)
def test_float32_stays_float32(row):
    float32_stays_float32(row)
