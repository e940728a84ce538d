"""DistributedDataParallel: N ranks with batch b equal one process with batch N*b.

Tolerances (scripts/ddp_equality.py): the ranks' gradients are each a mean over their
own samples, weighted by their sample counts and summed, where one process sums all
samples at once: the same numbers added in another order. So the parameters after the
steps may differ by rounding only: 1e-12 in float64 (measured 5.6e-17), 1e-6 in float32
(measured 3e-8 to 4.5e-8 after 6 AdamW steps at lr 1e-2). Across ranks they must be
bitwise equal after every step: every rank receives the same all-reduced sum.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.distributed as dist
import chainrule.nn.functional as F
from chainrule import nn, optim

from .helpers import mpi


@pytest.mark.parametrize("n, dtype", [(2, "float64"), (2, "float32"), (4, "float32")])
def test_n_ranks_equal_one_process_on_the_global_batch(n, dtype):
    result = mpi(n, "ddp_equality.py", dtype, 4, 3)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("ok") == n


def mlp():
    cr.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))


def train(model, params, steps=3):
    opt = optim.Adam(params, lr=0.01)
    rng = np.random.default_rng(0)
    for _ in range(steps):
        x, y = rng.standard_normal((5, 4)).astype(np.float32), rng.integers(0, 3, 5)
        loss = F.cross_entropy(model(cr.tensor(x)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return loss.item()


def test_in_a_world_of_one_it_is_the_model_itself_bitwise():
    dist.init()
    plain = mlp()
    wrapped_inner = mlp()
    ddp = nn.parallel.DistributedDataParallel(wrapped_inner)
    assert train(plain, plain.parameters()) == train(ddp, ddp.parameters())
    for a, b in zip(plain.parameters(), wrapped_inner.parameters()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert list(ddp.state_dict()) == [f"module.{k}" for k in plain.state_dict()]  # PyTorch's
    with ddp.no_sync():
        train(ddp, ddp.parameters(), steps=1)


def test_bad_arguments_are_errors_with_help():
    dist.init()
    with pytest.raises(ValueError, match="loss_reduction must be 'mean'"):
        nn.parallel.DistributedDataParallel(mlp(), loss_reduction="avg")
    with pytest.raises(ValueError, match="device_ids=\\[0\\]: chainrule runs on the CPU"):
        nn.parallel.DistributedDataParallel(mlp(), device_ids=[0])
    with pytest.raises(TypeError, match="expected an nn.Module"):
        nn.parallel.DistributedDataParallel(lambda x: x)
    with pytest.raises(ValueError, match="bucket_cap_mb must be a positive number"):
        nn.parallel.DistributedDataParallel(mlp(), bucket_cap_mb=0)


def test_without_init_it_says_to_init():
    dist.destroy_process_group()
    try:
        with pytest.raises(dist.DistributedError, match="call chainrule.distributed.init"):
            nn.parallel.DistributedDataParallel(mlp())
    finally:
        dist.init()


def test_buckets_follow_reverse_parameter_order_and_the_cap():
    from chainrule.nn.parallel import _make_buckets

    model = nn.Sequential(nn.Linear(100, 100), nn.Linear(100, 10))  # 40 KB, 400 B, 4 KB, 40 B
    params = list(model.parameters())
    buckets = _make_buckets(params, cap_mb=8e3 / 2**20)
    index = {id(p): i for i, p in enumerate(params)}
    assert [[index[id(p)] for p in b.params] for b in buckets] == [[3, 2, 1], [0]]
    assert [int(b.offsets[-1]) for b in buckets] == [1110, 10000]
