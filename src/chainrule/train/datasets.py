"""The data a recipe trains on: both splits as arrays, with their description."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chainrule.data import load_dataset


@dataclass
class Split:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    input_shape: tuple
    num_classes: int
    class_names: tuple

    @property
    def train_size(self) -> int:
        return len(self.y_train)

    @property
    def test_size(self) -> int:
        return len(self.y_test)


def load_split(recipe) -> Split:
    kw = dict(data_dir=recipe.data_dir or None, seed=recipe.seed, samples=recipe.samples)
    if recipe.dataset == "digits":
        kw["seed"] = 0  # one fixed held-out split for every run, whatever the seed
    x_train, y_train, info = load_dataset(recipe.dataset, "train", **kw)
    x_test, y_test, _ = load_dataset(recipe.dataset, "test", **kw)
    shape = tuple(info.input_shape)
    if recipe.model == "cnn" and recipe.dataset == "digits":
        shape = (1, 8, 8)  # the 64 pixels are an 8x8 image: give the CNN its channel axis
        x_train, x_test = x_train.reshape(-1, *shape), x_test.reshape(-1, *shape)
    return Split(x_train, y_train, x_test, y_test, shape, info.num_classes,
                 tuple(info.class_names))
