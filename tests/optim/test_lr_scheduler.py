"""Every scheduler against torch.optim.lr_scheduler: the lr sequence over 50 steps alone,
with a manual lr edit, chained with another scheduler, and after a state-dict round trip
through cr.save / cr.load; two param groups with their own lrs throughout."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import chainrule as cr
import chainrule.nn as nn
from chainrule import optim

torch = pytest.importorskip("torch")

STEPS = 50
EDIT_AT = 17  # the step before which a test sets group["lr"] by hand


def _one_cycle_cos(m, o):
    return m.OneCycleLR(o, max_lr=[1.0, 2.0], total_steps=60)


def _one_cycle_linear(m, o):
    return m.OneCycleLR(o, max_lr=1.0, epochs=6, steps_per_epoch=10, anneal_strategy="linear",
                        three_phase=True, pct_start=0.25)


def _warmup_cosine(m, o):
    return m.SequentialLR(o, [m.LinearLR(o, start_factor=0.1, total_iters=5),
                              m.CosineAnnealingLR(o, T_max=20)], milestones=[5])


def _three_parts(m, o):
    return m.SequentialLR(o, [m.ConstantLR(o, factor=0.5, total_iters=3),
                              m.ExponentialLR(o, gamma=0.9), m.StepLR(o, 4, gamma=0.5)],
                          milestones=[3, 10])


class Halving:
    """A callable object: LambdaLR saves its attributes (a plain function it cannot)."""

    def __init__(self, every):
        self.every = every

    def __call__(self, epoch):
        return 0.5 ** (epoch // self.every)


SCHEDULERS = {
    "StepLR": lambda m, o: m.StepLR(o, 5, gamma=0.5),
    "StepLR-every-epoch": lambda m, o: m.StepLR(o, 1, gamma=0.9),
    "MultiStepLR": lambda m, o: m.MultiStepLR(o, [3, 7, 7, 20], gamma=0.5),
    "ExponentialLR": lambda m, o: m.ExponentialLR(o, gamma=0.93),
    "ConstantLR": lambda m, o: m.ConstantLR(o, factor=0.5, total_iters=4),
    "LinearLR": lambda m, o: m.LinearLR(o, start_factor=0.2, end_factor=0.9, total_iters=10),
    "PolynomialLR": lambda m, o: m.PolynomialLR(o, total_iters=30, power=2.0),
    "LambdaLR": lambda m, o: m.LambdaLR(o, lambda e: 0.9 ** e),
    "LambdaLR-per-group": lambda m, o: m.LambdaLR(o, [lambda e: 1 / (e + 1), Halving(4)]),
    "MultiplicativeLR": lambda m, o: m.MultiplicativeLR(o, lambda e: 0.97),
    "CosineAnnealingLR": lambda m, o: m.CosineAnnealingLR(o, T_max=7, eta_min=0.01),
    "CosineAnnealingLR-T10": lambda m, o: m.CosineAnnealingLR(o, T_max=10),
    "CosineAnnealingLR-T1": lambda m, o: m.CosineAnnealingLR(o, T_max=1, eta_min=0.001),
    "CosineAnnealingWarmRestarts": lambda m, o: m.CosineAnnealingWarmRestarts(
        o, T_0=4, T_mult=2, eta_min=0.001),
    "CosineAnnealingWarmRestarts-T_mult1": lambda m, o: m.CosineAnnealingWarmRestarts(o, 6),
    "OneCycleLR": _one_cycle_cos,
    "OneCycleLR-linear-three-phase": _one_cycle_linear,
    "SequentialLR-warmup-cosine": _warmup_cosine,
    "SequentialLR-three": _three_parts,
    "SequentialLR-restarts": lambda m, o: m.SequentialLR(
        o, [m.ExponentialLR(o, gamma=0.9), m.CosineAnnealingWarmRestarts(o, 4, T_mult=2)], [6]),
    "ChainedScheduler": lambda m, o: m.ChainedScheduler([m.StepLR(o, 4, gamma=0.5),
                                                         m.ExponentialLR(o, gamma=0.98)]),
}

# A second scheduler on the same optimizer: built after the one under test, or before it.
PARTNERS = {
    "StepLR-after": (lambda m, o: m.StepLR(o, 3, gamma=0.5), "after"),
    "LinearLR-before": (lambda m, o: m.LinearLR(o, start_factor=0.25, total_iters=4), "before"),
    "CosineAnnealingLR-after": (lambda m, o: m.CosineAnnealingLR(o, T_max=6), "after"),
}


def optimizers():
    """The same SGD (momentum, for OneCycleLR to cycle) over two groups, in both libraries."""
    ours = [nn.Parameter(np.zeros(2)), nn.Parameter(np.zeros(3))]
    theirs = [torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(3))]

    def groups(ps):
        return [{"params": [ps[0]]}, {"params": [ps[1]], "lr": 0.5}]

    return (optim.SGD(groups(ours), lr=0.1, momentum=0.9),
            torch.optim.SGD(groups(theirs), lr=0.1, momentum=0.9))


def lrs(opt) -> list:
    return [g["lr"] for g in opt.param_groups] + [g["momentum"] for g in opt.param_groups]


def same(ours, theirs, what):
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15, err_msg=what)


class Run:
    """One library's optimizer and schedulers, stepped as a training loop steps them."""

    def __init__(self, lib, opt, make, partner=None):
        self.opt = opt
        other, when = partner or (None, None)
        before = [other(lib, opt)] if when == "before" else []
        self.sched = make(lib, opt)
        after = [other(lib, opt)] if when == "after" else []
        self.scheds = [*before, self.sched, *after]

    def step(self):
        self.opt.step()
        for s in self.scheds:
            s.step()


