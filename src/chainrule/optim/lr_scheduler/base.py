"""The scheduler base classes: PyTorch's chainable form, and the anchor that keeps the
closed form exact while nobody else touches the learning rate.

PyTorch's schedulers multiply the lr that is in the group (``group["lr"]``) rather than
recompute it from the initial one, so that a manual ``group["lr"] = x`` is respected and
two schedulers on one optimizer compose. ``_AnchoredLR`` gives the same sequences for
the schedules that have a closed form, computed from an anchor: the lr ``A`` a group had
at epoch ``a``. While the group's lr is the one this scheduler last set, each step
evaluates the closed form from the anchor; when it finds another value there (a manual
edit, another scheduler) it re-anchors at that value and the epoch before the step. A
scheduler alone keeps its first anchor (the initial lr at epoch 0) for ever, so its lrs
are the closed form itself, bit for bit; chained, it re-anchors every step, and the
closed form from the previous epoch is PyTorch's one-step recursion.
"""

from __future__ import annotations

import warnings

from chainrule.graph import trace

#: Bookkeeping entries of PyTorch's scheduler state dicts that chainrule has no use for:
#: loading a dict converted from PyTorch ignores them rather than refuse it.
TORCH_ONLY_KEYS = frozenset({"_step_count", "_is_initial", "_get_lr_called_within_step",
                             "verbose"})


def check_optimizer(optimizer, who: str) -> None:
    if not hasattr(optimizer, "param_groups"):
        raise TypeError(f"{who}: expected an optimizer, got {type(optimizer).__name__}. "
                        "help: pass the optimizer whose learning rate it schedules, e.g. "
                        f"{who}(optim.SGD(model.parameters(), lr=0.1), ...)")


def per_group(name: str, value, optimizer, who: str) -> list:
    """``value`` for each param group: a list or tuple of one per group, or one for all."""
    n = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"{who}: {name} has {len(value)} values but the optimizer has "
                             f"{n} param groups. help: give one per group, or a single value "
                             "for all")
        return list(value)
    return [value] * n


def copied(value):
    """A state-dict value that later steps cannot change (lists and dicts are mutated in
    place by some schedulers)."""
    if isinstance(value, list):
        return [copied(v) for v in value]
    if isinstance(value, dict):
        return {k: copied(v) for k, v in value.items()}
    return value


