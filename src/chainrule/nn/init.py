"""Weight initialisers, with PyTorch's names and formulas, drawn from chainrule's global
generator (so ``cr.manual_seed(n)`` makes every model's initial weights reproducible).

Each fills a tensor in place (under the hood: its ``data``) and returns it. ``fan_in`` of
a weight (out, in, *kernel) is in * prod(kernel), ``fan_out`` is out * prod(kernel).
"""

from __future__ import annotations

import math

import numpy as np

from chainrule import _backend as B


def _fill(t, values) -> None:
    t.data[...] = values
    t.bump_version()


def fans(shape) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of shape (out, in, *kernel)."""
    if len(shape) < 2:
        raise ValueError(f"init: fan_in and fan_out need a weight with at least 2 axes, got "
                         f"shape {tuple(shape)}")
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The gain that keeps activations' variance steady through ``nonlinearity``:
    1 (linear, conv, sigmoid), 5/3 (tanh), sqrt(2) (relu), sqrt(2 / (1 + a^2)) (leaky_relu
    with slope a, default 0.01), 3/4 (selu)."""
    if nonlinearity in ("linear", "identity", "conv1d", "conv2d", "conv3d", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        a = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + a * a))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unknown nonlinearity {nonlinearity!r}")


def _fan(shape, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"init: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = fans(shape)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(t, a: float = 0.0, b: float = 1.0):
    """U(a, b)"""
    _fill(t, B.random.generator.uniform(a, b, t.shape))
    return t


def normal_(t, mean: float = 0.0, std: float = 1.0):
    """N(mean, std^2)"""
    _fill(t, B.random.generator.normal(mean, std, t.shape))
    return t


def constant_(t, value: float):
    _fill(t, value)
    return t


def zeros_(t):
    _fill(t, 0)
    return t


def ones_(t):
    _fill(t, 1)
    return t


def kaiming_uniform_(t, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"):
    """U(-bound, bound), bound = gain * sqrt(3 / fan), gain = calculate_gain(nonlinearity, a)
    (He et al.)"""
    if t.size == 0:
        return t  # nothing to fill (and no fan to divide by)
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / _fan(t.shape, mode))
    return uniform_(t, -bound, bound)


def kaiming_normal_(t, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"):
    """N(0, std^2), std = gain / sqrt(fan) (He et al.)"""
    if t.size == 0:
        return t  # nothing to fill (and no fan to divide by)
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(t.shape, mode))
    return normal_(t, 0.0, std)


def xavier_uniform_(t, gain: float = 1.0):
    """U(-bound, bound), bound = gain * sqrt(6 / (fan_in + fan_out)) (Glorot and Bengio)"""
    if t.size == 0:
        return t  # nothing to fill (and no fan to divide by)
    fan_in, fan_out = fans(t.shape)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -bound, bound)


def xavier_normal_(t, gain: float = 1.0):
    """N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out)) (Glorot and Bengio)"""
    if t.size == 0:
        return t  # nothing to fill (and no fan to divide by)
    fan_in, fan_out = fans(t.shape)
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def default_layer_init(weight, bias) -> None:
    """Linear and Conv2d defaults, PyTorch's: kaiming_uniform(a=sqrt(5)) for the weight,
    which is U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the same range for the bias."""
    kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = fans(weight.shape)
        bound = 1 / math.sqrt(fan_in) if fan_in else 0
        uniform_(bias, -bound, bound)
