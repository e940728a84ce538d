"""`chainrule train` and `chainrule evaluate`."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from chainrule.errors import UsageError
from chainrule.train import backends


def _whole(text: str) -> int:
    """An int option; ``1e6`` is accepted as 1000000 (a whole number in float notation)."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value != int(value):
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}")
    return int(value)


def _sizes(text: str) -> tuple:
    try:
        sizes = tuple(_whole(s.strip()) for s in text.replace("x", ",").split(",") if s.strip())
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected sizes like 256,128, got {text!r}") from None
    if not sizes:
        raise argparse.ArgumentTypeError("expected at least one size")
    return sizes


def _model(text: str) -> str:
    """``mlp``, ``cnn``, or ``path/to/file.py:Class`` (a user's own Module)."""
    from chainrule.train.recipes import MODELS

    if text in MODELS:
        return text
    file, _, name = text.rpartition(":")
    if not file.endswith(".py") or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"expected {', '.join(MODELS)} or FILE.py:CLASS (your "
                                         f"own nn.Module), got {text!r}")
    return text


def _recipes_epilog() -> str:
    """Every recipe's values, so that --help says what a run will do before it runs."""
    from chainrule.train.recipes import DEFAULTS, Recipe
    from chainrule.train.recipes import show_value as show

    cols = ("epochs", "batch_size", "optimizer", "lr", "weight_decay", "batch_norm", "dropout",
            "threads")
    head = ["recipe", "layers", "epochs", "batch", "optimizer", "lr", "weight-decay",
            "batch-norm", "dropout", "threads"]
    rows = []
    for (dataset, model), d in DEFAULTS.items():
        r = Recipe(dataset=dataset, model=model, **d)
        layers = f"hidden {show(r.hidden)}" if model == "mlp" else f"channels {show(r.channels)}"
        rows.append([f"{dataset}-{model}", layers] + [show(getattr(r, c)) for c in cols])
    widths = [max(len(row[i]) for row in [head] + rows) for i in range(len(head))]
    table = "\n".join("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip()
                      for row in [head] + rows)
    base = Recipe()
    return (
        "recipes (what each --dataset/--model pair trains with; an option overrides its value):"
        f"\n{table}\n"
        f"every recipe: --scheduler {base.scheduler}, --momentum {show(base.momentum)} (sgd, "
        f"rmsprop), --step-size {base.step_size} and --gamma {show(base.gamma)} (step), --seed "
        f"{base.seed}, --val-fraction {show(base.val_fraction)}, --patience {base.patience} "
        f"(off), --samples {base.samples} (2-D sets).\n"
        "--model FILE.py:CLASS trains your own nn.Module with the dataset's mlp recipe (its "
        "layers are the class's own).\n"
        "--resume DIR continues a run with its own recipe; --epochs N with it sets a new "
        "total (a finished run is extended, its learning-rate schedule re-planned).")


def register(sub) -> None:
    _register_train(sub)
    _register_evaluate(sub)
    _register_predict(sub)


def _register_train(sub) -> None:
    from chainrule.train.recipes import DATASETS

    p = sub.add_parser(
        "train", help="train a network (default: an MLP on the embedded 8x8 digits)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train a network by backpropagation and gradient descent. Every option\n"
        "has a recommended default for the chosen dataset and model (the recipes below).",
        epilog=_recipes_epilog())
    # NOTE: None by default (not digits, mlp), so that --resume can tell them given
    p.add_argument("--dataset", choices=DATASETS, help="default: digits")
    p.add_argument("--model", type=_model, metavar="{mlp,cnn,FILE.py:CLASS}",
                   help="a built-in model, or your own nn.Module class from a Python file "
                   "(constructed with no arguments, or input_shape= and num_classes= if "
                   "__init__ takes them). default: mlp")
    _add_recipe_options(p)
    _add_run_options(p)
    backends.add_options(p)
    p.set_defaults(func=train_command)


