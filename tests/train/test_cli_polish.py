"""The command line: --version, one-line argparse errors, defaults shown in train --help,
and a --figure that cannot be written refused before explain prints anything."""

from __future__ import annotations

import argparse

import pytest

import chainrule
from chainrule.cli import build_parser
from chainrule.train.recipes import DEFAULTS, Recipe

from .helpers import command, one_line


def test_version(capsys):
    code, out, err = command(["--version"], capsys)
    assert code == 0 and out == f"chainrule {chainrule.__version__}\n" and err == ""


@pytest.mark.parametrize("argv,message", [
    (["trian"], "chainrule: error: argument COMMAND: invalid choice: 'trian'"),
    (["train", "--dataset", "cifar"], "chainrule train: error: argument --dataset: invalid "
                                      "choice: 'cifar'"),
    (["train", "--optimizer", "lbfgs"], "argument --optimizer: invalid choice: 'lbfgs'"),
    (["train", "--scheduler", "linear"], "argument --scheduler: invalid choice: 'linear'"),
    (["train", "--model", "resnet"], "argument --model: expected mlp, cnn or FILE.py:CLASS"),
    (["predict", "runs/x", "a.png", "--checkpoint", "first"],
     "chainrule predict: error: argument --checkpoint: invalid choice: 'first'"),
    (["predict", "runs/x"], "chainrule predict: error: the following arguments are required: "
                            "INPUT"),
    (["explain", "--lang", "fr"], "argument --lang: invalid choice: 'fr'"),
])
def test_an_invalid_choice_is_one_line_not_the_usage(argv, message, capsys):
    code, out, err = command(argv, capsys)
    assert code == 2 and out == ""
    line = one_line(err)
    assert line.startswith(f"chainrule {argv[0] if argv[0] != 'trian' else ''}".rstrip())
    assert message in line and "usage:" not in err and line.endswith("--help")


def _train_parser() -> argparse.ArgumentParser:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices["train"]


def test_train_help_shows_every_default():
    parser = _train_parser()
    for action in parser._actions:
        if action.dest == "help" or isinstance(action, argparse._StoreTrueAction):
            continue  # a flag is off unless given
        assert "default" in (action.help or "").lower(), action.dest
    epilog = parser.epilog
    for (dataset, model), values in DEFAULTS.items():
        line = next(ln for ln in epilog.splitlines() if ln.split()[:1] == [f"{dataset}-{model}"])
        recipe = Recipe(dataset=dataset, model=model, **values)
        layers = recipe.hidden if model == "mlp" else recipe.channels
        assert ",".join(map(str, layers)) in line
        assert line.split()[3:6] == [str(recipe.epochs), str(recipe.batch_size),
                                     recipe.optimizer], line
        assert f"{recipe.lr:g}" in line.split()
    base = Recipe()
    for option in (f"--scheduler {base.scheduler}", f"--val-fraction {base.val_fraction:g}",
                   f"--seed {base.seed}", "--patience 0 (off)"):
        assert option in epilog


def test_train_help_prints_the_recipes(capsys):
    code, out, _ = command(["train", "--help"], capsys)
    assert code == 0
    assert "--epochs EPOCHS" in out and "default: from the recipe (digits-mlp: 100; all below)" \
        in " ".join(out.split())
    assert "digits-mlp         hidden 256,128     100     32     adamw      0.005" in out


def test_a_figure_that_cannot_be_written_is_refused_before_anything_is_printed(tmp_path,
                                                                              capsys):
    for target, why in ((tmp_path / "missing" / "f.png", "missing: no such folder"),
                        (tmp_path / "file.txt" / "f.png", "file.txt: is not a folder"),
                        (tmp_path / "dir.png", "is a folder, not a regular file")):
        (tmp_path / "file.txt").write_text("x")
        (tmp_path / "dir.png").mkdir(exist_ok=True)
        code, out, err = command(["explain", "lecture", "--figure", str(target)], capsys)
        assert code == 2 and out == "", target
        assert one_line(err).startswith(f"chainrule explain: error: --figure: cannot write "
                                        f"{target}") and why in err