class LRScheduler:
    """Base class: subclasses define ``get_lr()``, the lrs for epoch ``last_epoch`` from
    the lrs now in the groups (the chainable form), and where one exists
    ``_get_closed_form_lr()``, the same from ``base_lrs`` alone.

    ``last_epoch=-1`` (the default) starts a schedule: every group's lr is recorded as its
    ``initial_lr`` (kept if a scheduler recorded it already) and ``base_lrs``, and
    ``last_epoch`` becomes 0. A value >= 0 resumes at that epoch, as PyTorch's, from the
    ``initial_lr`` the groups must then hold (an optimizer state dict carries it).
    """

    def __init__(self, optimizer, last_epoch: int = -1):
        who = type(self).__name__
        check_optimizer(optimizer, who)
        if isinstance(last_epoch, bool) or not isinstance(last_epoch, int) or last_epoch < -1:
            raise ValueError(f"{who}: last_epoch must be an int >= -1, got {last_epoch!r}. "
                             "help: leave it at -1 to start a schedule")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            missing = [i for i, g in enumerate(optimizer.param_groups) if "initial_lr" not in g]
            if missing:
                raise ValueError(
                    f"{who}: last_epoch={last_epoch} resumes a schedule, but param group(s) "
                    f"{missing} have no 'initial_lr'. help: load the optimizer's state dict "
                    "(which holds it) before building the scheduler, or leave last_epoch at -1 "
                    "and load the scheduler's own state dict")
        self.base_lrs = [g["initial_lr"] for g in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        self.last_epoch += 1
        self._apply(self._initial_lr())

    def _initial_lr(self) -> list:
        """The lrs the constructor sets (PyTorch's: the schedule at ``last_epoch`` for some
        schedulers, the lrs as they are for others)."""
        return self.get_lr()

    def _group_lrs(self) -> list:
        return [g["lr"] for g in self.optimizer.param_groups]

    def get_lr(self) -> list:  # pragma: no cover - abstract
        raise NotImplementedError

    @trace.opaque  # a compiled step replays it as one call
    def step(self, epoch: int | None = None) -> None:
        """Advance one epoch and set each group's lr. Call it after the epoch's
        ``optimizer.step()`` calls. ``epoch`` (deprecated, as in PyTorch) jumps to that
        epoch instead, in closed form where the schedule has one."""
        self._check_groups()
        if epoch is not None:
            warnings.warn(f"{type(self).__name__}.step(epoch) is deprecated, as in PyTorch: it "
                          "jumps to `epoch` in closed form. help: call step() once per epoch",
                          UserWarning, stacklevel=2)
            self._jump(epoch)
            return
        self._observe_groups()
        self.last_epoch += 1
        self._apply(self.get_lr())

    def _observe_groups(self) -> None:
        """Take note of the lrs in the groups before a step (schedules that read them
        through ``get_lr()`` need nothing more)."""

    def _jump(self, epoch: int) -> None:
        """Set ``last_epoch`` and the lrs of that epoch, in closed form where one exists
        (what ``step(epoch)`` and SequentialLR's milestones do)."""
        self.last_epoch = epoch
        closed = getattr(self, "_get_closed_form_lr", None)
        self._apply(closed() if closed is not None else self.get_lr())

    def _apply(self, lrs: list) -> None:
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr
        self._last_lr = self._group_lrs()

    def _check_groups(self) -> None:
        n, m = len(self.optimizer.param_groups), len(self.base_lrs)
        if n != m:
            raise ValueError(f"{type(self).__name__}: the optimizer has {n} param groups, but "
                             f"the scheduler was built for {m}. help: build the scheduler "
                             "after the last add_param_group")

    def get_last_lr(self) -> list:
        """The lrs the last ``step()`` set (the constructor's before any step), per group."""
        return list(self._last_lr)

    def state_dict(self) -> dict:
        """Everything but the optimizer (which has a state dict of its own), as a copy."""
        return {k: copied(v) for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state: dict) -> None:
        """Restore what ``state_dict()`` returned (possibly through ``cr.save``/``cr.load``,
        or converted from PyTorch's). The dict passed in is not modified."""
        unknown = sorted(set(state) - set(self.__dict__) - TORCH_ONLY_KEYS - {"optimizer"})
        if "optimizer" in state or unknown:
            raise ValueError(f"{type(self).__name__}.load_state_dict: unknown keys "
                             f"{unknown or ['optimizer']}. help: pass the state_dict() of a "
                             "scheduler of the same kind")
        self.__dict__.update({k: (list(v) if isinstance(v, tuple) else copied(v))
                              for k, v in state.items() if k not in TORCH_ONLY_KEYS})
        if "_last_lr" not in state:  # saved before _last_lr existed: the groups hold it
            self._last_lr = self._group_lrs()


class _AnchoredLR(LRScheduler):
    """A schedule with a closed form ``_from_anchor(A, a, e, base_lr)``: the lr at epoch
    ``e`` of a group whose lr was ``A`` at epoch ``a`` (see the module's docstring).

    State: ``_anchor_lrs`` and ``_anchor_epochs``, one per group. A state dict saved before
    they existed anchors at ``base_lrs`` and epoch 0, which is what its closed form was.
    """

    def _initial_step(self) -> None:
        self._anchor_lrs = self._group_lrs()
        self._anchor_epochs = [self._initial_anchor_epoch()] * len(self._anchor_lrs)
        super()._initial_step()

    def _initial_anchor_epoch(self) -> int:
        """The epoch whose lr the groups hold when the constructor runs (``last_epoch`` is
        still the argument): the next one, so that the constructor leaves them as they are."""
        return self.last_epoch + 1

    def _observe_groups(self) -> None:
        """Re-anchor every group whose lr is not the one this scheduler last set."""
        for i, (group, mine) in enumerate(zip(self.optimizer.param_groups, self._last_lr)):
            if group["lr"] != mine:
                self._anchor_lrs[i], self._anchor_epochs[i] = group["lr"], self.last_epoch

    def _jump(self, epoch: int) -> None:
        super()._jump(epoch)
        self._anchor_lrs = list(self.base_lrs)
        self._anchor_epochs = [0] * len(self.base_lrs)

    def get_lr(self) -> list:
        return [self._from_anchor(lr, a, self.last_epoch, base)
                for lr, a, base in zip(self._anchor_lrs, self._anchor_epochs, self.base_lrs)]

    def _from_anchor(self, lr: float, a: int, e: int, base: float) -> float:  # pragma: no cover
        raise NotImplementedError

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        if "_anchor_lrs" not in state:
            self._anchor_lrs = list(self.base_lrs)
            self._anchor_epochs = [0] * len(self.base_lrs)
