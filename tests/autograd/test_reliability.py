"""Anomaly detection and in-place modification checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.errors import BackwardError

# NaN and Inf are made on purpose here; NumPy's warnings about them are expected.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def test_forward_nan_names_the_op_its_inputs_and_the_user_line():
    x = cr.tensor(np.array([1.0, -1.0, 4.0]), requires_grad=True)
    with cr.detect_anomaly():
        y = x * 2.0
        with pytest.raises(cr.AnomalyError) as info:
            y.sqrt()  # sqrt(-2) = NaN: this line must be named
    msg = str(info.value)
    assert "Sqrt produced NaN" in msg and "from finite inputs" in msg
    assert "test_reliability.py" in msg and "shape (3,)" in msg and "range [-2, 8]" in msg


def test_backward_inf_names_the_op():
    x = cr.tensor(np.array([0.0, 1.0]), requires_grad=True)
    with cr.detect_anomaly():
        y = x.sqrt().sum()  # finite forward, infinite derivative at 0
        with pytest.raises(cr.AnomalyError, match=r"backward of Sqrt produced Inf"):
            y.backward()


def test_planted_nan_in_a_custom_op_backward_is_located():
    class Leaky(cr.ops.core.Op):
        """y = x; dx = NaN where x > 1 (a deliberately broken vjp)."""

        def forward(self, x):
            self.save(x=x)
            return x.copy()

        def vjp(self, g):
            return np.where(self.x > 1, np.nan, g)

    try:
        x = cr.tensor(np.array([0.5, 2.0]), requires_grad=True)
        with cr.detect_anomaly():
            z = cr.ops.apply(Leaky, x.exp()).sum()
            with pytest.raises(cr.AnomalyError, match="backward of Leaky produced NaN"):
                z.backward()
        # Without the mode, the NaN reaches the gradient silently (what the mode is for).
        z = cr.ops.apply(Leaky, x.exp()).sum()
        z.backward()
        assert np.isnan(x.grad.numpy()).any()
    finally:
        cr.ops.PRIMITIVES.pop("Leaky")


def test_anomaly_mode_is_off_by_default_and_restored():
    assert not cr.is_anomaly_enabled()
    with cr.detect_anomaly():
        assert cr.is_anomaly_enabled()
    assert not cr.is_anomaly_enabled()
    y = cr.tensor([-1.0]).log()  # no error when off
    assert np.isnan(y.numpy()).all()


def test_in_place_change_of_a_saved_leaf_is_refused():
    w = cr.tensor(np.array([1.0, 2.0]), requires_grad=True)
    loss = (w * w).sum()
    with cr.no_grad():
        w.sub_(cr.tensor(np.array([0.1, 0.1])))  # like an optimizer step before backward
    with pytest.raises(BackwardError,
                       match=r"input 0 of Mul.*modified by an inplace operation.*at version 1 now"):
        loss.backward()


def test_in_place_change_of_an_unsaved_leaf_is_fine():
    w = cr.tensor(np.array([1.0, 2.0]), requires_grad=True)
    loss = (w + 1.0).sum()  # add saves nothing: its gradient does not depend on w
    with cr.no_grad():
        w.mul_(3.0)
    loss.backward()
    np.testing.assert_array_equal(w.grad.numpy(), [1.0, 1.0])


def test_a_leaf_whose_data_was_replaced_by_another_shape_is_named():
    w = cr.tensor(np.ones(3), requires_grad=True)
    loss = (w * 2.0).sum()
    w.data = np.ones(5)  # not an in-place change: the graph still holds the old shape
    with pytest.raises(BackwardError, match=r"shape \(3,\) when Mul used it and has shape "
                                            r"\(5,\) now: its .data was replaced"):
        loss.backward()


def test_in_place_on_a_leaf_requiring_grad_needs_no_grad():
    w = cr.tensor([1.0], requires_grad=True)
    with pytest.raises(BackwardError, match="no_grad"):
        w.add_(1.0)
    with cr.no_grad():
        w.add_(1.0).zero_()
    assert w.tolist() == [0.0] and w._version == 2


def test_plus_equals_in_the_graph_is_recorded_on_the_same_tensor():
    x = cr.tensor(np.array([1.0]), requires_grad=True)
    y = x * 2
    y_before = y
    y += 1  # in place, as PyTorch: the same tensor, its grad_fn now the update
    assert y is y_before and y.grad_fn.name == "Add"
    y *= y  # saved by nothing earlier that it would corrupt
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2 * 3.0 * 2])


def test_running_total_of_losses_with_their_graphs_is_warned_once(recwarn):
    from chainrule.ops import core

    core._warned_growth = False
    w = cr.tensor(np.array([1.0, 2.0]), requires_grad=True)
    total = 0
    for _ in range(3):
        loss = (w * w).sum()
        loss.backward()
        total += loss  # the bug: should be loss.item()
    growth = [x for x in recwarn.list if issubclass(x.category, core.GraphGrowthWarning)]
    assert len(growth) == 1 and "loss.item()" in str(growth[0].message)
    assert growth[0].filename == __file__  # points at the user's line


def test_memory_stays_flat_over_many_steps():
    import tracemalloc

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((32, 8)), rng.standard_normal((32, 1))
    W1 = cr.tensor(rng.standard_normal((8, 16)) * 0.1, requires_grad=True)
    W2 = cr.tensor(rng.standard_normal((16, 1)) * 0.1, requires_grad=True)

    def step():
        loss = (((cr.tensor(X) @ W1).tanh() @ W2 - y) ** 2).mean()
        W1.grad = W2.grad = None
        loss.backward()
        with cr.no_grad():
            W1.sub_(W1.grad * 0.01)
            W2.sub_(W2.grad * 0.01)
        return loss.item()

    for _ in range(50):
        step()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(2000):
        step()
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert grown < 2_000_000, f"memory grew by {grown} bytes over 2,000 steps"


def test_anomaly_names_the_module_path_and_configuration():
    import chainrule.nn as nn
    import chainrule.nn.functional as F

    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    with cr.no_grad():
        model[2].weight.fill_(np.inf)  # a diverged layer
    with cr.detect_anomaly():
        with pytest.raises(cr.AnomalyError, match=r"Linear produced .* in model.2 \(Linear 4->2\)"):
            F.cross_entropy(model(cr.randn(5, 3)), np.array([0, 1, 0, 1, 0]))


def test_train_command_detect_anomaly_stops_with_the_op(tmp_path):
    import subprocess
    import sys

    # The largest learning rate the command accepts (10), with momentum, makes a deep
    # MLP's weights overflow within an epoch (an absurd rate like 1e30 is refused outright).
    proc = subprocess.run([sys.executable, "-m", "chainrule", "train", "--no-progress",
                           "--detect-anomaly", "--optimizer", "sgd", "--lr", "10",
                           "--momentum", "0.9", "--hidden", "256,256,256,256", "--dropout",
                           "0", "--scheduler", "none", "--epochs", "2",
                           "--out", str(tmp_path / "r")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "anomaly:" in proc.stderr and "model." in proc.stderr and "Traceback" not in proc.stderr


def test_max_and_min_over_nan_send_the_gradient_to_the_nans_as_pytorch():
    values = np.array([1.0, np.nan, 3.0, np.nan])
    for name in ("max", "min"):
        x = cr.tensor(values, requires_grad=True)
        getattr(x, name)().backward()
        t = torch.tensor(values, requires_grad=True)
        getattr(t, name)().backward()
        np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())  # [0, .5, 0, .5]
    rows = np.array([[1.0, np.nan], [3.0, 2.0]])
    x = cr.tensor(rows, requires_grad=True)
    x.max(axis=1).sum().backward()
    assert x.grad.tolist() == [[0.0, 1.0], [1.0, 0.0]]  # finite: torch.max(dim)'s values


def test_backward_with_a_gradient_that_is_not_numbers_is_refused():
    x = cr.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    y = x * 2
    with pytest.raises(TypeError, match="gradient must be a tensor or array of numbers"):
        y.backward([None] * 3)
    assert x.grad is None
