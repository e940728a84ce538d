"""The recorded computational graph as data: one node per op application and per input.

``build_graph(root)`` walks ``root.grad_fn`` back to the leaves (iteratively: any depth)
and returns a ``Graph``: a list of ``GraphNode`` (op, leaf or constant) with their input
edges, output shapes, and, where known, values and gradients. Renderers (DOT text,
matplotlib PNG/SVG) read only this record.

What is known where:

- every op node: its name and output shape (``node.name``, ``node.out_shape``);
- values: the root, every leaf tensor (parameters and other tensors that require grad),
  and any tensor passed in ``names``; the graph keeps no other intermediate values;
- gradients: a leaf's ``.grad``; a named tensor's ``.grad`` if it called
  ``retain_grad()``; every op node's dL/d(output) if ``watch(root)`` (``capture``) ran
  before the backward pass; or anything given in ``grads``.

Inputs that need no gradient (constants, data) are not recorded by the engine (their
edge is None), so they appear as a "const" stub without a value.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chainrule.serialization import write_atomic
from chainrule.tensor import Tensor
from chainrule.viz.capture import captured
from chainrule.viz.dot import to_dot
from chainrule.viz.draw import image, svg_text
from chainrule.viz.node import GraphError, GraphNode

#: File formats by name or suffix, and what each is written as.
FORMATS = {"dot": "dot", "gv": "dot", "png": "png", "svg": "svg"}


@dataclass
class Graph:
    """The nodes in topological order (every input before its consumers; root last)."""

    nodes: list[GraphNode]

    @property
    def root(self) -> GraphNode:
        return self.nodes[-1]

    def node(self, label: str) -> GraphNode:
        """The node whose tensor was given the name ``label``."""
        for n in self.nodes:
            if n.label == label:
                return n
        raise KeyError(label)

    def ops(self) -> list[GraphNode]:
        return [n for n in self.nodes if n.kind == "op"]

    def to_dot(self) -> str:
        return to_dot(self)

    def draw(self, path, fmt: str | None = None, dpi: int = 150) -> Path:
        """Write the graph to ``path``: "dot" text, or a "png" / "svg" drawing (by ``fmt``
        or else the suffix)."""
        path = Path(path)
        fmt = (fmt or path.suffix.lstrip(".")).lower()
        if fmt not in FORMATS:
            raise GraphError(
                f"draw_graph: unknown format {fmt or '(no suffix)'!r} for {path}; expected "
                "dot, png or svg"
            )
        fmt = FORMATS[fmt]
        data = self.to_dot().encode("utf-8") if fmt == "dot" else image(self, fmt, dpi)
        write_atomic(path, data)  # whole or not at all, never half a drawing
        return path

    def _repr_svg_(self) -> str:  # shown inline by Jupyter
        return svg_text(self)


def build_graph(root: Tensor, names: dict | None = None, grads: dict | None = None) -> Graph:
    """The graph below ``root`` as a ``Graph`` record.

    ``names`` maps a label to a tensor of the computation (``{"z": z, "W": W}``): its box
    is labelled and shows its value. ``grads`` maps a label or a tensor to its gradient
    (array or tensor), overriding what was captured.
    """
    if not isinstance(root, Tensor):
        raise TypeError(f"draw_graph: expected a Tensor, got {type(root).__name__}")
    names = dict(names or {})
    labelled = _labelled(names)
    given = _given(grads or {}, names)
    order, edges = _walk(root)
    nodes: list[GraphNode] = []
    index: dict[int, int] = {}  # key -> its node's id
    for k, obj in _topological(order, edges):
        inputs = []
        for kind, ref in edges[k]:
            if kind == "const":
                nodes.append(GraphNode(len(nodes), "const", "const", ()))
                inputs.append(nodes[-1].id)
            else:
                inputs.append(index[ref])
        node = _node(len(nodes), obj, inputs, *labelled.get(k, (None, None)))
        if k in given:
            node.grad = given[k]
        index[k] = node.id
        nodes.append(node)
    nodes[-1].is_root = True
    if nodes[-1].value is None:
        nodes[-1].value = root.data
    return Graph(nodes)


def _key(t: Tensor) -> int:
    """What identifies a tensor in the graph: its node, or the tensor itself for a leaf."""
    return id(t.grad_fn) if t.grad_fn is not None else id(t)


def _labelled(names: dict) -> dict[int, tuple[str, Tensor]]:
    """key -> (label, tensor) for every named tensor."""
    labelled: dict[int, tuple[str, Tensor]] = {}
    for label, t in names.items():
        if not isinstance(t, Tensor):
            raise TypeError(f"draw_graph: names[{label!r}] is a {type(t).__name__}, "
                            "expected a Tensor")
        key = _key(t)
        if key in labelled:  # one tensor, two names (a = z for a linear layer)
            label = f"{labelled[key][0]} = {label}"
        labelled[key] = (label, t)
    return labelled


def _given(grads: dict, names: dict) -> dict[int, np.ndarray]:
    """key -> gradient, for ``grads`` keyed by a tensor or by its label in ``names``."""
    given = {}
    for key, g in grads.items():
        t = names.get(key) if isinstance(key, str) else key
        if not isinstance(t, Tensor):
            raise GraphError(f"draw_graph: grads key {key!r} names no tensor in names")
        given[_key(t)] = _array(g)
    return given


def _walk(root: Tensor) -> tuple[list, dict]:
    """Every node and leaf below ``root`` in discovery order, as (key, node or tensor),
    and each one's inputs: ("node", key), or ("const", n) for an input not recorded."""
    order: list[tuple[int, object]] = []
    edges: dict[int, list] = {}
    start = root.grad_fn if root.grad_fn is not None else root
    stack = [start]
    seen = {id(start)}
    const_count = 0
    while stack:
        obj = stack.pop()
        order.append((id(obj), obj))
        if isinstance(obj, Tensor):
            edges[id(obj)] = []
            continue
        ins = []
        for p in obj.parents or ():
            if p is None:
                const_count += 1
                ins.append(("const", -const_count))
                continue
            k = id(p)
            ins.append(("node", k))
            if k not in seen:
                seen.add(k)
                stack.append(p)
        edges[id(obj)] = ins
    return order, edges


