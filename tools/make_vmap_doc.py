"""Write the table of batching rules into docs/func.md (between its vmap-rules markers),
from chainrule.func.batching's rules and their docstrings: every primitive, and how vmap
runs it on a whole batch, or "the loop". tests/func/test_vmap_doc.py fails when the table
is stale. Run:

    python tools/make_vmap_doc.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "func.md"
START, END = "<!-- vmap-rules:start -->\n", "<!-- vmap-rules:end -->\n"


def table() -> str:
    sys.path.insert(0, str(ROOT / "src"))
    import chainrule.nn.functional  # noqa: F401 - registers the nn primitives
    from chainrule.func.batching import rule_table
    from chainrule.ops import PRIMITIVES

    return rule_table(PRIMITIVES)


def updated(text: str) -> str:
    head, rest = text.split(START)
    _, tail = rest.split(END)
    return head + START + table() + END + tail


if __name__ == "__main__":
    DOC.write_text(updated(DOC.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"wrote {DOC}")