def pair(name, partner=None):
    make = SCHEDULERS[name]
    opt, topt = optimizers()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch's notes on step() order, not under test
        return (Run(optim.lr_scheduler, opt, make, PARTNERS.get(partner)),
                Run(torch.optim.lr_scheduler, topt, make, PARTNERS.get(partner)))


def walk(ours, theirs, steps, edit_at=None, label="", compare=same):
    """``compare(ours, theirs, what)`` at each step (tools/parity_report.py measures)."""
    compare(lrs(ours.opt), lrs(theirs.opt), f"{label} after construction")
    for s in range(steps):
        if s == edit_at:
            for r in (ours, theirs):
                r.opt.param_groups[0]["lr"] = 0.0123
        ours.step()
        theirs.step()
        compare(lrs(ours.opt), lrs(theirs.opt), f"{label} step {s + 1}")
        compare(ours.sched.get_last_lr(), theirs.sched.get_last_lr(),
                f"{label} last_lr {s + 1}")


@pytest.mark.parametrize("name", SCHEDULERS)
def test_alone(name):
    walk(*pair(name), STEPS, label=name)


@pytest.mark.parametrize("name", SCHEDULERS)
def test_with_a_manual_lr_edit(name):
    walk(*pair(name), STEPS, edit_at=EDIT_AT, label=name)


@pytest.mark.parametrize("partner", PARTNERS)
@pytest.mark.parametrize("name", SCHEDULERS)
def test_chained_with_another_scheduler(name, partner):
    walk(*pair(name, partner), STEPS, label=f"{name} + {partner}")


@pytest.mark.parametrize("name", SCHEDULERS)
def test_state_dict_round_trip_mid_way(name, tmp_path):
    round_trip(name, tmp_path / "sched.safetensors")


def round_trip(name, path, compare=same):
    """23 steps, cr.save / cr.load of both state dicts into a new optimizer and scheduler,
    the remaining steps against PyTorch's that went on uninterrupted."""
    ours, theirs = pair(name)
    walk(ours, theirs, 23, label=name, compare=compare)
    cr.save({"opt": ours.opt.state_dict(), "sched": ours.sched.state_dict()}, path)
    opt, _ = optimizers()
    resumed = Run(optim.lr_scheduler, opt, SCHEDULERS[name])
    saved = cr.load(path)
    opt.load_state_dict(saved["opt"])
    resumed.sched.load_state_dict(saved["sched"])
    walk(resumed, theirs, STEPS - 23, label=f"{name} resumed", compare=compare)


