"""docs/ops.md is the derivatives table generated from the primitives' docstrings."""

import importlib.util
import re
from pathlib import Path

TOOL = Path(__file__).resolve().parents[2] / "tools" / "make_ops_doc.py"


def test_the_derivatives_table_is_current():
    spec = importlib.util.spec_from_file_location("make_ops_doc", TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert tool.DOC.read_text(encoding="utf-8") == tool.render(), (
        "docs/ops.md is stale. help: run `python tools/make_ops_doc.py`")


def test_every_rule_names_a_gradient():
    import chainrule as cr

    spec = importlib.util.spec_from_file_location("make_ops_doc", TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    for name, cls in cr.ops.PRIMITIVES.items():
        text = tool.rule(cls)
        after = text.split(";", 1)[1] if ";" in text else ""
        assert re.search(r"\bd\w+\s*=", after), f"{name}: no gradient in its rule {text!r}"
