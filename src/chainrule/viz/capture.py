"""watch: the gradient arriving at every op node of a graph, caught through the public
hook API (``Node.register_prehook``, PyTorch's name) and kept until the graph is gone.

    loss = ((w @ x + b).sigmoid() - t).sum()
    cr.viz.watch(loss)       # a hook on every op node below loss
    loss.backward()          # each hook keeps dL/d(its node's output)
    cr.viz.unwatch(loss)     # removes exactly those hooks (the handles they returned)

``build_graph`` reads what was caught with ``captured(node)``.
"""

from __future__ import annotations

import weakref

import numpy as np

from chainrule.tensor import Tensor

#: dL/d(output) per op node, as the hooks caught it; and the handle of each hook, to
#: remove it. Weakly keyed: a graph that is gone takes its entries with it.
_CAUGHT: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_HANDLES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def watch(root: Tensor) -> Tensor:
    """Record dL/d(output) at every op node below ``root`` during the next backward pass.

    Call it after building ``root`` and before ``root.backward()``; ``build_graph`` and
    ``draw_graph`` then show a gradient on every node. Watching a node twice hooks it
    once. Returns ``root``; ``unwatch(root)`` removes the hooks.
    """
    if not isinstance(root, Tensor):
        raise TypeError(f"watch: expected a Tensor, got {type(root).__name__}")
    for node in op_nodes(root):
        if node not in _HANDLES:
            _HANDLES[node] = node.register_prehook(_Catch(node))
    return root


def unwatch(root: Tensor) -> None:
    """Remove the hooks that ``watch`` put below ``root`` (and no other hook); what they
    caught stays on the graph's nodes."""
    if not isinstance(root, Tensor):
        raise TypeError(f"unwatch: expected a Tensor, got {type(root).__name__}")
    for node in op_nodes(root):
        handle = _HANDLES.pop(node, None)
        if handle is not None:
            handle.remove()


def captured(node) -> np.ndarray | None:
    """The gradient a watch caught at op node ``node`` in the last backward pass, or None."""
    return _CAUGHT.get(node)


class _Catch:
    """A hook that keeps the gradient arriving at one node (weakly keyed by the node)."""

    def __init__(self, node):
        self.node = weakref.ref(node)

    def __call__(self, grad_outputs):
        (g,) = grad_outputs
        node = self.node()
        if node is not None:
            _CAUGHT[node] = np.array(g.data if isinstance(g, Tensor) else g, copy=True)


def op_nodes(root: Tensor) -> list:
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
