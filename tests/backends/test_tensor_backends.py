"""The array-backend API: tensors keep their array's library, moves are explicit
(``Tensor.to``, ``t.numpy()``), a mix of libraries in one op is a typed error naming both,
and the factories follow ``backend=`` or ``cr.set_default_backend``."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import chainrule as cr
from chainrule import _backend as B

torch = pytest.importorskip("torch")
xs = pytest.importorskip("array_api_strict")
DEVICE1 = xs.Device("device1")


def test_a_tensor_keeps_its_arrays_library():
    t = cr.tensor(torch.ones(2, 3, dtype=torch.float64))
    assert isinstance(t.data, torch.Tensor) and t.backend == "torch"
    assert t.dtype == torch.float64
    y = (t * 2 + 1).sum(axis=0)
    assert isinstance(y.data, torch.Tensor)
    s = cr.tensor(xs.asarray(np.ones(3), device=DEVICE1))
    assert s.backend == "array_api_strict" and s.device == DEVICE1
    assert cr.tensor(np.ones(2)).backend == "numpy"


def test_cr_tensor_copies_as_torch_tensor_does():
    data = torch.zeros(3)
    t = cr.tensor(data)
    t.data[0] = 5.0
    assert data[0].item() == 0.0


def test_a_torch_tensor_that_requires_grad_gives_its_values_only():
    data = torch.ones(3, requires_grad=True)
    t = cr.tensor(data, requires_grad=True)
    assert not t.data.requires_grad  # chainrule records the graph, not torch
    (t * t).sum().backward()
    assert np.array_equal(t.grad.numpy(), [2.0, 2.0, 2.0]) and data.grad is None


def test_numpy_is_always_an_ndarray():
    for data in (torch.arange(3.0), xs.asarray(np.arange(3.0), device=DEVICE1), np.arange(3.0)):
        out = cr.tensor(data).numpy()
        assert type(out) is np.ndarray and out.tolist() == [0.0, 1.0, 2.0]
    assert cr.tensor(torch.tensor(2.5)).item() == 2.5


def test_to_moves_data_and_gradient():
    t = cr.tensor(np.arange(4.0), requires_grad=True)
    (t * t).sum().backward()
    moved = t.to("torch")
    assert moved.backend == "torch" and moved.requires_grad and moved.is_leaf
    assert moved.grad.backend == "torch"
    assert np.array_equal(moved.grad.numpy(), t.grad.numpy())
    back = moved.to("numpy")
    assert back.backend == "numpy" and np.array_equal(back.numpy(), t.numpy())
    assert t.to("numpy") is t  # already there: the tensor itself, as PyTorch's .to


def test_mixing_libraries_names_both():
    a = cr.tensor(torch.ones(3))
    b = cr.tensor(np.ones(3, np.float32))
    with pytest.raises(cr.BackendError, match="torch and numpy") as e:
        a + b
    assert "help:" in str(e.value)
    with pytest.raises(cr.BackendError, match="torch and numpy"):  # the foreign one first
        b * a
    c = cr.tensor(xs.asarray(np.ones(3, np.float32), device=DEVICE1))
    with pytest.raises(cr.BackendError, match="torch and array_api_strict"):
        cr.maximum(a, c)


def test_two_devices_of_one_library_are_refused():
    a = cr.tensor(xs.asarray(np.ones(3), device=DEVICE1))
    b = cr.tensor(xs.asarray(np.ones(3)))
    with pytest.raises(cr.BackendError, match="two devices"):
        a + b


def test_a_numpy_constant_moves_to_the_tensors_library():
    t = cr.tensor(xs.asarray(np.ones(3), device=DEVICE1), requires_grad=True)
    y = (t * np.array([1.0, 2.0, 3.0])).sum()
    y.backward()
    assert t.grad.device == DEVICE1
    assert B.to_numpy(t.grad.data).tolist() == [1.0, 2.0, 3.0]


def test_an_op_with_no_path_yet_refuses_with_help():
    t = cr.tensor(xs.asarray(np.ones((3, 4)), device=DEVICE1))
    with pytest.raises(cr.BackendError, match="no path for array_api_strict arrays yet.*help:"):
        cr.nn.functional.gelu(t)  # array-api-strict has no erf


def test_unknown_and_absent_backends_are_refused_with_help():
    t = cr.tensor(np.ones(2))
    with pytest.raises(cr.BackendError, match="unknown backend 'jax'"):
        t.to("jax")
    try:
        import cupy  # noqa: F401
    except ImportError:
        with pytest.raises(cr.BackendError, match="cupy-cuda12x"):
            t.to("cupy")


def test_factories_take_backend_and_follow_the_default():
    cr.manual_seed(3)
    a = cr.randn(2, 3, backend="torch")
    cr.manual_seed(3)
    b = cr.randn(2, 3)
    assert a.backend == "torch" and b.backend == "numpy"
    assert np.array_equal(a.numpy(), b.numpy())  # the same seed, the same values anywhere
    assert cr.zeros_like(a).backend == "torch"
    assert a.dtype == torch.float32
    try:
        cr.set_default_backend("torch")
        assert cr.get_default_backend() == "torch"
        assert cr.ones(2).backend == "torch" and cr.full((2,), 3.0).backend == "torch"
    finally:
        cr.set_default_backend("numpy")
    with pytest.raises(cr.BackendError):
        cr.set_default_backend("nope")
    assert cr.ones(2).backend == "numpy"


def test_in_place_updates_write_the_same_memory():
    t = cr.tensor(torch.zeros(4))
    view = t.data
    with cr.no_grad():
        t += 1.0
        t.mul_(3.0)
    assert view.tolist() == [3.0, 3.0, 3.0, 3.0] and t.data is view


def test_two_threads_on_torch_tensors():
    results, errors = {}, []

    def work(k):
        try:
            w = cr.tensor(torch.full((3,), float(k), dtype=torch.float64), requires_grad=True)
            for _ in range(20):
                w.grad = None
                (w * w).sum().backward()
            results[k] = w.grad.numpy().tolist()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in (1, 2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    assert results == {1: [2.0] * 3, 2: [4.0] * 3}
