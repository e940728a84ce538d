"""Making tensors: ``cr.tensor`` and the factories (zeros, ones, rand, ...), all seeded.

Every factory takes ``backend=`` ("numpy", "torch", "cupy", "array_api_strict"; the
default from ``set_default_backend``) and ``device=``; the ``*_like`` ones follow their
tensor's library and device."""

from __future__ import annotations

import numpy as np

from chainrule import _backend as B
from chainrule.graph import trace
from chainrule.tensor import Tensor, _wrap, as_tensor  # noqa: F401 - cr.as_tensor


def tensor(data, dtype=None, requires_grad: bool = False) -> Tensor:
    """A new tensor from a Python scalar, nested list, ndarray or tensor (data is copied).

    Python floats become float32, ints int64; an ndarray keeps its dtype.
    """
    return Tensor(data, dtype=dtype, requires_grad=requires_grad)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor that shares ``array``'s memory (no copy), as ``torch.from_numpy``: writes
    to one are seen in the other. The dtype is kept."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a NumPy ndarray, got {type(array).__name__}. "
                        "help: use cr.tensor(data) for lists and numbers")
    if array.dtype.kind not in "biuf":
        raise TypeError(f"from_numpy: arrays of dtype {array.dtype} cannot be tensors. help: "
                        "convert to a number dtype first")
    return _wrap(array)


def set_default_dtype(dtype) -> None:
    """The dtype of Python floats and of factories without ``dtype=`` (float32 at start).

    Process-wide, as PyTorch's. Only float32 and float64 are accepted.
    """
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"set_default_dtype: only float32 and float64 are supported, got "
                        f"{dtype}")
    B.DEFAULT_FLOAT = dtype


def get_default_dtype():
    return B.DEFAULT_FLOAT


def set_default_backend(backend: str) -> None:
    """The library the factories make tensors in when given no ``backend=``: "numpy" at
    start, or "torch", "cupy", "array_api_strict" (docs/backends.md). Process-wide, as
    ``set_default_dtype``. Tensors made from data (``cr.tensor(x)``) keep x's library."""
    B.namespace_of(backend)  # refuses a backend that is unknown or not installed, with help
    B.DEFAULT_BACKEND = backend


def get_default_backend() -> str:
    return B.DEFAULT_BACKEND


def _make(arr: np.ndarray, requires_grad: bool, backend=None, device=None) -> Tensor:
    # Drawn and filled in NumPy, then moved: the same seed gives the same values anywhere.
    backend = backend or B.DEFAULT_BACKEND
    if backend != "numpy":
        arr = B.convert(arr, backend, device)
    elif device not in (None, "cpu"):
        raise B.BackendError(f"NumPy arrays live on the CPU, not on {device!r}. help: pass "
                             "backend='torch' or 'cupy' for a GPU")
    t = _wrap(arr)
    if requires_grad:
        t.requires_grad = True
    if trace.active[0]:
        trace.made(t)
    return t


def _shape(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def _dtype(dtype):
    return B.DEFAULT_FLOAT if dtype is None else B.numpy_dtype(dtype)


def zeros(*shape, dtype=None, requires_grad=False, backend=None, device=None) -> Tensor:
    return _make(np.zeros(_shape(shape), dtype=_dtype(dtype)), requires_grad, backend, device)


def ones(*shape, dtype=None, requires_grad=False, backend=None, device=None) -> Tensor:
    return _make(np.ones(_shape(shape), dtype=_dtype(dtype)), requires_grad, backend, device)


def full(shape, value, dtype=None, requires_grad=False, backend=None, device=None) -> Tensor:
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return _make(np.full(shape, value, dtype=_dtype(dtype)), requires_grad, backend, device)


def eye(n: int, m: int | None = None, dtype=None, requires_grad=False, backend=None,
        device=None) -> Tensor:
    return _make(np.eye(n, m, dtype=_dtype(dtype)), requires_grad, backend, device)


def arange(start, stop=None, step=1, dtype=None, requires_grad=False, backend=None,
           device=None) -> Tensor:
    """Like NumPy: integers stay int64 unless a float is involved or ``dtype`` is given."""
    arr = np.arange(start, stop, step) if stop is not None else np.arange(start)
    if dtype is not None:
        arr = arr.astype(dtype)
    elif arr.dtype == np.float64:
        arr = arr.astype(B.DEFAULT_FLOAT)
    return _make(arr, requires_grad, backend, device)


def rand(*shape, dtype=None, requires_grad=False, backend=None, device=None) -> Tensor:
    """Uniform on [0, 1), from the global generator (``cr.manual_seed``)."""
    arr = B.random.generator.random(_shape(shape)).astype(_dtype(dtype))
    return _make(arr, requires_grad, backend, device)


def randn(*shape, dtype=None, requires_grad=False, backend=None, device=None) -> Tensor:
    """Standard normal, from the global generator (``cr.manual_seed``)."""
    arr = B.random.generator.standard_normal(_shape(shape)).astype(_dtype(dtype))
    return _make(arr, requires_grad, backend, device)


def _like(t, dtype):
    """The shape, dtype and library (and so device's library) of ``t``: ``*_like`` follows."""
    t = t if isinstance(t, Tensor) else Tensor(t)
    device = None if t.backend == "numpy" else t.device
    return t.shape, (t.dtype if dtype is None else dtype), t.backend, device


def zeros_like(t, dtype=None, requires_grad=False) -> Tensor:
    shape, dtype, backend, device = _like(t, dtype)
    return zeros(shape, dtype=dtype, requires_grad=requires_grad, backend=backend,
                 device=device)


def ones_like(t, dtype=None, requires_grad=False) -> Tensor:
    shape, dtype, backend, device = _like(t, dtype)
    return ones(shape, dtype=dtype, requires_grad=requires_grad, backend=backend,
                 device=device)


def full_like(t, value, dtype=None, requires_grad=False) -> Tensor:
    shape, dtype, backend, device = _like(t, dtype)
    return full(shape, value, dtype=dtype, requires_grad=requires_grad, backend=backend,
                 device=device)


def rand_like(t, dtype=None, requires_grad=False) -> Tensor:
    shape, dtype, backend, device = _like(t, dtype)
    return rand(shape, dtype=dtype, requires_grad=requires_grad, backend=backend,
                 device=device)


def randn_like(t, dtype=None, requires_grad=False) -> Tensor:
    shape, dtype, backend, device = _like(t, dtype)
    return randn(shape, dtype=dtype, requires_grad=requires_grad, backend=backend,
                 device=device)


def manual_seed(seed: int) -> None:
    """Make every random draw in chainrule (init, dropout, shuffling) reproducible."""
    B.random.seed(seed)
