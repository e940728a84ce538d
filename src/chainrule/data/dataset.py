"""Datasets and how a batch is made of them: ``Dataset``, ``TensorDataset``, ``fetch``.

Its own module because both sides of the DataLoader use it: the loader in this process
and its worker processes (``_worker.py``) make batches with the same ``fetch``, so the
batches are the same either way.
"""

from __future__ import annotations

import numpy as np

from chainrule import _backend as B
from chainrule.tensor import Tensor, _wrap


class Dataset:
    """A sized, indexable collection of samples: ``len(ds)`` and ``ds[i]``."""

    def __len__(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def __getitem__(self, index):  # pragma: no cover - abstract
        raise NotImplementedError


class TensorDataset(Dataset):
    """Samples are rows of equally long arrays: ``ds[i] = (a[i], b[i], ...)``.

    An index array gives a whole batch at once, so ``DataLoader`` batches by one fancy
    index per array instead of a Python loop over samples.
    """

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("TensorDataset: give at least one array")
        arrays = tuple(np.asarray(a.numpy() if hasattr(a, "numpy") else a) for a in arrays)
        n = len(arrays[0])
        for i, a in enumerate(arrays):
            if a.ndim == 0 or len(a) != n:
                lengths = [len(x) if x.ndim else "scalar" for x in arrays]
                raise ValueError(f"TensorDataset: array {i} has a different length: {lengths}")
        self.arrays = arrays

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, index):
        return tuple(a[index] for a in self.arrays)


def fetch(dataset, idx):
    """The batch of ``dataset`` at the index array ``idx``, as a tuple of arrays.

    The one way a batch is made, in this process or in a worker: a ``TensorDataset``
    with one fancy index per array, any other dataset sample by sample, stacked.
    """
    if isinstance(dataset, TensorDataset):
        return dataset[idx]
    samples = [dataset[int(i)] for i in idx]
    if not isinstance(samples[0], tuple):
        return (np.stack([np.asarray(s) for s in samples]),)
    return tuple(np.stack([np.asarray(s[j]) for s in samples])
                 for j in range(len(samples[0])))


def _to_tensor(x):
    arr = np.asarray(x)
    if arr.dtype == np.float64:
        arr = arr.astype(B.DEFAULT_FLOAT)  # datasets in float64 train in float32
    return _wrap(arr) if isinstance(arr, np.ndarray) else Tensor(arr)
