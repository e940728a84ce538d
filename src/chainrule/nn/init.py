"""Weight initialisers, PyTorch's defaults, drawn from chainrule's global generator."""

from __future__ import annotations

import math

import numpy as np

from chainrule import _backend as B


def _fill(t, values) -> None:
    t.data[...] = values
    t.bump_version()


def fans(shape) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of shape (out, in, *kernel)."""
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def uniform_(t, a: float = 0.0, b: float = 1.0):
    _fill(t, B.random.generator.uniform(a, b, t.shape))
    return t


def normal_(t, mean: float = 0.0, std: float = 1.0):
    _fill(t, B.random.generator.normal(mean, std, t.shape))
    return t


def zeros_(t):
    _fill(t, 0)
    return t


def ones_(t):
    _fill(t, 1)
    return t


def kaiming_uniform_(t, a: float = 0.0):
    """U(-bound, bound), bound = gain * sqrt(3 / fan_in), gain = sqrt(2 / (1 + a^2))."""
    fan_in, _ = fans(t.shape)
    bound = math.sqrt(2.0 / (1 + a * a)) * math.sqrt(3.0 / fan_in)
    return uniform_(t, -bound, bound)


def xavier_uniform_(t, gain: float = 1.0):
    fan_in, fan_out = fans(t.shape)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -bound, bound)


def default_layer_init(weight, bias) -> None:
    """Linear and Conv2d defaults: kaiming_uniform(a=sqrt(5)) for the weight, so
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the same range for the bias."""
    kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = fans(weight.shape)
        bound = 1 / math.sqrt(fan_in) if fan_in else 0
        uniform_(bias, -bound, bound)
