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

#: (module, what it adds). A module that is not there yet is skipped.
SUBCOMMANDS = (
    "chainrule.train.cli",  # train, evaluate, predict
    "chainrule.explain.cli",  # explain
    "chainrule.viz.cli",  # graph
    "chainrule.health.cli",  # health
    "chainrule.playground.cli",  # playground
)




class _Parser(argparse.ArgumentParser):
    """argparse, with its errors in one line (its default prints the whole usage first)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}. help: {self.prog} --help\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="chainrule",
        description="Error backpropagation, for real: train networks and see the chain rule.",
    )
    from chainrule import __version__

    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if not name.startswith(e.name or "?"):
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # `train --nproc` runs it again
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
