"""W4 in micrograd, the scalar engine the lecture-style demos use: one Value per number.

micrograd 0.1.0 (PyPI) has no tanh, so it is added here the way micrograd writes its
ops (a Value with a ``_backward`` closure). Optional: ``available()`` says whether it
imports. A step takes about a second, so run.py times a few steps once instead of
alternating rounds.
"""

from __future__ import annotations

import math
import os


def available() -> bool:
    if os.environ.get("BENCH_NO_MICROGRAD"):
        return False
    try:
        import micrograd  # noqa: F401
    except ImportError:
        return False
    return True


def _tanh(v):
    from micrograd.engine import Value

    t = math.tanh(v.data)
    out = Value(t, (v,), "tanh")

    def _backward():
        v.grad += (1 - t * t) * out.grad

    out._backward = _backward
    return out


def tanh_mlp(params, X, y, lr):
    """2-16-16-1 tanh MLP, mean squared error over the full batch, SGD: one step."""
    from micrograd.engine import Value

    layers = []
    for i in range(0, len(params), 2):
        w, b = params[i], params[i + 1]
        layers.append(([[Value(float(v)) for v in row] for row in w], [Value(float(v)) for v in b]))
    flat = [p for w, b in layers for p in [*(v for row in w for v in row), *b]]
    samples = [[float(v) for v in row] for row in X]
    targets = [float(t) for t in y.ravel()]

    def forward(x):
        h = x
        for k, (w, b) in enumerate(layers):
            z = [sum((wi * hi for wi, hi in zip(row, h)), bj) for row, bj in zip(w, b)]
            h = z if k == len(layers) - 1 else [_tanh(v) for v in z]
        return h[0]

    def step():
        loss = sum(((forward(x) - t) ** 2 for x, t in zip(samples, targets)), Value(0.0))
        loss = loss * (1.0 / len(samples))
        for p in flat:
            p.grad = 0.0
        loss.backward()
        for p in flat:
            p.data -= lr * p.grad
        return loss.data

    return step
