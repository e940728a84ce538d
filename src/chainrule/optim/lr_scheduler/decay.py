"""Schedules that multiply the lr by a factor: step, multi-step, exponential, constant,
linear, polynomial, and the user's own (``LambdaLR``, ``MultiplicativeLR``).

Each ``get_lr()`` is PyTorch's chainable form (it multiplies the lr in the group, so
manual edits and other schedulers compose with it); ``_get_closed_form_lr()`` is the same
schedule from ``base_lrs`` alone, for ``step(epoch)`` and ``SequentialLR``'s milestones.
``StepLR`` alone is its closed form exactly (see base.py's anchor).
"""

from __future__ import annotations

import types
from bisect import bisect_right
from collections import Counter

from chainrule.optim.lr_scheduler.base import (
    LRScheduler,
    _AnchoredLR,
    check_optimizer,
    copied,
)


def whole(name: str, value, who: str, least: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ValueError(f"{who}: {name} must be an int >= {least}, got {value!r}. help: "
                         "count it in scheduler steps (epochs, or batches if you step per "
                         "batch)")
    return value


def factor_in(name: str, value, lo: float, hi: float, who: str, open_lo: bool = False):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            lo < value <= hi if open_lo else lo <= value <= hi):
        low = f"({lo}" if open_lo else f"[{lo}"
        raise ValueError(f"{who}: {name} must be a number in {low}, {hi}], got {value!r}. "
                         "help: it multiplies the initial lr")
    return value


