"""RunState: one object for where a run stands, which the loop advances and a checkpoint
writes and reads back unchanged."""

from __future__ import annotations

import pytest

from chainrule import nn, optim
from chainrule.train import checkpoint
from chainrule.train import state as state_module
from chainrule.train.recipes import recipe_for
from chainrule.train.state import EpochSums, ProgressError, RunState

ROW = {"epoch": 1, "train_loss": 0.5, "train_accuracy": 0.8, "val_loss": 0.4,
       "val_accuracy": 0.85, "test_loss": 0.45, "test_accuracy": 0.84, "lr": 0.01,
       "seconds": 0.2}


def mid_epoch() -> RunState:
    return RunState(epoch=1, batch=7, history=[ROW], partial=EpochSums(3.5, 20, 28),
                    seconds=4.25, patience_from=1)


def test_progress_holds_the_partial_sums_only_mid_epoch():
    cut = mid_epoch().to_progress()
    assert list(cut) == ["epoch", "batch", "history", "partial", "seconds", "patience_from"]
    assert cut["partial"] == {"loss": 3.5, "correct": 20, "seen": 28}
    at_end = RunState(epoch=1, history=[ROW], partial=EpochSums(3.5, 20, 28),
                      stopped={"epoch": 1, "patience": 1, "best_epoch": 1}).to_progress()
    assert list(at_end) == ["epoch", "batch", "history", "seconds", "stopped_early"]


@pytest.mark.parametrize("state", [RunState(), mid_epoch(),
                                   RunState(epoch=1, history=[ROW], stopped={
                                       "epoch": 1, "patience": 2, "best_epoch": 1,
                                       "best_val_accuracy": 0.85})])
def test_progress_reads_back_to_the_same_state(state):
    assert RunState.from_progress(state.to_progress(), epochs=3) == state


@pytest.mark.parametrize("change,field", [
    ({"epoch": 4}, "progress epoch 4 is not in [0, 3]"),
    ({"epoch": True}, "progress epoch True"),
    ({"batch": -1}, "progress batch -1 is not a count"),
    ({"history": []}, "its history has 0 rows for 1 epochs"),
    ({"history": [{**ROW, "lr": "fast"}]}, "lacks one of epoch, train_loss"),
    ({"partial": {"loss": 1.0, "x": 2}}, "progress partial"),
    ({"seconds": "soon"}, "progress seconds 'soon' is not a number"),
    ({"stopped_early": {"epoch": 1}}, "progress stopped_early"),
    ({"patience_from": 2}, "progress patience_from 2 is not an epoch reached"),
])
def test_a_progress_no_run_could_write_names_its_field(change, field):
    with pytest.raises(ProgressError, match=field.replace("[", r"\[").replace("]", r"\]")):
        RunState.from_progress({**mid_epoch().to_progress(), **change}, epochs=3)


def test_a_checkpoint_file_round_trips_the_state(tmp_path):
    recipe = recipe_for("digits", "mlp", hidden=(4,), epochs=3)
    model = nn.Sequential(nn.Linear(64, 4), nn.ReLU(), nn.Linear(4, 10))
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    path = tmp_path / "checkpoints" / "last.safetensors"
    checkpoint.write(path, recipe, model, optimizer, None, mid_epoch())
    contents, read_recipe, state = checkpoint.read_run(path)
    assert state == mid_epoch() and read_recipe == recipe
    assert contents["progress"] == mid_epoch().to_progress()


def test_position_says_where_the_run_stands():
    assert RunState(epoch=3).position() == "epoch 3"
    assert mid_epoch().position() == "epoch 1, batch 7 of epoch 2"


def test_an_epoch_keeps_its_sums_when_resumed_mid_way_and_starts_fresh_otherwise():
    state = mid_epoch()
    state.begin_epoch()
    assert state.partial == EpochSums(3.5, 20, 28)
    state.end_epoch({**ROW, "epoch": 2})
    assert (state.epoch, state.batch, len(state.history)) == (2, 0, 2)
    state.begin_epoch()
    assert state.partial == EpochSums()


def test_seconds_add_up_over_sessions(monkeypatch):
    clock = iter([10.0, 12.5, 20.0])
    monkeypatch.setattr(state_module.time, "perf_counter", lambda: next(clock))
    state = RunState(seconds=4.0)
    state.start_clock()  # 10.0: the time before training does not count
    assert state.tick() == 6.5  # 12.5
    assert state.tick() == 14.0  # 20.0


def test_finished_by_epochs_or_by_an_early_stop():
    assert RunState(epoch=3, history=[ROW] * 3).finished(3)
    assert not RunState(epoch=2, batch=1).finished(3)
    stopped = RunState(epoch=1, stopped={"epoch": 1, "patience": 2, "best_epoch": 1})
    assert stopped.finished(3) and "stopped early at epoch 1 of 3" in stopped.why_finished(3)
