"""Learning-rate schedules: call ``scheduler.step()`` once per epoch, after the epoch's
``optimizer.step()`` calls, as in PyTorch.

Each scheduler remembers every group's initial lr (``base_lrs``) and the number of
``step()`` calls so far (``last_epoch``, 0 right after construction), and sets
``group['lr']`` from them in closed form.
"""

from __future__ import annotations

import math


class LRScheduler:
    """Base class: subclasses define ``get_lr()``, the lrs for epoch ``last_epoch``."""

    def __init__(self, optimizer):
        if not hasattr(optimizer, "param_groups"):
            raise TypeError(f"{type(self).__name__}: expected an optimizer, got "
                            f"{type(optimizer).__name__}")
        self.optimizer = optimizer
        self.base_lrs = [g["lr"] for g in optimizer.param_groups]
        self.last_epoch = 0
        self._last_lr = list(self.base_lrs)

    def get_lr(self) -> list:  # pragma: no cover - abstract
        raise NotImplementedError

    def step(self) -> None:
        """Advance one epoch and set each group's lr."""
        self.last_epoch += 1
        self._last_lr = list(self.get_lr())
        for group, lr in zip(self.optimizer.param_groups, self._last_lr):
            group["lr"] = lr

    def get_last_lr(self) -> list:
        """The lrs the last ``step()`` set (the initial ones before any step), per group."""
        return list(self._last_lr)

    def state_dict(self) -> dict:
        """Everything but the optimizer (which has a state dict of its own)."""
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state: dict) -> None:
        unknown = sorted(set(state) - set(self.__dict__))
        if unknown:
            raise ValueError(f"{type(self).__name__}.load_state_dict: unknown keys {unknown}; "
                             "is this the state of another kind of scheduler?")
        self.__dict__.update({k: (list(v) if isinstance(v, tuple) else v)
                              for k, v in state.items()})
        if "_last_lr" not in state:  # saved before _last_lr existed: the groups hold it
            self._last_lr = [g["lr"] for g in self.optimizer.param_groups]


class StepLR(LRScheduler):
    """lr = base_lr * gamma ** (last_epoch // step_size): decay by gamma every step_size
    epochs."""

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1):
        if not isinstance(step_size, int) or step_size < 1:
            raise ValueError(f"StepLR: step_size must be an int >= 1, got {step_size!r}")
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer)

    def get_lr(self) -> list:
        return [b * self.gamma ** (self.last_epoch // self.step_size) for b in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * last_epoch / T_max)) / 2: from
    base_lr down to eta_min in T_max epochs along half a cosine (and back up after, as
    PyTorch's)."""

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0):  # noqa: N803 - PyTorch's
        if not isinstance(T_max, int) or T_max < 1:
            raise ValueError(f"CosineAnnealingLR: T_max must be an int >= 1, got {T_max!r}")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer)

    def get_lr(self) -> list:
        c = (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
        return [self.eta_min + (b - self.eta_min) * c for b in self.base_lrs]
