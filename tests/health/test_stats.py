"""health.stats per unit: unit_stats is activation_stats and DeadCount, column by column."""

import numpy as np
import pytest

from chainrule.health.stats import activation_stats, unit_stats


@pytest.mark.parametrize("kind", ["tanh", "sigmoid", "relu"])
def test_unit_stats_is_activation_stats_column_by_column(kind):
    rng = np.random.default_rng(5)
    z = rng.normal(0, 3, (200, 6))
    z[:, 2] = -1 - np.abs(z[:, 2])  # a unit no sample activates (relu: dead)
    a = {"tanh": np.tanh(z), "sigmoid": 1 / (1 + np.exp(-z)), "relu": np.maximum(z, 0)}[kind]
    per_unit = unit_stats(kind, z, a)
    for j in range(6):
        whole = activation_stats(kind, z[:, j:j + 1], a[:, j:j + 1])
        assert per_unit["amplifier"][j] == pytest.approx(whole["amplifier"], rel=1e-12)
        if kind == "relu":
            assert per_unit["saturated"] is None
            assert per_unit["dead"][j] == (not (a[:, j] > 0).any())
        else:
            assert per_unit["dead"] is None
            assert per_unit["saturated"][j] == whole["saturated"]
    if kind == "relu":
        assert per_unit["dead"] == [False, False, True, False, False, False]
