"""DistributedSampler: disjoint shards, whose union is the dataset, equal lengths."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from chainrule.data import DataLoader, DataLoaderError, DistributedSampler, TensorDataset


def shards(n, ranks, **kw):
    data = np.arange(n)
    return [list(DistributedSampler(data, ranks, r, **kw)) for r in range(ranks)]


@given(n=st.integers(0, 200), ranks=st.integers(1, 9), seed=st.integers(0, 5),
       shuffle=st.booleans())
def test_padded_shards_cover_the_dataset_with_equal_lengths(n, ranks, seed, shuffle):
    parts = shards(n, ranks, seed=seed, shuffle=shuffle)
    assert len({len(p) for p in parts}) == 1  # the same number of batches on every rank
    assert len(parts[0]) == -(-n // ranks)
    every = [i for p in parts for i in p]
    assert set(every) == set(range(n))  # the union is the dataset
    assert len(every) - n == (-n) % ranks if n else not every  # padding: under one per rank
    if n >= ranks:
        assert len(set(every)) == n and len(every) - len(set(every)) < ranks


@given(n=st.integers(0, 200), ranks=st.integers(1, 9), seed=st.integers(0, 5))
def test_drop_last_shards_are_disjoint_and_equal(n, ranks, seed):
    parts = shards(n, ranks, seed=seed, drop_last=True)
    every = [i for p in parts for i in p]
    assert len(every) == len(set(every)) == n - n % ranks  # disjoint; the tail dropped
    assert {len(p) for p in parts} == {n // ranks}


def test_epochs_reshuffle_and_every_rank_agrees():
    data = np.arange(50)
    a = [DistributedSampler(data, 2, r, seed=1) for r in range(2)]
    first = [list(s) for s in a]
    for s in a:
        s.set_epoch(1)
    second = [list(s) for s in a]
    assert first != second and sorted(sum(first, [])) == sorted(sum(second, []))
    again = DistributedSampler(data, 2, 0, seed=1)
    again.set_epoch(1)
    assert list(again) == second[0]  # the order depends only on (seed, epoch)
    assert list(DistributedSampler(data, 2, 0, seed=2)) != first[0]


def test_step_k_of_all_ranks_is_the_single_process_batch():
    n, ranks, b = 48, 4, 3
    order = np.random.default_rng([0, 0]).permutation(n)
    parts = [DistributedSampler(np.arange(n), ranks, r).indices() for r in range(ranks)]
    for k in range(n // (ranks * b)):
        together = sorted(i for p in parts for i in p[k * b:(k + 1) * b])
        assert together == sorted(order[k * ranks * b:(k + 1) * ranks * b])


def test_the_loader_takes_its_order_and_length_from_the_sampler():
    data = TensorDataset(np.arange(10, dtype=np.float32), np.arange(10))
    sampler = DistributedSampler(data, 3, 1, shuffle=False)
    loader = DataLoader(data, batch_size=2, sampler=sampler)
    assert len(loader) == 2
    assert [y.numpy().tolist() for _, y in loader] == [[1, 4], [7, 0]]  # 10 padded to 12


def test_bad_arguments_are_errors():
    with pytest.raises(DataLoaderError, match="rank 2 is not one of the 2 ranks"):
        DistributedSampler(np.arange(4), 2, 2)
    with pytest.raises(DataLoaderError, match="num_replicas must be an integer >= 1"):
        DistributedSampler(np.arange(4), 0, 0)
    with pytest.raises(DataLoaderError, match="set_epoch: epoch must be an integer >= 0"):
        DistributedSampler(np.arange(4), 1, 0).set_epoch(-1)
    with pytest.raises(DataLoaderError, match="sampler and shuffle=True both choose"):
        DataLoader(np.arange(4), sampler=DistributedSampler(np.arange(4), 1, 0), shuffle=True)
