"""The two explain figures share one drawing kit (explain/_draw.py) and not each other."""

import ast
from pathlib import Path

import chainrule.explain as explain

FOLDER = Path(explain.__file__).parent
FIGURES = ("network_figure", "neuron_figure")


def _explain_imports(name: str) -> set[str]:
    """The explain modules that explain/``name``.py imports (lazily or not)."""
    out = set()
    for node in ast.walk(ast.parse((FOLDER / f"{name}.py").read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        out |= {n.split(".")[2] for n in names if n.startswith("chainrule.explain.")}
    return out


def test_each_figure_draws_with_the_kit_and_imports_no_other_figure():
    for name in FIGURES:
        imports = _explain_imports(name)
        assert "_draw" in imports, name
        assert not imports & {"figure", *FIGURES} - {name}, (name, imports)


def test_the_kit_imports_no_figure():
    assert not _explain_imports("_draw") & {"figure", *FIGURES}

