"""Input that cannot train is refused in one line, exit 2, before anything is written."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

import chainrule as cr
from chainrule.train import limits
from chainrule.train.errors import RecipeError
from chainrule.train.models import build_model, count_parameters
from chainrule.train.recipes import recipe_for

from .helpers import TINY, command, one_line, snapshot, train, write_idx_dir

HUGE = "1e13"  # far beyond any machine's memory, in every estimate below


@pytest.mark.parametrize("args, message", [
    (["--lr", "inf"], "--lr must be a finite number, got inf. help: typical rates"),
    (["--lr", "nan"], "--lr must be a finite number, got nan"),
    (["--lr", "1e308"], "--lr must be positive and at most 10, got 1e+308"),
    (["--lr", "11"], "--lr must be positive and at most 10, got 11.0"),
    (["--lr", "0"], "--lr must be positive and at most 10, got 0.0"),
    (["--weight-decay", "inf"], "--weight-decay must be a finite number, got inf"),
    (["--weight-decay", "-1"], "--weight-decay must be >= 0, got -1.0"),
    (["--lr", "5", "--weight-decay", "0.5"], "--lr 5.0 times --weight-decay 0.5 is 2.5; it "
                                             "must be below 1"),
    (["--gamma", "inf"], "--gamma must be a finite number, got inf"),
    (["--gamma", "2"], "--gamma must be in (0, 1]"),
    (["--gamma", "0"], "--gamma must be in (0, 1]"),
    (["--momentum", "nan"], "--momentum must be a finite number, got nan"),
    (["--momentum", "1"], "--momentum must be in [0, 1), got 1.0"),
    (["--dropout", "nan"], "--dropout must be a finite number, got nan"),
    (["--dropout=-0.1"], "--dropout must be in [0, 1), got -0.1"),
    (["--seed", "-1"], "--seed must be in [0, 2**64 - 1], got -1"),
    (["--seed", str(2**64)], f"--seed must be in [0, 2**64 - 1], got {2**64}"),
    (["--epochs", "0"], "--epochs must be in [1, 1,000,000], got 0"),
    (["--epochs", "1e9"], "--epochs must be in [1, 1,000,000], got 1000000000"),
    (["--batch-size", "0"], "--batch-size must be at least 1, got 0"),
    (["--step-size", "0"], "--step-size must be in [1, 1,000,000], got 0"),
    (["--threads", "-1"], "--threads must be in [0, 1024]"),
    (["--threads", "100000"], "--threads must be in [0, 1024]"),
    (["--hidden", "0"], "--hidden must be one or more sizes >= 1, got 0"),
    (["--model", "cnn", "--channels", "8,0"], "--channels must be one or more sizes >= 1"),
    (["--dataset", "moons", "--samples", "3"], "--samples must be at least 4, got 3"),
    (["--keep-checkpoints", "-1"], "--keep-checkpoints must be >= 0, got -1"),
    (["--hidden", HUGE], "the mlp 64-10000000000000-10 (750,000,000,000,010 parameters"),
    (["--hidden", "64," + HUGE], "help: use smaller --hidden sizes or a smaller --batch-size"),
    (["--model", "cnn", "--channels", "8," + HUGE], "help: use fewer --channels"),
    (["--dataset", "moons", "--samples", HUGE], "--samples 10000000000000: generating the "
                                                "moons set needs at least"),
    (["--model", "cnn", "--channels", "4,4,4,4"], "--channels 4,4,4,4: each conv block halves "
     "the image, and the digits images (8x8) are too small for 4 blocks (3 halvings reach "
     "1x1). help: give at most 3 sizes, e.g. --channels 4,4,4"),
    (["--dataset", "mnist", "--data-dir", "/nope"], "/nope: no such folder"),
    (["--epochs", "2.5"], "argument --epochs: expected a whole number, got '2.5'. help: "
                          "chainrule train --help"),
    (["--lr", "fast"], "argument --lr: invalid float value: 'fast'"),
])
def test_values_that_cannot_train_are_one_line_before_anything_is_written(
        args, message, tmp_path, capsys):
    out = tmp_path / "r"
    code, stdout, err = train(TINY + args + ["--out", str(out)], capsys)
    assert code == 2 and message in one_line(err), err
    assert err.startswith("chainrule train: error: ")
    assert not out.exists() and stdout == ""  # nothing written, not even an empty directory


def test_memory_errors_compare_with_the_memory_available():
    r = recipe_for("digits", "mlp", hidden=(1000,))
    params, per_sample = limits.model_size(r, (64,), 10)
    need = 4 * (params * 4 + 2 * 450 * per_sample)  # adamw: 2 states; batch: the eval's 450
    limits.check_model(r, (64,), 10, 1347, 450, available=need)
    with pytest.raises(RecipeError, match=r"needs at least .* this machine has 4\.0 KiB"):
        limits.check_model(r, (64,), 10, 1347, 450, available=4096)
    moons = recipe_for("moons", "mlp", samples=1000)
    limits.check_samples(moons, available=120_000)
    with pytest.raises(RecipeError, match="--samples 1000: generating the moons set"):
        limits.check_samples(moons, available=119_999)


@pytest.mark.parametrize("model, kw, shape", [
    ("mlp", dict(hidden=(256, 128)), (64,)),
    ("mlp", dict(hidden=(32, 16), batch_norm=True), (1, 28, 28)),
    ("cnn", dict(channels=(16, 32)), (1, 8, 8)),
    ("cnn", dict(channels=(8, 16, 4), batch_norm=True), (1, 28, 28)),
])
def test_the_parameter_estimate_is_the_built_models_count(model, kw, shape):
    r = recipe_for("fashion-mnist" if len(shape) == 3 and shape[1] == 28 else "digits",
                   model, **kw)
    built = build_model(r, shape, 10)
    counted = count_parameters(built) + sum(  # BatchNorm's two running statistics
        b.size for name, b in built.state_dict().items() if "running" in name)
    assert limits.model_size(r, shape, 10)[0] == counted


def test_blocks_that_fit_an_image():
    assert [limits.blocks_that_fit(s, s) for s in (1, 2, 3, 7, 8, 28, 32)] == [
        0, 1, 1, 2, 3, 4, 5]
    r = recipe_for("fashion-mnist", "cnn", channels=(8,) * 4)
    build_model(r, (1, 28, 28), 10)(cr.zeros((1, 1, 28, 28)))  # 4 blocks do fit 28x28


def test_a_non_utf8_data_dir_is_refused_before_training(tmp_path, capsys):
    folder = write_idx_dir(os.fsencode(tmp_path) + b"/bad\xffname")
    out = tmp_path / "r"
    code, _, err = train(TINY + ["--dataset", "mnist", "--data-dir", str(folder),
                                 "--out", str(out)], capsys)
    line = one_line(err)
    assert code == 2 and f"--data-dir {tmp_path}/bad\\xffname: the path is not valid UTF-8" \
        in line and "help: rename the folder" in line
    assert not out.exists()


def test_a_non_utf8_out_directory_trains_and_prints(tmp_path, capsys):
    out = os.fsdecode(os.fsencode(tmp_path) + b"/run\xff")
    code, stdout, err = train(TINY + ["--epochs", "1", "--out", out], capsys)
    assert code == 0, err
    assert "run\\xff/metrics.json" in stdout
    assert cr.load(os.path.join(out, "checkpoints", "last.safetensors"))["progress"]["epoch"] == 1


# --- --resume and evaluate of files that are not runs --------------------------------------


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """A finished one-epoch run: its directory and its last checkpoint's state."""
    import io

    import rich.console

    from chainrule.train.loop import run

    out = tmp_path_factory.mktemp("good") / "run"
    run(recipe_for("digits", "mlp", hidden=(8,), epochs=1, dropout=0.0), out,
        show_progress=False, console=rich.console.Console(file=io.StringIO()))
    return out, cr.load(out / "checkpoints" / "last.safetensors")


