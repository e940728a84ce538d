"""The ``chainrule`` command: thin subcommands over the library's layers.

Each feature package owns its subcommand: it exposes ``register(subparsers)``, which adds
a parser whose ``func`` default runs it. This module only lists them and turns expected
failures into one-line errors with exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from chainrule.errors import UsageError

#: The module that adds each subcommand. A module that is not there yet is skipped.
#: `chainrule CMD ...` imports only CMD's module (the others import what they draw and
#: serve with: explain's tables, the playground's server), so that `chainrule train
#: --help` starts fast; `chainrule --help` and an unknown command import them all.
SUBCOMMANDS = {
    "train": "chainrule.train.cli",  # and evaluate, predict
    "evaluate": "chainrule.train.cli",
    "predict": "chainrule.train.cli",
    "explain": "chainrule.explain.cli",
    "graph": "chainrule.viz.cli",
    "health": "chainrule.health.cli",
    "playground": "chainrule.playground.cli",
}




class _Parser(argparse.ArgumentParser):
    """argparse, with its errors in one line (its default prints the whole usage first)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}. help: {self.prog} --help\n")


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser for ``argv``: with only its subcommand's module loaded, when it names one."""
    parser = _Parser(
        prog="chainrule",
        description="Error backpropagation, for real: train networks and see the chain rule.",
    )
    from chainrule import __version__

    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    command = next((a for a in argv or () if not a.startswith("-")), None)
    modules = dict.fromkeys(SUBCOMMANDS.values())  # each once, in order
    for name in [SUBCOMMANDS[command]] if command in SUBCOMMANDS else modules:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if not name.startswith(e.name or "?"):
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    args.argv = argv  # `train --nproc` runs it again
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UsageError as e:
        print(f"chainrule {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"chainrule {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`chainrule ... | head`): stop quietly, as Unix tools do.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    # Run as a script, this file is a second module (__main__) beside chainrule.cli, with
    # its own UsageError class; the subcommands raise chainrule.cli's. Run that module's
    # main, whose except clause names the class they raise.
    import importlib

    sys.exit(importlib.import_module("chainrule.cli").main())
