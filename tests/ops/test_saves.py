"""What a primitive saves says where it comes from (Node.save), and the engine relies on it.

For every op-table row: a derived save (anything not INPUT(i) or OUTPUT) is a snapshot
that never shares memory with the op's inputs or output (else an in-place edit of an
input would change it unseen), and every saved INPUT/OUTPUT is the very array it names.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.graph.node import OUTPUT, Input
from chainrule.ops import core

from . import nn_optable, optable

ROWS = optable.ROWS + nn_optable.ROWS


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.id)
def test_saves_say_where_they_come_from(row, monkeypatch):
    fill = core._fill_saves

    def checked(op, inputs, arrays, t):
        fill(op, inputs, arrays, t)
        out = t.data
        for name, kind in op._saved.items():
            value = op.__dict__[name]
            if kind is OUTPUT:
                assert value is out, (op.name, name)
            elif type(kind) is Input:
                assert value is arrays[kind.index], (op.name, name)
            elif isinstance(value, np.ndarray):
                for a in [out] + [a for a in arrays if isinstance(a, np.ndarray)]:
                    assert not np.shares_memory(value, a), (
                        f"{op.name} saves {name!r}, a view of an input or its output, as a "
                        "derived array: save it as INPUT(i)/OUTPUT, or save a copy")

    monkeypatch.setattr(core, "_fill_saves", checked)
    inputs = [cr.tensor(x, requires_grad=True) for x in optable.make_inputs(row)]
    row.fn(*inputs)
