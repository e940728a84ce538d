"""``chainrule explain``: the explain view on the command line.

    chainrule explain                       the lecture example, tables in English
    chainrule explain xor --lang zh         a built-in example, in Chinese
    chainrule explain net.json --json       any network file, as one JSON document
    chainrule explain mlp --figure mlp.png  the two-panel figure (.png or .svg)
    chainrule explain --list                the built-in examples
    chainrule explain lecture --modes       all of dL/dw by forward and by reverse mode
    chainrule explain --checkpoint runs/digits-mlp --sample 7 --neuron 1:3
                                            one neuron of a trained MLP, on a test sample

Exit codes: 0 when the product dz/dw x dl/dz, autograd and the finite difference agree
(or differ only because a relu sits exactly on its kink z = 0); 1 when they do not (an
engine bug: the numbers are still shown); 2 for bad input.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path

from chainrule.errors import UsageError
from chainrule.explain.examples import EXAMPLES
from chainrule.explain.fonts import FontWarning
from chainrule.explain.spec import SpecError
from chainrule.explain.text import LANGS, text


def register(subparsers) -> None:
    """Add the ``explain`` subcommand to the ``chainrule`` command."""
    p = subparsers.add_parser(
        "explain",
        help="see backpropagation: forward pass, backward pass, chain rule, one step",
        description="Lay out one gradient-descent step of a small network the way the "
        "lecture does: the forward pass (z, a), the backward pass (dl/dz through the "
        "amplifiers sigma'(z)), dl/dw = dz/dw x dl/dz checked against autograd and finite "
        "differences, and the update w - lr dL/dw.",
    )
    p.add_argument("network", nargs="?", default=None,
                   help=f"a built-in example ({', '.join(EXAMPLES)}) or a network JSON file; "
                   "default: lecture")
    p.add_argument("--checkpoint", metavar="RUN",
                   help="explain one neuron of an MLP trained by `chainrule train`: a run "
                   "directory (its last checkpoint) or a .safetensors checkpoint; --sample "
                   "picks the test sample, --neuron the neuron")
    p.add_argument("--json", action="store_true", help="print one JSON document, no tables")
    p.add_argument("--figure", metavar="FILE", help="write the figure to FILE.png or FILE.svg")
    p.add_argument("--lang", choices=LANGS, default="en", help="language of tables and figure")
    p.add_argument("--sample", type=int, default=0, metavar="N",
                   help="which sample the figure shows; with --checkpoint, which test sample "
                   "(default 0)")
    p.add_argument("--neuron", metavar="LAYER:INDEX",
                   help="tables for one neuron and its incoming weights only, e.g. 1:0; with "
                   "--checkpoint default: the neuron of the last hidden layer with the "
                   "largest |dl/dz|")
    p.add_argument("--top", type=int, metavar="K",
                   help="list only the K weights per neuron with the largest |dL/dw| "
                   "(all are still checked; 0: all, the default)")
    p.add_argument("--modes", action="store_true",
                   help="also compute all of dL/dw by forward mode (one pass per parameter) "
                   "and by reverse mode (one backward pass): multiply-adds, time, and the "
                   "same numbers from both")
    p.add_argument("--list", action="store_true", help="list the built-in examples")
    p.add_argument("--show", action="store_true",
                   help="print the network file of NETWORK (a start for your own)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from chainrule.explain.tracing import as_spec, trace

    if args.list:
        for name, spec in EXAMPLES.items():
            print(f"{name:10s} {spec['description']}")
        return 0
    neuron = _neuron(args.neuron, UsageError) if args.neuron else None
    figure = Path(args.figure) if args.figure else None
    if figure is not None and figure.suffix.lower() not in (".png", ".svg"):
        raise UsageError(f"--figure: expected a file name ending in .png or .svg, got {figure}")
    if figure is not None:
        _check_writable(figure)  # before anything is printed: no tables, then an error
    if args.top is not None and args.top < 0:
        raise UsageError(f"--top: expected a number of weights >= 0, got {args.top}")

    if args.checkpoint is not None:
        if args.network is not None:
            raise UsageError(f"give a network ({args.network}) or --checkpoint, not both")
        if args.show:
            raise UsageError("--show prints a network file; a checkpoint is no network file")
        if args.modes:
            raise UsageError("--modes compares the two modes on a network file or example, "
                             "not a checkpoint. help: run it on an example, e.g. "
                             "`chainrule explain mlp --modes`")
        record = _checkpoint_record(args.checkpoint, args.sample, neuron)
        return _output(record, args, figure, record.focus, sample=0)

    network = args.network or "lecture"
    if network not in EXAMPLES and not Path(network).exists() and not network.endswith(".json"):
        raise UsageError(
            f'unknown example "{network}" and no such file; built-in examples: '
            f"{', '.join(EXAMPLES)}"
        )
    try:
        spec = as_spec(network)
        if args.show:
            print(json.dumps(spec.to_dict(), indent=2))
            return 0
        record = trace(spec)
    except SpecError as e:
        raise UsageError(str(e)) from None

    if neuron is not None:
        layer, index = neuron
        if not (0 <= layer < record.n_layers and 0 <= index < record.sizes[layer + 1]):
            raise UsageError(
                f"--neuron: no neuron {index} in layer {layer} (layer sizes "
                f"{', '.join(str(s) for s in record.sizes[1:])}, counted from 0)"
            )
    if not 0 <= args.sample < record.n_samples:
        raise UsageError(
            f"--sample: expected 0 to {record.n_samples - 1} (the network has "
            f"{record.n_samples} sample(s)), got {args.sample}"
        )

    return _output(record, args, figure, neuron, args.sample)


def _check_writable(figure: Path) -> None:
    """Refuse a --figure whose folder is missing or read-only, or that names a folder."""
    folder = figure.parent
    if figure.is_dir():
        raise UsageError(f"--figure: cannot write {figure}: is a folder, not a regular file. "
                         f"help: give a file name, e.g. {figure / 'explain.png'}")
    if not folder.is_dir():
        why = "is not a folder" if folder.exists() else "no such folder"
        raise UsageError(f"--figure: cannot write {figure}: {folder}: {why}. help: create the "
                         "folder first, or write the figure elsewhere")
    if not os.access(folder, os.W_OK) or (figure.exists() and not os.access(figure, os.W_OK)):
        raise UsageError(f"--figure: cannot write {figure}: permission denied. help: write "
                         "the figure into a folder you can write to")


def _checkpoint_record(path: str, sample: int, neuron):
    from chainrule.explain.checkpoint import ModelError, trace_checkpoint

    try:
        return trace_checkpoint(path, sample, neuron)
    except (ModelError, SpecError) as e:
        raise UsageError(str(e)) from None


def _output(record, args: argparse.Namespace, figure: Path | None, neuron, sample: int) -> int:
    """Print the tables or the JSON, write the figure; the exit code of the checks."""
    from chainrule.explain.table import print_modes, print_tables

    modes = None
    if getattr(args, "modes", False):
        from chainrule.explain.modes import trace_modes
        from chainrule.explain.tracing import as_spec

        modes = trace_modes(as_spec(args.network or "lecture"))
    if args.json:
        if modes is None:
            print(record.to_json())
        else:
            doc = record.to_dict()
            doc["modes"] = modes.to_dict()
            print(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        print_tables(record, args.lang, neuron=neuron, top=args.top or None)
        if modes is not None:
            print_modes(modes, args.lang)
    if figure is not None:
        from chainrule.explain.figure import draw_figure

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", FontWarning)
            try:
                draw_figure(record, figure, args.lang, sample=sample)
            except OSError as e:
                raise UsageError(f"--figure: cannot write {figure}: {e.strerror or e}") from None
        for w in caught:
            if issubclass(w.category, FontWarning):
                print(f"chainrule explain: warning: {w.message}", file=sys.stderr)
        print(text(args.lang)["fig_written"].format(path=figure),
              file=sys.stderr if args.json else sys.stdout)
    if not record.agrees() and record.kinks:
        print("chainrule explain: note: a relu sits on its kink (z = 0), where it has no "
              "derivative; the finite difference cannot agree there", file=sys.stderr)
    elif not record.agrees():
        print(
            "chainrule explain: error: dz/dw x dl/dz, autograd and the finite difference "
            f"disagree by {record.max_disagreement:.3g}; this is a bug, please report it",
            file=sys.stderr,
        )
        return 1
    if modes is not None and modes.max_difference > 1e-9:
        print("chainrule explain: error: forward and reverse mode disagree by "
              f"{modes.max_difference:.3g}; this is a bug, please report it", file=sys.stderr)
        return 1
    return 0


def _neuron(value: str, error) -> tuple[int, int]:
    try:
        layer, index = (int(part) for part in value.split(":"))
    except ValueError:
        raise error(f"--neuron: expected LAYER:INDEX such as 1:0, got {value!r}") from None
    return layer, index
