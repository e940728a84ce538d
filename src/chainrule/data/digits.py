"""The embedded default dataset: UCI optical-recognition 8x8 handwritten digits.

1,797 images of 8x8 pixel counts (0..16), 10 classes, shipped inside the package
(``digits.npz``, ~45 KB; rebuilt by ``tools/make_digits.py``).

Source: E. Alpaydin and C. Kaynak, "Optical Recognition of Handwritten Digits", UCI
Machine Learning Repository, 1998, DOI 10.24432/C50P49. License: CC BY 4.0.
"""

from __future__ import annotations

from importlib import resources

import numpy as np

from chainrule.data.errors import DataError


def _raw():
    with resources.files("chainrule.data").joinpath("digits.npz").open("rb") as f:
        with np.load(f, allow_pickle=False) as d:
            return d["images"], d["labels"]


def stratified_split(labels: np.ndarray, test_fraction: float, seed: int):
    """Train and test indices with each class split in the same proportion."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        k = int(round(len(idx) * test_fraction))
        test.append(idx[:k])
        train.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def load_digits(split: str = "train", test_fraction: float = 0.25, seed: int = 0):
    """(x float32 (n, 64) in [0, 1], y int64): a stratified, seeded train/test split."""
    images, labels = _raw()
    x = images.reshape(len(images), 64).astype(np.float32) / 16.0
    y = labels.astype(np.int64)
    if split == "all":
        return x, y
    if split not in ("train", "test"):
        raise DataError(f"digits: unknown split {split!r}: expected 'train', 'test' or 'all'")
    if not 0 < test_fraction < 1:
        raise DataError(f"digits: test_fraction must be in (0, 1), got {test_fraction}")
    train, test = stratified_split(y, test_fraction, seed)
    idx = train if split == "train" else test
    return x[idx], y[idx]
