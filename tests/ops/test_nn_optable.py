"""Runs the nn rows (nn_optable.py) through the op-table harness of test_optable.py:
float64 gradcheck of first and second derivatives, float32 kept float32, and
torch.nn.functional as the oracle for values and gradients."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.ops.core import PRIMITIVES, Op

from .nn_optable import ROWS
from .optable import make_inputs
from .test_optable import test_float32_stays_float32 as float32_stays_float32
from .test_optable import test_gradcheck as gradcheck_row
from .test_optable import test_gradgradcheck as gradgradcheck_row
from .test_optable import test_matches_torch_float64 as matches_torch_float64

pytest.importorskip("torch")


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.id)
def test_gradcheck(row):
    gradcheck_row(row)


@pytest.mark.parametrize("row", [r for r in ROWS if r.second_order], ids=lambda r: r.id)
def test_gradgradcheck(row):
    gradgradcheck_row(row)


@pytest.mark.parametrize("row", [r for r in ROWS if r.torch_fn], ids=lambda r: r.id)
def test_matches_torch_float64(row):
    matches_torch_float64(row)


@pytest.mark.parametrize("row", [r for r in ROWS if r.torch_fn], ids=lambda r: r.id)
def test_float32_stays_float32(row):
    float32_stays_float32(row)


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.id)
def test_no_float64_anywhere_inside(row, monkeypatch):
    """float32 inputs keep every intermediate value and every intermediate gradient float32
    (the engine casts leaf gradients, which would hide an upcast inside the graph)."""
    upcasts = []
    for name, cls in PRIMITIVES.items():
        if "vjp" not in cls.__dict__:
            continue

        def checked(self, g, _vjp=cls.__dict__["vjp"], _name=name):
            grads = _vjp(self, g)
            for d in grads if isinstance(grads, tuple) else (grads,):
                if d is not None and d.dtype != np.float32:
                    upcasts.append(f"{_name}.vjp gives {d.dtype}")
            return grads

        monkeypatch.setattr(cls, "vjp", checked)
    xs = [cr.tensor(a, requires_grad=True) for a in make_inputs(row, dtype=np.float32)]
    out = row.fn(*xs)
    nodes, seen = [out.grad_fn], set()
    while nodes:
        node = nodes.pop()
        if not isinstance(node, Op) or id(node) in seen:
            continue
        seen.add(id(node))
        if node.out_dtype != np.float32:
            upcasts.append(f"{node.name} outputs {node.out_dtype}")
        nodes.extend(node.parents)
    out.backward(np.ones(out.shape, np.float32))
    assert not upcasts, f"{row.id}: {upcasts}"