class StepLR(_AnchoredLR):
    """lr = base_lr * gamma ** (epoch // step_size): decay by gamma every step_size epochs
    (chainable: from a manual edit or another scheduler's lr on, it decays that)."""

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        self.step_size = whole("step_size", step_size, "StepLR")
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def _initial_anchor_epoch(self) -> int:
        # PyTorch's constructor already decays when it resumes (last_epoch >= 0) onto a
        # multiple of step_size: anchoring one epoch back does the same.
        return max(self.last_epoch, 0)

    def _from_anchor(self, lr: float, a: int, e: int, base: float) -> float:
        return lr * self.gamma ** (e // self.step_size - a // self.step_size)

    def _get_closed_form_lr(self) -> list:
        return [b * self.gamma ** (self.last_epoch // self.step_size) for b in self.base_lrs]


class MultiStepLR(LRScheduler):
    """lr = base_lr * gamma ** (number of milestones <= epoch): decay by gamma at each
    milestone (by gamma ** k at one listed k times)."""

    def __init__(self, optimizer, milestones, gamma: float = 0.1, last_epoch: int = -1):
        milestones = list(milestones)
        for m in milestones:
            whole("each milestone", m, "MultiStepLR", least=0)
        self.milestones = Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        k = self.milestones.get(self.last_epoch, 0)
        if not k:
            return self._group_lrs()
        return [lr * self.gamma ** k for lr in self._group_lrs()]

    def _get_closed_form_lr(self) -> list:
        passed = bisect_right(sorted(self.milestones.elements()), self.last_epoch)
        return [b * self.gamma ** passed for b in self.base_lrs]

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.milestones = Counter({int(k): int(v) for k, v in self.milestones.items()})


class ExponentialLR(LRScheduler):
    """lr = base_lr * gamma ** epoch: decay by gamma every epoch."""

    def __init__(self, optimizer, gamma: float, last_epoch: int = -1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def _initial_lr(self) -> list:
        return self._group_lrs()

    def get_lr(self) -> list:
        return [lr * self.gamma for lr in self._group_lrs()]

    def _get_closed_form_lr(self) -> list:
        return [b * self.gamma ** self.last_epoch for b in self.base_lrs]


class ConstantLR(LRScheduler):
    """lr = base_lr * factor for epochs < total_iters, then base_lr (a constant warm-up)."""

    def __init__(self, optimizer, factor: float = 1.0 / 3, total_iters: int = 5,
                 last_epoch: int = -1):
        # factor 0 is refused (PyTorch takes it, then divides by it at total_iters)
        self.factor = factor_in("factor", factor, 0, 1, "ConstantLR", open_lo=True)
        self.total_iters = whole("total_iters", total_iters, "ConstantLR", least=0)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        if self.last_epoch == 0:
            return [lr * self.factor for lr in self._group_lrs()]
        if self.last_epoch != self.total_iters:
            return self._group_lrs()
        return [lr * (1.0 / self.factor) for lr in self._group_lrs()]

    def _get_closed_form_lr(self) -> list:
        done = self.last_epoch >= self.total_iters
        return [b * (self.factor + done * (1 - self.factor)) for b in self.base_lrs]


class LinearLR(LRScheduler):
    """lr = base_lr * f, f going linearly from start_factor at epoch 0 to end_factor at
    total_iters, then staying there (a linear warm-up or decay)."""

    def __init__(self, optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1):
        self.start_factor = factor_in("start_factor", start_factor, 0, 1, "LinearLR",
                                      open_lo=True)
        self.end_factor = factor_in("end_factor", end_factor, 0, 1, "LinearLR")
        self.total_iters = whole("total_iters", total_iters, "LinearLR")
        super().__init__(optimizer, last_epoch)

    def _initial_lr(self) -> list:
        return self.get_lr() if self.last_epoch == 0 else self._group_lrs()

    def get_lr(self) -> list:
        e, s, t = self.last_epoch, self.start_factor, self.total_iters
        if e == 0:
            return [lr * s for lr in self._group_lrs()]
        if e > t:
            return self._group_lrs()
        ratio = 1.0 + (self.end_factor - s) / (t * s + (e - 1) * (self.end_factor - s))
        return [lr * ratio for lr in self._group_lrs()]

    def _get_closed_form_lr(self) -> list:
        s, t = self.start_factor, self.total_iters
        f = s + (self.end_factor - s) * min(t, self.last_epoch) / t
        return [b * f for b in self.base_lrs]


class PolynomialLR(LRScheduler):
    """lr = base_lr * (1 - min(epoch, total_iters) / total_iters) ** power."""

    def __init__(self, optimizer, total_iters: int = 5, power: float = 1.0,
                 last_epoch: int = -1):
        self.total_iters = whole("total_iters", total_iters, "PolynomialLR")
        self.power = power
        super().__init__(optimizer, last_epoch)

    def _initial_lr(self) -> list:
        return self._group_lrs()

    def get_lr(self) -> list:
        e, t = self.last_epoch, self.total_iters
        if e > t:
            return self._group_lrs()
        ratio = ((1.0 - e / t) / (1.0 - (e - 1) / t)) ** self.power
        return [lr * ratio for lr in self._group_lrs()]

    def _get_closed_form_lr(self) -> list:
        t = self.total_iters
        return [b * (1.0 - min(t, self.last_epoch) / t) ** self.power for b in self.base_lrs]


class _Lambdas(LRScheduler):
    """The user's functions of the epoch, one per group. Their state dicts hold, as
    PyTorch's, ``None`` for a plain function or lambda (code is never saved) and the
    attributes (``__dict__``) of a callable object, restored into the object on load."""

    def __init__(self, optimizer, lr_lambda, last_epoch: int = -1):
        who = type(self).__name__
        check_optimizer(optimizer, who)
        n = len(optimizer.param_groups)
        fns = list(lr_lambda) if isinstance(lr_lambda, (list, tuple)) else [lr_lambda] * n
        if len(fns) != n:
            raise ValueError(f"{who}: got {len(fns)} lr_lambdas for {n} param groups. help: "
                             "give one function per group, or one for all")
        for fn in fns:
            if not callable(fn):
                raise TypeError(f"{who}: lr_lambda must be a function of the epoch, got "
                                f"{type(fn).__name__}. help: e.g. lr_lambda=lambda epoch: "
                                "0.95 ** epoch")
        self.lr_lambdas = fns
        super().__init__(optimizer, last_epoch)

    def state_dict(self) -> dict:
        state = {k: copied(v) for k, v in self.__dict__.items()
                 if k not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = [None if isinstance(fn, types.FunctionType)
                               else copied(fn.__dict__) for fn in self.lr_lambdas]
        return state

    def load_state_dict(self, state: dict) -> None:
        saved = state.get("lr_lambdas", [None] * len(self.lr_lambdas))
        if len(saved) != len(self.lr_lambdas):
            raise ValueError(f"{type(self).__name__}.load_state_dict: {len(saved)} saved "
                             f"lr_lambdas, {len(self.lr_lambdas)} here. help: load into a "
                             "scheduler over the same param groups")
        super().load_state_dict({k: v for k, v in state.items() if k != "lr_lambdas"})
        for fn, attrs in zip(self.lr_lambdas, saved):
            if attrs is not None:
                fn.__dict__.update(copied(attrs))


class LambdaLR(_Lambdas):
    """lr = base_lr * lr_lambda(epoch). Not chainable (as PyTorch's): each step sets the
    lr from the initial one, over any manual edit."""

    def get_lr(self) -> list:
        return [b * fn(self.last_epoch) for fn, b in zip(self.lr_lambdas, self.base_lrs)]


class MultiplicativeLR(_Lambdas):
    """lr = lr * lr_lambda(epoch) at every step after the first."""

    def _initial_lr(self) -> list:
        return self._group_lrs()

    def get_lr(self) -> list:
        return [lr * fn(self.last_epoch) for fn, lr in zip(self.lr_lambdas, self._group_lrs())]
