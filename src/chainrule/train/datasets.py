"""The data a recipe trains on: train, validation and test arrays, with their description.

The validation set is held out of the training set (``recipe.val_fraction`` of it,
stratified by class), chosen by the run's seed alone: a resumed run derives the same split again. It
chooses the best epoch and stops a run early; the test set is only ever reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chainrule.data import load_dataset
from chainrule.train.errors import RecipeError
from chainrule.train.recipes import is_custom

#: Mixed into the run's seed for the validation split, so that it draws from a stream of
#: its own: the shuffling of epoch e uses [seed, e], and e never reaches this value.
VAL_STREAM = 0x76616C  # "val"


@dataclass
class Split:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    input_shape: tuple
    num_classes: int
    class_names: tuple
    x_val: np.ndarray | None = None  # None: no validation set (--val-fraction 0)
    y_val: np.ndarray | None = None

    @property
    def train_size(self) -> int:
        return len(self.y_train)

    @property
    def val_size(self) -> int:
        return 0 if self.y_val is None else len(self.y_val)

    @property
    def test_size(self) -> int:
        return len(self.y_test)


def image_input(recipe) -> bool:
    """Whether the model takes the digits as 1x8x8 images (a CNN, or a user's own Module:
    it can flatten them itself) rather than as 64 numbers."""
    return recipe.dataset == "digits" and (recipe.model == "cnn" or is_custom(recipe.model))


def load_split(recipe) -> Split:
    kw = dict(data_dir=recipe.data_dir or None, seed=recipe.seed, samples=recipe.samples)
    if recipe.dataset == "digits":
        kw["seed"] = 0  # one fixed held-out split for every run, whatever the seed
    x_train, y_train, info = load_dataset(recipe.dataset, "train", **kw)
    x_test, y_test, _ = load_dataset(recipe.dataset, "test", **kw)
    shape = tuple(info.input_shape)
    if image_input(recipe):
        shape = (1, 8, 8)  # the 64 pixels are an 8x8 image: give the model its channel axis
        x_train, x_test = x_train.reshape(-1, *shape), x_test.reshape(-1, *shape)
    x_val = y_val = None
    if recipe.val_fraction > 0:
        train, val = validation_split(y_train, recipe.val_fraction, recipe.seed,
                                      recipe.dataset)
        x_train, y_train, x_val, y_val = x_train[train], y_train[train], x_train[val], \
            y_train[val]
    return Split(x_train, y_train, x_test, y_test, shape, info.num_classes,
                 tuple(info.class_names), x_val, y_val)


def validation_split(labels: np.ndarray, fraction: float, seed: int, name: str = "the data"):
    """(train indices, validation indices): ``fraction`` of the samples held out, at least
    one, shared among the classes in proportion to their sizes (largest remainders first,
    ties drawn by the seed), each class's share drawn at random.

    Depends only on (labels, fraction, seed). Both parts keep their original order.
    RecipeError when nothing would be left to train on.
    """
    rng = np.random.default_rng([seed, VAL_STREAM])
    classes, counts = np.unique(labels, return_counts=True)  # sorted: a fixed draw order
    total = max(1, int(round(len(labels) * fraction)))
    quota = counts * fraction
    share = np.floor(quota).astype(np.int64)
    # NOTE: rounding each class alone can hold out nothing at all (4 samples a class at
    # 0.1); the largest-remainder method keeps the total right and the classes balanced.
    extra = total - int(share.sum())
    if extra > 0:
        tiebreak = rng.permutation(len(classes))
        order = np.lexsort((tiebreak, -(quota - share)))
        share[order[:extra]] += 1
    share = np.minimum(share, counts)
    train, val = [], []
    for c, k in zip(classes, share):
        idx = rng.permutation(np.flatnonzero(labels == c))
        val.append(idx[:k])
        train.append(idx[k:])
    train, val = np.sort(np.concatenate(train)), np.sort(np.concatenate(val))
    if len(train) == 0:
        raise RecipeError(
            f"--val-fraction {fraction:g} of {name}'s {len(labels)} training sample(s) leaves "
            "none to train on. help: use more data, or --val-fraction 0 (no validation: "
            "best is then the last epoch)")
    return train, val
