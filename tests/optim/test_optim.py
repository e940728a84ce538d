"""Optimizers and schedulers follow torch.optim step for step."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule import optim

torch = pytest.importorskip("torch")

CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-2)),
    ("SGD", dict(lr=0.05, momentum=0.5, dampening=0.3)),
    ("Adam", dict(lr=1e-2)),
    ("Adam", dict(lr=1e-2, betas=(0.8, 0.9), weight_decay=1e-2)),
    ("AdamW", dict(lr=1e-2)),
    ("AdamW", dict(lr=1e-2, weight_decay=0.1, eps=1e-6)),
    ("RMSprop", dict(lr=1e-2)),
    ("RMSprop", dict(lr=1e-2, momentum=0.9, weight_decay=1e-3, alpha=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.1, weight_decay=0.1)),
    ("Adam", dict(lr=1e-2, amsgrad=True, weight_decay=1e-3)),
    ("AdamW", dict(lr=1e-2, amsgrad=True, betas=(0.5, 0.8))),
    ("RMSprop", dict(lr=1e-3, centered=True)),
    ("RMSprop", dict(lr=1e-3, centered=True, momentum=0.5, weight_decay=1e-2, eps=1e-6)),
]


def make_pair(seed=0):
    cr.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    tmodel = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    with torch.no_grad():
        for p, tp in zip(model.parameters(), tmodel.parameters()):
            tp.copy_(torch.as_tensor(p.numpy()))
    return model, tmodel


def data(step):
    rng = np.random.default_rng(step)
    return rng.standard_normal((16, 4)).astype(np.float32), rng.integers(0, 3, 16)


def train(model, opt, steps, start=0, sched=None):
    for s in range(start, start + steps):
        x, y = data(s)
        opt.zero_grad()
        F.cross_entropy(model(cr.tensor(x)), y).backward()
        opt.step()
        if sched is not None:
            sched.step()


@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_trajectory_matches_torch(name, kw):
    model, tmodel = make_pair()
    opt = getattr(optim, name)(model.parameters(), **kw)
    topt = getattr(torch.optim, name)(tmodel.parameters(), **kw)
    for s in range(10):
        x, y = data(s)
        opt.zero_grad()
        F.cross_entropy(model(cr.tensor(x)), y).backward()
        opt.step()
        topt.zero_grad()
        torch.nn.functional.cross_entropy(tmodel(torch.as_tensor(x)), torch.as_tensor(y)).backward()
        topt.step()
    for p, tp in zip(model.parameters(), tmodel.parameters()):
        np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("make,tmake", [
    (lambda o: optim.lr_scheduler.StepLR(o, 3, gamma=0.5),
     lambda o: torch.optim.lr_scheduler.StepLR(o, 3, gamma=0.5)),
    (lambda o: optim.lr_scheduler.CosineAnnealingLR(o, T_max=7, eta_min=0.01),
     lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=7, eta_min=0.01)),
])
def test_schedulers_match_torch(make, tmake):
    model, tmodel = make_pair()
    opt = optim.SGD(model.parameters(), lr=0.1)
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.1)
    sched, tsched = make(opt), tmake(topt)
    for _ in range(12):
        topt.step()
        sched.step()
        tsched.step()
        np.testing.assert_allclose(sched.get_last_lr(), tsched.get_last_lr(), rtol=1e-9)


@pytest.mark.parametrize("name,kw", [CASES[1], CASES[2], CASES[5], CASES[7], CASES[9], CASES[14],
                                     CASES[15]], ids=lambda v: str(v))
def test_state_dict_round_trip_then_continue_equals_uninterrupted(tmp_path, name, kw):
    model, _ = make_pair()
    opt = getattr(optim, name)(model.parameters(), **kw)
    sched = optim.lr_scheduler.StepLR(opt, 2, gamma=0.5)
    train(model, opt, 4, sched=sched)
    cr.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict()},
            tmp_path / "ckpt.safetensors")
    train(model, opt, 4, start=4, sched=sched)
    expected = [p.numpy().copy() for p in model.parameters()]

    model2, _ = make_pair(seed=99)
    opt2 = getattr(optim, name)(model2.parameters(), **kw)
    sched2 = optim.lr_scheduler.StepLR(opt2, 2, gamma=0.5)
    state = cr.load(tmp_path / "ckpt.safetensors")
    model2.load_state_dict(state["model"])
    opt2.load_state_dict(state["opt"])
    sched2.load_state_dict(state["sched"])
    train(model2, opt2, 4, start=4, sched=sched2)
    for a, b in zip(expected, model2.parameters()):
        assert a.tobytes() == b.numpy().tobytes()


def test_step_skips_params_without_grad_and_bumps_versions():
    a = nn.Parameter(np.ones(2, np.float32))
    b = nn.Parameter(np.ones(2, np.float32))
    opt = optim.SGD([a, b], lr=0.5)
    (a * 2).sum().backward()
    opt.step()
    assert a.tolist() == [0.0, 0.0] and b.tolist() == [1.0, 1.0]
    assert a._version == 1 and b._version == 0


def test_step_before_backward_is_caught():
    w = nn.Parameter(np.ones(3, np.float32))
    opt = optim.SGD([w], lr=0.1)
    w.grad = cr.ones(3)
    loss = (w * w).sum()
    opt.step()
    with pytest.raises(cr.BackwardError, match="modified by an inplace operation"):
        loss.backward()


def test_bad_hyper_parameters():
    w = nn.Parameter(np.ones(1, np.float32))
    with pytest.raises(ValueError, match="lr"):
        optim.SGD([w], lr=-1)
    with pytest.raises(ValueError, match="nesterov"):
        optim.SGD([w], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="empty"):
        optim.Adam([])
    with pytest.raises(ValueError, match="betas"):
        optim.Adam([w], betas=(1.0, 0.9))


def test_param_groups_have_their_own_lr():
    a, b = nn.Parameter(np.ones(1, np.float32)), nn.Parameter(np.ones(1, np.float32))
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 1.0}], lr=0.1)
    (a + b).sum().backward()
    opt.step()
    np.testing.assert_allclose([a.item(), b.item()], [0.9, 0.0])


def torch_step(tmodel, topt, s):
    x, y = data(s)
    topt.zero_grad()
    torch.nn.functional.cross_entropy(tmodel(torch.as_tensor(x)), torch.as_tensor(y)).backward()
    topt.step()


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop"])
def test_param_groups_and_schedulers_follow_torch(name):
    """Two groups with their own hyper-parameters, a cosine schedule, 12 steps."""
    model, tmodel = make_pair()
    extra = {"SGD": dict(momentum=0.9), "Adam": dict(betas=(0.8, 0.99)),
             "RMSprop": dict(momentum=0.3)}[name]

    def groups(m):
        ps = list(m.parameters())
        return [{"params": ps[:2], "weight_decay": 0.1},
                {"params": ps[2:], "lr": 0.002, **extra}]

    lr = {"SGD": 0.05, "Adam": 0.01, "RMSprop": 0.003}[name]  # RMSprop's steps are ~lr each
    opt = getattr(optim, name)(groups(model), lr=lr)
    topt = getattr(torch.optim, name)(groups(tmodel), lr=lr)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=5, eta_min=1e-3)
    tsched = torch.optim.lr_scheduler.CosineAnnealingLR(topt, T_max=5, eta_min=1e-3)
    for s in range(12):
        train(model, opt, 1, start=s)
        torch_step(tmodel, topt, s)
        sched.step()
        tsched.step()
        np.testing.assert_allclose(sched.get_last_lr(), tsched.get_last_lr(), rtol=1e-12)
    for p, tp in zip(model.parameters(), tmodel.parameters()):
        np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,kw", [CASES[1], CASES[10], CASES[12], CASES[15]],
                         ids=lambda v: str(v))
def test_state_has_torchs_names_and_structure(name, kw):
    model, tmodel = make_pair()
    opt = getattr(optim, name)(model.parameters(), **kw)
    topt = getattr(torch.optim, name)(tmodel.parameters(), **kw)
    for s in range(2):
        train(model, opt, 1, start=s)
        torch_step(tmodel, topt, s)
    mine, theirs = opt.state_dict(), topt.state_dict()
    assert list(mine["state"]) == list(theirs["state"]) == [0, 1, 2, 3]
    for i in mine["state"]:
        assert set(mine["state"][i]) == set(theirs["state"][i])
        for k, v in mine["state"][i].items():
            ref = theirs["state"][i][k]
            if k == "step":
                assert v == int(ref)
            else:
                np.testing.assert_allclose(v, ref.numpy(), rtol=1e-5, atol=1e-7, err_msg=k)
    assert [g["params"] for g in mine["param_groups"]] == [[0, 1, 2, 3]]
    for k, v in mine["param_groups"][0].items():
        if k in theirs["param_groups"][0]:
            assert v == theirs["param_groups"][0][k], k


def test_scheduler_state_round_trip(tmp_path):
    model, _ = make_pair()
    opt = optim.SGD(model.parameters(), lr=0.1)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10)
    for _ in range(3):
        sched.step()
    cr.save({"opt": opt.state_dict(), "sched": sched.state_dict()}, tmp_path / "s.safetensors")
    expected = []
    for _ in range(4):
        sched.step()
        expected.append(sched.get_last_lr())
    model2, _ = make_pair()
    opt2 = optim.SGD(model2.parameters(), lr=0.1)
    sched2 = optim.lr_scheduler.CosineAnnealingLR(opt2, T_max=10)
    state = cr.load(tmp_path / "s.safetensors")
    opt2.load_state_dict(state["opt"])
    sched2.load_state_dict(state["sched"])
    got = []
    for _ in range(4):
        sched2.step()
        got.append(sched2.get_last_lr())
    assert got == expected


@pytest.mark.parametrize("name,kw", [CASES[2], CASES[5], CASES[7], CASES[15]],
                         ids=lambda v: str(v))
def test_step_allocates_nothing_per_step(name, kw):
    """In-place updates: after the first steps (state, work arrays), a step allocates only
    small Python objects, nothing of the parameters' size; the traced step is the second
    that flushes the subnormal state (optimizer.FLUSH_EVERY: the first makes its mask)."""
    import tracemalloc

    from chainrule.optim.optimizer import FLUSH_EVERY

    w = nn.Parameter(np.ones((256, 256), np.float32))
    w.grad = cr.tensor(np.full((256, 256), 0.5, np.float32))
    opt = getattr(optim, name)([w], **kw)
    for _ in range(2 * FLUSH_EVERY - 1):
        opt.step()
    tracemalloc.start()
    try:
        opt.step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < w.data.nbytes // 10, f"{name} allocated {peak} bytes in one step"


def test_zero_grad_closure_and_repr():
    w = nn.Parameter(np.ones(2, np.float32))
    opt = optim.SGD([w], lr=0.5)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 2.0
    assert w.tolist() == [0.0, 0.0]
    w.grad = cr.ones(2)
    opt.zero_grad(set_to_none=False)
    assert w.grad.tolist() == [0.0, 0.0]
    opt.zero_grad()
    assert w.grad is None
    assert "SGD (" in repr(opt) and "lr: 0.5" in repr(opt)


def test_load_state_dict_errors():
    model, _ = make_pair()
    opt = optim.Adam(model.parameters())
    train(model, opt, 1)
    state = opt.state_dict()
    other = optim.Adam(list(model.parameters())[:2])
    with pytest.raises(ValueError, match=r"groups of sizes \[4\], this optimizer \[2\]"):
        other.load_state_dict(state)
    bad = opt.state_dict()
    bad["state"][0]["exp_avg"] = np.zeros((2, 2), np.float32)
    with pytest.raises(ValueError, match=r"state 'exp_avg' of parameter 0 has shape \(2, 2\)"):
        opt.load_state_dict(bad)
    with pytest.raises(ValueError, match="expected a dict with 'state' and 'param_groups'"):
        opt.load_state_dict({"state": {}})


def test_parameter_checks():
    w = nn.Parameter(np.ones(2, np.float32))
    with pytest.raises(ValueError, match="more than once"):
        optim.SGD([w, w], lr=0.1)
    with pytest.raises(ValueError, match="more than once"):
        optim.SGD([{"params": [w]}, {"params": [w]}], lr=0.1)
    with pytest.raises(TypeError, match="leaf tensor that requires grad"):
        optim.SGD([cr.ones(2)], lr=0.1)
    with pytest.raises(TypeError, match="a single tensor"):
        optim.SGD(w, lr=0.1)
    with pytest.raises(TypeError, match=r"unknown hyper-parameter\(s\) \['momentun'\]"):
        optim.SGD([{"params": [w], "momentun": 0.9}], lr=0.1)
    opt = optim.SGD([w], lr=0.1)
    v = nn.Parameter(np.ones(1, np.float32))
    opt.add_param_group({"params": [v], "lr": 1.0})
    (w.sum() + v.sum()).backward()
    opt.step()
    assert v.item() == 0.0 and np.allclose(w.tolist(), [0.9, 0.9])


# --- subnormal state (optim/optimizer.py's docstring) ----------------------------------


def test_flush_subnormals_zeroes_exactly_the_subnormal_entries():
    from chainrule.optim.optimizer import flush_subnormals

    for dtype in (np.float16, np.float32, np.float64):
        fi = np.finfo(dtype)
        sub = fi.smallest_subnormal
        a = np.array([0.0, -0.0, sub, -sub, 4 * sub, fi.smallest_normal, -fi.smallest_normal,
                      1.0, np.inf, -np.inf, np.nan], dtype=dtype)
        want = a.copy()
        want[2:5] = 0
        got = flush_subnormals(a.copy())
        np.testing.assert_array_equal(got, want)  # nan where nan, all else exactly
        t = flush_subnormals(torch.tensor(a))
        np.testing.assert_array_equal(t.numpy(), want)


def _decaying_run(name, kw, steps):
    """A parameter of two entries: the first's gradient is zero after step 3, so its state
    decays into the subnormal numbers; the second's never is."""
    w = nn.Parameter(np.array([0.5, -0.25], np.float32))
    opt = getattr(optim, name)([w], **kw)
    for t in range(steps):
        w.grad = cr.tensor(np.array([1e-3 if t < 3 else 0.0, 1e-3 * np.sin(t)], np.float32))
        opt.step()
    return w.numpy().copy(), opt


