"""Dataset and DataLoader: samples in, batches of tensors out, in a seeded order."""

from __future__ import annotations

import numpy as np

from chainrule import _backend as B


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


class DataLoader:
    """Batches of a dataset as tuples of tensors.

    ``shuffle`` draws a new order every epoch (every ``iter``) from ``generator`` (a NumPy
    Generator), or from one seeded by ``seed``, or from chainrule's global generator
    (``cr.manual_seed``). ``drop_last`` drops a final batch smaller than ``batch_size``.
    """

    def __init__(self, dataset, batch_size: int = 1, shuffle: bool = False,
                 drop_last: bool = False, seed: int | None = None, generator=None):
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, got "
                             f"{batch_size!r}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        if generator is None:
            generator = (np.random.default_rng(seed) if seed is not None
                         else np.random.default_rng(B.random.generator.integers(2**63)))
        self.generator = generator
        self.epoch = 0

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        n = len(self.dataset)
        order = self.generator.permutation(n) if self.shuffle else np.arange(n)
        self.epoch += 1
        stop = len(self) * self.batch_size
        for start in range(0, min(stop, n), self.batch_size):
            idx = order[start:start + self.batch_size]
            yield tuple(_to_tensor(x) for x in self._fetch(idx))

    def _fetch(self, idx):
        if isinstance(self.dataset, TensorDataset):
            return self.dataset[idx]
        samples = [self.dataset[int(i)] for i in idx]
        if not isinstance(samples[0], tuple):
            return (np.stack([np.asarray(s) for s in samples]),)
        return tuple(np.stack([np.asarray(s[j]) for s in samples])
                     for j in range(len(samples[0])))

    def state_dict(self) -> dict:
        """The epoch count and the shuffling generator's state: enough to resume exactly."""
        return {"epoch": self.epoch, "generator": self.generator.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.epoch = int(state["epoch"])
        self.generator.bit_generator.state = state["generator"]


def _to_tensor(x):
    from chainrule.tensor import Tensor, _wrap

    arr = np.asarray(x)
    if arr.dtype == np.float64:
        arr = arr.astype(B.DEFAULT_FLOAT)  # datasets in float64 train in float32
    return _wrap(arr) if isinstance(arr, np.ndarray) else Tensor(arr)
