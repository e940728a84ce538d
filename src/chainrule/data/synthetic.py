"""Generated 2-D point sets for small demos: moons, spirals, circles, XOR.

Each returns (x float32 (n, 2), y int64) with balanced classes, deterministic for a seed.
"""

from __future__ import annotations

import numpy as np


def _split(n: int, k: int) -> list[int]:
    return [n // k + (1 if i < n % k else 0) for i in range(k)]


def make_moons(n: int = 200, noise: float = 0.1, seed: int = 0):
    """Two interleaving half circles."""
    rng = np.random.default_rng(seed)
    a, b = _split(n, 2)
    t1, t2 = rng.uniform(0, np.pi, a), rng.uniform(0, np.pi, b)
    x = np.concatenate([np.c_[np.cos(t1), np.sin(t1)],
                        np.c_[1 - np.cos(t2), 0.5 - np.sin(t2)]])
    y = np.r_[np.zeros(a), np.ones(b)]
    return _finish(x, y, noise, rng)


def make_spirals(n: int = 300, classes: int = 2, noise: float = 0.1, seed: int = 0):
    """``classes`` interleaved arms of a spiral."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for c, m in enumerate(_split(n, classes)):
        r = np.linspace(0.05, 1.0, m)
        theta = r * 3.5 * np.pi + 2 * np.pi * c / classes
        xs.append(np.c_[r * np.cos(theta), r * np.sin(theta)])
        ys.append(np.full(m, c))
    return _finish(np.concatenate(xs), np.concatenate(ys), noise * 0.1, rng)


def make_circles(n: int = 200, noise: float = 0.05, factor: float = 0.5, seed: int = 0):
    """A small circle (class 1) inside a large one (class 0)."""
    rng = np.random.default_rng(seed)
    a, b = _split(n, 2)
    t1, t2 = rng.uniform(0, 2 * np.pi, a), rng.uniform(0, 2 * np.pi, b)
    x = np.concatenate([np.c_[np.cos(t1), np.sin(t1)],
                        factor * np.c_[np.cos(t2), np.sin(t2)]])
    return _finish(x, np.r_[np.zeros(a), np.ones(b)], noise, rng)


def make_xor(n: int = 200, noise: float = 0.1, seed: int = 0):
    """Four clusters at (+-1, +-1); the class is the XOR of the signs."""
    rng = np.random.default_rng(seed)
    corners = np.array([[-1, -1], [1, 1], [-1, 1], [1, -1]], dtype=float)
    sizes = _split(n, 4)
    x = np.concatenate([np.repeat(corners[i:i + 1], m, axis=0) for i, m in enumerate(sizes)])
    y = np.concatenate([np.full(m, 0 if i < 2 else 1) for i, m in enumerate(sizes)])
    return _finish(x, y, noise * 3, rng)


def _finish(x, y, noise, rng):
    x = x + noise * rng.standard_normal(x.shape)
    order = rng.permutation(len(y))
    return x[order].astype(np.float32), y[order].astype(np.int64)
