"""The op table on CuPy arrays on the GPU: the same harness and rows as the array-api-strict
and PyTorch runs (tests/ops/test_backends_optable.py), with ``backend="cupy"``."""

from __future__ import annotations

import pytest

from ..ops import test_backends_optable as table
from .gpu import cupy_or_skip

cupy_or_skip()

ROWS = table.ALL


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.id)
def test_gradcheck(row):
    table.test_gradcheck(row, "cupy")


@pytest.mark.parametrize("row", [r for r in ROWS if r.second_order], ids=lambda r: r.id)
def test_gradgradcheck(row):
    table.test_gradgradcheck(row, "cupy")


@pytest.mark.parametrize("row", [r for r in ROWS if r.torch_fn], ids=lambda r: r.id)
def test_matches_torch_float64(row):
    table.test_matches_torch_float64(row, "cupy")


@pytest.mark.parametrize("row", [r for r in ROWS if r.torch_fn], ids=lambda r: r.id)
def test_float32_stays_float32(row):
    table.test_float32_stays_float32(row, "cupy")