@pytest.mark.parametrize("edit", [None, 4])
def test_reduce_lr_on_plateau(edit, tmp_path):
    plateau(edit, tmp_path / "p.safetensors")


def plateau(edit, path, compare=same):
    """ReduceLROnPlateau over a noisy metric, with an lr edit at step ``edit`` (or none),
    and a cr.save / cr.load round trip of its state at step 20."""
    metrics = [1.0, 0.9, 0.95, 0.95, 0.95, 0.8, 0.81, 0.82, 0.83, 0.84, 0.7] * 5
    opt, topt = optimizers()
    kw = dict(mode="min", factor=0.5, patience=2, cooldown=1, min_lr=[0.01, 0.002])
    sched = optim.lr_scheduler.ReduceLROnPlateau(opt, **kw)
    tsched = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kw)
    for s, metric in enumerate(metrics):
        if s == edit:
            opt.param_groups[1]["lr"] = topt.param_groups[1]["lr"] = 0.3
        if s == 20:
            cr.save(sched.state_dict(), path)
            sched = optim.lr_scheduler.ReduceLROnPlateau(opt)
            sched.load_state_dict(cr.load(path))
        sched.step(cr.tensor(metric))
        tsched.step(metric)
        compare(lrs(opt), lrs(topt), f"step {s + 1}")
        compare(sched.get_last_lr(), tsched.get_last_lr(), f"last_lr {s + 1}")
    assert sched.state_dict().keys() == tsched.state_dict().keys()


@pytest.mark.parametrize("mode,threshold_mode", [("max", "abs"), ("max", "rel"), ("min", "abs")])
def test_reduce_lr_on_plateau_modes(mode, threshold_mode):
    metrics = [0.5, 0.6, 0.6, 0.61, 0.6, 0.59, 0.7, 0.7, 0.7, 0.7, 0.4, 0.4] * 3
    opt, topt = optimizers()
    kw = dict(mode=mode, patience=1, threshold=0.05, threshold_mode=threshold_mode)
    sched = optim.lr_scheduler.ReduceLROnPlateau(opt, **kw)
    tsched = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kw)
    for s, metric in enumerate(metrics):
        sched.step(metric)
        tsched.step(metric)
        same(lrs(opt), lrs(topt), f"step {s + 1}")


def test_reduce_lr_on_plateau_beside_a_step_schedule():
    opt, topt = optimizers()
    ours = [optim.lr_scheduler.StepLR(opt, 3, gamma=0.8),
            optim.lr_scheduler.ReduceLROnPlateau(opt, patience=1, factor=0.5)]
    theirs = [torch.optim.lr_scheduler.StepLR(topt, 3, gamma=0.8),
              torch.optim.lr_scheduler.ReduceLROnPlateau(topt, patience=1, factor=0.5)]
    for s in range(STEPS):
        metric = 1.0 / (1 + s % 7)
        opt.step()
        topt.step()
        for step, plateau in (ours, theirs):
            step.step()
            plateau.step(metric)
        same(lrs(opt), lrs(topt), f"step {s + 1}")


@pytest.mark.parametrize("name", ["StepLR", "MultiStepLR", "ExponentialLR", "ConstantLR",
                                  "LinearLR", "PolynomialLR", "CosineAnnealingLR",
                                  "CosineAnnealingWarmRestarts", "LambdaLR"])
