"""Anomaly detection: name the first op whose forward or backward makes NaN or Inf.

``with cr.detect_anomaly(): ...`` makes every op check its output, and every backward
step its gradients, for non-finite values. The error names the op, the module it ran in
(``model.2 (Linear 256->10)``, when modules report themselves through ``module_scope``),
its inputs' shapes and value ranges, and the line of user code that created it.

With the mode off the ops pay one flag test each; nothing is recorded.

Other array libraries (PyTorch, CuPy, array-api-strict): the check runs where the array
lives (``all(isfinite(a))`` in its namespace) and reads one bool to the host per op; an
error's description of the values reads host copies (``_backend.to_numpy``).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading

import numpy as np

from chainrule import _backend as B
from chainrule.errors import ChainruleError

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class AnomalyError(ChainruleError, FloatingPointError):
    """An op produced NaN or Inf while anomaly detection was on."""


class _State(threading.local):
    """Per thread, like grad mode: one thread's detection or module stack is not another's."""

    enabled = False

    def __init__(self):  # runs once in every thread that touches the state
        self.modules: list = []  # labels of the modules whose forward is running, outermost first


state = _State()
on = [0]  # threads with detection on now: while 0, ops skip the thread-local read
_lock = threading.Lock()


def _set(flag: bool) -> bool:
    """Set this thread's detection flag; return the previous one (see grad_mode._set)."""
    prev = state.enabled
    if flag != prev:
        if flag:
            with _lock:
                on[0] += 1
            state.enabled = True
        else:
            state.enabled = False
            with _lock:
                on[0] -= 1
    return prev


class detect_anomaly:
    """Context manager (and decorator) turning anomaly detection on for a region."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled

    def __enter__(self):
        self._prev = _set(bool(self.enabled))
        return self

    def __exit__(self, *exc):
        _set(self._prev)
        return False

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with detect_anomaly(self.enabled):
                return fn(*args, **kwargs)

        return wrapper


def is_anomaly_enabled() -> bool:
    return state.enabled


@contextlib.contextmanager
def module_scope(label: str):
    """Modules wrap their forward in this (only while detection is on)."""
    state.modules.append(label)
    try:
        yield
    finally:
        state.modules.pop()


_ENGINE_PARTS = tuple(os.path.join(_PACKAGE_DIR, part) for part in
                      ("graph", "ops", "autograd", "nn", "tensor.py", "_tensor_"))


def creation_site() -> str:
    """Where the op was made: the innermost frame of user code; failing that (the
    ``chainrule`` command itself running), the innermost chainrule frame outside the
    engine and the layers, e.g. the training loop's step."""
    frame = sys._getframe(1)
    fallback = None
    while frame is not None:
        path = os.path.abspath(frame.f_code.co_filename)
        where = f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}"
        if not path.startswith(_PACKAGE_DIR + os.sep):
            if not frame.f_code.co_filename.startswith("<"):
                return where
        elif fallback is None and not path.startswith(_ENGINE_PARTS):
            fallback = where
        frame = frame.f_back
    return fallback or "(inside chainrule)"


def note_creation(op) -> None:
    """Remember where and in which module ``op`` was created (detection on, recording)."""
    op.created_at = creation_site()
    op.module = state.modules[-1] if state.modules else None


def _host(a) -> np.ndarray:
    """``a`` as NumPy: itself, or a host copy of another library's array (for messages)."""
    return np.asarray(B.to_numpy(a))  # a NumPy scalar too: an array, for a[finite]


def _floating(a) -> bool:
    """Can ``a`` hold NaN or Inf (a floating or complex array, of any library)?"""
    dtype = getattr(a, "dtype", None)
    if dtype is None:
        return isinstance(a, (float, complex))
    if isinstance(dtype, np.dtype):
        return dtype.kind in "fc"
    return B.is_float(dtype) or "complex" in B.dtype_name(dtype)


def _all_finite(a) -> bool:
    """Are all values of ``a`` finite? Reduced where ``a`` lives: one bool comes back."""
    if B.is_foreign(a):
        xp = B.namespace(a)
        return bool(xp.all(xp.isfinite(a)))
    return bool(np.isfinite(a).all())


def describe(arrays, names=None) -> str:
    """Each array's shape and range of finite values (and its count of NaN/Inf), labelled
    by ``names`` (default: input 0, input 1, ...)."""
    parts = []
    for i, a in enumerate(arrays):
        label = names[i] if names else f"input {i}"
        a = _host(a)
        if a.dtype.kind not in "fc" or a.size == 0:
            parts.append(f"{label}: shape {a.shape}, dtype {a.dtype}")
            continue
        finite = np.isfinite(a)
        rng = (f"range [{a[finite].min():.4g}, {a[finite].max():.4g}]" if finite.any()
               else "no finite values")
        bad = a.size - int(finite.sum())
        parts.append(f"{label}: shape {a.shape}, {rng}" + (f", {bad} NaN/Inf" if bad else ""))
    return "; ".join(parts)


def _where(op) -> str:
    module = getattr(op, "module", None)
    site = getattr(op, "created_at", None) or creation_site()
    return (f" in {module}" if module else "") + f", created at {site}"


def check_forward(op, arrays, out) -> None:
    if _floating(out) and not _all_finite(out):
        inputs_finite = all(_all_finite(a) for a in arrays if _floating(a))
        cause = ("from finite inputs" if inputs_finite
                 else "(its inputs already held NaN/Inf, from outside the recorded ops)")
        raise AnomalyError(
            f"anomaly: {op.name} produced {_kind(out)} in its output {cause}{_where(op)}. "
            f"{describe(arrays)}. help: check this op's domain (log/sqrt of <= 0, division "
            "by 0, overflow in exp) and the learning rate"
        )


def check_backward(node, g, grads) -> None:
    for i, gp in enumerate(grads):
        if gp is None:
            continue
        arr = gp.data if hasattr(gp, "requires_grad") else gp
        if _floating(arr) and not _all_finite(arr):
            garr = g.data if hasattr(g, "requires_grad") else g
            cause = ("from a finite incoming gradient" if _all_finite(garr)
                     else "(the incoming gradient already held NaN/Inf)")
            # _saved maps each name to where the array came from; the array is the attribute
            names = [n for n in (node._saved or ()) if hasattr(getattr(node, n, None), "shape")]
            saved = (describe([getattr(node, n) for n in names], names) if names
                     else "nothing saved")
            raise AnomalyError(
                f"anomaly: the backward of {node.name} produced {_kind(arr)} in the gradient "
                f"for input {i} {cause}{_where(node)}. Saved for backward: {saved}. help: "
                "the op's derivative is infinite here (e.g. sqrt or log at 0); add an epsilon"
            )


def _kind(a) -> str:
    a = _host(a)
    nan, inf = bool(np.isnan(a).any()), bool(np.isinf(a).any())
    return "NaN and Inf" if nan and inf else "NaN" if nan else "Inf"
