"""health.jsonl: the records of a run, one JSON object per line, one line per sampled step.

Written as the run goes (a line is appended and flushed per sampled step), so a run that
stops early still has its record up to there. Read back with the care every user file
gets here (habit 16): a regular file only, no more than ``MAX_BYTES``, a line that is not
a record named by its number. A last line cut short (the process was killed while
writing it) is left out with a note; a step written twice (a run resumed from a
checkpoint repeats the steps after it) keeps its last record.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from chainrule._files import open_regular, read_up_to
from chainrule.errors import ChainruleError

FILE_NAME = "health.jsonl"
MAX_BYTES = 1 << 30  # a record is ~1 KB per layer: a million sampled steps of a small model


class HealthFileError(ChainruleError, ValueError):
    """A health.jsonl that is missing, too large or not made of records."""


def plain(value):
    """``value`` with every float that is NaN or infinite made None (JSON has neither)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def append(path: Path, record: dict) -> None:
    """Add ``record`` as one line at the end of ``path`` (created if missing), flushed."""
    line = json.dumps(plain(record), allow_nan=False, ensure_ascii=False) + "\n"
    with open(path, "a", encoding="utf-8") as f:
        f.write(line)
        f.flush()


@dataclass
class Loaded:
    """The records of a health.jsonl, by step, and what reading them noticed."""

    path: Path
    records: list
    notes: list = field(default_factory=list)

    @property
    def every(self) -> int | None:
        """The sampling interval: the smallest gap between two recorded steps."""
        steps = [r["step"] for r in self.records]
        gaps = [b - a for a, b in zip(steps, steps[1:]) if b > a]
        return min(gaps) if gaps else None

    @property
    def warnings(self) -> list:
        return [w for r in self.records for w in r.get("warnings", ())]


def show(path) -> str:
    """``path`` for a message: bytes that are not UTF-8 appear as ``\\xff``, never crash."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def file_of(run) -> Path:
    """The health.jsonl of ``run``: a run directory, or the file itself."""
    run = Path(run)
    return run / FILE_NAME if run.is_dir() else run


def read(run) -> Loaded:
    """The records of ``run`` (a run directory or a health.jsonl), sorted by step."""
    path = file_of(run)
    if not path.exists():
        hint = ("the run was trained without --health. help: train with `chainrule train "
                "--health` (--health-every N samples one step in N)")
        raise HealthFileError(f"{show(path)}: no such file: {hint}" if path.name == FILE_NAME
                              else f"{show(path)}: no such file or run directory")
    with open_regular(path) as f:
        size = os.fstat(f.fileno()).st_size
        if size > MAX_BYTES:
            raise HealthFileError(f"{show(path)}: {size:,} bytes, more than a health record "
                                  f"holds (at most {MAX_BYTES:,}). help: is it a health.jsonl?")
        data = read_up_to(f, MAX_BYTES)
    lines = data.split(b"\n")
    by_step, notes = {}, []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        record = _parse(raw)
        if record is None:
            if number == len(lines):  # no newline after it: cut short while being written
                notes.append(f"line {number} is incomplete (the run stopped while writing "
                             "it): left out")
                continue
            raise HealthFileError(f"{show(path)}: line {number} is not a health record (a "
                                  "JSON object with a whole-number step and lists of "
                                  "activations and params). help: give a health.jsonl that "
                                  "`chainrule train --health` wrote")
        by_step[record["step"]] = record
    if not by_step:
        raise HealthFileError(f"{show(path)}: no records in it. help: a run writes its first "
                              "record after its first training step")
    return Loaded(path, [by_step[s] for s in sorted(by_step)], notes)


def _parse(raw: bytes) -> dict | None:
    try:
        record = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(record, dict) or isinstance(record.get("step"), bool) \
            or not isinstance(record.get("step"), int) \
            or not all(isinstance(record.get(k), list) for k in ("activations", "params")):
        return None
    if not isinstance(record.get("warnings", []), list):
        return None
    for key, names in REQUIRED.items():
        for item in record.get(key) or ():
            if not isinstance(item, dict) or not all(isinstance(item.get(n), str)
                                                     for n in names):
                return None
            if not all(_number_or_none(v) for k, v in item.items() if k not in TEXT_FIELDS):
                return None
    return record


#: The text fields each list's items must have (what the report and figure name them by).
REQUIRED = {"activations": ("layer", "kind"), "params": ("name", "layer"),
            "warnings": ("layer", "signal", "message")}
#: Fields that are not numbers.
TEXT_FIELDS = {"layer", "kind", "name", "signal", "message", "shape", "has_grad", "facts"}


def _number_or_none(v) -> bool:
    return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))
