"""Schedulers made of schedulers: all at once (``ChainedScheduler``) or one after another
(``SequentialLR``)."""

from __future__ import annotations

from bisect import bisect_right

from chainrule.graph import trace
from chainrule.optim.lr_scheduler.base import LRScheduler, copied
from chainrule.optim.lr_scheduler.plateau import ReduceLROnPlateau


def _check_parts(schedulers, optimizer, who: str) -> list:
    schedulers = list(schedulers)
    if not schedulers:
        raise ValueError(f"{who}: got no schedulers. help: pass a list of at least one")
    for i, s in enumerate(schedulers):
        if not hasattr(s, "optimizer"):
            raise TypeError(f"{who}: schedulers[{i}] is a {type(s).__name__}, not a "
                            "scheduler. help: pass schedulers built on the optimizer")
        if isinstance(s, ReduceLROnPlateau):
            raise ValueError(f"{who}: schedulers[{i}] is a ReduceLROnPlateau, whose step() "
                             "needs the metric. help: step it yourself, beside this one")
        if s.optimizer is not optimizer:
            raise ValueError(f"{who}: schedulers[{i}] ({type(s).__name__}) schedules another "
                             "optimizer. help: build every scheduler on the same optimizer")
    return schedulers


class _Composite(LRScheduler):
    """State dict: the composite's own entries, and ``_schedulers``, the parts' state dicts."""

    def state_dict(self) -> dict:
        state = {k: copied(v) for k, v in self.__dict__.items()
                 if k not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state: dict) -> None:
        parts = state.get("_schedulers", [])
        if len(parts) != len(self._schedulers):
            raise ValueError(f"{type(self).__name__}.load_state_dict: {len(parts)} saved "
                             f"schedulers, {len(self._schedulers)} here. help: load into the "
                             "same composition of schedulers")
        super().load_state_dict({k: v for k, v in state.items() if k != "_schedulers"})
        for s, saved in zip(self._schedulers, parts):
            s.load_state_dict(saved)


class ChainedScheduler(_Composite):
    """Step every scheduler in ``schedulers`` at each ``step()``, in order: their effects
    multiply (e.g. a warm-up with a decay)."""

    def __init__(self, schedulers, optimizer=None):
        first = list(schedulers)[:1]
        optimizer = optimizer or (first[0].optimizer if first and hasattr(first[0], "optimizer")
                                  else None)
        self._schedulers = _check_parts(schedulers, optimizer, "ChainedScheduler")
        self.optimizer = optimizer
        self._last_lr = self._group_lrs()

    @trace.opaque  # a compiled step replays it as one call
    def step(self) -> None:
        for s in self._schedulers:
            s.step()
        self._last_lr = self._group_lrs()

    def _initial_step(self) -> None:  # as a part of a SequentialLR
        for s in self._schedulers:
            s._initial_step()
        self._last_lr = self._group_lrs()

    def _jump(self, epoch: int) -> None:  # as a part of a SequentialLR, at its milestone
        for s in self._schedulers:
            s._jump(epoch)
        self._last_lr = self._group_lrs()


class SequentialLR(_Composite):
    """Run ``schedulers[0]`` until ``milestones[0]``, then ``schedulers[1]`` from its
    epoch 0, and so on (e.g. a linear warm-up, then a cosine)."""

    def __init__(self, optimizer, schedulers, milestones, last_epoch: int = -1):
        who = "SequentialLR"
        self._schedulers = _check_parts(schedulers, optimizer, who)
        milestones = list(milestones)
        if len(milestones) != len(self._schedulers) - 1:
            raise ValueError(f"{who}: {len(self._schedulers)} schedulers need "
                             f"{len(self._schedulers) - 1} milestones, got {len(milestones)}. "
                             "help: milestones[i] is the epoch schedulers[i + 1] takes over")
        self._milestones = milestones
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        # The parts' constructors each took a first step: undo them, and start afresh from
        # the initial lrs with only the part that runs at epoch 0.
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        self._undo_first_steps(self)
        first = self._schedulers[bisect_right(milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def _undo_first_steps(self, scheduler) -> None:
        if hasattr(scheduler, "_schedulers"):
            for s in scheduler._schedulers:
                self._undo_first_steps(s)
        elif hasattr(scheduler, "last_epoch"):
            scheduler.last_epoch -= 1

    @trace.opaque  # a compiled step replays it as one call
    def step(self) -> None:
        self.last_epoch += 1
        i = bisect_right(self._milestones, self.last_epoch)
        part = self._schedulers[i]
        if i > 0 and self._milestones[i - 1] == self.last_epoch:
            part._jump(0)
        else:
            part.step()
        self._last_lr = part.get_last_lr()
