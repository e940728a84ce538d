"""What a graph box says and its fill colour, shared by the DOT and matplotlib renderers."""

from __future__ import annotations

import numpy as np

from chainrule.viz.node import GraphNode

FILL = {"op": "#e8f0fb", "leaf": "#e6f4e6", "const": "#f0f0f0"}  # by ``GraphNode.kind``

#: Tensors with at most this many elements have their numbers printed.
SMALL = 8


def fmt_number(x: float) -> str:
    """4 significant digits; whole numbers without a decimal point."""
    x = float(x)
    if x == 0:
        return "0"
    if x.is_integer() and abs(x) < 1e6:
        return str(int(x))
    return f"{x:.4g}"


def fmt_array(a: np.ndarray) -> str:
    """A small array as [1, 0.5]; a large one by its size and range only."""
    a = np.asarray(a)
    if a.ndim == 0:
        return fmt_number(a)
    if a.size > SMALL:  # no per-element values: how many, and their range
        if a.dtype.kind in "fiu" and np.all(np.isfinite(a)):
            return f"{a.size} values in [{fmt_number(a.min())}, {fmt_number(a.max())}]"
        return f"… {a.size} values"
    if a.dtype == bool:
        return str(a.astype(int).tolist()).replace(" ", "")
    if a.ndim == 1:
        return "[" + ", ".join(fmt_number(v) for v in a) + "]"
    return "[" + ", ".join(fmt_array(row) for row in a) + "]"


def box_lines(node: GraphNode) -> list[str]:
    """Title, shape, value and gradient lines of one box."""
    lines = [node.title]
    if node.kind == "const":
        return lines
    lines.append("shape " + ("()" if node.shape == () else str(tuple(node.shape))))
    if node.value is not None:
        lines.append("value " + fmt_array(node.value))
    if node.grad is not None:
        lines.append("grad " + fmt_array(node.grad))
    return lines
