"""The epoch line's duration reads as a person would write it; metrics.json reads as JSON."""

import json

import pytest

from chainrule.train.report import epoch_line, metrics_json, seconds


@pytest.mark.parametrize("s, text", [(0.0421, "0.042 s"), (0.004, "0.004 s"), (0.96, "0.96 s"),
                                     (1.34, "1.3 s"), (9.94, "9.9 s"), (95.4, "95 s")])
def test_seconds(s, text):
    assert seconds(s) == text


def test_a_fast_epoch_is_not_zero_seconds():
    row = dict(epoch=1, train_loss=1.0, train_accuracy=0.5, val_loss=1.0, val_accuracy=0.5,
               test_loss=1.0, test_accuracy=0.5, lr=0.01, seconds=0.031)
    assert epoch_line(3, row).endswith("| 0.031 s")


def test_metrics_json_is_the_same_json_a_key_and_a_history_row_per_line():
    history = [{"epoch": e, "train_loss": 1 / e, "test_accuracy": None, "lr": 1e-3}
               for e in range(1, 4)]
    metrics = {"test_accuracy": 0.98, "about": {"a": "b", "c": 1}, "empty": {}, "rows": [],
               "history": history, "recipe": {"layers": [64, 10], "name": "digits"},
               "text": "héllo \"quoted\"", "nan": None}
    text = metrics_json(metrics).decode()
    assert json.loads(text) == metrics
    lines = text.splitlines()
    assert lines[0] == "{" and lines[-1] == "}"
    assert sum(line.startswith('    {"epoch": ') for line in lines) == 3
    assert '  "test_accuracy": 0.98,' in lines


def _rows(n: int) -> list:
    return [{"epoch": e, "train_loss": 1 / e, "train_accuracy": 0.5, "val_loss": None,
             "val_accuracy": None, "test_loss": 2 / e, "test_accuracy": 0.25 * e,
             "lr": 1e-3, "seconds": 0.01 * e} for e in range(1, n + 1)]


def test_row_text_formats_each_row_once_and_changes_nothing():
    from chainrule.train.report import RowText, csv_row, history_csv

    made = []
    row_json = RowText(lambda row: made.append(row["epoch"]) or json.dumps(row))
    row_csv = RowText(csv_row)
    history = _rows(2)
    for _ in range(3):  # one epoch after another: the history grows, the old rows stay
        metrics = {"epochs": len(history), "history": history}
        assert metrics_json(metrics, row_json) == metrics_json(metrics)
        assert history_csv(history, row_csv) == history_csv(history)
        history = history + _rows(len(history) + 1)[-1:]
    assert made == [1, 2, 3, 4]
    # an equal row that is another object (a resumed run's) is formatted for itself
    other = dict(history[0], train_loss=9.0)
    assert json.loads(row_json(other))["train_loss"] == 9.0


def test_the_wall_line_adds_up():
    """`wall W s, training P % of it (T s)`: P is T of W (the process's own age)."""
    import re
    import time

    from chainrule.train.report import wall_line, wall_seconds

    wall = wall_seconds()
    if wall is None:  # not Linux: the line says so, with the training time alone
        assert wall_line(1.5) == "training 1.5 s (this system does not say the wall time)"
        return
    time.sleep(0.05)
    assert 0.05 <= wall_seconds() - wall < 5  # it counts on
    trained = wall_seconds() / 2
    match = re.fullmatch(r"wall (\S+) s, training (\d+) % of it \((\S+) s\)",
                         wall_line(trained))
    assert match, wall_line(trained)
    w, p, t = float(match[1]), int(match[2]), float(match[3])
    assert 49 <= p <= 51 and abs(t - trained) <= 0.05 * trained + 0.001
    assert abs(100 * t / w - p) <= 2


def test_a_run_ends_with_its_wall_time_and_the_share_that_trained(tmp_path):
    """In a process of its own, so that the wall time is the command's."""
    import os
    import re
    import subprocess
    import sys

    from tests.train.helpers import TINY

    src = os.path.join(os.path.dirname(__file__), "..", "..", "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-m", "chainrule", "train", *TINY, "--epochs", "2",
                           "--out", str(tmp_path / "run")], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    last = done.stdout.strip().splitlines()[-1]
    match = re.fullmatch(r"wall (\S+) s, training (\d+) % of it \((\S+) s\)", last)
    assert match, last
    wall, share, trained = float(match[1]), int(match[2]), float(match[3])
    history = json.loads((tmp_path / "run" / "metrics.json").read_text())["history"]
    epochs = sum(row["seconds"] for row in history)
    assert abs(trained - epochs) <= 0.05 * epochs + 0.001  # shown to 2 digits
    assert 0 < trained < wall and abs(share - 100 * trained / wall) <= 3  # both rounded
