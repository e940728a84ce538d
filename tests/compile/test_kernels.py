"""Each kernel of a lowered replay (compile/kernels.py) against its op, branch by branch.

A kernel is an op's forward or vjp with the shapes decided at lowering time; it must call
the same NumPy functions on the same arrays, so its results are bitwise the op's. Each case
runs one op (and a weighted sum, so that every output entry gets its own gradient) eagerly
and compiled (recorded, then replayed twice) and compares the output and every gradient bit
for bit; it also checks that the replay really ran the kernel (the op's own methods appear
nowhere in the generated code), else the comparison would prove nothing.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.compile import kernels


def _arrays(shapes, dtype, seed, special=None):
    rng = np.random.default_rng(seed)
    out = [rng.standard_normal(s).astype(dtype) for s in shapes]
    if special == "zeros":  # relu'(0) = 0: exact zeros must take the same branch
        out[0].flat[::3] = 0
    if special == "large":  # sigmoid of large |x|: the overflow-free branch
        out[0] *= 40
    return out


def _bits(a) -> tuple:
    a = np.asarray(a)
    return a.dtype.str, a.shape, a.tobytes()


def _run(fn, arrays, wants, compiled):
    tensors = [cr.tensor(a.copy(), requires_grad=w) for a, w in zip(arrays, wants)]
    weight = None

    def step(*ts):
        out = fn(*ts)
        (out * weight).sum().backward() if out.ndim else out.backward()
        return out

    out = fn(*tensors)
    weight = cr.tensor(np.random.default_rng(1).standard_normal(out.shape).astype(out.dtype))
    if not compiled:
        out = step(*tensors)
        return out, [t.grad for t in tensors], None
    step = cr.compile(step)
    for _ in range(3):  # record, then replay twice: the replays must keep agreeing
        for t in tensors:
            t.grad = None
        out = step(*tensors)
    assert step.stats["replays"] == 2, step.fallback_reason
    (plan,) = step._plans
    return out, [t.grad for t in tensors], plan.run.source


def _linear(x, w, b=None):
    return F.linear(x, w, b)


CASES = [
    # Linear: both GEMM orientations (16-32 rows and a wide float32 layer take the other
    # one), with and without bias, 3-D input, float64, an input without grad
    ("linear", _linear, [(8, 5), (7, 5), (7,)], np.float32, [True, True, True], None),
    ("linear", _linear, [(16, 20), (128, 20), (128,)], np.float32, [True, True, True], None),
    ("linear", _linear, [(32, 20), (130, 20)], np.float32, [False, True], None),
    ("linear", _linear, [(33, 20), (128, 20), (128,)], np.float32, [True, True, True], None),
    ("linear", _linear, [(16, 20), (128, 20), (128,)], np.float64, [True, True, True], None),
    ("linear", _linear, [(2, 3, 5), (4, 5), (4,)], np.float64, [True, True, True], None),
    ("linear", _linear, [(6, 5), (4, 5), (4,)], np.float32, [False, True, False], None),
    ("tanh", lambda x: x.tanh(), [(7, 5)], np.float32, [True], None),
    ("sigmoid", lambda x: x.sigmoid(), [(7, 5)], np.float64, [True], "large"),
    ("relu", lambda x: x.relu(), [(7, 5)], np.float32, [True], "zeros"),
    ("mse mean", lambda p, t: F.mse_loss(p, t), [(9, 3), (9, 3)], np.float32,
     [True, False], None),
    ("mse sum", lambda p, t: F.mse_loss(p, t, reduction="sum"), [(9, 3), (9, 3)],
     np.float64, [True, True], None),
    ("mse none", lambda p, t: F.mse_loss(p, t, reduction="none"), [(9, 3), (9, 3)],
     np.float32, [True, True], None),
    ("add", lambda a, b: a + b, [(5, 3), (3,)], np.float32, [True, True], None),
    ("add scalar", lambda a: a + 0.001, [(64,)], np.float32, [True], None),
    ("sub", lambda a, b: a - b, [(5, 1), (1, 4)], np.float64, [True, True], None),
    ("mul", lambda a, b: a * b, [(5, 1, 3), (4, 1)], np.float32, [True, True], None),
    ("mul scalar", lambda a: a * 1.0001, [(64,)], np.float32, [True], None),
    ("mul one side", lambda a, b: a * b, [(5, 3), (5, 3)], np.float64, [False, True], None),
]


@pytest.mark.parametrize("name, fn, shapes, dtype, wants, special", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_kernel_is_bitwise_its_op(name, fn, shapes, dtype, wants, special):
    arrays = _arrays(shapes, dtype, seed=len(name), special=special)
    eager, eager_grads, _ = _run(fn, arrays, wants, compiled=False)
    replay, replay_grads, source = _run(fn, arrays, wants, compiled=True)
    assert _bits(replay.data) == _bits(eager.data)
    for want, g_eager, g_replay in zip(wants, eager_grads, replay_grads):
        if want:
            assert _bits(g_replay.data) == _bits(g_eager.data)
        else:
            assert g_replay is None and g_eager is None
    # the op under test ran as its kernel: the only method calls left are the weighting's
    # (a Mul and a Sum, or none for a scalar loss)
    assert source.count(".forward(") <= 1 and source.count(".vjp(") <= 1, source


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_kernel_is_bitwise_its_op(reduction, dtype):
    """Its target is a parameter of the op (class indices), read from the step's argument."""
    rng = np.random.default_rng(5)
    x0 = (rng.standard_normal((12, 7)) * 4).astype(dtype)
    targets = [rng.integers(0, 7, 12) for _ in range(3)]

    def run(compiled):
        x = cr.tensor(x0.copy(), requires_grad=True)

        def step(x, t):
            loss = F.cross_entropy(x, t, reduction=reduction)
            (loss.sum() if reduction == "none" else loss).backward()
            return loss

        step = cr.compile(step) if compiled else step
        outs = []
        for t in targets:  # a new target each call: read from the argument every replay
            x.grad = None
            loss = step(x, cr.tensor(t))
            outs.append((_bits(loss.data), _bits(x.grad.data)))
        return outs, step

    eager, _ = run(False)
    replay, step = run(True)
    assert step.stats["replays"] == 2, step.fallback_reason
    assert replay == eager
    (plan,) = step._plans
    assert "np.exp(" in plan.run.source and "CrossEntropy" not in plan.run.source


