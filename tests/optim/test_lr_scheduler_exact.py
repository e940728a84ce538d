"""StepLR and CosineAnnealingLR alone stay bit for bit the closed forms that the training
recipes' measured accuracies were made with; old state dicts load; errors help; and the
rest of the scheduler contract (state dicts that do not alias, lambdas, threads)."""

from __future__ import annotations

import math
import threading
import warnings

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
from chainrule import optim
from chainrule.optim import lr_scheduler as S


def sgd(*lrs):
    return optim.SGD([{"params": [nn.Parameter(np.zeros(2))], "lr": lr} for lr in lrs], lr=1.0)


def old_step(base, step_size, gamma, e):
    return base * gamma ** (e // step_size)


def old_cosine(base, t_max, eta_min, e):
    c = (1 + math.cos(math.pi * e / t_max)) / 2
    return eta_min + (base - eta_min) * c


@pytest.mark.parametrize("step_size,gamma,bases", [(1, 0.1, (0.1,)), (3, 0.5, (0.05, 0.3)),
                                                   (10, 0.1, (0.01,)), (7, 0.93, (1.7, 1e-3))])
def test_step_lr_alone_is_the_closed_form_bitwise(step_size, gamma, bases):
    opt = sgd(*bases)
    sched = S.StepLR(opt, step_size, gamma=gamma)
    for e in range(1, 201):
        opt.step()
        sched.step()
        want = [old_step(b, step_size, gamma, e) for b in bases]
        assert [g["lr"] for g in opt.param_groups] == want, e
        assert sched.get_last_lr() == want


@pytest.mark.parametrize("t_max,eta_min,bases", [(10, 0.0, (0.1,)), (30, 0.0, (0.05, 0.003)),
                                                 (7, 0.01, (0.1, 0.5)), (200, 1e-4, (0.3,)),
                                                 (1, 0.0, (0.01,)), (3, 0.02, (0.02, 1.0))])
def test_cosine_alone_is_the_closed_form_bitwise(t_max, eta_min, bases):
    """Over 200 epochs: past T_max (where it climbs back) and through several minima."""
    opt = sgd(*bases)
    sched = S.CosineAnnealingLR(opt, T_max=t_max, eta_min=eta_min)
    for e in range(1, 201):
        opt.step()
        sched.step()
        want = [old_cosine(b, t_max, eta_min, e) for b in bases]
        assert [g["lr"] for g in opt.param_groups] == want, e


def test_the_training_recipes_schedules_are_unchanged():
    """What `chainrule train` builds (make_scheduler), stepped as its loop steps it."""
    from chainrule.train.loop import make_scheduler
    from chainrule.train.recipes import Recipe

    for recipe in (Recipe(scheduler="cosine", epochs=30, lr=0.05),
                   Recipe(scheduler="step", epochs=30, lr=0.1, step_size=4, gamma=0.5)):
        opt = sgd(recipe.lr)
        sched = make_scheduler(recipe, opt)
        for e in range(1, recipe.epochs + 1):
            sched.step()
            want = (old_cosine(recipe.lr, recipe.epochs, 0.0, e) if recipe.scheduler == "cosine"
                    else old_step(recipe.lr, recipe.step_size, recipe.gamma, e))
            assert opt.param_groups[0]["lr"] == want


@pytest.mark.parametrize("with_last_lr", [True, False])
def test_state_dicts_from_before_the_chainable_form_load(with_last_lr):
    """Checkpoints hold {base_lrs, last_epoch, _last_lr, step_size, gamma} or {..., T_max,
    eta_min} (older ones no _last_lr): they load, and go on in the closed form."""
    for make, old, fields in (
            (lambda o: S.StepLR(o, 3, gamma=0.5), lambda e: old_step(0.1, 3, 0.5, e),
             {"step_size": 3, "gamma": 0.5}),
            (lambda o: S.CosineAnnealingLR(o, T_max=8, eta_min=0.001),
             lambda e: old_cosine(0.1, 8, 0.001, e), {"T_max": 8, "eta_min": 0.001})):
        state = {"base_lrs": [0.1], "last_epoch": 5, **fields}
        if with_last_lr:
            state["_last_lr"] = [old(5)]
        opt = sgd(0.1)
        opt.param_groups[0]["lr"] = old(5)  # as the optimizer's own state dict restores it
        sched = make(opt)
        assert not set(state) - set(sched.state_dict())  # what checkpoint.restore checks
        sched.load_state_dict(state)
        assert sched.get_last_lr() == [old(5)]
        for e in range(6, 40):
            sched.step()
            assert opt.param_groups[0]["lr"] == old(e)


def test_issue_sequences():
    """The two sequences of issue 19, as PyTorch prints them."""
    opt = sgd(1.0)
    sched = S.StepLR(opt, 5, gamma=0.5)
    seen = []
    for e in range(8):
        seen.append(opt.param_groups[0]["lr"])
        if e == 1:
            opt.param_groups[0]["lr"] = 0.123
        sched.step()
    assert seen == [1.0, 1.0, 0.123, 0.123, 0.123, 0.0615, 0.0615, 0.0615]
    opt = sgd(1.0)
    a, b = S.StepLR(opt, 2, gamma=0.5), S.CosineAnnealingLR(opt, T_max=6)
    seen = []
    for _ in range(6):
        a.step()
        b.step()
        seen.append(round(opt.param_groups[0]["lr"], 4))
    assert seen == [0.933, 0.375, 0.25, 0.0625, 0.0167, 0.0]


def test_state_dict_is_a_snapshot():
    opt = sgd(0.1)
    sched = S.StepLR(opt, 2)
    state = sched.state_dict()
    opt.param_groups[0]["lr"] = 0.7  # re-anchors in place at the next step
    sched.step()
    assert state["_anchor_lrs"] == [0.1] and state["_last_lr"] == [0.1]


def test_lambda_state_saves_objects_attributes_but_not_code(tmp_path):
    class Decay:
        def __init__(self, rate):
            self.rate = rate

        def __call__(self, epoch):
            return self.rate ** epoch

    opt = sgd(0.1, 0.2)
    sched = S.LambdaLR(opt, [lambda e: 1.0, Decay(0.9)])
    sched.lr_lambdas[1].rate = 0.5
    cr.save(sched.state_dict(), tmp_path / "l.safetensors")
    state = cr.load(tmp_path / "l.safetensors")
    assert state["lr_lambdas"] == [None, {"rate": 0.5}]
    again = S.LambdaLR(sgd(0.1, 0.2), [lambda e: 1.0, Decay(0.9)])
    again.load_state_dict(state)
    assert again.lr_lambdas[1].rate == 0.5 and state["lr_lambdas"] == [None, {"rate": 0.5}]


def test_two_threads_each_with_a_scheduler_do_not_interfere():
    def run(out, key):
        opt = sgd(0.1, 0.3)
        scheds = [S.StepLR(opt, 3, gamma=0.5), S.CosineAnnealingLR(opt, T_max=9)]
        seq = []
        for e in range(300):
            if e == 100:
                opt.param_groups[1]["lr"] = 0.05
            for s in scheds:
                s.step()
            seq.append([g["lr"] for g in opt.param_groups])
        out[key] = seq

    alone = {}
    run(alone, "x")
    out = {}
    threads = [threading.Thread(target=run, args=(out, k)) for k in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out["a"] == out["b"] == alone["x"]


def test_get_lr_of_an_anchored_schedule_is_idempotent():
    """resume.py re-plans a cosine by setting T_max and reading get_lr() at the current
    epoch: it must give that epoch's closed form, not one step further."""
    opt = sgd(0.1)
    sched = S.CosineAnnealingLR(opt, T_max=10)
    for _ in range(4):
        sched.step()
    sched.T_max = 20
    assert sched.get_lr() == sched.get_lr() == [old_cosine(0.1, 20, 0.0, 4)]


def test_step_with_an_epoch_warns_with_help():
    sched = S.StepLR(sgd(0.1), 2)
    with pytest.warns(UserWarning, match="help"):
        sched.step(4)
    assert sched.get_last_lr() == [old_step(0.1, 2, 0.1, 4)]


def _raises(error, match, fn):
    with pytest.raises(error, match=match) as info:
        fn()
    assert "help:" in str(info.value), str(info.value)


def test_bad_input_is_refused_with_help():
    opt = sgd(0.1, 0.2)
    _raises(TypeError, "expected an optimizer", lambda: S.StepLR([1, 2], 3))
    _raises(ValueError, "step_size must be an int >= 1", lambda: S.StepLR(opt, 0))
    _raises(ValueError, "T_max must be an int", lambda: S.CosineAnnealingLR(opt, T_max=2.5))
    _raises(TypeError, "eta_min must be a number", lambda: S.CosineAnnealingLR(opt, 5, "0"))
    _raises(ValueError, "2 lr_lambdas for 2|3 lr_lambdas",
            lambda: S.LambdaLR(opt, [abs, abs, abs]))
    _raises(TypeError, "lr_lambda must be a function", lambda: S.MultiplicativeLR(opt, 0.9))
    _raises(ValueError, "factor must be a number in \\(0, 1\\]", lambda: S.ConstantLR(opt, 0))
    _raises(ValueError, "start_factor", lambda: S.LinearLR(opt, start_factor=2))
    _raises(ValueError, "each milestone", lambda: S.MultiStepLR(opt, [2, 1.5]))
    _raises(ValueError, "last_epoch", lambda: S.StepLR(opt, 2, last_epoch=-2))
    _raises(ValueError, "no 'initial_lr'", lambda: S.StepLR(sgd(0.1), 2, last_epoch=4))
    _raises(ValueError, "cycle's length", lambda: S.OneCycleLR(opt, max_lr=1.0))
    _raises(ValueError, "max_lr has 3 values", lambda: S.OneCycleLR(opt, [1, 2, 3], 10))
    _raises(ValueError, "anneal_strategy", lambda: S.OneCycleLR(opt, 1.0, 10,
                                                                        anneal_strategy="x"))
    plain = optim.Adam([nn.Parameter(np.zeros(1))])
    plain.defaults.pop("betas")
    _raises(ValueError, "cycle_momentum=False", lambda: S.OneCycleLR(plain, 1.0, 10))
    _raises(ValueError, "mode must be", lambda: S.ReduceLROnPlateau(opt, mode="lowest"))
    _raises(ValueError, "threshold_mode", lambda: S.ReduceLROnPlateau(opt, threshold_mode="x"))
    _raises(ValueError, "factor must be", lambda: S.ReduceLROnPlateau(opt, factor=1.0))
    _raises(ValueError, "min_lr has 3 values", lambda: S.ReduceLROnPlateau(opt, min_lr=[0] * 3))


def test_misuse_of_composites_and_state_is_refused_with_help():
    opt, other = sgd(0.1), sgd(0.1)
    step = S.StepLR(opt, 2)
    _raises(ValueError, "got no schedulers", lambda: S.ChainedScheduler([]))
    _raises(ValueError, "ReduceLROnPlateau",
            lambda: S.ChainedScheduler([step, S.ReduceLROnPlateau(opt)]))
    _raises(ValueError, "another optimizer",
            lambda: S.SequentialLR(opt, [step, S.StepLR(other, 2)], milestones=[3]))
    _raises(ValueError, "need 1 milestones",
            lambda: S.SequentialLR(opt, [step, S.StepLR(opt, 3)], milestones=[3, 4]))
    _raises(TypeError, "not a scheduler", lambda: S.ChainedScheduler([opt]))
    _raises(ValueError, "unknown keys \\['step'\\]",
            lambda: step.load_state_dict({**step.state_dict(), "step": 1}))
    _raises(ValueError, "unknown keys \\['optimizer'\\]",
            lambda: step.load_state_dict({"optimizer": 1}))
    cycle = S.OneCycleLR(opt, max_lr=1.0, total_steps=3)
    for _ in range(3):
        cycle.step()
    _raises(ValueError, "past total_steps", cycle.step)
    grown = sgd(0.1)
    sched = S.CosineAnnealingLR(grown, T_max=4)
    grown.add_param_group({"params": [nn.Parameter(np.zeros(1))]})
    _raises(ValueError, "built for 1", sched.step)


def test_pytorch_state_dict_bookkeeping_is_ignored():
    """A state dict converted from PyTorch's (with its _step_count and flags) loads."""
    sched = S.StepLR(sgd(0.1), 2)
    sched.load_state_dict({"step_size": 2, "gamma": 0.5, "base_lrs": [0.1], "last_epoch": 3,
                           "_step_count": 4, "_is_initial": False,
                           "_get_lr_called_within_step": False, "_last_lr": [0.05]})
    assert "_step_count" not in sched.state_dict() and sched.last_epoch == 3


def test_warnings_are_not_raised_by_plain_use():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt = sgd(0.1)
        sched = S.SequentialLR(opt, [S.LinearLR(opt, 0.1, total_iters=3),
                                     S.ExponentialLR(opt, 0.9)], milestones=[3])
        for _ in range(6):
            opt.step()
            sched.step()


def test_the_example_prints_pytorchs_sequences():
    """examples/lr_schedules.py; the expected lines are what the same code prints with
    torch.optim."""
    import subprocess
    import sys
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "examples" / "lr_schedules.py"
    out = subprocess.run([sys.executable, str(example)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "warm-up 3, then cosine 7:   0.0100 0.0400 0.0700 0.1000 0.0950 0.0812 0.0611 0.0389 "
        "0.0188 0.0050",
        "step x exponential:         0.1000 0.0900 0.0810 0.0365 0.0328 0.0295 0.0133 0.0120 "
        "0.0108 0.0048",
        "StepLR(5, 0.5), lr=0.123 set after epoch 2: 1.0000 1.0000 0.1230 0.1230 0.1230 0.0615 "
        "0.0615 0.0615 0.0615 0.0615"]
