"""A registered primitive without a row in the op table fails the suite."""

import importlib

from chainrule.ops import PRIMITIVES

from .optable import ROWS

# Importing the packages that define primitives registers them all.
for _module in ("chainrule.nn.functional",):
    try:
        importlib.import_module(_module)
    except ModuleNotFoundError:
        pass



def _covered():
    covered = set()
    for row in ROWS:
        covered.update(row.covers)
    try:
        from .nn_optable import ROWS as NN_ROWS
    except ImportError:
        NN_ROWS = []
    for row in NN_ROWS:
        covered.update(row.covers)
    return covered


def test_every_primitive_has_a_row():
    missing = sorted(set(PRIMITIVES) - _covered())
    assert not missing, f"primitives with no row in the op table: {missing}"


def test_rows_name_real_primitives():
    unknown = sorted(_covered() - set(PRIMITIVES))
    assert not unknown, f"rows name primitives that do not exist: {unknown}"