def test_every_kernel_has_a_case():
    """A kernel added without a case here would be trusted untested."""
    ops = {"linear": "Linear", "tanh": "Tanh", "sigmoid": "Sigmoid", "relu": "Relu",
           "mse": "MSELoss", "add": "Add", "sub": "Sub", "mul": "Mul"}
    covered = {ops[c[0].split()[0]] for c in CASES} | {"CrossEntropy"}  # its own test
    assert {cls.__name__ for cls in kernels._FORWARD} | {
        cls.__name__ for cls in kernels._VJP} <= covered


def test_two_backward_passes_through_shared_nodes_stay_bitwise():
    """One step, two losses over the same hidden layer, backward twice (retain_graph): the
    shared nodes' vjps run twice and their gradients add up in .grad; a sum of squares (no
    kernel) and an MSE (kernel) meet in the same graph."""
    rng = np.random.default_rng(3)
    x0 = rng.standard_normal((6, 4)).astype(np.float32)
    w0 = rng.standard_normal((5, 4)).astype(np.float32)

    def run(compiled):
        w = cr.tensor(w0.copy(), requires_grad=True)
        target = cr.tensor(np.full((6, 5), 0.5, np.float32))

        def step(x, target):
            w.grad = None
            h = F.linear(x, w).tanh()
            first = F.mse_loss(h, target)
            first.backward(retain_graph=True)
            second = (h * h).sum() * 0.25
            second.backward()
            return first, second

        step = cr.compile(step) if compiled else step
        outs = [step(cr.tensor(x0 * k), target) for k in (1.0, 1.0, 2.0)]
        return outs, w.grad.data, step

    eager, g_eager, _ = run(False)
    replay, g_replay, step = run(True)
    assert step.stats["replays"] >= 1, step.fallback_reason
    for a, b in zip(eager, replay):
        assert [_bits(t.data) for t in a] == [_bits(t.data) for t in b]
    assert _bits(g_replay) == _bits(g_eager)
