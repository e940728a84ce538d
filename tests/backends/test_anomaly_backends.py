"""``cr.detect_anomaly()`` on another library's arrays: the check runs where the arrays
live (one bool read per op; on array-api-strict's non-default device any hidden move to
NumPy would raise), and the error names the op, the line and the values, as on NumPy."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr

from ..ops.backends import BACKENDS, device, put


def _leaf(values, backend):
    return cr.tensor(put(np.array(values, dtype=np.float32), backend), requires_grad=True)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():  # the libraries' own divide-by-zero warnings
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


@pytest.mark.parametrize("backend", BACKENDS)
def test_forward_names_the_op_the_line_and_the_inputs(backend):
    x = _leaf([1.0, 0.0, -1.0], backend)
    with pytest.raises(cr.AnomalyError) as info, cr.detect_anomaly():
        x.log()
    message = str(info.value)
    assert "Log produced NaN and Inf in its output from finite inputs" in message
    assert "test_anomaly_backends.py" in message
    assert "input 0: shape (3,), range [-1, 1]" in message


@pytest.mark.parametrize("backend", BACKENDS)
def test_backward_names_the_op_whose_derivative_is_infinite(backend):
    x = _leaf([1.0, 0.0, 4.0], backend)
    with pytest.raises(cr.AnomalyError) as info, cr.detect_anomaly():
        x.sqrt().sum().backward()
    message = str(info.value)
    assert "the backward of Sqrt produced Inf in the gradient for input 0" in message
    assert "test_anomaly_backends.py" in message
    assert "Saved for backward: y: shape (3,), range [0, 2]" in message


@pytest.mark.parametrize("backend", BACKENDS)
def test_finite_values_pass_and_give_the_same_gradients(backend):
    def grads(anomaly):
        x = _leaf([0.5, 2.0, 3.0], backend)
        with cr.detect_anomaly(anomaly):
            (x.sqrt() * x.log()).sum().backward()
        return x.grad

    checked, plain = grads(True), grads(False)
    assert checked.backend == backend and str(checked.device) == str(device(backend) or "cpu")
    assert np.array_equal(checked.numpy(), plain.numpy())
