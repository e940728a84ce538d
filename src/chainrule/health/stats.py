"""The numbers of training health, computed from arrays: what the monitor measures on a
sampled step, as plain functions that a test can call on tensors of its own.

Every statistic is computed in float64 from the float32 (or float64) arrays the engine
made, so a float32 model's numbers are as exact as its arrays allow.

An activation ``a = sigma(z)`` (the output of an activation module, ``z`` its input):

- ``mean``, ``std``: over every element (samples x units), ddof 0;
- ``saturated``: the share of elements in the flat tails, where sigma'(z) is nearly 0:
  tanh |a| > 0.97 (sigma' = 1 - a^2 < 0.06), sigmoid a outside [0.03, 0.97]
  (sigma' = a (1 - a) < 0.03); None for the others;
- ``zero`` (ReLU): the share of elements that are 0 on this batch;
- ``dead`` (ReLU): the share of units (every position but the batch axis) never active
  (a > 0) for any sample seen since the epoch began: ``DeadCount``;
- ``amplifier``: the mean of sigma'(z), the factor backpropagation multiplies dl/da by
  to get dl/dz (the lecture's amplifier): 1 - a^2, a (1 - a), [a > 0] (relu'(0) = 0, as
  the engine), 1 or the negative slope (LeakyReLU), and for GELU the engine's own
  derivative.

``unit_stats`` gives saturated, dead and amplifier per unit (column) of a 2-d batch, for
the playground's per-neuron marks.

A parameter ``w`` with gradient ``g``, before and after the optimizer's step:

- ``grad_norm``: ||g||_2; ``grad_rms``: ||g||_2 / sqrt(size), comparable across layers
  of different sizes;
- ``grad_data_ratio``: std(g) / std(w);
- ``update_ratio``: log10(std(w_after - w_before) / std(w_before)): the real update, so it
  is right for momentum, Adam and weight decay alike (lr * update as applied).

None where a number is not defined: a constant tensor's std is 0 (a fresh bias of
zeros, batch norm's weight of ones), a parameter without a gradient, one the step did
not change (log10 of 0), or a value that is not finite.
"""

from __future__ import annotations

import math

import numpy as np

#: |tanh| above this, or sigmoid outside [1 - SATURATION, SATURATION], is saturated.
SATURATION = 0.97

#: The activation kinds the monitor knows, by the module class that computes them.
KINDS = ("tanh", "sigmoid", "relu", "leaky_relu", "gelu")


def finite(x: float) -> float | None:
    """``x`` as a Python float, or None when it is NaN or infinite (JSON has neither)."""
    x = float(x)
    return x if math.isfinite(x) else None


def saturated_fraction(kind: str, a: np.ndarray) -> float | None:
    """The share of elements of ``a`` in sigma's flat tails (None: no tails)."""
    a = np.asarray(a, dtype=np.float64)
    if kind == "tanh":
        return float(np.mean(np.abs(a) > SATURATION))
    if kind == "sigmoid":
        return float(np.mean((a < 1 - SATURATION) | (a > SATURATION)))
    return None


def amplifier(kind: str, z: np.ndarray, a: np.ndarray, slope: float = 0.01,
              derivative=None) -> np.ndarray:
    """sigma'(z) per element (float64). ``derivative``: a function z -> sigma'(z), for the
    kinds with no closed form here (GELU: the engine's gradient)."""
    a = np.asarray(a, dtype=np.float64)
    if kind == "tanh":
        return 1 - a * a
    if kind == "sigmoid":
        return a * (1 - a)
    if kind == "relu":
        return (a > 0).astype(np.float64)  # relu'(0) = 0, as the engine: a > 0 iff z > 0
    if kind == "leaky_relu":
        return np.where(np.asarray(z) > 0, 1.0, float(slope))
    return np.asarray(derivative(z), dtype=np.float64)


def activation_stats(kind: str, z: np.ndarray, a: np.ndarray, slope: float = 0.01,
                     derivative=None) -> dict:
    """mean, std, saturated, zero and amplifier of one activation on one batch."""
    a64 = np.asarray(a, dtype=np.float64)
    return {
        "mean": finite(a64.mean()) if a64.size else None,
        "std": finite(a64.std()) if a64.size else None,
        "saturated": saturated_fraction(kind, a64),
        "zero": float(np.mean(a64 == 0)) if kind == "relu" else None,
        "amplifier": finite(amplifier(kind, z, a64, slope, derivative).mean())
        if a64.size else None,
    }


def unit_stats(kind: str, z: np.ndarray, a: np.ndarray, slope: float = 0.01,
               derivative=None) -> dict:
    """Per unit (samples on axis 0, one column per unit) of a 2-d batch: the share of
    samples saturated (None: no tails), dead (ReLU: never active on any sample; None for
    the others) and the mean amplifier, each a list over units; the same definitions as
    ``activation_stats`` and ``DeadCount``, column by column."""
    a64 = np.asarray(a, dtype=np.float64)
    if kind == "tanh":
        sat = (np.abs(a64) > SATURATION).mean(axis=0).tolist()
    elif kind == "sigmoid":
        sat = ((a64 < 1 - SATURATION) | (a64 > SATURATION)).mean(axis=0).tolist()
    else:
        sat = None
    amp = amplifier(kind, z, a64, slope, derivative).mean(axis=0)
    return {"saturated": sat,
            "dead": (~units_active(a64)).tolist() if kind == "relu" else None,
            "amplifier": [finite(v) for v in amp]}


def units_active(a: np.ndarray) -> np.ndarray:
    """Per unit (every position but the first, batch, axis): active (> 0) for any sample."""
    a = np.asarray(a)
    if a.ndim < 2:  # one sample, no batch axis
        return (a > 0).reshape(-1)
    return (a > 0).any(axis=0).reshape(-1)


class DeadCount:
    """The units of one ReLU that no sample seen since ``reset`` has activated."""

    def __init__(self):
        self.ever: np.ndarray | None = None
        self.samples = 0

    def reset(self) -> None:
        self.ever, self.samples = None, 0

    def add(self, a: np.ndarray) -> float:
        """Count batch ``a``; returns the share of units dead so far."""
        active = units_active(a)
        if self.ever is None or self.ever.shape != active.shape:
            self.ever, self.samples = active, 0  # a new layout of units: count afresh
        else:
            self.ever = self.ever | active
        self.samples += len(a) if np.ndim(a) > 1 else 1
        return float(1 - self.ever.mean()) if self.ever.size else 0.0


def param_stats(before: np.ndarray | None, after: np.ndarray,
                grad: np.ndarray | None) -> dict:
    """grad_norm, grad_rms, grad_data_ratio and update_ratio of one parameter.

    ``before`` is the parameter before the optimizer's step (None: not known), ``after``
    after it, ``grad`` its gradient (None: it has none).
    """
    w = np.asarray(after if before is None else before, dtype=np.float64)
    w_std = float(w.std()) if w.size else 0.0
    out = {"grad_norm": None, "grad_rms": None, "grad_data_ratio": None, "update_ratio": None}
    if grad is not None:
        g = np.asarray(grad, dtype=np.float64)
        norm = float(np.sqrt(np.sum(g * g)))
        out["grad_norm"] = finite(norm)
        out["grad_rms"] = finite(norm / math.sqrt(g.size)) if g.size else None
        if w_std > 0:
            out["grad_data_ratio"] = finite(g.std() / w_std)
    if before is not None and w_std > 0:
        step = float((np.asarray(after, dtype=np.float64) - w).std())
        if step > 0:
            out["update_ratio"] = finite(math.log10(step / w_std))
    return out
