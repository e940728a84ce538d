"""DataLoader batches on another library: ``backend=`` and ``device=`` (default: the global
default backend), the same batches in the same order as NumPy's, moved there."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import _backend as B
from chainrule.data import DataLoader, DataLoaderError, TensorDataset

from ..ops.backends import BACKENDS, device


def _dataset():
    rng = np.random.default_rng(0)
    return TensorDataset(rng.standard_normal((11, 3)), rng.integers(0, 4, 11))


def _batches(**kw):
    return list(DataLoader(_dataset(), batch_size=4, shuffle=True, seed=5, **kw))


@pytest.mark.parametrize(("backend", "workers"),
                         [(b, 0) for b in BACKENDS] + [("torch", 1)])  # one worker path
def test_batches_arrive_in_the_library_and_on_the_device_asked(backend, workers):
    ref = _batches()
    got = _batches(backend=backend, device=device(backend), num_workers=workers)
    assert len(got) == len(ref) == 3
    for batch, expected in zip(got, ref):
        for t, e in zip(batch, expected):
            assert t.backend == backend
            assert str(t.device) == str(device(backend) or "cpu")
            assert B.same_dtype(t.dtype, e.dtype)  # float64 data: float32, labels int64
            assert np.array_equal(t.numpy(), e.numpy())


def test_the_default_is_the_global_default_backend():
    assert _batches()[0][0].backend == "numpy"
    previous = cr.get_default_backend()
    cr.set_default_backend("torch")
    try:
        x, y = _batches()[0]
    finally:
        cr.set_default_backend(previous)
    assert x.backend == y.backend == "torch"


def test_a_library_that_is_not_installed_is_refused_with_the_pip_package(monkeypatch):
    monkeypatch.setitem(B.MODULES, "cupy", "cupy_is_not_installed_here")
    with pytest.raises(cr.BackendError, match="pip install cupy-cuda12x.*cupy-cuda13x"):
        DataLoader(_dataset(), backend="cupy")


def test_unknown_backend_and_a_device_for_numpy_are_refused():
    with pytest.raises(cr.BackendError, match="unknown backend 'jax'"):
        DataLoader(_dataset(), backend="jax")
    with pytest.raises(DataLoaderError, match="device='cuda' with NumPy batches.*backend="):
        DataLoader(_dataset(), device="cuda")


@pytest.mark.parametrize(("backend", "missing"), [("torch", "cuda:99"),  # no machine has it
                                                   ("torch", "not-a-device"),
                                                   ("array_api_strict", "device9")])
def test_a_device_the_library_does_not_have_is_refused_when_the_loader_is_made(backend,
                                                                              missing):
    with pytest.raises(DataLoaderError, match=f"no device '{missing}'.*help: leave device="):
        DataLoader(_dataset(), backend=backend, device=missing)
