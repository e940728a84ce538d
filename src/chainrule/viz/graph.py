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
  ``retain_grad()``; every op node's dL/d(output) if ``watch(root)`` ran before the
  backward pass; or anything given in ``grads``.

Inputs that need no gradient (constants, data) are not recorded by the engine (their
edge is None), so they appear as a "const" stub without a value.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

import numpy as np

from chainrule.errors import ChainruleError
from chainrule.tensor import Tensor

#: dL/d(output) per op node, filled by the hooks that ``watch`` installs.
_WATCHED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class GraphError(ChainruleError, ValueError):
    """A graph that cannot be built or drawn as asked."""


@dataclass
class GraphNode:
    """One box of the drawing.

    ``kind`` is "op" (a recorded primitive), "leaf" (a tensor that requires grad and was
    made by no op: a parameter or input) or "const" (an input the engine did not record).
    ``inputs`` are the ids of the nodes feeding this one, in argument order.
    """

    id: int
    kind: str
    name: str
    shape: tuple
    inputs: list[int] = field(default_factory=list)
    label: str | None = None
    value: np.ndarray | None = None
    grad: np.ndarray | None = None
    is_root: bool = False

    @property
    def title(self) -> str:
        """The first line of the box: 'label = Name' for a named op, else one of them."""
        if self.kind == "op":
            return f"{self.label} = {self.name}" if self.label else self.name
        return self.label or self.name


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
        from chainrule.viz.dot import to_dot

        return to_dot(self)

    def draw(self, path, fmt: str | None = None, dpi: int = 150):
        """Write the graph to ``path``: "dot" text, or a "png" / "svg" drawing."""
        from chainrule.viz.draw import write

        return write(self, path, fmt, dpi)

    def _repr_svg_(self) -> str:  # shown inline by Jupyter
        from chainrule.viz.draw import svg_text

        return svg_text(self)


def watch(root: Tensor) -> Tensor:
    """Record dL/d(output) at every op node below ``root`` during the next backward pass.

    Call it after building ``root`` and before ``root.backward()``; ``build_graph`` and
    ``draw_graph`` then show a gradient on every node. Returns ``root``.
    """
    if not isinstance(root, Tensor):
        raise TypeError(f"watch: expected a Tensor, got {type(root).__name__}")
    for node in _op_nodes(root):
        # NOTE: this is what ``t.register_hook`` does for a non-leaf t; the graph has
        # only the node, not the tensor, so the hook goes on the node's list directly.
        if not hasattr(node, "hooks"):
            raise GraphError("watch: this engine's nodes take no hooks")
        if node.hooks is None:
            node.hooks = []
        node.hooks.append(_Capture(node))
    return root


class _Capture:
    """A hook that keeps the gradient arriving at one node (weakly keyed by the node)."""

    def __init__(self, node):
        self.node = weakref.ref(node)

    def __call__(self, g):
        node = self.node()
        if node is not None:
            _WATCHED[node] = np.array(g.data if isinstance(g, Tensor) else g, copy=True)


def _op_nodes(root: Tensor) -> list:
    """Every op node reachable from ``root``, each once (iterative walk)."""
    start = root.grad_fn
    if start is None:
        return []
    seen, stack, out = {id(start)}, [start], []
    while stack:
        node = stack.pop()
        out.append(node)
        for p in node.parents or ():
            if p is not None and not isinstance(p, Tensor) and id(p) not in seen:
                seen.add(id(p))
                stack.append(p)
    return out


def build_graph(root: Tensor, names: dict | None = None, grads: dict | None = None) -> Graph:
    """The graph below ``root`` as a ``Graph`` record.

    ``names`` maps a label to a tensor of the computation (``{"z": z, "W": W}``): its box
    is labelled and shows its value. ``grads`` maps a label or a tensor to its gradient
    (array or tensor), overriding what was captured.
    """
    if not isinstance(root, Tensor):
        raise TypeError(f"draw_graph: expected a Tensor, got {type(root).__name__}")
    names = dict(names or {})
    by_key: dict[int, tuple[str, Tensor]] = {}  # id(node) or id(leaf) -> (label, tensor)
    for label, t in names.items():
        if not isinstance(t, Tensor):
            raise TypeError(f"draw_graph: names[{label!r}] is a {type(t).__name__}, "
                            "expected a Tensor")
        key = id(t.grad_fn) if t.grad_fn is not None else id(t)
        if key in by_key:  # one tensor, two names (a = z for a linear layer)
            label = f"{by_key[key][0]} = {label}"
        by_key[key] = (label, t)
    given = {}
    for key, g in (grads or {}).items():
        t = names.get(key) if isinstance(key, str) else key
        if not isinstance(t, Tensor):
            raise GraphError(f"draw_graph: grads key {key!r} names no tensor in names")
        given[id(t.grad_fn) if t.grad_fn is not None else id(t)] = _array(g)

    # Walk from the root, remembering each node's inputs; then order inputs first.
    order: list[tuple[int, object]] = []  # (key, node-or-tensor) in discovery order
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

    topo = _topological(order, edges)
    nodes: list[GraphNode] = []
    index: dict[int, int] = {}
    for k, obj in topo:
        inputs = []
        for kind, ref in edges[k]:
            if kind == "const":
                nodes.append(GraphNode(len(nodes), "const", "const", ()))
                inputs.append(nodes[-1].id)
            else:
                inputs.append(index[ref])
        label, tensor = by_key.get(k, (None, None))
        if isinstance(obj, Tensor):
            tensor = obj
            node = GraphNode(len(nodes), "leaf", "leaf", tuple(obj.shape), inputs, label,
                             value=obj.data, grad=_array(obj.grad) if obj.grad is not None
                             else None)
        else:
            node = GraphNode(len(nodes), "op", obj.name, tuple(obj.out_shape), inputs, label)
            if tensor is not None:
                node.value = tensor.data
                if tensor.grad is not None:
                    node.grad = _array(tensor.grad)
            if obj in _WATCHED:
                node.grad = _WATCHED[obj]
        if k in given:
            node.grad = given[k]
        index[k] = node.id
        nodes.append(node)
    nodes[-1].is_root = True
    if nodes[-1].value is None:
        nodes[-1].value = root.data
    return Graph(nodes)


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
