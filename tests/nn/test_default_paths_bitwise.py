"""Today's default conv, pooling and normalization paths compute exactly what they computed
before the new options existed: values, gradients, second derivatives and running
statistics, compared with np.array_equal against verbatim copies of the old code
(old_default_paths.py). The CNN and MLP recipes' measured accuracies depend on it."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule.train.models import cnn, mlp

from . import old_default_paths as old

DTYPES = [np.float32, np.float64]


def _leaves(arrays):
    """Leaves that require grad; Parameters, so that a module can take them as its own."""
    return [nn.Parameter(a.copy()) for a in arrays]


def _same(a, b, what):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape, what
    assert np.array_equal(a, b, equal_nan=True), f"{what}: differs bitwise"


def _compare(new_fn, old_fn, arrays, seed=0):
    """Values and first derivatives of new_fn and old_fn, bit for bit; then a gradient
    penalty (create_graph) differentiated again."""
    outs, grads = [], []
    for fn in (new_fn, old_fn):
        xs = _leaves(arrays)
        y = fn(*xs)
        g = np.random.default_rng(seed).standard_normal(y.shape).astype(y.dtype)
        y.backward(g)
        outs.append(y.numpy())
        grads.append([x.grad.numpy() for x in xs])
    _same(outs[0], outs[1], "output")
    for i, (a, b) in enumerate(zip(*grads)):
        _same(a, b, f"gradient of input {i}")
    second = []
    for fn in (new_fn, old_fn):
        xs = _leaves(arrays)
        y = fn(*xs)
        (y * y).sum().backward(create_graph=True)
        penalty = sum((x.grad * x.grad).sum() for x in xs)
        for x in xs:
            x.grad = None
        penalty.backward()
        second.append([x.grad.numpy() for x in xs])
    for i, (a, b) in enumerate(zip(*second)):
        _same(a, b, f"second derivative at input {i}")


CONV_CASES = [  # (x shape, weight shape, bias, stride, padding): the recipes' and others
    ((3, 2, 8, 8), (4, 2, 3, 3), False, 1, 1),
    ((3, 2, 8, 8), (4, 2, 3, 3), True, 1, 1),
    ((2, 3, 7, 6), (5, 3, 3, 3), True, 1, 0),
    ((2, 3, 9, 8), (4, 3, 3, 2), True, (2, 1), (1, 2)),
    ((2, 4, 5, 5), (3, 4, 1, 1), False, 2, 0),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_conv2d_default_path_is_bitwise_unchanged(case, dtype):
    xs, ws, bias, stride, padding = case
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal(xs).astype(dtype), rng.standard_normal(ws).astype(dtype)]
    if bias:
        arrays.append(rng.standard_normal(ws[0]).astype(dtype))
    _compare(lambda *a: F.conv2d(*a, stride=stride, padding=padding),
             lambda *a: old.conv2d(*a, stride=stride, padding=padding), arrays)


POOL_CASES = [(2, None), (3, 2), ((2, 3), (1, 2)), (3, 1)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("case", POOL_CASES, ids=str)
def test_pools_default_path_is_bitwise_unchanged(case, ties, dtype):
    k, stride = case
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 8, 7))
    if ties:  # after a ReLU, whole windows tie at 0
        x = np.maximum(x, 0)
    arrays = [x.astype(dtype)]
    _compare(lambda a: F.max_pool2d(a, k, stride), lambda a: old.max_pool2d(a, k, stride),
             arrays)
    _compare(lambda a: F.avg_pool2d(a, k, stride), lambda a: old.avg_pool2d(a, k, stride),
             arrays)


def _old_forward(model, x):
    """The recipe model's forward through the old conv, pool and norm code (the layers this
    change did not touch run as they are)."""
    for layer in model:
        if isinstance(layer, nn.Conv2d):
            x = old.conv2d(x, layer.weight, layer.bias, layer.stride, layer.padding)
        elif isinstance(layer, nn.BatchNorm2d):
            x = old.batch_norm_module_forward(layer, x, (0, 2, 3), "(N, C, H, W)")
        elif isinstance(layer, nn.BatchNorm1d):
            x = old.batch_norm_module_forward(layer, x, (0,), "(N, C)")
        elif isinstance(layer, nn.MaxPool2d):
            x = old.max_pool2d(x, layer.kernel_size, layer.stride)
        else:
            x = layer(x)
    return x


@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.parametrize("build", [
    lambda: cnn((1, 12, 12), (4, 6), 5, batch_norm=True),
    lambda: cnn((1, 12, 12), (4, 6), 5, batch_norm=False),
    lambda: mlp((1, 12, 12), (16, 8), 5, batch_norm=True),
], ids=["cnn_bn", "cnn", "mlp_bn"])
def test_recipe_models_train_and_eval_bitwise_unchanged(build, momentum):
    """Three training steps' outputs, parameter and input gradients and running statistics,
    then evaluation, for the recipes' CNN and MLP (float32, as they train)."""
    cr.manual_seed(0)
    model = build()
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.momentum = momentum
    twin = copy.deepcopy(model)
    rng = np.random.default_rng(3)
    for step in range(3):
        x = rng.standard_normal((6, 1, 12, 12)).astype(np.float32)
        target = rng.integers(0, 5, 6)
        results = []
        for m, forward in ((model, lambda m, t: m(t)), (twin, _old_forward)):
            t = cr.tensor(x, requires_grad=True)
            loss = F.cross_entropy(forward(m, t), target)
            loss.backward()
            results.append((loss.numpy(), t.grad.numpy(),
                            {k: v.numpy().copy() for k, v in m.state_dict().items()},
                            [p.grad.numpy() for p in m.parameters()]))
            with cr.no_grad():
                for p in m.parameters():
                    p -= 0.1 * p.grad
                    p.grad = None
        (loss, gx, state, grads), (old_loss, old_gx, old_state, old_grads) = results
        _same(loss, old_loss, f"step {step}: loss")
        _same(gx, old_gx, f"step {step}: input gradient")
        for (name, a), b in zip(state.items(), old_state.values()):
            _same(a, b, f"step {step}: {name}")
        for i, (a, b) in enumerate(zip(grads, old_grads)):
            _same(a, b, f"step {step}: gradient of parameter {i}")
    model.eval()
    twin.eval()
    x = cr.tensor(rng.standard_normal((4, 1, 12, 12)).astype(np.float32))
    _same(model(x).numpy(), _old_forward(twin, x).numpy(), "eval output")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 2, 2)])
