"""docs/backends.md's table of what runs where is generated from the primitives' flags."""

import importlib.util
from pathlib import Path

TOOL = Path(__file__).resolve().parents[2] / "tools" / "make_backends_doc.py"


def _tool():
    spec = importlib.util.spec_from_file_location("make_backends_doc", TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def test_the_backends_table_is_current():
    tool = _tool()
    text = tool.DOC.read_text(encoding="utf-8")
    assert tool.START in text and tool.END in text
    assert text == tool.render(text), (
        "docs/backends.md is stale. help: run `python tools/make_backends_doc.py`")


def test_every_primitive_is_in_the_table():
    from chainrule.ops import PRIMITIVES

    text = _tool().DOC.read_text(encoding="utf-8")
    missing = [name for name in PRIMITIVES if f"| {name} |" not in text]
    assert not missing, missing