def _add_recipe_options(p) -> None:
    """The recipe's values: each defaults to the chosen dataset/model pair's (recipes.py)."""
    from chainrule.train.recipes import OPTIMIZERS, SCHEDULERS, default_text

    def d(name: str, pair: str = "digits-mlp") -> str:
        return "default: " + default_text(name, example=pair)

    p.add_argument("--hidden", type=_sizes, help="MLP hidden sizes, e.g. 256,128,64; "
                   + d("hidden"))
    p.add_argument("--channels", type=_sizes, help="CNN channels per conv block, e.g. 32,64; "
                   + d("channels", "digits-cnn"))
    p.add_argument("--batch-norm", action=argparse.BooleanOptionalAction, default=None,
                   help=d("batch_norm"))
    p.add_argument("--dropout", type=float, help=d("dropout"))
    p.add_argument("--epochs", type=_whole, help=d("epochs") + "; with --resume: the new "
                   "total to reach")
    p.add_argument("--batch-size", type=_whole, help=d("batch_size"))
    p.add_argument("--optimizer", choices=OPTIMIZERS, help=d("optimizer"))
    p.add_argument("--lr", type=float, help="learning rate; " + d("lr"))
    p.add_argument("--momentum", type=float, help="sgd and rmsprop; " + d("momentum"))
    p.add_argument("--weight-decay", type=float, help=d("weight_decay"))
    p.add_argument("--scheduler", choices=SCHEDULERS, help=d("scheduler"))
    p.add_argument("--step-size", type=_whole, help="StepLR: epochs between decays; "
                   + d("step_size"))
    p.add_argument("--gamma", type=float, help="StepLR: decay factor; " + d("gamma"))
    p.add_argument("--seed", type=_whole, help="initial weights, shuffling, validation split "
                   "(and the 2-D sets); " + d("seed"))
    p.add_argument("--threads", type=_whole, help="BLAS threads (0: by the work: one for "
                   "small models, the free cores for large products); " + d("threads"))
    p.add_argument("--samples", type=_whole, help="points in a generated 2-D set; "
                   + d("samples"))
    p.add_argument("--val-fraction", type=float, metavar="F",
                   help="share of each class of the training set held out for validation, "
                   "which chooses the best epoch (and stops early); 0: none, best = the last "
                   "epoch; " + d("val_fraction"))
    p.add_argument("--patience", type=_whole, metavar="N",
                   help="stop when the validation accuracy has not improved for N epochs; "
                   "default: 0 (off)")


def _add_run_options(p) -> None:
    """Where the data comes from, and the run's own options: its directory, checkpoints,
    checks and progress bars."""
    p.add_argument("--data-dir", help="folder with the IDX files (fashion-mnist, mnist); "
                   "default: /usr/share/datasets/fashion-mnist for fashion-mnist; mnist needs it")
    p.add_argument("--out", type=Path, metavar="DIR",
                   help="run directory; one that holds a run is refused (see --resume, "
                   "--overwrite). Default: runs/DATASET-MODEL, or -2, -3... if taken")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run in --out (default: runs/DATASET-MODEL) whole: its "
                   "checkpoints, metrics and plot are deleted before training starts")
    p.add_argument("--resume", type=Path, metavar="DIR",
                   help="continue the run in DIR from its last checkpoint (with --epochs N: "
                   "to N epochs in total); default: start a new run")
    p.add_argument("--keep-checkpoints", type=_whole, default=5, metavar="N",
                   help="keep the newest N per-epoch checkpoints (0: all); default: 5")
    p.add_argument("--detect-anomaly", action="store_true",
                   help="stop at the first op whose forward or backward makes NaN/Inf, and "
                   "name it (slower)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--no-compile", action="store_true", help="run the step eagerly (no cr.compile)")
    p.add_argument("--health", action="store_true",
                   help="watch the training health (saturated and dead units, update-to-data "
                   "ratios, gradient norms by layer, the initial loss): writes health.jsonl "
                   "and health.png, warns when a signal crosses its threshold; see "
                   "`chainrule health RUN`")
    p.add_argument("--health-every", type=_whole, metavar="N",
                   help="with --health: sample one step in N; default: 50")
    p.add_argument("--nproc", type=_whole, metavar="N",
                   help="train data-parallel on N processes: runs this command under the "
                   "bundled mpiexec (as `mpiexec -n N chainrule train ...`); --batch-size is "
                   "per process. default: 1 (docs/distributed.md)")


def _register_evaluate(sub) -> None:
    e = sub.add_parser("evaluate", help="test metrics and confusion matrix of a checkpoint")
    e.add_argument("checkpoint", type=Path, help="a checkpoint file or a run directory (its "
                   "last checkpoint)")
    e.add_argument("--data-dir", help="folder with the IDX files, if not the recorded one")
    e.set_defaults(func=evaluate_command)


def _register_predict(sub) -> None:
    q = sub.add_parser(
        "predict", help="class probabilities of a trained run for an image, .npy or CSV",
        description="Class probabilities of a trained run for new inputs, most likely "
        "first. INPUT: an image (PNG, JPEG, BMP, GIF, TIFF, WebP: made grayscale in [0, 1], "
        "averaged down by a whole factor to the run's image size), a .npy (one sample or N "
        "stacked) or a .csv (one sample per row), in the units the model trained on "
        "(pixels in [0, 1]).")
    q.add_argument("run", type=Path, metavar="RUN", help="a run directory (or a checkpoint "
                   "file)")
    q.add_argument("input", type=Path, metavar="INPUT", help="an image, a .npy or a .csv file")
    q.add_argument("--checkpoint", choices=("best", "last"),
                   help="which checkpoint of RUN; default: best (chosen by validation)")
    q.add_argument("--top", type=_whole, metavar="K", help="show the K most likely classes; "
                   "default: all")
    q.add_argument("--invert", action="store_true",
                   help="flip dark strokes on a light background (the training images are "
                   "light on dark)")
    q.add_argument("--json", action="store_true", help="print one JSON document")
    q.set_defaults(func=predict_command)


