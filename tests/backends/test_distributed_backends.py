"""Distributed training on another library's tensors, on 2 ranks: the collectives,
SyncBatchNorm and DistributedDataParallel go through host memory to MPI and back, and
give what one NumPy process gives on the global batch."""

from __future__ import annotations

import pytest

from ..distributed.helpers import mpi
from ..ops.backends import BACKENDS


@pytest.mark.parametrize("backend", BACKENDS)
def test_collectives_sync_batchnorm_and_ddp_on_two_ranks(backend):
    pytest.importorskip(backend)
    result = mpi(2, "backends.py", backend, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("ok") == 2, result.stdout
