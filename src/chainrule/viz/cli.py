"""``chainrule graph``: the computational graph of a built-in example, a network file or
a model checkpoint.

    chainrule graph                      the lecture example's graph, as DOT text
    chainrule graph xor -o xor.svg       drawn to SVG (or .png, .dot)
    chainrule graph mlp --sample 0 --no-backward
    chainrule graph --checkpoint runs/digits-mlp --sample 7 -o model.png

For a network, the graph is one sample's forward pass, z = W a + b and a = sigma(z)
layer by layer, then the loss l. For a checkpoint (an MLP or a CNN that ``chainrule
train`` wrote) it is the model in eval mode on one test sample, then the cross-entropy l
with its true class. After ``backward`` every box also shows dl/d(its output); tensors
of more than a few values show their shape only.
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
    p.add_argument("network", nargs="?", default=None,
                   help=f"a built-in example ({', '.join(EXAMPLES)}) or a network JSON file; "
                   "default: lecture")
    p.add_argument("--checkpoint", metavar="RUN",
                   help="draw a model trained by `chainrule train` instead: a run directory "
                   "(its last checkpoint) or a .safetensors file; --sample picks the test "
                   "sample")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="write to FILE (.dot, .png or .svg); default: DOT text on stdout")
    p.add_argument("--format", choices=("dot", "png", "svg"),
                   help="output format, if not given by the file name")
    p.add_argument("--sample", type=int, default=0, metavar="N",
                   help="which sample (with --checkpoint: of the test split); default 0")
    p.add_argument("--no-backward", action="store_true",
                   help="draw the forward graph only (no gradients)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from chainrule.errors import UsageError
    from chainrule.explain.examples import EXAMPLES
    from chainrule.explain.spec import SpecError
    from chainrule.explain.tracing import as_spec
    from chainrule.viz.network import network_graph

    if args.checkpoint is not None:
        if args.network is not None:
            raise UsageError(f"give a network ({args.network}) or --checkpoint, not both")
        graph = _checkpoint_graph(args.checkpoint, args.sample, not args.no_backward)
        return _write(graph, args)
    network = args.network or "lecture"
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
    return _write(graph, args)


def _checkpoint_graph(path: str, sample: int, backward: bool):
    from chainrule.errors import UsageError
    from chainrule.explain.checkpoint import ModelError, build_model, load_run
    from chainrule.viz.network import model_graph

    try:
        run = load_run(path)
        n_test = len(run.split.y_test)
        if not 0 <= sample < n_test:
            raise ModelError(f"--sample: expected 0 to {n_test - 1} (the {run.recipe.dataset} "
                             f"test split has {n_test} samples), got {sample}")
        model = build_model(run, dtype=None)
    except ModelError as e:
        raise UsageError(str(e)) from None
    return model_graph(model, run.split.x_test[sample], int(run.split.y_test[sample]),
                       backward)


def _write(graph, args: argparse.Namespace) -> int:
    from chainrule.errors import UsageError
    from chainrule.viz.node import GraphError

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
