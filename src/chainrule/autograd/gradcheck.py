"""Gradient checking: analytic gradients against central finite differences, in float64.

Inputs of any backend (_backend.py): f runs on them where they live; the Jacobians are
built in NumPy, each value brought over explicitly (``to_numpy``), each perturbed input
sent back (``like``).

For f: inputs -> output, the analytic Jacobian comes from one backward pass per output
element (seed = the unit vector e_j); the numeric one from
(f(x + eps e_k) - f(x - eps e_k)) / (2 eps) per input element k. They must agree to
``atol + rtol * |numeric|`` everywhere.
"""

from __future__ import annotations

import numpy as np

from chainrule import _backend as B
from chainrule.autograd import engine
from chainrule.errors import GradcheckError
from chainrule.graph import grad_mode
from chainrule.tensor import Tensor


def _prepare(inputs):
    """Float64 copies of the inputs; returns (all inputs, the ones to check)."""
    inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    prepared, checked = [], []
    any_flagged = any(isinstance(x, Tensor) and x.requires_grad for x in inputs)
    for x in inputs:
        arr = x.data if isinstance(x, Tensor) else B.asarray(x)
        if hasattr(arr, "dtype") and B.is_float(arr.dtype):
            wanted = (x.requires_grad if any_flagged else True) if isinstance(x, Tensor) \
                else not any_flagged
            t = Tensor(B.astype(arr, np.float64), requires_grad=wanted)
            prepared.append(t)
            if wanted:
                checked.append(len(prepared) - 1)
        else:
            prepared.append(x)
    return prepared, checked


def _output(f, args) -> Tensor:
    out = f(*args)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: f must return a Tensor, got {type(out).__name__}")
    return out


def jacobians(f, args, checked):
    """Analytic and numeric Jacobians, one pair per checked input, each (n_out, n_in)."""
    out = _output(f, args)
    n_out = B.size(out.data)
    analytic = [np.zeros((n_out, B.size(args[i].data))) for i in checked]
    if out.requires_grad:
        for j in range(n_out):
            seed = np.zeros(out.shape, dtype=B.numpy_dtype(out.dtype))
            seed.flat[j] = 1.0
            grads = engine.grad(out, [args[i] for i in checked],
                                gradient=B.like(seed, out.data), retain_graph=True)
            for a, gr in zip(analytic, grads):
                a[j] = B.to_numpy(gr.data).reshape(-1)
    numeric = [np.zeros_like(a) for a in analytic]
    return analytic, numeric


def _numeric(f, args, checked, numeric, eps):
    with grad_mode.no_grad():
        for slot, i in enumerate(checked):
            data = args[i].data
            x = B.to_numpy(data)
            x = x if x is data else x.copy()  # another library's: perturbed here, sent back
            for k in range(x.size):
                orig = x.flat[k]
                x.flat[k] = orig + eps
                plus = _values(f, args, i, x, data)
                x.flat[k] = orig - eps
                minus = _values(f, args, i, x, data)
                x.flat[k] = orig
                numeric[slot][:, k] = (plus - minus) / (2 * eps)
            args[i].data = data


def _values(f, args, i, x, data):
    """f's output, flat, in float64 NumPy, with input ``i`` holding the values ``x``."""
    if x is not data:
        args[i].data = B.like(x, data)
    return np.asarray(B.to_numpy(_output(f, args).data), dtype=np.float64).reshape(-1).copy()


def gradcheck(f, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3) -> bool:
    """Check f's gradients against central finite differences in float64.

    ``inputs`` is a tensor or a sequence; floating ones are checked (only those with
    ``requires_grad=True`` if any has it). Returns True, or raises ``GradcheckError``
    naming the input, the worst element, both values and their difference.
    """
    args, checked = _prepare(inputs)
    analytic, numeric = jacobians(f, args, checked)
    _numeric(f, args, checked, numeric, eps)
    for slot, i in enumerate(checked):
        a, n = analytic[slot], numeric[slot]
        bad = np.abs(a - n) > atol + rtol * np.abs(n)
        if bad.any() or not np.isfinite(a).all() and np.isfinite(n).all():
            err = np.where(np.isfinite(a - n), np.abs(a - n), np.inf)
            j, k = np.unravel_index(np.argmax(err), err.shape)
            where_in = np.unravel_index(k, args[i].shape) if args[i].ndim else ()
            raise GradcheckError(
                f"gradcheck: input {i} (shape {args[i].shape}), element {tuple(map(int, where_in))}"
                f", output element {int(j)}: analytic {a[j, k]:.10g} vs numeric "
                f"{n[j, k]:.10g} (difference {abs(a[j, k] - n[j, k]):.3g}, allowed "
                f"{atol + rtol * abs(n[j, k]):.3g})"
            )
    return True


def gradgradcheck(f, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
                  seed: int = 0) -> bool:
    """Check second derivatives: gradcheck of x -> d/dx sum(f(x) * v) for a fixed random v."""
    args, checked = _prepare(inputs)
    out = _output(f, args)
    v = B.like(np.random.default_rng(seed).standard_normal(out.shape), out.data)

    def first_grads(*xs):
        with grad_mode.enable_grad():
            y = _output(f, xs)
            if not y.requires_grad:
                raise GradcheckError("gradgradcheck: f does not depend on the checked inputs")
            grads = engine.grad(y, [xs[i] for i in checked], gradient=v, create_graph=True)
        from chainrule.ops import concatenate, reshape

        return concatenate([reshape(g, (-1,)) for g in grads])

    return gradcheck(first_grads, args, eps=eps, atol=atol, rtol=rtol)