_RECIPE_OPTIONS = ("hidden", "channels", "batch_norm", "dropout", "epochs", "batch_size",
                   "optimizer", "lr", "momentum", "weight_decay", "scheduler", "step_size",
                   "gamma", "seed", "threads", "samples", "data_dir", "val_fraction", "patience")


def train_command(args) -> int:
    from chainrule.distributed import launched_by_mpi

    if args.nproc is not None and args.nproc != 1:
        from chainrule.train.ranks import launch

        return launch(args.nproc, args.argv)

    if not launched_by_mpi():
        return _train(args)
    try:
        return _train(args)
    except Exception as e:  # noqa: BLE001 - one rank's failure must stop every rank
        from chainrule.train.ranks import fail

        return fail(e)


def _train(args) -> int:
    from chainrule.graph.anomaly import AnomalyError, detect_anomaly
    from chainrule.train.errors import DivergedError
    from chainrule.train.healthlog import sampling_interval
    from chainrule.train.loop import run
    from chainrule.train.recipes import model_name, recipe_for

    overrides = {k: getattr(args, k) for k in _RECIPE_OPTIONS}
    health_every = sampling_interval(args.health, args.health_every)
    if args.resume:
        # --epochs alone may come along: the new total (an extension)
        given = sorted(k for k, v in overrides.items() if v is not None and k != "epochs")
        given += [k for k in ("out", "overwrite") if getattr(args, k)]
        given += [k for k in ("dataset", "model") if getattr(args, k) is not None]
        if given:
            raise UsageError(f"--resume continues a run with its own recipe and directory "
                             f"(--epochs N alone may set a new total); drop "
                             f"{', '.join('--' + k.replace('_', '-') for k in given)}")
        _check_resume_path(args.resume)
        recipe, out_dir = None, args.resume
    else:
        try:
            recipe = recipe_for(args.dataset or "digits", args.model or "mlp", **overrides)
        except ValueError as e:
            raise UsageError(str(e)) from None
        out_dir = args.out
        if out_dir is None and args.overwrite:
            out_dir = Path("runs") / f"{recipe.dataset}-{model_name(recipe.model)}"
    try:
        with detect_anomaly(args.detect_anomaly):
            result = run(recipe, out_dir, resume=bool(args.resume), overwrite=args.overwrite,
                         show_progress=not args.no_progress,
                         keep_checkpoints=args.keep_checkpoints,
                         epochs=args.epochs if args.resume else None, backend=args.backend,
                         health_every=health_every, compile=not args.no_compile, device=args.device)
    except _input_errors() as e:
        raise UsageError(" ".join(str(e).split())) from None
    except MemoryError:
        raise UsageError("out of memory while training. help: use a smaller --batch-size or "
                         "a smaller model (--hidden, --channels)") from None
    except (AnomalyError, DivergedError) as e:
        if getattr(e, "agreed", False) and _rank():
            return 1  # every rank stops alike; rank 0 says why
        if _rank():
            raise
        # The run started and went wrong: exit 1, as distinct from input refused (2).
        print(f"chainrule train: error: {e}", file=sys.stderr)
        return 1
    if result.interrupted:
        return 130 if result.interrupted == "SIGINT" else 143
    return 0


def _rank() -> int:
    from chainrule.distributed.group import world

    return world.rank


def _input_errors() -> tuple:
    """What `train` and `evaluate` report as one line with exit code 2."""
    from chainrule.data import DataError
    from chainrule.distributed import MismatchError
    from chainrule.serialization import CheckpointError
    from chainrule.train.errors import CheckpointWriteError, RecipeError, RunDirError

    return (DataError, CheckpointError, RecipeError, RunDirError, CheckpointWriteError,
            MismatchError)


def _check_resume_path(path: Path) -> None:
    from chainrule.train.rundir import show

    if path.is_dir() or not path.exists():
        return  # run() says what a directory lacks
    hint = "the directory of a run that `chainrule train` started"
    if path.parent.name == "checkpoints":
        hint = f"chainrule train --resume {show(path.parent.parent)}"
    raise UsageError(f"--resume {show(path)}: is a file; --resume takes a run directory "
                     f"and continues from its checkpoints/last.safetensors. help: {hint}")


