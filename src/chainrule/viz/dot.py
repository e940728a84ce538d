"""Graphviz DOT text for a ``Graph``: paste it into any Graphviz viewer, no install needed here.

Edges point the way values flow (inputs -> op -> ... -> root), top to bottom; gradients
flow against them. Each box shows the op name, output shape, and when known the value
and the gradient (dL/d(output)).
"""

from __future__ import annotations

from chainrule.viz.labels import FILL, box_lines
from chainrule.viz.node import GraphNode


def _escape(s: str) -> str:
    """A DOT double-quoted string body: backslashes and quotes escaped."""
    return s.replace("\\", "\\\\").replace('"', '\\"')


def _label(node: GraphNode) -> str:
    return "\\n".join(_escape(line) for line in box_lines(node))


def to_dot(graph) -> str:
    """``graph`` (a ``Graph``: its nodes, root last) as DOT text, one statement a line."""
    lines = [
        "digraph chainrule {",
        "  rankdir=TB;",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
        '  edge [color="#555555"];',
    ]
    for node in graph.nodes:
        extra = ", penwidth=2" if node.is_root else ""
        style = ', style="rounded,filled,dashed"' if node.kind == "const" else ""
        lines.append(f'  n{node.id} [label="{_label(node)}", fillcolor="{FILL[node.kind]}"'
                     f"{style}{extra}];")
    for node in graph.nodes:
        for i in node.inputs:
            lines.append(f"  n{i} -> n{node.id};")
    lines.append("}")
    return "\n".join(lines) + "\n"