def _damaged(state):
    recipe, progress = state["recipe"], state["progress"]
    return {
        "tag only": {"format": "chainrule-checkpoint", "version": 1},
        "recipe a string": {**state, "recipe": "mlp"},
        "recipe with lr inf": {**state, "recipe": {**recipe, "lr": math.inf}},
        "recipe with float sizes": {**state, "recipe": {**recipe, "hidden": [8.5]}},
        "recipe of another model": {**state, "recipe": {**recipe, "hidden": [9]}},
        "no optimizer": {k: v for k, v in state.items() if k != "optimizer"},
        "optimizer garbage": {**state, "optimizer": {"state": 5, "param_groups": []}},
        "rng garbage": {**state, "rng": {"bit_generator": "MT19937"}},
        "scheduler replaces its optimizer": {**state, "scheduler": {"optimizer": 1}},
        "epoch beyond the recipe": {**state, "progress": {**progress, "epoch": 99}},
        "batch beyond the epoch": {**state, "progress": {**progress, "batch": 10**6}},
        "history rows missing": {**state, "progress": {**progress, "history": []}},
        "partial sums garbage": {**state, "progress": {**progress, "partial": {"x": 1}}},
    }


DAMAGES = list(_damaged({"recipe": {}, "progress": {}}))


@pytest.mark.parametrize("damage", DAMAGES)
def test_resume_of_a_checksum_valid_file_that_is_not_a_run(good, damage, tmp_path, capsys):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    cr.save(_damaged(good[1])[damage], run / "checkpoints" / "last.safetensors")
    before = snapshot(run)
    code, stdout, err = train(["--resume", str(run), "--no-progress"], capsys)
    line = one_line(err)
    assert code == 2 and str(run / "checkpoints" / "last.safetensors") in line, err
    assert "help: " in line
    assert snapshot(run) == before  # no lock left, nothing written