def test_step_with_an_epoch_jumps_in_closed_form(name):
    ours, theirs = pair(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for epoch in [3, 4, 12, 7, 30, 31]:
            ours.sched.step(epoch)
            theirs.sched.step(epoch)
            same(lrs(ours.opt), lrs(theirs.opt), f"{name} at epoch {epoch}")
            assert ours.sched.last_epoch == theirs.sched.last_epoch
            ours.sched.step()
            theirs.sched.step()
            same(lrs(ours.opt), lrs(theirs.opt), f"{name} after epoch {epoch}")


def test_warm_restarts_take_fractional_epochs():
    ours, theirs = pair("CosineAnnealingWarmRestarts")
    for epoch in range(12):
        for i in range(4):
            ours.sched.step(epoch + i / 4)
            theirs.sched.step(epoch + i / 4)
            same(lrs(ours.opt), lrs(theirs.opt), f"epoch {epoch} + {i}/4")


@pytest.mark.parametrize("name", ["StepLR", "CosineAnnealingLR", "ExponentialLR", "LinearLR",
                                  "ConstantLR", "MultiStepLR", "LambdaLR"])
def test_resuming_with_last_epoch_as_pytorch(name):
    """A scheduler built with last_epoch=k over an optimizer that holds initial_lr (from
    its state dict) does what PyTorch's does."""
    ours, theirs = pair(name)
    walk(ours, theirs, 9, label=name)
    opt, topt = optimizers()
    opt.load_state_dict(ours.opt.state_dict())
    topt.load_state_dict(theirs.opt.state_dict())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        built = [_with_last_epoch(name, lib, o, dict(last_epoch=9))
                 for lib, o in ((optim.lr_scheduler, opt), (torch.optim.lr_scheduler, topt))]
    same(lrs(opt), lrs(topt), f"{name} rebuilt")
    for s in range(20):
        opt.step()
        topt.step()
        for sched in built:
            sched.step()
        same(lrs(opt), lrs(topt), f"{name} rebuilt, step {s + 1}")


def _with_last_epoch(name, m, o, kw):
    return {
        "StepLR": lambda: m.StepLR(o, 5, gamma=0.5, **kw),
        "CosineAnnealingLR": lambda: m.CosineAnnealingLR(o, T_max=7, eta_min=0.01, **kw),
        "ExponentialLR": lambda: m.ExponentialLR(o, gamma=0.93, **kw),
        "LinearLR": lambda: m.LinearLR(o, start_factor=0.2, end_factor=0.9, total_iters=10,
                                       **kw),
        "ConstantLR": lambda: m.ConstantLR(o, factor=0.5, total_iters=10, **kw),
        "MultiStepLR": lambda: m.MultiStepLR(o, [3, 7, 7, 10, 20], gamma=0.5, **kw),
        "LambdaLR": lambda: m.LambdaLR(o, lambda e: 0.9 ** e, **kw),
    }[name]()


CHAINABLE = {
    "cosine": lambda m, o, t, low, s, gamma: m.CosineAnnealingLR(o, T_max=t, eta_min=low),
    "step": lambda m, o, t, low, s, gamma: m.StepLR(o, s, gamma=gamma),
    "exponential": lambda m, o, t, low, s, gamma: m.ExponentialLR(o, gamma=0.95),
    "linear": lambda m, o, t, low, s, gamma: m.LinearLR(o, start_factor=0.3, total_iters=4),
}


@given(kinds=st.lists(st.sampled_from(sorted(CHAINABLE)), min_size=1, max_size=3, unique=True),
       t_max=st.integers(1, 12), eta_min=st.sampled_from([0.0, 0.003, 0.01]),
       step_size=st.integers(1, 6), gamma=st.sampled_from([0.1, 0.5, 0.9]),
       edits=st.dictionaries(st.integers(0, 59), st.sampled_from([0.001, 0.0123, 0.2, 0.5]),
                             max_size=4))
def test_any_chain_with_any_edits_follows_pytorch(kinds, t_max, eta_min, step_size, gamma,
                                                  edits):
    """The anchors (StepLR's, the cosine's through its minima) against PyTorch's recursion,
    under schedulers built in any order and manual edits at any epochs."""
    opt, topt = optimizers()
    args = (t_max, eta_min, step_size, gamma)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = [CHAINABLE[k](optim.lr_scheduler, opt, *args) for k in kinds]
        theirs = [CHAINABLE[k](torch.optim.lr_scheduler, topt, *args) for k in kinds]
        for e in range(60):
            if e in edits:
                opt.param_groups[0]["lr"] = topt.param_groups[0]["lr"] = edits[e]
            for s in ours + theirs:
                s.step()
            same(lrs(opt), lrs(topt), f"step {e + 1}")
