"""The backends the op table runs on besides NumPy, and the explicit moves its harness makes.

array-api-strict on its non-default device ``device1`` is the proof that the engine never
leaves the seam: any hidden conversion of such an array to NumPy raises. PyTorch CPU tensors
are the third run (a library with its own dtypes and methods). CuPy runs in tests/gpu/.
"""

from __future__ import annotations

import numpy as np
import pytest

from chainrule import _backend as B
from chainrule.errors import BackendError
from chainrule.ops import PRIMITIVES

BACKENDS = ["array_api_strict", "torch"]


def namespace(backend: str):
    return pytest.importorskip(backend)


def device(backend: str):
    """The device the tests use: array-api-strict's non-default one; the default elsewhere."""
    if backend == "array_api_strict":
        return namespace(backend).Device("device1")
    return None


def put(array: np.ndarray, backend: str):
    """A NumPy array on ``backend``, on the tests' ``device``."""
    module = namespace(backend)
    if backend == "array_api_strict":
        return module.asarray(array, device=device(backend))
    return module.asarray(array)


def host(array) -> np.ndarray:
    """Any backend's array as NumPy, explicitly (the harness's move, never the engine's)."""
    return B.to_numpy(array)


NOT_PORTABLE = {name.lower() for name, op in PRIMITIVES.items() if op.portable is not True}


def run_or_refuse(row, fn):
    """``fn()``, or None when it refused with the typed error, and the refusal names a
    primitive that is not (or not always) portable: any other error, or a refusal by
    anything else, fails."""
    try:
        return fn()
    except BackendError as e:
        what = str(e).partition(":")[0]
        if what not in NOT_PORTABLE:
            raise
        assert "no path for" in str(e) and "help:" in str(e), str(e)
        return None