@pytest.mark.parametrize("name,kw", [
    ("SGD", dict(lr=0.1, momentum=0.9)), ("Adam", dict(lr=1e-2)), ("AdamW", dict(lr=1e-2)),
    ("RMSprop", dict(lr=1e-3, momentum=0.9, centered=True)),
], ids=str)
def test_decaying_state_is_flushed_and_the_weights_keep_their_bits(name, kw, monkeypatch):
    """Left alone, the state of the zero-gradient entry sticks among the subnormals (0.9
    times 4 ulp rounds to 4 ulp); flushed every FLUSH_EVERY steps it is zero, and the
    weights are the same bits as without the flush."""
    from chainrule.optim import optimizer

    def subnormal(opt):
        return sum(int(np.count_nonzero((a != 0) & (np.abs(a) < np.finfo(a.dtype).tiny)))
                   for st in opt.state.values() for a in st.values()
                   if isinstance(a, np.ndarray))

    flushed, opt = _decaying_run(name, kw, 2000)
    assert subnormal(opt) == 0
    monkeypatch.setattr(optimizer, "FLUSH_EVERY", 10**9)
    kept, opt = _decaying_run(name, kw, 2000)
    assert subnormal(opt) > 0  # the case is real: without the flush they stay
    assert flushed.tobytes() == kept.tobytes()


def test_the_flushes_resume_with_a_loaded_state():
    """load_state_dict restarts the step count where a state that counts steps left it,
    so a resumed run flushes on the same steps as an uninterrupted one."""
    _, opt = _decaying_run("Adam", dict(lr=1e-2), 20)
    w = nn.Parameter(np.zeros(2, np.float32))
    again = optim.Adam([w], lr=1e-2)
    again.load_state_dict(opt.state_dict())
    assert again._steps == opt._steps == 20


def test_a_compiled_plain_sgd_step_counts_its_steps():
    """The replay's own lines for plain SGD count the step, as step() does (the flushes
    stay on schedule if momentum is switched on later)."""
    model = nn.Linear(3, 2)
    opt = optim.SGD(model.parameters(), lr=0.1)
    x = cr.tensor(np.ones((4, 3), np.float32))

    @cr.compile
    def step(x):
        loss = model(x).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()

    for _ in range(5):
        step(x)
    assert step.stats["replays"] == 4
    assert opt._steps == 5
