"""An epoch's files are written in the background (train/writes.py), and ``last`` and
``best`` are more names for the epoch's checkpoint file."""

import json
import os
import threading

import chainrule as cr
from chainrule.train import trainer

from .helpers import TINY, train


def test_last_and_best_are_the_epoch_files_themselves(tmp_path, capsys):
    run = tmp_path / "run"
    code, _, err = train(TINY + ["--epochs", "3", "--out", str(run)], capsys)
    assert code == 0, err
    ckpt = run / "checkpoints"
    best = json.loads((run / "metrics.json").read_text())["best_epoch"]
    assert os.path.samefile(ckpt / "last.safetensors", ckpt / "epoch-003.safetensors")
    assert os.path.samefile(ckpt / "best.safetensors", ckpt / f"epoch-{best:03d}.safetensors")
    assert cr.load(ckpt / "last.safetensors")["progress"]["epoch"] == 3


def test_best_outlives_its_pruned_epoch_file(tmp_path, capsys):
    run = tmp_path / "run"
    # a learning rate this small changes no prediction: best stays epoch 1 (ties keep
    # the earliest)
    code, _, err = train(TINY + ["--epochs", "3", "--lr", "1e-12", "--keep-checkpoints", "1",
                                 "--out", str(run)], capsys)
    assert code == 0, err
    ckpt = run / "checkpoints"
    assert sorted(p.name for p in ckpt.iterdir()) == [
        "best.safetensors", "epoch-003.safetensors", "last.safetensors"]
    assert cr.load(ckpt / "best.safetensors")["progress"]["epoch"] == 1


def test_the_epochs_checkpoints_are_written_off_the_training_thread(tmp_path, monkeypatch,
                                                                    capsys):
    threads, real = [], trainer.write_atomic

    def write_atomic(path, *args):
        threads.append((path.name, threading.current_thread().name))
        real(path, *args)

    monkeypatch.setattr(trainer, "write_atomic", write_atomic)
    code, _, err = train(TINY + ["--epochs", "2", "--out", str(tmp_path / "run")], capsys)
    assert code == 0, err
    assert ("epoch-001.safetensors", "chainrule-writes") in threads
    assert ("epoch-002.safetensors", "chainrule-writes") in threads
    assert {name for _, name in threads} == {"chainrule-writes"}
