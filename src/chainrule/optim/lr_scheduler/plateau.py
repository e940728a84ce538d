"""``ReduceLROnPlateau``: lower the lr when a metric stops improving."""

from __future__ import annotations

import math
import warnings

from chainrule.graph import trace
from chainrule.optim.lr_scheduler.base import LRScheduler, check_optimizer, per_group
from chainrule.optim.lr_scheduler.decay import whole


class ReduceLROnPlateau(LRScheduler):
    """Multiply every group's lr by ``factor`` (down to its ``min_lr``) once the metric
    passed to ``step(metric)`` has not improved for more than ``patience`` steps; then wait
    ``cooldown`` steps before counting again. ``mode='min'`` for a loss, ``'max'`` for an
    accuracy; an improvement must beat the best by ``threshold`` (relative, or absolute
    with ``threshold_mode='abs'``). A reduction smaller than ``eps`` is skipped. Not
    chainable: it reads the lr in the group, so it composes with manual edits and with
    other schedulers stepped beside it."""

    def __init__(self, optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr=0, eps: float = 1e-8):
        who = "ReduceLROnPlateau"
        check_optimizer(optimizer, who)
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) \
                or not 0 <= factor < 1:
            raise ValueError(f"{who}: factor must be a number in [0, 1), got {factor!r}. help: "
                             "the lr is multiplied by it, e.g. factor=0.1")
        self.factor = factor
        self.optimizer = optimizer
        self.default_min_lr = None if isinstance(min_lr, (list, tuple)) else min_lr
        self.min_lrs = per_group("min_lr", min_lr, optimizer, who)
        self.patience = whole("patience", patience, who, least=0)
        self.cooldown = whole("cooldown", cooldown, who, least=0)
        self.eps = eps
        self.last_epoch = 0
        self._last_lr = self._group_lrs()
        self._set_comparison(mode, threshold, threshold_mode)
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def _set_comparison(self, mode: str, threshold: float, threshold_mode: str) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"ReduceLROnPlateau: mode must be 'min' or 'max', got {mode!r}. "
                             "help: 'min' for a loss, 'max' for an accuracy")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs', got "
                             f"{threshold_mode!r}. help: 'rel' compares with best * (1 -+ "
                             "threshold), 'abs' with best -+ threshold")
        self.mode, self.threshold, self.threshold_mode = mode, threshold, threshold_mode
        self.mode_worse = math.inf if mode == "min" else -math.inf

    def _is_better(self, value: float) -> bool:
        best, t = self.best, self.threshold
        if self.mode == "min":
            return value < (best * (1.0 - t) if self.threshold_mode == "rel" else best - t)
        return value > (best * (t + 1.0) if self.threshold_mode == "rel" else best + t)

    @trace.opaque  # a compiled step replays it as one call
    def step(self, metrics, epoch: int | None = None) -> None:
        """Take the epoch's metric (a number or a one-element tensor) into account."""
        current = float(metrics)
        if epoch is None:
            epoch = self.last_epoch + 1
        else:
            warnings.warn("ReduceLROnPlateau.step(metrics, epoch) is deprecated, as in "
                          "PyTorch. help: call step(metrics) once per epoch", UserWarning,
                          stacklevel=2)
        self.last_epoch = epoch
        if self._is_better(current):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs in the cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = self._group_lrs()

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def _reduce_lr(self) -> None:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise ValueError(f"ReduceLROnPlateau: the optimizer has {len(groups)} param "
                                 f"groups but min_lr gave {len(self.min_lrs)}. help: set "
                                 "scheduler.min_lrs to one per group")
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, low in zip(groups, self.min_lrs):
            old = float(group["lr"])
            new = max(old * self.factor, low)
            if old - new > self.eps:
                group["lr"] = new

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self._set_comparison(self.mode, self.threshold, self.threshold_mode)
