"""``chainrule health RUN``: the health report of a run trained with ``--health``.

    chainrule health runs/digits-mlp              the text report, and RUN/health.png
    chainrule health runs/digits-mlp --lang zh    in Chinese (figure: RUN/health.zh.png)
    chainrule health runs/x/health.jsonl --figure report.png

Exit codes: 0 when no signal was flagged, 1 when some were (the report says which), 2
for bad input.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

from chainrule.errors import UsageError
from chainrule.health.text import LANGS, text


def register(subparsers) -> None:
    """Add the ``health`` subcommand to the ``chainrule`` command."""
    p = subparsers.add_parser(
        "health", help="report a run's training health (train it with --health)",
        description="The training health of a run that `chainrule train --health` wrote: "
        "saturated and dead units, update-to-data ratios, gradient norms by layer, the "
        "initial loss, and every warning with its fix; as text and as a figure.")
    p.add_argument("run", type=Path, metavar="RUN",
                   help="a run directory (its health.jsonl), or a health.jsonl file")
    p.add_argument("--lang", choices=LANGS, default="en", help="language of the report and "
                   "figure (default: en)")
    p.add_argument("--figure", type=Path, metavar="FILE.png",
                   help="where to write the figure; default: health.png beside the records "
                   "(health.zh.png with --lang zh)")
    p.add_argument("--no-figure", action="store_true", help="the text report only")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from chainrule.health.records import HealthFileError, read, show

    try:
        loaded = read(args.run)
    except HealthFileError as e:
        raise UsageError(str(e)) from None
    except OSError as e:
        raise UsageError(f"{show(e.filename or args.run)}: cannot read it "
                         f"({e.strerror or e})") from None
    figure = None if args.no_figure else _figure_path(args, loaded.path)
    if figure is not None:
        _check_writable(figure)
    from chainrule.health.report import report_text

    name = show(loaded.path.parent if loaded.path.name == "health.jsonl" else loaded.path)
    for note in loaded.notes:
        print(f"chainrule health: note: {note}", file=sys.stderr)
    print(report_text(loaded.records, name, args.lang, loaded.every))
    if figure is not None:
        _draw(loaded.records, figure, name, args.lang)
        print(text(args.lang)["report_figure"].format(path=show(figure)))
    return 1 if loaded.warnings else 0


def _figure_path(args, records_path: Path) -> Path:
    if args.figure is not None:
        if args.figure.suffix.lower() != ".png":
            raise UsageError(f"--figure: expected a file name ending in .png, got "
                             f"{args.figure}")
        return args.figure
    return records_path.with_name("health.zh.png" if args.lang == "zh" else "health.png")


def _check_writable(figure: Path) -> None:
    """Refuse a figure path whose folder is missing or read-only, or that is a folder."""
    folder = figure.parent
    if figure.is_dir():
        raise UsageError(f"--figure: cannot write {figure}: is a folder. help: give a file "
                         f"name, e.g. {figure / 'health.png'}")
    if not folder.is_dir():
        raise UsageError(f"--figure: cannot write {figure}: {folder}: no such folder. help: "
                         "create the folder first, or write the figure elsewhere")
    if not os.access(folder, os.W_OK) or (figure.exists() and not os.access(figure, os.W_OK)):
        raise UsageError(f"cannot write {figure}: permission denied. help: --figure FILE.png "
                         "in a folder you can write to, or --no-figure")


def _draw(records: list, figure: Path, name: str, lang: str) -> None:
    from chainrule.explain.fonts import FontWarning
    from chainrule.health.figure import draw

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FontWarning)
        try:
            draw(records, figure, name, lang)
        except OSError as e:
            raise UsageError(f"cannot write {figure}: {e.strerror or e}") from None
    for w in caught:
        if issubclass(w.category, FontWarning):
            print(f"chainrule health: warning: {w.message}", file=sys.stderr)
