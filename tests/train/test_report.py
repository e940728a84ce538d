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
