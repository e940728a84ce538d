"""DistributedSampler: each rank's share of a dataset, the same number of samples on each.

The order is a permutation drawn from (seed, epoch) alone, the same on every rank; rank r
takes every R-th index of it from position r (R ranks), as PyTorch's sampler does. So the
shards are disjoint, and together with a batch of b per rank, step k of all ranks covers
positions k*R*b .. (k+1)*R*b - 1 of the permutation: the batch one process would take
with batch size R*b.

Every rank gets ``len(sampler)`` samples, so every rank makes the same number of batches
and no collective waits for a rank that has run out: with ``drop_last=False`` (the
default) the permutation is padded with its own first indices up to a multiple of R (up
to R - 1 samples are seen twice per epoch); with ``drop_last=True`` its tail is dropped
instead (up to R - 1 samples are not seen that epoch, a different few each epoch).
"""

from __future__ import annotations

import numpy as np

from chainrule.data.errors import DataLoaderError


class DistributedSampler:
    """Indices of ``dataset`` for one rank (the module docstring); ``set_epoch(e)`` before
    each epoch reshuffles (the same ``e`` on every rank)."""

    def __init__(self, dataset, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False):
        if num_replicas is None or rank is None:
            from chainrule.distributed import get_rank, get_world_size

            num_replicas = get_world_size() if num_replicas is None else num_replicas
            rank = get_rank() if rank is None else rank
        _check_int("num_replicas", num_replicas, 1)
        _check_int("rank", rank, 0)
        if rank >= num_replicas:
            raise DataLoaderError(f"DistributedSampler: rank {rank} is not one of the "
                                  f"{num_replicas} ranks (0 .. {num_replicas - 1})")
        _check_int("seed", seed, 0)
        self.dataset, self.num_replicas, self.rank = dataset, int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last = bool(shuffle), int(seed), bool(drop_last)
        self.epoch = 0
        n = len(dataset)
        self.num_samples = n // self.num_replicas if drop_last else -(-n // self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        _check_int("epoch", epoch, 0, "set_epoch")
        self.epoch = int(epoch)

    def indices(self) -> np.ndarray:
        """This rank's indices for the current epoch, in order."""
        n = len(self.dataset)
        order = (np.random.default_rng([self.seed, self.epoch]).permutation(n) if self.shuffle
                 else np.arange(n))
        if self.total_size > n:  # pad with the permutation's first indices, as often as needed
            order = np.resize(order, self.total_size)
        return order[self.rank:self.total_size:self.num_replicas]

    def __iter__(self):
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        return self.num_samples

    def __repr__(self) -> str:
        return (f"DistributedSampler(rank {self.rank} of {self.num_replicas}, "
                f"{self.num_samples} samples, shuffle={self.shuffle}, seed={self.seed}, "
                f"drop_last={self.drop_last}, epoch {self.epoch})")


def _check_int(name: str, value, minimum: int, where: str = "DistributedSampler") -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise DataLoaderError(f"{where}: {name} must be an integer >= {minimum}, got "
                              f"{value!r}")
