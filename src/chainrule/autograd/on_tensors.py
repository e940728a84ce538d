"""Backward through a node whose arrays are another library's (torch, CuPy, array-api-
strict): the ops' vjps are written on NumPy arrays, calling their methods (the NumPy fast
path); given tensors instead, the same code reaches any library through the seam."""

from __future__ import annotations

from chainrule.graph.anomaly import detect_anomaly
from chainrule.graph.node import Node
from chainrule.tensor import Tensor, _wrap


def vjp_on_tensors(node: Node, g) -> tuple:
    """The vjp of a node whose inputs are another library's arrays: run on tensors, whose
    ops reach that library through the seam (the raw-array vjps call NumPy's methods, the
    NumPy fast path). Grad mode is off here (``_run``), so nothing is recorded; anomaly
    detection too: the engine checks the vjp's result and names this node, as on NumPy
    (the ops inside would name themselves, created at no line of the user's)."""
    d = node.__dict__
    originals = {}
    for name in node._saved or ():
        value = d[name]
        if hasattr(value, "shape") and not isinstance(value, Tensor):
            originals[name] = value
            d[name] = _wrap(value)  # every saved array, so no op meets a raw one
    try:
        with detect_anomaly(False):
            grads = node.vjp(_wrap(g))
    finally:
        d.update(originals)
    if type(grads) is not tuple:
        grads = (grads,)
    return tuple(d.data if isinstance(d, Tensor) else d for d in grads)
