"""viz.watch and viz.unwatch: hooks on every op node through the public hook API, removable."""

import ast
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule.viz import build_graph, unwatch, watch


def small():
    w = cr.tensor(np.array([0.5, -1.0]), requires_grad=True)
    x = cr.tensor(np.array([2.0, 1.0]))
    z = (w * x).sum()
    return z, z.tanh()


def test_watch_hooks_every_op_node_once_through_register_prehook(monkeypatch):
    from chainrule.graph.node import Node

    hooked = []
    register = Node.register_prehook

    def spy(self, fn):
        hooked.append(self.name)
        return register(self, fn)

    monkeypatch.setattr(Node, "register_prehook", spy)
    _, a = small()
    assert watch(a) is a
    watch(a)  # a second watch adds no second hook
    assert sorted(hooked) == ["Mul", "Sum", "Tanh"]


def test_unwatch_leaves_no_hook_behind_and_keeps_the_users():
    z, a = small()
    seen = []
    z.register_hook(lambda g: seen.append(float(g.item())))  # the user's own hook
    watch(a)
    unwatch(a)
    a.backward(retain_graph=True)
    assert seen == [1.0]  # still there: tanh'(0) = 1
    assert [n.grad for n in build_graph(a).ops()] == [None, None, None]  # nothing caught
    watch(a)  # and it can watch again
    a.backward()
    assert [n.grad for n in build_graph(a).ops()] == [pytest.approx([1.0, 1.0]), 1.0, 1.0]


def test_watching_a_leaf_hooks_nothing():
    t = cr.tensor(np.array([1.0, 2.0]), requires_grad=True)
    assert watch(t) is t
    unwatch(t)
    assert build_graph(t).root.grad is None


@pytest.mark.parametrize("fn", [watch, unwatch])
def test_watch_and_unwatch_take_a_tensor(fn):
    with pytest.raises(TypeError, match=f"{fn.__name__}: expected a Tensor, got int"):
        fn(42)


def test_viz_imports_only_downward():
    """No import loop among viz's modules (lazy imports count too)."""
    folder = Path(cr.viz.__file__).parent
    imports = {}
    for path in folder.glob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
            elif isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
        imports[path.stem] = {n.split(".")[2] for n in names
                              if n.startswith("chainrule.viz.")} - {path.stem}
    assert {"graph", "draw", "dot", "labels", "node", "capture"} <= set(imports)
    for start in imports:  # walk down from each module: it must never come back
        stack, seen = [start], set()
        while stack:
            here = stack.pop()
            for m in imports.get(here, ()):
                assert m != start, f"viz/{start}.py is imported back by viz/{here}.py"
                if m not in seen:
                    seen.add(m)
                    stack.append(m)
