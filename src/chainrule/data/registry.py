"""``load_dataset(name, split)``: every built-in dataset behind one name."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chainrule.data import digits, idx, synthetic
from chainrule.data.errors import DataError
from chainrule.data.labels import class_indices

NAMES = ("digits", "fashion-mnist", "mnist", "moons", "spirals", "circles", "xor")


@dataclass
class DatasetInfo:
    name: str
    num_classes: int
    input_shape: tuple  # one sample's shape
    class_names: tuple


_SYNTHETIC = {"moons": synthetic.make_moons, "spirals": synthetic.make_spirals,
              "circles": synthetic.make_circles, "xor": synthetic.make_xor}


def load_dataset(name: str, split: str = "train", data_dir=None, seed: int = 0,
                 samples: int = 1000):
    """(x, y, info) for ``split`` ('train' or 'test') of dataset ``name``.

    Generated sets draw ``samples`` points for training and a quarter as many, from
    another seed, for testing.
    """
    if name not in NAMES:
        raise DataError(f"unknown dataset {name!r}: expected one of {', '.join(NAMES)}")
    if split not in ("train", "test"):
        raise DataError(f"{name}: unknown split {split!r}: expected 'train' or 'test'")
    if name == "digits":
        x, y = digits.load_digits(split, seed=seed)
        info = DatasetInfo(name, 10, (64,), tuple(str(i) for i in range(10)))
    elif name in ("fashion-mnist", "mnist"):
        loader = idx.load_fashion_mnist if name == "fashion-mnist" else idx.load_mnist
        x, y = loader(split, data_dir)
        names = idx.FASHION_CLASSES if name == "fashion-mnist" else tuple(map(str, range(10)))
        info = DatasetInfo(name, 10, x.shape[1:], names)
    else:
        n = samples if split == "train" else max(samples // 4, 4)
        x, y = _SYNTHETIC[name](n, seed=seed if split == "train" else seed + 1_000_003)
        k = int(y.max()) + 1
        info = DatasetInfo(name, k, (2,), tuple(str(i) for i in range(k)))
    # The IDX reader has checked its labels already; this guards every other source too.
    y = class_indices(y, info.num_classes, f"{name} ({split})")
    return np.ascontiguousarray(x), y, info
