"""Write the table of docs/backends.md (what runs where) from the primitives themselves.

Each primitive says whether its forward and vjp keep to the array API (``portable``, in
graph/node.py), and, where that depends on the library or the inputs, how (its
``backends_note``, shown instead). The table between the two markers of
docs/backends.md is made from those, so it cannot drift from the code;
tests/ops/test_backends_doc.py fails when it is stale. Run:

    python tools/make_backends_doc.py
"""

from __future__ import annotations

import inspect
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "backends.md"
START, END = "<!-- backends table: start -->", "<!-- backends table: end -->"


def other_libraries(cls) -> str:
    """The op's own ``backends_note`` where it has one (a portable path that differs by
    library or by input), else what its ``portable`` flag says."""
    note = cls.__dict__.get("backends_note")
    if note:
        return note
    if cls.portable is True:
        return "array API"
    if isinstance(cls.__dict__.get("portable"), property):  # portable for some inputs only
        raise SystemExit(f"{cls.__name__}: its portable flag depends on the inputs; say on "
                         "which in a class attribute backends_note (the table shows it)")
    return "not yet: BackendError"


def numpy_path(cls) -> str:
    """Does the op keep a NumPy-only fast path beside its portable one?"""
    source = inspect.getsource(cls.forward)  # inherited too (Minimum runs Maximum's)
    return "own" if "xp is not np" in source or "xp is np" in source else "same code"


def table() -> str:
    # nn.sync_batchnorm defines primitives too, and `import chainrule` no longer loads nn
    import chainrule.nn  # noqa: F401
    from chainrule.ops import PRIMITIVES

    rows = sorted(PRIMITIVES.items(), key=lambda kv: (kv[1].__module__, kv[0]))
    lines = ["| primitive | family | PyTorch, CuPy, array-api-strict | NumPy path |",
             "| --- | --- | --- | --- |"]
    lines += [f"| {name} | {cls.__module__.rsplit('.', 1)[-1]} | {other_libraries(cls)} | "
              f"{numpy_path(cls) if cls.portable is not False else 'the only one'} |"
              for name, cls in rows]
    ported = sum(cls.portable is True for cls in PRIMITIVES.values())
    lines += ["", f"{ported} of {len(PRIMITIVES)} primitives run on every backend."]
    return "\n".join(lines)


def render(text: str) -> str:
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{table()}\n{END}{tail}"


if __name__ == "__main__":
    DOC.write_text(render(DOC.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"wrote {DOC}")
