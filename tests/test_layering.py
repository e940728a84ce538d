"""The package's floors (DESIGN.md): nothing imports anything on a floor above it, lazily or
not. Read from the source with ``ast``, every ``import`` and ``from ... import`` in every
module, including those inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "chainrule"

# Floors, bottom up: a module may import its own floor and the floors below.
FLOORS = [
    ["errors", "_backend", "_random", "_allocator", "_files"],
    ["graph"],
    ["tensor", "ops", "factories"],  # tensor <-> ops: the one natural loop, as PyTorch's
    ["autograd", "func"],
    # distributed sits beside nn and data (DESIGN.md): nn.parallel and the sampler use it
    ["nn", "optim", "data", "serialization", "distributed"],
    ["compile"],  # records and replays steps of nn and optim (DESIGN.md)
    ["train", "explain", "viz", "health"],
    ["playground"],  # serves explain's ledger for the networks it trains
    ["cli", "__main__"],
]
FLOOR = {name: i for i, names in enumerate(FLOORS) for name in names}


def _top(module: str) -> str:
    """The part of ``chainrule`` a module belongs to: its first component below it (the
    ``_tensor_*`` modules beside tensor.py hold mixins of Tensor: they are part of it)."""
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else "__init__"
    return "tensor" if top.startswith("_tensor_") else top


def _imports(path: Path, module: str):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            yield node.lineno, name
            for alias in node.names:  # `from chainrule import nn` imports chainrule.nn
                yield node.lineno, f"{name}.{alias.name}"


def _modules():
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield path, ".".join(parts)


def test_every_part_has_a_floor():
    tops = {_top(m) for _, m in _modules()} - {"__init__"}
    assert tops <= set(FLOOR), f"parts with no floor: {sorted(tops - set(FLOOR))}"


def test_nothing_imports_upward():
    upward = []
    for path, module in _modules():
        here = _top(module)
        if here == "__init__":
            continue  # the public surface re-exports every floor
        for line, name in _imports(path, module):
            if not name.startswith("chainrule."):
                continue
            there = _top(name)
            if there in FLOOR and FLOOR[there] > FLOOR[here]:
                upward.append(f"{path.relative_to(SRC.parent)}:{line}: {here} (floor "
                              f"{FLOOR[here] + 1}) imports {name} (floor {FLOOR[there] + 1})")
    assert not upward, "\n".join(upward)


def test_ops_never_reach_the_backward_engine():
    for path, module in _modules():
        if _top(module) in ("ops", "tensor", "graph"):
            for line, name in _imports(path, module):
                assert not name.startswith("chainrule.autograd"), f"{path}:{line}: {name}"


def test_health_sits_below_train():
    """train imports health (`chainrule train --health`); health never imports train, so
    a monitor works around any loop, the user's own included."""
    for path, module in _modules():
        if _top(module) == "health":
            for line, name in _imports(path, module):
                assert not name.startswith("chainrule.train"), f"{path}:{line}: {name}"


def test_no_source_file_over_450_lines():
    long = [f"{p.relative_to(SRC.parent)}: {n}" for p, _ in _modules()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 450]
    assert not long, long


def _import_graph() -> dict:
    """Module -> the chainrule modules it imports. Package faces (``__init__``) are left
    out: they re-export their package, so every module reaches them and they reach all."""
    paths = dict((module, path) for path, module in _modules())
    graph = {}
    for module, path in paths.items():
        if path.name == "__init__.py":
            continue
        graph[module] = {name for _, name in _imports(path, module)
                         if name in paths and paths[name].name != "__init__.py"
                         and name != module}
    return graph


def _circles(graph: dict) -> list:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def test_no_import_circle_but_tensor_and_ops():
    """The issue's bar: no import cycle in the package except tensor.py <-> ops/ (an op
    returns a Tensor; a Tensor's methods call the ops), lazy imports included."""
    circles = [c for c in _circles(_import_graph())
               if not all(_top(m) in ("tensor", "ops") for m in c)]
    assert not circles, "import circles: " + "; ".join(" <-> ".join(c) for c in circles)


def test_the_circle_finder_finds_a_circle():
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
