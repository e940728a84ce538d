"""train/ stays in pieces one can read: no module over 450 lines, no function over 60
(issue 12: loop.py had grown to 729 lines, run() to 107, and state travelled as bags of
8-10 arguments; RunState and the modules of loop.py's steps replaced them)."""

from __future__ import annotations

import ast
from pathlib import Path

TRAIN = Path(__file__).resolve().parents[2] / "src" / "chainrule" / "train"
MAX_FILE, MAX_FUNCTION = 450, 60


def test_no_module_of_train_is_over_450_lines():
    sizes = {p.name: len(p.read_text(encoding="utf-8").splitlines())
             for p in TRAIN.glob("*.py")}
    assert "loop.py" in sizes and "state.py" in sizes
    assert {name: n for name, n in sizes.items() if n > MAX_FILE} == {}


def test_no_function_of_train_is_over_60_lines():
    long = {}
    for path in sorted(TRAIN.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION:
                    long[f"{path.name}:{node.name}"] = lines
    assert long == {}