@pytest.mark.parametrize("damage", ["tag only", "recipe a string", "recipe of another model",
                                    "recipe with float sizes"])
def test_evaluate_of_a_file_that_is_not_a_run(good, damage, tmp_path, capsys):
    path = tmp_path / "x.safetensors"
    cr.save(_damaged(good[1])[damage], path)
    code, _, err = command(["evaluate", str(path)], capsys)
    assert code == 2 and str(path) in one_line(err)


def test_resume_of_a_file_names_the_run_directory(good, capsys):
    last = good[0] / "checkpoints" / "last.safetensors"
    code, _, err = train(["--resume", str(last)], capsys)
    assert code == 2 and one_line(err).endswith(
        f"is a file; --resume takes a run directory and continues from its "
        f"checkpoints/last.safetensors. help: chainrule train --resume {good[0]}")


def test_resume_of_a_directory_without_a_run(tmp_path, capsys):
    code, _, err = train(["--resume", str(tmp_path)], capsys)
    assert code == 2 and "no run to resume (no checkpoints/last.safetensors there)" in \
        one_line(err)
    assert list(tmp_path.iterdir()) == []


# --- evaluate on data of another size -----------------------------------------------------


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_evaluate_on_images_of_another_size(model, tmp_path, capsys):
    d28 = write_idx_dir(tmp_path / "d28", side=28)
    d16 = write_idx_dir(tmp_path / "d16", side=16)
    run = tmp_path / "run"
    assert train(TINY + ["--dataset", "mnist", "--model", model, "--channels", "4",
                         "--epochs", "1", "--data-dir", str(d28), "--out", str(run)],
                 capsys)[0] == 0
    assert command(["evaluate", str(run)], capsys)[0] == 0
    code, stdout, err = command(["evaluate", str(run), "--data-dir", str(d16)], capsys)
    assert code == 2 and stdout == ""
    assert (f"the model was trained on inputs of shape 1x28x28, but --data-dir {d16} has "
            "inputs of shape 1x16x16. help:") in one_line(err)
    # A checkpoint from before the input shape was recorded: the weights tell.
    state = cr.load(run / "checkpoints" / "last.safetensors")
    del state["inputs"]
    cr.save(state, tmp_path / "old.safetensors")
    code, _, err = command(["evaluate", str(tmp_path / "old.safetensors"), "--data-dir",
                            str(d16)], capsys)
    assert code == 2 and f"its weights do not fit a {model} on --data-dir {d16} (inputs " \
        "1x16x16): load_state_dict" in one_line(err)


def test_argparse_errors_are_one_line(capsys):
    code, _, err = command(["train", "--colour", "red"], capsys)
    assert code == 2 and one_line(err) == (
        "chainrule: error: unrecognized arguments: --colour red. help: chainrule --help")
    code, _, err = command(["evaluate"], capsys)
    assert code == 2 and "chainrule evaluate: error: the following arguments are required: " \
        "checkpoint. help: chainrule evaluate --help" == one_line(err)


def test_int_options_take_whole_numbers_in_float_notation(tmp_path, capsys):
    code, _, err = train(TINY + ["--epochs", "1e0", "--batch-size", "6.4e1", "--out",
                                 str(tmp_path / "r")], capsys)
    assert code == 0, err
    from chainrule.train.checkpoint import read_run

    _, recipe, _ = read_run(tmp_path / "r")
    assert (recipe.epochs, recipe.batch_size) == (1, 64)
    assert np.isfinite(recipe.lr)
