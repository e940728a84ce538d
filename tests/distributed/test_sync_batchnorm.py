"""SyncBatchNorm: on 2 and 4 ranks against BatchNorm on the global batch (values, grads,
running statistics, a DDP training step); in a world of 1, BatchNorm itself."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

from .helpers import mpi


@pytest.mark.parametrize("n, dtype", [(2, "float64"), (4, "float32")])
def test_the_global_batch_statistics_and_their_gradient(n, dtype):
    result = mpi(n, "sync_batchnorm.py", dtype)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("ok") == n


def test_in_a_world_of_one_it_is_batch_norm():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 3, 2, 2)).astype(np.float32)
    outs = []
    for layer in (nn.BatchNorm2d(3), nn.SyncBatchNorm(3)):
        t = cr.tensor(x, requires_grad=True)
        y = layer(t)
        (y * y * cr.tensor(x)).sum().backward()
        assert y.dtype == np.float32 and t.grad.dtype == np.float32
        outs.append((y.numpy(), t.grad.numpy(), layer.weight.grad.numpy(),
                     layer.running_var.numpy()))
        layer.eval()
        outs[-1] += (layer(cr.tensor(x)).numpy(),)
    for a, b in zip(*outs):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_convert_keeps_order_parameters_and_statistics():
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.ReLU(),
                          nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2)))
    model[1].running_mean.data[:] = 7
    weight = model[1].weight
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert converted is model
    assert [type(m).__name__ for m in model] == ["Linear", "SyncBatchNorm", "ReLU", "Sequential"]
    assert type(model[3][1]) is nn.SyncBatchNorm
    assert model[1].weight is weight and (model[1].running_mean.numpy() == 7).all()
    assert list(model.state_dict()) == list(converted.state_dict())
    model(cr.tensor(np.ones((4, 4), dtype=np.float32)))  # runs, in this order


def test_a_batch_of_one_value_per_channel_is_refused():
    with pytest.raises(ValueError, match="more than one value per channel over all ranks"):
        nn.SyncBatchNorm(3)(cr.tensor(np.ones((1, 3), dtype=np.float32)))
