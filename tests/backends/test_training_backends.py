"""A few training steps on each backend equal the same steps on NumPy, to float rounding:
the model moved with ``Module.to``, the batches made there, optimizers stepping in the
model's library, and a checkpoint that goes to NumPy on disk and back on load."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F

from ..ops.backends import BACKENDS, device, put

torch = pytest.importorskip("torch")


def _mlp():
    cr.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 16), nn.ReLU(),
                         nn.Linear(16, 4))


def _data(dtype):
    rng = np.random.default_rng(1)
    return rng.standard_normal((10, 6)).astype(dtype), rng.integers(0, 4, 10)


def _train(backend, make_opt, dtype, steps=4):
    model = _mlp()
    if dtype == np.float64:
        model.double()
    model.to(backend, device=device(backend))
    opt = make_opt(model.parameters())
    x, y = _data(dtype)
    x = cr.tensor(put(x, backend) if backend != "numpy" else x)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y) + 0.1 * F.mse_loss(model(x).tanh(),
                                                              cr.zeros_like(model(x)))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return model, losses


OPTIMIZERS = {
    "sgd_momentum_nesterov": lambda ps: cr.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True,
                                                     weight_decay=1e-3),
    "adam_amsgrad": lambda ps: cr.optim.Adam(ps, lr=0.01, amsgrad=True, weight_decay=1e-3),
    "adamw": lambda ps: cr.optim.AdamW(ps, lr=0.01),
    "rmsprop": lambda ps: cr.optim.RMSprop(ps, lr=0.01),
    "rmsprop_centered_momentum": lambda ps: cr.optim.RMSprop(
        ps, lr=0.01, momentum=0.9, centered=True, weight_decay=1e-3),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("opt", list(OPTIMIZERS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_mlp_steps_equal_numpy(backend, opt, dtype):
    ref, ref_losses = _train("numpy", OPTIMIZERS[opt], dtype)
    model, losses = _train(backend, OPTIMIZERS[opt], dtype)
    rtol = 1e-10 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(losses, ref_losses, rtol=rtol)
    for (name, p), (_, q) in zip(model.named_parameters(), ref.named_parameters()):
        assert p.backend == backend, name
        np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=rtol, atol=rtol * 1e-2,
                                   err_msg=name)
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_checkpoint_is_numpy_on_disk_and_the_models_library_on_load(backend, tmp_path):
    model, _ = _train(backend, OPTIMIZERS["adam_amsgrad"], np.float32, steps=2)
    path = tmp_path / "model.safetensors"
    cr.save(model.state_dict(), path)
    on_disk = cr.load(path)
    assert all(v.backend == "numpy" for v in on_disk.values())
    fresh = _mlp().to(backend, device=device(backend))
    fresh.load_state_dict(on_disk)
    for p, q in zip(fresh.parameters(), model.parameters()):
        assert p.backend == backend
        assert np.array_equal(p.numpy(), q.numpy())


def _cnn_steps(backend, dtype, steps=3):
    cr.manual_seed(2)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(4, 6, 3, stride=2, padding=1), nn.ReLU(),
                          nn.AvgPool2d(2), nn.Flatten(), nn.Linear(6, 3))
    if dtype == np.float64:
        model.double()
    model.to(backend, device=device(backend))
    opt = cr.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((5, 1, 8, 8)).astype(dtype)
    y = rng.integers(0, 3, 5)
    x = cr.tensor(put(x, backend) if backend != "numpy" else x)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return model, losses


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_cnn_steps_equal_numpy(backend, dtype):
    ref, ref_losses = _cnn_steps("numpy", dtype)
    model, losses = _cnn_steps(backend, dtype)
    rtol = 1e-10 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(losses, ref_losses, rtol=rtol)
    for (name, p), (_, q) in zip(model.named_parameters(), ref.named_parameters()):
        assert p.backend == backend, name
        np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=rtol, atol=rtol * 1e-2,
                                   err_msg=name)
