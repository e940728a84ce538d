"""``chainrule graph``: the computational graph of a built-in example (or a network file).

    chainrule graph                      the lecture example's graph, as DOT text
    chainrule graph xor -o xor.svg       drawn to SVG (or .png, .dot)
    chainrule graph mlp --sample 0 --no-backward

The graph is one sample's forward pass, z = W a + b and a = sigma(z) layer by layer,
then the loss l; after ``backward`` every box also shows dl/d(its output).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers) -> None:
    """Add the ``graph`` subcommand to the ``chainrule`` command."""
    from chainrule.explain.examples import EXAMPLES

    p = subparsers.add_parser(
        "graph",
        help="draw the recorded computational graph, with values and gradients",
        description="Draw the computational graph that the engine records for one sample "
        "of a small network: one box per op (name, output shape, values) and per input, "
        "and after the backward pass the gradient at each box.",
    )
    p.add_argument("network", nargs="?", default="lecture",
                   help=f"a built-in example ({', '.join(EXAMPLES)}) or a network JSON file")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="write to FILE (.dot, .png or .svg); default: DOT text on stdout")
    p.add_argument("--format", choices=("dot", "png", "svg"),
                   help="output format, if not given by the file name")
    p.add_argument("--sample", type=int, default=0, metavar="N", help="which sample (default 0)")
    p.add_argument("--no-backward", action="store_true",
                   help="draw the forward graph only (no gradients)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from chainrule.cli import UsageError
    from chainrule.explain.examples import EXAMPLES
    from chainrule.explain.spec import SpecError
    from chainrule.explain.tracing import as_spec
    from chainrule.viz.graph import GraphError
    from chainrule.viz.network import network_graph

    network = args.network
    if network not in EXAMPLES and not Path(network).exists() and not network.endswith(".json"):
        raise UsageError(
            f'unknown example "{network}" and no such file; built-in examples: '
            f"{', '.join(EXAMPLES)}"
        )
    try:
        spec = as_spec(network)
    except SpecError as e:
        raise UsageError(str(e)) from None
    if not 0 <= args.sample < spec.n_samples:
        raise UsageError(f"--sample: expected 0 to {spec.n_samples - 1}, got {args.sample}")
    graph = network_graph(spec, args.sample, backward=not args.no_backward)
    if args.output is None:
        if args.format not in (None, "dot"):
            raise UsageError(f"--format {args.format} needs -o FILE")
        sys.stdout.write(graph.to_dot())
        return 0
    try:
        graph.draw(args.output, args.format)
    except GraphError as e:
        raise UsageError(str(e)) from None
    except OSError as e:
        raise UsageError(f"--output: cannot write {args.output}: {e.strerror or e}") from None
    print(f"graph: {args.output} ({len(graph.nodes)} boxes)")
    return 0
