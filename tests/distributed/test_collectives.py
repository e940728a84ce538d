"""chainrule.distributed: a world of 1 in this process; every collective on 2 and 4 ranks."""

from __future__ import annotations

import re

import numpy as np
import pytest

import chainrule as cr
import chainrule.distributed as dist
from chainrule.distributed import collectives, group

from .helpers import mpi


@pytest.fixture
def world():
    dist.init()
    yield
    dist.init()  # a test that left the group leaves it joined again


def test_a_process_no_launcher_started_is_a_world_of_one(world):
    assert not dist.launched_by_mpi()
    assert dist.is_initialized() and dist.get_rank() == 0 and dist.get_world_size() == 1
    t = cr.tensor([1.0, 2.0])
    for op in ("sum", "mean", "max"):
        dist.all_reduce(t, op=op)
        np.testing.assert_array_equal(t.numpy(), [1.0, 2.0])
    dist.broadcast(t, src=0)
    out = [cr.zeros(2)]
    dist.all_gather(out, t)
    np.testing.assert_array_equal(out[0].numpy(), [1.0, 2.0])
    assert dist.all_gather_object("x") == ["x"] and dist.broadcast_object(3) == 3
    dist.barrier()
    assert group.world.comm is None  # MPI was never touched


def test_bad_arguments_are_errors_with_help(world):
    t = cr.tensor([1.0])
    with pytest.raises(dist.DistributedError, match="op must be one of 'sum', 'mean', 'max'"):
        dist.all_reduce(t, op="prod")
    with pytest.raises(dist.DistributedError, match="src=1 is not a rank of this world of 1"):
        dist.broadcast(t, src=1)
    with pytest.raises(dist.DistributedError, match="must be a list of 1 tensors"):
        dist.all_gather(t, t)
    with pytest.raises(dist.DistributedError, match="expected a tensor, got list"):
        dist.all_reduce([1.0])
    with pytest.raises(dist.DistributedError, match="op='mean' needs floating-point"):
        dist.all_reduce(cr.tensor(np.array([1, 2])), op="mean")
    with pytest.raises(dist.DistributedError, match="backend 'nccl' is not available"):
        dist.init_process_group("nccl")


def test_before_init_the_calls_say_to_init(world, monkeypatch):
    dist.destroy_process_group()
    assert not dist.is_initialized()
    with pytest.raises(dist.DistributedError, match="call chainrule.distributed.init"):
        dist.get_rank()
    monkeypatch.setenv("CHAINRULE_DIST_TIMEOUT", "soon")
    with pytest.raises(dist.DistributedError, match="CHAINRULE_DIST_TIMEOUT='soon'"):
        dist.init()
    monkeypatch.delenv("CHAINRULE_DIST_TIMEOUT")
    dist.init_process_group("mpi")
    assert dist.get_world_size() == 1


def test_a_dead_process_is_seen_as_gone():
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not collectives._alive(child.pid)
    assert collectives._alive(__import__("os").getpid())


@pytest.mark.parametrize("n", [2, 4])
def test_every_collective_on_n_ranks(n):
    result = mpi(n, "collectives.py")
    assert result.returncode == 0, result.stderr
    # mpiexec merges the ranks' output streams in chunks, so lines can run together
    # ('0ok'): read the words, not the lines
    assert sorted(re.findall(r"ok|\d+", result.stdout)) == sorted(
        w for k in range(n) for w in ("ok", str(k)))