def test_batch_norm_second_derivatives_bitwise_unchanged(shape, dtype):
    """Training-mode batch norm differentiated twice (the fused op's composed form)."""
    axes, expected = ((0,), "(N, C)") if len(shape) == 2 else ((0, 2, 3), "(N, C, H, W)")
    layer = nn.BatchNorm1d if len(shape) == 2 else nn.BatchNorm2d
    rng = np.random.default_rng(4)
    arrays = [rng.standard_normal(shape).astype(dtype),
              rng.standard_normal(3).astype(dtype), rng.standard_normal(3).astype(dtype)]

    def run(forward):
        def fn(x, w, b):
            bn = layer(3, dtype=dtype)
            bn.weight, bn.bias = w, b
            return forward(bn, x)
        return fn

    _compare(run(lambda bn, x: bn(x)),
             run(lambda bn, x: old.batch_norm_module_forward(bn, x, axes, expected)), arrays)


@pytest.mark.parametrize("dtype", DTYPES)
def test_layer_norm_default_path_is_bitwise_unchanged(dtype):
    rng = np.random.default_rng(5)
    arrays = [rng.standard_normal((3, 4, 6)).astype(dtype),
              rng.standard_normal(6).astype(dtype), rng.standard_normal(6).astype(dtype)]

    def run(forward):
        def fn(x, w, b):
            ln = nn.LayerNorm(6, dtype=dtype)
            ln.weight, ln.bias = w, b
            return forward(ln, x)
        return fn

    _compare(run(lambda ln, x: ln(x)), run(old.layer_norm_module_forward), arrays)