def evaluate_command(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from chainrule.train.loop import evaluate

    file, state, recipe, data, model = _load_for_evaluation(args.checkpoint, args.data_dir)
    loss, acc, pred = evaluate(model, data.x_test, data.y_test)
    console = Console(soft_wrap=True)
    epoch = state["progress"]["epoch"]
    console.print(f"{_show(args.checkpoint)}: {recipe.model} on {recipe.dataset}, after "
                  f"{epoch} epoch(s); test samples {data.test_size}")
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


def _load_for_evaluation(path: Path, data_dir: str | None):
    """(file, state, recipe, test data, model with the checkpoint's weights), or UsageError."""
    from dataclasses import replace

    from chainrule.train import checkpoint, limits
    from chainrule.train.datasets import load_split
    from chainrule.train.errors import RecipeError, UserModelError
    from chainrule.train.models import build_model
    from chainrule.train.recipes import Recipe

    file = checkpoint.file_of(path)
    try:
        state = checkpoint.read(file)
        try:
            recipe = Recipe.from_dict(state.get("recipe"))
        except RecipeError as e:
            raise UsageError(f"{_show(file)}: not a complete training checkpoint: its recipe: "
                             f"{e}") from None
        progress = state.get("progress")
        if not isinstance(state.get("model"), dict) or not isinstance(progress, dict) or \
                not isinstance(progress.get("epoch"), int):
            raise UsageError(f"{_show(file)}: not a complete training checkpoint (no model "
                             "weights or progress). help: give a run directory or a "
                             "checkpoint that `chainrule train` wrote")
        if data_dir:
            recipe = replace(recipe, data_dir=data_dir)
        limits.check_samples(recipe)
        data = load_split(recipe)
        shape = tuple(data.input_shape)
        recorded = state.get("inputs", {}).get("shape") if isinstance(
            state.get("inputs"), dict) else None
        where = f"--data-dir {_show(data_dir)}" if data_dir else f"the {recipe.dataset} data"
        if recorded and tuple(recorded) != shape:
            raise UsageError(
                f"{_show(file)}: the model was trained on inputs of shape "
                f"{'x'.join(map(str, recorded))}, but {where} has inputs of shape "
                f"{'x'.join(map(str, shape))}. help: evaluate on data of the size it "
                "trained on")
        limits.check_model(recipe, shape, data.num_classes, data.train_size, data.test_size)
        try:
            model = build_model(recipe, shape, data.num_classes, recorded=True)
        except UserModelError:
            raise  # one line of its own: the file moved, or its class fails
        except ValueError as e:
            raise UsageError(f"{_show(file)}: {checkpoint.reason(e)}") from None
        try:
            model.load_state_dict(state["model"])
        except (KeyError, ValueError, TypeError) as e:
            raise UsageError(f"{_show(file)}: its weights do not fit a {recipe.model} on "
                             f"{where} (inputs {'x'.join(map(str, shape))}): "
                             f"{checkpoint.reason(e)}. help: evaluate a checkpoint that "
                             "`chainrule train` wrote, on data like its own") from None
    except _input_errors() as e:
        raise UsageError(" ".join(str(e).split())) from None
    except OSError as e:
        raise UsageError(f"{_show(e.filename or file)}: cannot read it "
                         f"({e.strerror or e})") from None
    return file, state, recipe, data, model


def _show(path) -> str:
    from chainrule.train.rundir import show

    return show(path)


def predict_command(args) -> int:
    from rich.console import Console

    from chainrule.train import predict
    from chainrule.train.errors import PredictError

    try:
        loaded = predict.load(args.run, args.checkpoint)
        image = predict.image_size(loaded.recipe.dataset, loaded.input_shape)
        if args.invert and image is None:
            raise UsageError(f"--invert flips images, and {loaded.recipe.dataset} samples are "
                             "not images. help: drop --invert")
        if args.top is not None and args.top < 1:
            raise UsageError(f"--top must be at least 1, got {args.top}")
        notes: list[str] = []
        x = predict.read_input(args.input, loaded.recipe.dataset, loaded.input_shape,
                               args.invert, notes)
        probs = predict.probabilities(loaded.model, x)
    except (PredictError, *_input_errors()) as e:
        raise UsageError(" ".join(str(e).split())) from None
    except MemoryError:
        raise UsageError(f"{_show(args.input)}: too many samples for the memory available. "
                         "help: predict on fewer at a time") from None
    for note in notes:
        print(f"chainrule predict: note: {note}", file=sys.stderr)
    suffix = args.input.suffix.lower()
    if suffix in (".npy", ".csv", ".txt"):
        names = [f"sample {i}" for i in range(len(probs))]
    else:
        names = [_show(args.input)]
    text = predict.report(loaded, _show(args.input), probs, names, args.top, args.json)
    if args.json:
        print(text)
    else:
        Console(soft_wrap=True, highlight=False).print(text, markup=False)
    return 0
