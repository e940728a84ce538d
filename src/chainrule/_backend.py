"""Array conversion, default dtypes and the global random generator.

Not (yet) a seam to other array libraries: the ops and about thirty other modules call
NumPy directly. The array-backends issue makes a real one (every op reaching arrays
through its inputs' namespace); until then this module holds only what must be decided
in one place: how Python data becomes an array, the default float dtype, and the RNG.
"""

from __future__ import annotations

import threading

import numpy as np

#: Python floats, and factories without ``dtype=``, make float32 tensors (as PyTorch).
DEFAULT_FLOAT = np.dtype(np.float32)

ndarray = np.ndarray


def is_float(dtype) -> bool:
    """True for the floating dtypes, the only ones that can carry gradients."""
    return np.issubdtype(dtype, np.floating)


def as_array(data, dtype=None) -> np.ndarray:
    """Turn a Python scalar, nested list or ndarray into an ndarray.

    Python floats become float32 and ints int64; an ndarray keeps its dtype
    (so float64 stays float64 for gradient checks) unless ``dtype`` is given.
    """
    if isinstance(data, np.ndarray):
        return data if dtype is None or data.dtype == dtype else data.astype(dtype)
    if isinstance(data, np.generic):
        return np.asarray(data, dtype=dtype)
    arr = np.asarray(data, dtype=dtype)
    if dtype is None and arr.dtype == np.float64:
        # A Python float (or a list of them) carries no precision intent: float32.
        arr = arr.astype(DEFAULT_FLOAT)
    return arr


class _Override(threading.local):
    generator = None  # what this thread draws from instead, while vmap says so


class Random:
    """The global random source behind ``cr.manual_seed``, ``cr.rand`` and friends.

    ``override`` swaps it for this thread alone: vmap's randomness='error' puts a stand-in
    that refuses every draw (func/vmap.py)."""

    def __init__(self, seed: int | None = None):
        self._generator = np.random.default_rng(seed)
        self._local = _Override()

    @property
    def generator(self):
        g = self._local.generator
        return self._generator if g is None else g

    @generator.setter
    def generator(self, g) -> None:
        self._generator = g

    def seed(self, seed: int) -> None:
        self._generator = np.random.default_rng(seed)

    def override(self, generator):
        """Draw from ``generator`` in this thread (None: the global one); returns a token
        for ``restore``."""
        old = self._local.generator
        self._local.generator = generator
        return old

    def restore(self, token) -> None:
        self._local.generator = token


random = Random()
