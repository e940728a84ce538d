"""The losses and adaptive pools on CuPy arrays on the GPU: the checks of
tests/backends/test_loss_backends.py (NumPy's values and gradients, float32 kept, labels on
the device with one host read, the same errors) with ``backend="cupy"``."""

from __future__ import annotations

import numpy as np
import pytest

from ..backends import test_loss_backends as losses
from .gpu import cupy_or_skip

cupy_or_skip()


@pytest.mark.parametrize("name", list(losses.LOSSES))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_equals_numpy_value_and_gradient(name, dtype):
    losses.test_equals_numpy_value_and_gradient(name, "cupy", dtype)


def test_labels_on_the_device_give_the_same_loss():
    losses.test_labels_on_the_device_give_the_same_loss("cupy")


def test_one_host_read_per_loss_and_none_for_the_pools(monkeypatch):
    losses.test_one_host_read_per_loss_and_none_for_the_pools("cupy", monkeypatch)


def test_adaptive_max_pool_ties_and_nans_as_numpy():
    losses.test_adaptive_max_pool_ties_and_nans_as_numpy("cupy")


def test_bad_input_gets_the_numpy_paths_errors():
    losses.test_bad_input_gets_the_numpy_paths_errors("cupy")
