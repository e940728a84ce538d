"""Schedules along a cosine: annealing (``CosineAnnealingLR``), annealing with warm
restarts (``CosineAnnealingWarmRestarts``) and the one-cycle policy (``OneCycleLR``)."""

from __future__ import annotations

import math

from chainrule.graph import trace
from chainrule.optim.lr_scheduler.base import LRScheduler, _AnchoredLR, check_optimizer, per_group
from chainrule.optim.lr_scheduler.decay import whole


def number(name: str, value, who: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{who}: {name} must be a number, got {type(value).__name__}. help: "
                        f"e.g. {name}=0.0")
    return value


class CosineAnnealingLR(_AnchoredLR):
    """lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2: from
    base_lr down to eta_min in T_max epochs along half a cosine (and back up after, as
    PyTorch's).

    Chainable as PyTorch's: from a group's lr A at epoch a (a manual edit, another
    scheduler's lr) it goes on as eta_min + (A - eta_min) * (1 + cos(pi e / T_max)) /
    (1 + cos(pi a / T_max)), PyTorch's recursion telescoped; out of a minimum (an odd
    multiple of T_max, where that ratio is 0/0) it climbs as PyTorch's does, by the closed
    form's step from base_lr.
    """

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0,  # noqa: N803 - PyTorch's
                 last_epoch: int = -1):
        self.T_max = whole("T_max", T_max, "CosineAnnealingLR")
        self.eta_min = number("eta_min", eta_min, "CosineAnnealingLR")
        super().__init__(optimizer, last_epoch)

    def _from_anchor(self, lr: float, a: int, e: int, base: float) -> float:
        t, low = self.T_max, self.eta_min
        if e == a:
            return lr
        if (a - t) % (2 * t) == 0:
            lr, a = lr + (base - low) * (1 - math.cos(math.pi / t)) / 2, a + 1
            if e == a:
                return lr
        if a + (t - a) % (2 * t) < e:
            # The recursion passes a minimum: it reaches eta_min there exactly and climbs
            # out as above, which puts it back on the closed form from base_lr.
            lr, a = base, 0
        ratio = (1 + math.cos(math.pi * e / t)) / (1 + math.cos(math.pi * a / t))
        return low + (lr - low) * ratio

    def _get_closed_form_lr(self) -> list:
        c = (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
        return [self.eta_min + (b - self.eta_min) * c for b in self.base_lrs]


class CosineAnnealingWarmRestarts(LRScheduler):
    """lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * T_cur / T_i)) / 2, where T_cur
    counts the epochs since the last restart and T_i, T_0 at first, grows by T_mult at
    each restart. ``step(epoch)`` takes fractional epochs (``epoch + i / batches`` to step
    per batch), as PyTorch's. Not chainable (as PyTorch's): it sets the lr from base_lr."""

    def __init__(self, optimizer, T_0: int, T_mult: int = 1,  # noqa: N803 - PyTorch's
                 eta_min: float = 0.0, last_epoch: int = -1):
        who = "CosineAnnealingWarmRestarts"
        self.T_0 = whole("T_0", T_0, who)
        self.T_i = T_0
        self.T_mult = whole("T_mult", T_mult, who)
        self.eta_min = number("eta_min", eta_min, who)
        self.T_cur = last_epoch
        super().__init__(optimizer, last_epoch)

    def _initial_step(self) -> None:
        self.step()

    def get_lr(self) -> list:
        c = 1 + math.cos(math.pi * self.T_cur / self.T_i)
        return [self.eta_min + (b - self.eta_min) * c / 2 for b in self.base_lrs]

    @trace.opaque  # a compiled step replays it as one call
    def step(self, epoch: float | None = None) -> None:
        """Advance one epoch, or go to ``epoch`` (a float is fine)."""
        self._check_groups()
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:
                self.T_cur = self.T_cur % self.T_i
                self.T_i = self.T_i * self.T_mult
        else:
            if epoch < 0:
                raise ValueError(f"CosineAnnealingWarmRestarts.step: epoch must be >= 0, got "
                                 f"{epoch}. help: pass the epochs (and fractions) done so far")
            self._restarts_until(epoch)
        self.last_epoch = math.floor(epoch)
        self._apply(self.get_lr())

    def _restarts_until(self, epoch: float) -> None:
        """T_cur and T_i at ``epoch``, from T_0 and T_mult."""
        t0, mult = self.T_0, self.T_mult
        if epoch < t0:
            self.T_i, self.T_cur = t0, epoch
        elif mult == 1:
            self.T_cur = epoch % t0
        else:
            n = int(math.log(epoch / t0 * (mult - 1) + 1, mult))
            self.T_cur = epoch - t0 * (mult ** n - 1) / (mult - 1)
            self.T_i = t0 * mult ** n

    def _jump(self, epoch: int) -> None:
        self.step(epoch)


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith): per batch, the lr climbs from max_lr / div_factor to
    max_lr over the first pct_start of total_steps, then anneals to initial_lr /
    final_div_factor (three_phase: back to the initial lr first, then down), along a
    cosine or a line; momentum (or Adam's beta1) cycles the other way between
    max_momentum and base_momentum. Not chainable (as PyTorch's). Stepping past
    total_steps is an error."""

    def __init__(self, optimizer, max_lr, total_steps: int | None = None,
                 epochs: int | None = None, steps_per_epoch: int | None = None,
                 pct_start: float = 0.3, anneal_strategy: str = "cos",
                 cycle_momentum: bool = True, base_momentum=0.85, max_momentum=0.95,
                 div_factor: float = 25.0, final_div_factor: float = 1e4,
                 three_phase: bool = False, last_epoch: int = -1):
        who = "OneCycleLR"
        check_optimizer(optimizer, who)
        if total_steps is not None:
            self.total_steps = whole("total_steps", total_steps, who)
        elif epochs is not None and steps_per_epoch is not None:
            self.total_steps = (whole("epochs", epochs, who)
                                * whole("steps_per_epoch", steps_per_epoch, who))
        else:
            raise ValueError("OneCycleLR: the cycle's length is missing. help: pass "
                             "total_steps, or epochs and steps_per_epoch")
        if isinstance(pct_start, bool) or not isinstance(pct_start, (int, float)) \
                or not 0 <= pct_start <= 1:
            raise ValueError(f"OneCycleLR: pct_start must be a number in [0, 1], got "
                             f"{pct_start!r}. help: the fraction of the cycle spent climbing")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"OneCycleLR: anneal_strategy must be 'cos' or 'linear', got "
                             f"{anneal_strategy!r}. help: 'cos' (the default) anneals along "
                             "half a cosine, 'linear' along a line")
        self._schedule_phases = self._phases(pct_start, three_phase)
        self._anneal_func_type = anneal_strategy
        if last_epoch == -1:
            for group, top in zip(optimizer.param_groups,
                                  per_group("max_lr", max_lr, optimizer, who)):
                group["initial_lr"] = top / div_factor
                group["max_lr"] = top
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            defaults = getattr(optimizer, "defaults", {})
            if "momentum" not in defaults and "betas" not in defaults:
                raise ValueError(f"OneCycleLR: {type(optimizer).__name__} has no momentum or "
                                 "betas to cycle. help: pass cycle_momentum=False")
            self.use_beta1 = "betas" in defaults
            if last_epoch == -1:
                tops = per_group("max_momentum", max_momentum, optimizer, who)
                bases = per_group("base_momentum", base_momentum, optimizer, who)
                for group, top, low in zip(optimizer.param_groups, tops, bases):
                    self._set_momentum(group, top)
                    group["max_momentum"], group["base_momentum"] = top, low
        super().__init__(optimizer, last_epoch)

    def _phases(self, pct_start: float, three_phase: bool) -> list:
        climb = float(pct_start * self.total_steps) - 1
        last = self.total_steps - 1

        def phase(end, lr0, lr1, m0, m1):
            return {"end_step": end, "start_lr": lr0, "end_lr": lr1, "start_momentum": m0,
                    "end_momentum": m1}

        if three_phase:
            return [phase(climb, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                    phase(float(2 * pct_start * self.total_steps) - 2, "max_lr", "initial_lr",
                          "base_momentum", "max_momentum"),
                    phase(last, "initial_lr", "min_lr", "max_momentum", "max_momentum")]
        return [phase(climb, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                phase(last, "max_lr", "min_lr", "base_momentum", "max_momentum")]

    def _set_momentum(self, group: dict, value: float) -> None:
        if self.use_beta1:
            group["betas"] = (value, *group["betas"][1:])
        else:
            group["momentum"] = value

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self._anneal_func_type == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> list:
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(f"OneCycleLR: stepped {step} times, past total_steps "
                             f"({self.total_steps}). help: give total_steps (or epochs and "
                             "steps_per_epoch) for every step() the training makes")
        lrs = []
        for group in self.optimizer.param_groups:
            start = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end = phase["end_step"]
                if step <= end or i == len(self._schedule_phases) - 1:
                    pct = (step - start) / (end - start)
                    lrs.append(self._anneal(group[phase["start_lr"]], group[phase["end_lr"]],
                                            pct))
                    if self.cycle_momentum:
                        self._set_momentum(group, self._anneal(
                            group[phase["start_momentum"]], group[phase["end_momentum"]], pct))
                    break
                start = end
        return lrs
