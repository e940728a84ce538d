"""The epoch line's duration reads as a person would write it."""

import pytest

from chainrule.train.report import epoch_line, seconds


@pytest.mark.parametrize("s, text", [(0.0421, "0.042 s"), (0.004, "0.004 s"), (0.96, "0.96 s"),
                                     (1.34, "1.3 s"), (9.94, "9.9 s"), (95.4, "95 s")])
def test_seconds(s, text):
    assert seconds(s) == text


def test_a_fast_epoch_is_not_zero_seconds():
    row = dict(epoch=1, train_loss=1.0, train_accuracy=0.5, val_loss=1.0, val_accuracy=0.5,
               test_loss=1.0, test_accuracy=0.5, lr=0.01, seconds=0.031)
    assert epoch_line(3, row).endswith("| 0.031 s")
