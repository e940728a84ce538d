"""`chainrule train` compiles its step by default; `--no-compile` runs it eagerly; the two
runs write the same numbers (weights and metrics), since a compiled step is bitwise eager."""

from __future__ import annotations

import warnings

import numpy as np

import chainrule as cr
from chainrule.compile import CompileWarning
from chainrule.train import steps

from ..train.helpers import TINY, train


def test_train_compiled_by_default_and_eager_with_no_compile_agree(tmp_path, capsys,
                                                                     monkeypatch):
    made = []
    real = steps.compiled_update
    monkeypatch.setattr(steps, "compiled_update",
                        lambda report=None: made.append(real(report)) or made[-1])
    args = TINY + ["--epochs", "2", "--dropout", "0.2"]
    assert train(args + ["--out", str(tmp_path / "c")], capsys)[0] == 0
    assert len(made) == 1 and made[0].stats["replays"] > 0
    assert made[0].fallback_reason is None
    assert train(args + ["--out", str(tmp_path / "e"), "--no-compile"], capsys)[0] == 0
    assert len(made) == 1  # eager: no compiled step made
    rows = [[line.rsplit(",", 1)[0] for line in (tmp_path / r / "history.csv").read_text()
             .splitlines()] for r in ("c", "e")]  # every column but the seconds
    assert rows[0] == rows[1] and len(rows[0]) == 3
    a, b = (cr.load(tmp_path / r / "checkpoints" / "last.safetensors") for r in ("c", "e"))
    for k in a["model"]:
        assert np.array_equal(a["model"][k].numpy(), b["model"][k].numpy())


def test_a_step_that_runs_eagerly_is_logged_once_not_warned(tmp_path, capsys, monkeypatch):
    real = steps._update

    def update(model, optimizer, x, y):  # reads a value inside the step: eager
        loss, logits = real(model, optimizer, x, y)
        return (loss * 1 if loss.item() > -1 else loss), logits

    monkeypatch.setattr(steps, "_update", update)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)
        code, out = train(TINY + ["--epochs", "2", "--out", str(tmp_path / "r")], capsys)[:2]
    assert code == 0
    assert out.count("runs eagerly") == 1 and "item()" in out
