"""tools/parity_report.py (issue 19's differences from PyTorch) cannot go stale or empty:
every group has lines, every op-table row of the issue is measured by some line, a few
lines measured here are finite, saw data, and sit inside the tolerances the tests use;
and its Diff counts what it should."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def report():
    spec = importlib.util.spec_from_file_location("parity_report",
                                                  ROOT / "tools" / "parity_report.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["parity_report"] = module  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    return module


GROUPS = ["silent differences", "losses", "conv and pooling", "norm layers", "tensor ops",
          "init and utils", "schedulers", "from_pytorch"]


def test_the_groups_are_the_issues_and_every_row_of_it_is_measured(report):
    entries = report.entries()
    assert list(dict.fromkeys(e.group for e in entries)) == GROUPS
    names = [e.name for e in entries]
    assert len(names) == len(set(names)), "two lines with one name"
    measured = {row.id for e in entries for row in e.rows}
    for row in [*report.LOSS_ROWS, *report.CONV_ROWS, *report.TENSOR_ROWS]:
        assert row.id in measured, f"op-table row {row.id} is on no line of the report"
    for e in entries:
        assert e.cases >= 1 and (not e.rows or e.cases == len(e.rows)), e.name
    assert len(report.TENSOR_ROWS) > 30 and len(report.LOSS_ROWS) > 30  # the slices held


# (rtol, atol) per column: test_optable.py's float64 and float32 checks; the schedulers'
OPS = [(1e-6, 1e-12), (1e-6, 1e-12), (1e-5, 1e-6), (1e-4, 1e-5)]
LRS = [(1e-12, 1e-15)] * 4


@pytest.mark.parametrize("name, tolerances", [
    ("gather", OPS), ("cross_entropy(weight=)", OPS), ("conv2d(dilation=)", OPS),
    ("nn.GroupNorm", OPS), ("requires_grad_(False) between forward and backward", OPS),
    ("StepLR", LRS), ("ReduceLROnPlateau", LRS),
    ("kaiming_uniform_ (bound / std asked for)", OPS),
    ("clip_grad_norm_ (total norm / grads)", OPS), ("examples/from_pytorch.py logits", OPS),
])
def test_a_few_lines_are_finite_saw_data_and_sit_inside_the_tests_tolerances(
        report, name, tolerances):
    (entry,) = [e for e in report.entries() if e.name == name]
    cells = entry.run()
    assert len(cells) == 4 and any(c is not None for c in cells)
    for cell, (rtol, atol) in zip(cells, tolerances):
        if cell is None:
            continue
        assert math.isfinite(cell.abs) and math.isfinite(cell.rel), name
        assert cell.scale > 0, f"{name}: nothing was compared"
        assert cell.abs <= atol + rtol * cell.scale, (name, cell.abs, cell.scale)


def test_diff_takes_the_largest_and_counts_nan_only_where_one_side_has_it(report):
    d = report.pm.Diff()
    d.add([1.0, 2.0, np.nan], [1.0, 2.5, np.nan])
    assert (d.abs, d.rel, d.scale) == (0.5, 0.2, 2.5)
    d.add([1e-9], [0.0])  # below the floor: in abs, not in rel
    assert (d.abs, d.rel) == (0.5, 0.2)
    assert str(d) == "5.0e-01 (2e-01)"
    d.add([np.nan], [1.0])
    assert d.abs == math.inf
    assert str(report.pm.Diff().add([3.0], [3.0])) == "0"
    with pytest.raises(ValueError, match="shapes differ"):
        report.pm.Diff().add([1.0, 2.0], [1.0])
