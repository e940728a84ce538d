"""`chainrule train --health` and `chainrule health RUN`, as a user types them."""

import json

import pytest

import chainrule.nn as nn
from chainrule.health.records import read
from chainrule.train.loop import run
from chainrule.train.recipes import recipe_for

from ..train.helpers import TINY, command, one_line, train

PER_EPOCH = -(-1212 // 32)  # digits: 1212 training samples, batch 32


def test_train_health_writes_a_record_per_sampled_step_and_the_figure(tmp_path, capsys):
    code, out, err = train([*TINY, "--epochs", "2", "--health", "--health-every", "7",
                            "--out", str(tmp_path / "r")], capsys)
    assert code == 0, err
    lines = (tmp_path / "r" / "health.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["step"] for r in records] == list(range(0, 2 * PER_EPOCH, 7))
    assert [r["epoch"] for r in records] == [1 + r["step"] // PER_EPOCH for r in records]
    assert (tmp_path / "r" / "health.png").read_bytes()[:4] == b"\x89PNG"
    assert "health.jsonl, health.png" in out
    assert "health warning" not in out


def test_a_warning_is_one_line_naming_the_layer_and_the_fix(tmp_path, capsys):
    code, out, err = train([*TINY, "--epochs", "1", "--optimizer", "sgd", "--momentum", "0",
                            "--lr", "2", "--health", "--health-every", "10", "--out",
                            str(tmp_path / "r")], capsys)
    assert code == 0, err
    warned = [line for line in out.splitlines() if line.startswith("health warning")]
    assert warned and all("help: " in line for line in warned)
    assert "health warning: layer 1 (1.weight): update-to-data ratio 10^" in out
    code, out, err = command(["health", str(tmp_path / "r"), "--no-figure"], capsys)
    assert code == 1  # the report found problems
    assert "step 10: layer 1 (1.weight): update-to-data ratio" in out


def test_health_reports_a_run_in_english_and_chinese(tmp_path, capsys):
    code, _, err = train([*TINY, "--epochs", "1", "--health", "--out", str(tmp_path / "r")],
                         capsys)
    assert code == 0, err
    code, out, err = command(["health", str(tmp_path / "r")], capsys)
    assert code == 0, err
    assert out.startswith(f"chainrule health: {tmp_path / 'r'}\n1 sampled steps")
    assert "no warnings" in out and f"figure: {tmp_path / 'r' / 'health.png'}" in out
    code, out, err = command(["health", str(tmp_path / "r" / "health.jsonl"), "--lang", "zh",
                              "--figure", str(tmp_path / "zh.png")], capsys)
    assert code == 0, err
    assert "没有警告" in out and (tmp_path / "zh.png").read_bytes()[:4] == b"\x89PNG"
    code, out, err = command(["health", str(tmp_path / "r"), "--lang", "zh"], capsys)
    assert (tmp_path / "r" / "health.zh.png").exists()


@pytest.mark.parametrize("argv, says", [
    (["--health-every", "5"], "--health-every sets how often --health samples. help: add "
                              "--health"),
    (["--health", "--health-every", "0"], "--health-every must be at least 1, got 0"),
])
def test_bad_health_options_are_one_line_errors(tmp_path, capsys, argv, says):
    code, _, err = train([*TINY, "--epochs", "1", *argv, "--out", str(tmp_path / "r")], capsys)
    assert code == 2 and says in one_line(err)
    assert not (tmp_path / "r").exists()


def test_health_of_a_run_without_records_says_how_to_get_them(tmp_path, capsys):
    code, _, _ = train([*TINY, "--epochs", "1", "--out", str(tmp_path / "r")], capsys)
    assert code == 0
    assert not (tmp_path / "r" / "health.jsonl").exists()
    code, _, err = command(["health", str(tmp_path / "r")], capsys)
    assert code == 2
    assert "no such file: the run was trained without --health. help: train with " \
           "`chainrule train --health`" in one_line(err)
    code, _, err = command(["health", str(tmp_path / "nothing")], capsys)
    assert code == 2 and "no such file or run directory" in one_line(err)


def test_health_refuses_a_figure_it_cannot_write(tmp_path, capsys):
    code, _, _ = train([*TINY, "--epochs", "1", "--health", "--out", str(tmp_path / "r")],
                       capsys)
    for figure, says in ((tmp_path / "f.svg", "expected a file name ending in .png"),
                         (tmp_path / "no" / "f.png", "no such folder. help:")):
        code, out, err = command(["health", str(tmp_path / "r"), "--figure", str(figure)],
                                 capsys)
        assert code == 2 and says in one_line(err) and out == ""


def test_a_resumed_run_goes_on_counting_steps_in_the_same_file(tmp_path, capsys):
    out = str(tmp_path / "r")
    assert train([*TINY, "--epochs", "1", "--health", "--health-every", "4", "--out", out],
                 capsys)[0] == 0
    code, _, err = train(["--resume", out, "--epochs", "2", "--no-progress", "--health",
                          "--health-every", "4"], capsys)
    assert code == 0, err
    steps = [r["step"] for r in read(out).records]
    assert steps == list(range(0, 2 * PER_EPOCH, 4))
    assert "initial_loss" not in read(out).records[-1]


def test_a_run_without_health_registers_no_hook(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a hook was registered")

    for name in ("register_forward_hook", "register_forward_pre_hook",
                 "register_full_backward_hook"):
        monkeypatch.setattr(nn.Module, name, refuse)
    # threads=1: with 0, the threads rule's probe (train/threads.py) measures the model
    # through forward hooks, removed before training (tests/train/test_threads.py)
    run(recipe_for("digits", "mlp", epochs=1, hidden=(8,), threads=1), tmp_path / "r",
        show_progress=False, console=_quiet())
    with pytest.raises(AssertionError, match="a hook was registered"):
        run(recipe_for("digits", "mlp", epochs=1, hidden=(8,)), tmp_path / "s",
            show_progress=False, console=_quiet(), health_every=50)


def _quiet():
    import io

    from rich.console import Console

    return Console(file=io.StringIO())