def _topological(order: list, edges: dict) -> list:
    """Inputs before consumers, root last: a reverse post-order, iteratively."""
    objs = dict(order)
    root_key = order[0][0]
    out, done = [], set()
    stack = [(root_key, False)]
    while stack:
        k, expanded = stack.pop()
        if expanded:
            out.append((k, objs[k]))
            continue
        if k in done:
            continue
        done.add(k)
        stack.append((k, True))
        for kind, ref in reversed(edges[k]):
            if kind == "node" and ref not in done:
                stack.append((ref, False))
    return out


def _node(id_: int, obj, inputs: list[int], label: str | None,
          tensor: Tensor | None) -> GraphNode:
    """The box of a leaf tensor or of an op node, with what is known of its value and
    gradient."""
    if isinstance(obj, Tensor):
        return GraphNode(id_, "leaf", "leaf", tuple(obj.shape), inputs, label, value=obj.data,
                         grad=_array(obj.grad) if obj.grad is not None else None)
    node = GraphNode(id_, "op", obj.name, tuple(obj.out_shape), inputs, label)
    if tensor is not None:
        node.value = tensor.data
        if tensor.grad is not None:
            node.grad = _array(tensor.grad)
    caught = captured(obj)
    if caught is not None:
        node.grad = caught
    return node


def _array(g) -> np.ndarray:
    return np.array(g.data if isinstance(g, Tensor) else g, copy=True)


def draw_graph(root: Tensor, path=None, fmt: str | None = None, names: dict | None = None,
               grads: dict | None = None, dpi: int = 150) -> Graph:
    """Build the graph below ``root`` and, with ``path``, write it (DOT, PNG or SVG).

    The format comes from ``fmt`` or else the suffix of ``path`` (.dot/.gv, .png, .svg).
    Returns the ``Graph`` (in Jupyter it displays itself as SVG).

        loss = ((w @ x + b).sigmoid() - t).sum()
        cr.viz.watch(loss)          # optional: gradients on every op node
        loss.backward()
        cr.viz.draw_graph(loss, "graph.svg", names={"w": w, "x": x})
    """
    graph = build_graph(root, names, grads)
    if path is not None:
        graph.draw(path, fmt, dpi)
    elif fmt is not None and fmt != "dot":
        raise GraphError(f"draw_graph: fmt={fmt!r} needs a path to write to")
    return graph
