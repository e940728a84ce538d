"""The data: TF Playground's generators, the multi-class sets, and your own CSV."""

import numpy as np
import pytest

from chainrule.playground.config import DATASETS, DEFAULTS, ConfigError, merge, task
from chainrule.playground.datasets import DOMAIN, MAX_CSV_BYTES, generate, read_csv

GENERATED = [name for name in DATASETS if name != "csv"]


@pytest.mark.parametrize("name", GENERATED)
def test_generators_are_seeded_and_labelled_by_task(name):
    config = merge(DEFAULTS, {"dataset": name, "noise": 20, "points": 300})
    data = generate(config)
    again = generate(config)
    assert np.array_equal(data.x, again.x) and np.array_equal(data.labels, again.labels)
    assert not np.array_equal(data.x, generate({**config, "seed": 1}).x)
    assert data.x.shape == (300, 2) and data.task == task(config)
    assert np.abs(data.x).max() < 12 and data.domain == DOMAIN
    if data.task == "classification":
        assert set(np.unique(data.labels)) == {-1.0, 1.0}
    elif data.task == "multiclass":
        assert set(np.unique(data.labels)) == {0.0, 1.0, 2.0} and data.classes == 3
    else:
        assert np.all(np.abs(data.labels) <= 1) and len(np.unique(data.labels)) > 10


@pytest.mark.parametrize("fraction, n_train", [(0.5, 250), (0.1, 50), (1.0, 500)])
def test_the_split(fraction, n_train):
    data = generate(merge(DEFAULTS, {"train_fraction": fraction}))
    assert data.train.sum() == n_train
    assert len(data.train_indices) + len(data.test_indices) == 500


def test_csv_two_classes_become_minus_one_and_one():
    points = read_csv(b"x1,x2,label\n0,0,0\n1,1,1\n2,0,1\n0,2,0\n")
    assert points.task == "classification"
    assert points.labels.tolist() == [-1, 1, 1, -1]
    lo, hi = points.domain
    assert lo < 0 and hi > 2  # a square around the points


def test_csv_three_classes_and_regression():
    three = read_csv(b"0,0,2\n1,1,5\n2,0,9\n0,2,5\n# a comment\n\n3;3;2\n")
    assert three.task == "multiclass" and three.classes == 3
    assert three.labels.tolist() == [0, 1, 2, 1, 0]
    reg = read_csv(b"0,0,0.5\n1,1,-0.25\n2,0,1.5\n0,2,0\n")
    assert reg.task == "regression" and reg.labels.tolist() == [0.5, -0.25, 1.5, 0]


@pytest.mark.parametrize("raw, says", [
    (b"0,0,1\n1,1\n2,2,1\n3,3,0\n", "line 2: expected 3 numbers"),
    (b"0,0,1\n1,one,0\n2,2,1\n3,3,0\n", "line 2: expected numbers"),
    (b"0,0,1\n1,nan,0\n2,2,1\n3,3,0\n", "line 2: expected finite numbers"),
    (b"0,0,1\n1,1,0\n", "at least 4 points"),
    (b"0,0,1\n1,1,1\n2,2,1\n3,3,1\n", "at least two classes"),
    (b"\xff\xfe\x00binary", "not a text file"),
    (b"", "at least 4 points"),
    (b"0,0,1\n" * (MAX_CSV_BYTES // 6 + 1), "larger than"),
    (b"0,0,1\n" * 2001, "more than 2000 points"),
])
def test_bad_csv_gets_a_clear_message(raw, says):
    with pytest.raises(ConfigError) as e:
        read_csv(raw)
    assert e.value.field == "csv" and says in str(e.value), str(e.value)


def test_csv_dataset_needs_an_upload():
    with pytest.raises(ConfigError) as e:
        generate(merge(DEFAULTS, {"dataset": "csv"}))
    assert e.value.field == "dataset" and "/api/data" in str(e.value)
