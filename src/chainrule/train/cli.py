"""`chainrule train` and `chainrule evaluate`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from chainrule.cli import UsageError


def _sizes(text: str) -> tuple:
    try:
        sizes = tuple(int(s) for s in text.replace("x", ",").split(",") if s.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 256,128, got {text!r}") from None
    if not sizes:
        raise argparse.ArgumentTypeError("expected at least one size")
    return sizes


def register(sub) -> None:
    from chainrule.train.recipes import DATASETS, MODELS, OPTIMIZERS, SCHEDULERS

    p = sub.add_parser(
        "train", help="train a network (default: an MLP on the embedded 8x8 digits)",
        description="Train a network by backpropagation and gradient descent. Every option "
        "has a recommended default for the chosen dataset and model.")
    p.add_argument("--dataset", choices=DATASETS, default="digits")
    p.add_argument("--model", choices=MODELS, default="mlp")
    p.add_argument("--hidden", type=_sizes, help="MLP hidden sizes, e.g. 256,128,64")
    p.add_argument("--channels", type=_sizes, help="CNN channels per conv block, e.g. 32,64")
    p.add_argument("--batch-norm", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--dropout", type=float)
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--optimizer", choices=OPTIMIZERS)
    p.add_argument("--lr", type=float, help="learning rate")
    p.add_argument("--momentum", type=float)
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--scheduler", choices=SCHEDULERS)
    p.add_argument("--step-size", type=int, help="StepLR: epochs between decays")
    p.add_argument("--gamma", type=float, help="StepLR: decay factor")
    p.add_argument("--seed", type=int)
    p.add_argument("--threads", type=int, help="BLAS threads (default: all cores)")
    p.add_argument("--samples", type=int, help="points in a generated 2-D set")
    p.add_argument("--data-dir", help="folder with the IDX files (fashion-mnist, mnist)")
    p.add_argument("--out", type=Path, help="run directory (default: runs/DATASET-MODEL)")
    p.add_argument("--resume", type=Path, metavar="DIR",
                   help="continue the run in DIR from its last checkpoint")
    p.add_argument("--keep-checkpoints", type=int, default=5, metavar="N",
                   help="keep the newest N per-epoch checkpoints (0: all); default 5")
    p.add_argument("--detect-anomaly", action="store_true",
                   help="stop at the first op whose forward or backward makes NaN/Inf, and "
                   "name it (slower)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=train_command)

    e = sub.add_parser("evaluate", help="test metrics and confusion matrix of a checkpoint")
    e.add_argument("checkpoint", type=Path, help="a checkpoint file or a run directory")
    e.add_argument("--data-dir", help="folder with the IDX files, if not the recorded one")
    e.set_defaults(func=evaluate_command)


_RECIPE_OPTIONS = ("hidden", "channels", "batch_norm", "dropout", "epochs", "batch_size",
                   "optimizer", "lr", "momentum", "weight_decay", "scheduler", "step_size",
                   "gamma", "seed", "threads", "samples", "data_dir")


def train_command(args) -> int:
    from chainrule.train import checkpoint
    from chainrule.train.loop import run
    from chainrule.train.recipes import Recipe, recipe_for

    overrides = {k: getattr(args, k) for k in _RECIPE_OPTIONS}
    if args.resume:
        given = sorted(k for k, v in overrides.items() if v is not None)
        if given:
            raise UsageError(f"--resume continues a run with its own recipe; drop "
                             f"{', '.join('--' + k.replace('_', '-') for k in given)}")
        try:
            state = checkpoint.read(checkpoint.paths(args.resume)["last"])
            recipe = Recipe.from_dict(state["recipe"])
        except (checkpoint.CheckpointError, ValueError) as e:
            raise UsageError(str(e)) from None
        out_dir = args.resume
    else:
        try:
            recipe = recipe_for(args.dataset, args.model, **overrides)
        except ValueError as e:
            raise UsageError(str(e)) from None
        out_dir = args.out or Path("runs") / f"{recipe.dataset}-{recipe.model}"
        _check_writable(out_dir)
    if args.keep_checkpoints < 0:
        raise UsageError(f"--keep-checkpoints must be >= 0, got {args.keep_checkpoints}")
    from chainrule.autograd.anomaly import AnomalyError, detect_anomaly

    try:
        with detect_anomaly(args.detect_anomaly):
            result = run(recipe, out_dir, resume=bool(args.resume),
                         show_progress=not args.no_progress,
                         keep_checkpoints=args.keep_checkpoints)
    except _data_errors() as e:
        raise UsageError(str(e)) from None
    except AnomalyError as e:
        print(f"chainrule train: {e}", file=sys.stderr)
        return 1
    if result.interrupted:
        return 130 if result.interrupted == "SIGINT" else 143
    return 0


def _data_errors():
    from chainrule.data import DataError

    return (DataError,)


def _check_writable(out_dir: Path) -> None:
    """Create the run directory and write a probe file there, before any training."""
    import tempfile

    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out_dir):
            pass
    except OSError as e:
        raise UsageError(f"--out {out_dir}: cannot write there ({e.strerror})") from None


def evaluate_command(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from chainrule.train import checkpoint
    from chainrule.train.datasets import load_split
    from chainrule.train.loop import evaluate
    from chainrule.train.models import build_model
    from chainrule.train.recipes import Recipe

    try:
        state = checkpoint.read(args.checkpoint)
        recipe = Recipe.from_dict(state["recipe"])
        if args.data_dir:
            from dataclasses import replace

            recipe = replace(recipe, data_dir=args.data_dir)
        data = load_split(recipe)
    except (checkpoint.CheckpointError, ValueError) + _data_errors() as e:
        raise UsageError(str(e)) from None
    model = build_model(recipe, data.input_shape, data.num_classes)
    model.load_state_dict(state["model"])
    loss, acc, pred = evaluate(model, data.x_test, data.y_test)
    console = Console(soft_wrap=True)
    epoch = state["progress"]["epoch"]
    console.print(f"{args.checkpoint}: {recipe.model} on {recipe.dataset}, after {epoch} "
                  f"epoch(s); test samples {data.test_size}")
    console.print(f"test loss {loss:.4f}   test accuracy {acc:.4f}")
    k = data.num_classes
    matrix = [[0] * k for _ in range(k)]
    for t, p in zip(data.y_test.tolist(), pred.tolist()):
        matrix[t][p] += 1
    table = Table(title="confusion matrix (rows: true class, columns: predicted)")
    table.add_column("true \\ pred", style="bold")
    names = data.class_names
    for j in range(k):
        table.add_column(str(j), justify="right")
    for i in range(k):
        label = f"{i} {names[i]}" if names else str(i)
        table.add_row(label, *[f"[bold green]{v}[/]" if i == j else (str(v) if v else ".")
                               for j, v in enumerate(matrix[i])])
    console.print(table)
    return 0
