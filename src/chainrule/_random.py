"""The global random source behind ``cr.manual_seed``, ``cr.rand``, dropout and the
initializers (NumPy's Generator: every backend draws here and moves the numbers)."""

from __future__ import annotations

import threading

import numpy as np


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
