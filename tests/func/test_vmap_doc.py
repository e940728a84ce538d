"""docs/func.md's table of batching rules is the rules' own (tools/make_vmap_doc.py)."""

import importlib.util
from pathlib import Path

TOOL = Path(__file__).resolve().parents[2] / "tools" / "make_vmap_doc.py"


def test_the_table_of_batching_rules_is_fresh():
    spec = importlib.util.spec_from_file_location("make_vmap_doc", TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    text = tool.DOC.read_text(encoding="utf-8")
    assert tool.updated(text) == text, (
        "docs/func.md's vmap table is stale. help: run `python tools/make_vmap_doc.py`")


def test_every_primitive_has_a_row():
    import chainrule.nn.functional  # noqa: F401
    from chainrule.ops import PRIMITIVES

    text = (Path(__file__).resolve().parents[2] / "docs" / "func.md").read_text("utf-8")
    for name in PRIMITIVES:
        assert f"| `{name}` |" in text, name
