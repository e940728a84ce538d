"""cr.compile: a compiled step is bitwise the eager step, over several steps, through guard
misses (batch size, train/eval) and re-recordings; what cannot be recorded runs eagerly.

Each test builds the same model twice from one seed and runs the same batches through the
eager step and the compiled one, one run after the other (dropout draws from the global
generator, so the two runs must not interleave), then compares every number bitwise.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule import optim
from chainrule.compile import CompileWarning


def _batches(shapes, classes=5, seed=0):
    rng = np.random.default_rng(seed)
    return [(cr.tensor(rng.standard_normal(s).astype(np.float32)),
             cr.tensor(rng.integers(0, classes, s[0]))) for s in shapes]


def _mlp(dropout=0.2):
    return nn.Sequential(nn.Flatten(), nn.Linear(20, 32), nn.ReLU(), nn.Dropout(dropout),
                         nn.Linear(32, 16), nn.Tanh(), nn.Linear(16, 5))


def _cnn():  # the Fashion CNN recipe's shape (train/models.py cnn), small
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4),
                         nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 6, 3, padding=1, bias=False),
                         nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Dropout(0.3), nn.Linear(6 * 2 * 2, 5))


def _run(make_model, make_opt, batches, compiled, plan=None):
    """Train from seed 7 on ``batches``; ``plan`` lists 'train'/'eval' per batch. Returns the
    losses (eval: the logits), the final state, and the compiled step (or None)."""
    cr.manual_seed(7)
    model = make_model()
    opt = make_opt(model.parameters())

    def train_step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    def eval_step(x):
        with cr.no_grad():
            return model(x)

    if compiled:
        train_step, eval_step = cr.compile(train_step), cr.compile(eval_step)
    out = []
    for (x, y), mode in zip(batches, plan or ["train"] * len(batches)):
        if mode == "train":
            model.train()
            out.append(train_step(x, y).data.copy())
        else:
            model.eval()
            out.append(eval_step(x).data.copy())
    state = [t.data.copy() for t in model.state_dict().values()]
    state += [p.grad.data.copy() for p in model.parameters()]
    return out, state, (train_step, eval_step) if compiled else None


def _assert_bitwise(a, b):
    assert len(a) == len(b)
    for u, v in zip(a, b):
        assert u.dtype == v.dtype and u.shape == v.shape
        assert np.array_equal(u, v), np.max(np.abs(u - v))


def _same_run(make_model, make_opt, batches, plan=None):
    eager = _run(make_model, make_opt, batches, False, plan)
    compiled = _run(make_model, make_opt, batches, True, plan)
    _assert_bitwise(eager[0], compiled[0])
    _assert_bitwise(eager[1], compiled[1])
    return compiled[2]


@pytest.mark.parametrize("make_opt", [
    lambda p: optim.SGD(p, lr=0.1, momentum=0.9),
    lambda p: optim.Adam(p, lr=1e-2),
], ids=["sgd-momentum", "adam"])
def test_mlp_with_dropout_is_bitwise_eager_over_steps(make_opt):
    train, _ = _same_run(_mlp, make_opt, _batches([(16, 20)] * 5))
    assert train.stats == {"records": 1, "replays": 4, "eager": 0}
    assert train.fallback_reason is None


def test_a_changed_batch_size_records_again_and_stays_bitwise():
    shapes = [(16, 20), (16, 20), (9, 20), (9, 20), (16, 20), (16, 20)]
    train, _ = _same_run(_mlp, lambda p: optim.SGD(p, lr=0.05), _batches(shapes))
    assert train.stats == {"records": 2, "replays": 4, "eager": 0}  # 16 again: cached


def test_cnn_with_batch_norm_dropout_and_train_eval_switches():
    plan = ["train", "train", "eval", "train", "eval", "eval", "train", "train"]
    shapes = [(8, 1, 8, 8)] * 5 + [(5, 1, 8, 8)] * 3
    train, evaluate = _same_run(_cnn, lambda p: optim.Adam(p, lr=1e-2),
                                _batches(shapes), plan)
    # train: 8 (record), 8, 8 (replay), then batch 5 (record), 5 (replay)
    assert train.stats == {"records": 2, "replays": 3, "eager": 0}
    assert evaluate.stats["replays"] == 1  # eval at 8 recorded, then replayed; at 5 recorded


def test_deep_chain_gradient_is_bitwise_and_reaches_each_calls_input():
    x0 = np.random.default_rng(1).standard_normal(64).astype(np.float32)

    def chain(x):
        y = x
        for _ in range(200):
            y = y.tanh() * 1.0001 + 0.001
        y.sum().backward()
        return y

    compiled = cr.compile(chain)
    for k in range(3):
        xe = cr.tensor(x0 + k, requires_grad=True)
        xc = cr.tensor(x0 + k, requires_grad=True)
        ye, yc = chain(xe), compiled(xc)
        assert np.array_equal(ye.data, yc.data)
        assert np.array_equal(xe.grad.data, xc.grad.data)
    assert compiled.stats["replays"] == 2


def test_ignored_targets_and_bad_targets_are_checked_on_every_replay():
    model = nn.Linear(4, 3)
    x = cr.tensor(np.ones((4, 4), np.float32))

    @cr.compile
    def loss_of(x, y):
        return F.cross_entropy(model(x), y)

    good, ignored = cr.tensor(np.array([0, 1, 2, 1])), cr.tensor(np.array([0, -100, 2, 1]))
    assert np.array_equal(loss_of(x, good).data, F.cross_entropy(model(x), good).data)
    with pytest.warns(CompileWarning, match="SoftCrossEntropy"):  # that branch: eager
        got = loss_of(x, ignored)
    assert np.array_equal(got.data, F.cross_entropy(model(x), ignored).data)
    assert loss_of.stats["records"] == 2  # the branch on the targets changed: recorded again
    assert np.array_equal(loss_of(x, good).data, F.cross_entropy(model(x), good).data)
    assert loss_of.stats["replays"] == 1
    with pytest.raises(IndexError, match="out of range"):
        loss_of(x, cr.tensor(np.array([0, 1, 7, 1])))


def test_a_replaced_parameter_or_a_new_hook_is_a_guard_miss():
    model = nn.Linear(4, 2)
    x = cr.tensor(np.ones((3, 4), np.float32))
    forward = cr.compile(lambda x: model(x))
    forward(x)
    forward(x)
    model.weight = nn.Parameter(np.full((2, 4), 0.5, np.float32))
    assert np.array_equal(forward(x).data, model(x).data)
    assert forward.stats["records"] == 2
    model.register_forward_hook(lambda m, i, o: None)
    with pytest.warns(CompileWarning, match="hooks"):
        forward(x)
    assert "hooks" in forward.fallback_reason


def test_the_lr_scheduler_inside_the_step_runs_on_every_replay():
    def run(compiled):
        cr.manual_seed(3)
        model = _mlp(0.0)
        opt = optim.SGD(model.parameters(), lr=0.1)
        sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)

        def step(x, y):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
            sched.step()

        step = cr.compile(step) if compiled else step
        for x, y in _batches([(6, 20)] * 4):
            step(x, y)
        return [p.data for p in model.parameters()], opt.param_groups[0]["lr"]

    (a, lr_a), (b, lr_b) = run(False), run(True)
    assert lr_a == lr_b == 0.1 * 0.5 ** 4
    _assert_bitwise(a, b)


def test_keeps_missing_warns():
    model = nn.Linear(3, 2)
    forward = cr.compile(lambda x: model(x), cache_size=2)
    for n in (1, 2, 3):  # new shapes: recorded, no warning
        forward(cr.tensor(np.ones((n, 3), np.float32)))
    with pytest.warns(CompileWarning, match="keep missing") as warned:
        for n in (1, 2, 3, 1, 2, 3):  # each evicted before it comes back
            forward(cr.tensor(np.ones((n, 3), np.float32)))
    assert len(warned) == 1 and forward.stats["records"] == 9


def test_rejects_what_is_not_a_step():
    with pytest.raises(TypeError, match="help"):
        cr.compile(3)
    with pytest.raises(ValueError, match="cache_size"):
        cr.compile(lambda: None, cache_size=0)
    with pytest.raises(TypeError, match="report must be a function"):
        cr.compile(lambda: None, report="log.txt")


def test_embedding_indices_are_checked_on_every_replay():
    emb = nn.Embedding(5, 3)
    lookup = cr.compile(lambda i: emb(i).sum())
    first = lookup(cr.tensor(np.array([0, 4, 2])))
    assert np.array_equal(first.data, emb(cr.tensor(np.array([0, 4, 2]))).sum().data)
    assert np.array_equal(lookup(cr.tensor(np.array([1, 1, 3]))).data,
                          emb(cr.tensor(np.array([1, 1, 3]))).sum().data)
    assert lookup.stats["replays"] == 1
    for bad in ([0, 5, 1], [0, -1, 1]):  # never wrapped, in a replay as in eager
        with pytest.raises(IndexError, match="out of range"):
            lookup(cr.tensor(np.array(bad)))


def test_a_check_on_computed_values_makes_the_step_eager():
    w = cr.tensor(np.array([0.5, -0.5], np.float32), requires_grad=True)
    target = cr.tensor(np.array([1.0, 0.0], np.float32))
    loss = cr.compile(lambda t: F.binary_cross_entropy(cr.sigmoid(w), t))
    with pytest.warns(CompileWarning, match="branched on values computed inside the step"):
        got = loss(target)
    assert np.array_equal(got.data, F.binary_cross_entropy(cr.sigmoid(w), target).data)


@pytest.mark.parametrize("clip", [
    lambda m: nn.utils.clip_grad_norm_(m.parameters(), 0.05),
    lambda m: nn.utils.clip_grad_value_(m.parameters(), 0.01),
], ids=["norm", "value"])
def test_gradient_clipping_inside_the_step_is_replayed(clip):
    def run(compiled):
        cr.manual_seed(5)
        model = _mlp(0.0)
        opt = optim.SGD(model.parameters(), lr=0.5)

        def step(x, y):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            clip(model)
            opt.step()

        step = cr.compile(step) if compiled else step
        for x, y in _batches([(6, 20)] * 4):
            step(x, y)
        return [p.data for p in model.parameters()], step

    (a, _), (b, compiled) = run(False), run(True)
    assert compiled.stats["replays"] == 3
    _assert_bitwise(a, b)
