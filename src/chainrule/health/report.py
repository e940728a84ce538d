"""The text report of a run's health: where it started, where it ended, what was flagged.

Rendered from the records alone (a ``Monitor``'s ``records``, or a health.jsonl read
back), in English or Chinese; a warning's line is written again from its facts in the
language asked for, so a run trained in English reports in Chinese too.
"""

from __future__ import annotations

import unicodedata

from chainrule.health.signals import Finding
from chainrule.health.text import message, num, text


def report_text(records: list, run: str, lang: str = "en", every: int | None = None) -> str:
    """The whole report as one string (lines joined by newlines)."""
    T = text(lang)
    if not records:
        return T["report_title"].format(run=run)
    first, last = records[0], records[-1]
    lines = [T["report_title"].format(run=run),
             T["report_steps"].format(n=len(records), every=every or "?", first=first["step"],
                                      last=last["step"])]
    initial = first.get("initial_loss")
    if initial:
        lines.append(T["report_initial"].format(loss=num(initial.get("loss")),
                                                classes=initial.get("classes"),
                                                expected=num(initial.get("expected"))))
    lines += ["", T["report_last"].format(step=last["step"])]
    if last.get("activations"):
        lines.append("  " + T["report_acts"])
        lines += _table([T[k] for k in ("col_layer", "col_kind", "col_mean", "col_std",
                                        "col_saturated", "col_dead", "col_amplifier")],
                        [[a["layer"], a["kind"], num(a.get("mean")), num(a.get("std")),
                          _pct(a.get("saturated")), _pct(a.get("dead")),
                          num(a.get("amplifier"))] for a in last["activations"]])
    if last.get("params"):
        lines.append("  " + T["report_params"])
        lines += _table([T[k] for k in ("col_param", "col_grad_norm", "col_grad_data",
                                        "col_update")],
                        [[p["name"], num(p.get("grad_norm")), num(p.get("grad_data_ratio")),
                          _fixed(p.get("update_ratio"))] for p in last["params"]])
    warnings = [w for r in records for w in r.get("warnings", ())]
    lines.append("")
    if warnings:
        lines.append(T["report_warnings"].format(n=len(warnings)))
        lines += ["  " + T["report_warning"].format(step=w.get("step"),
                                                    message=_message(w, lang))
                  for w in warnings]
    else:
        lines.append(T["report_healthy"])
    return "\n".join(lines)


def _message(warning: dict, lang: str) -> str:
    """The warning's line in ``lang``, written again from its facts."""
    value = warning.get("value")
    finding = Finding(warning["layer"], warning["signal"],
                      float("inf") if value is None else value,
                      warning.get("facts") if isinstance(warning.get("facts"), dict) else {})
    try:
        return message(finding, lang)
    except (KeyError, ValueError, TypeError):  # facts from another version: its own words
        return warning["message"]


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f} %"


def _fixed(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}"


def _width(s: str) -> int:
    """Columns ``s`` takes in a terminal: Chinese characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def _table(head: list, rows: list) -> list:
    widths = [max(_width(str(row[i])) for row in [head] + rows) for i in range(len(head))]
    out = []
    for row in [head] + rows:
        cells = [str(c) + " " * (w - _width(str(c))) for c, w in zip(row, widths)]
        out.append(("    " + "  ".join(cells)).rstrip())
    return out
