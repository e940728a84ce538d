"""The benchmark workloads, each built identically for chainrule, PyTorch and NumPy.

A workload's ``build()`` returns ``{framework: step}``; a step is one training step
(forward, backward, SGD update) or, for the ``fwd`` variants, the forward pass only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

import chainrule as cr


@dataclass
class Workload:
    name: str
    build: Callable[[], dict]
    repeat_scale: float = 1.0


def _mlp_params(sizes, rng):
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1 / np.sqrt(fan_in)
        params.append(rng.uniform(-bound, bound, (fan_in, fan_out)).astype(np.float32))
        params.append(rng.uniform(-bound, bound, fan_out).astype(np.float32))
    return params


def _mlp_step_chainrule(params, X, y, lr, train=True):
    ps = [cr.tensor(p, requires_grad=True) for p in params]
    Xc, n = cr.tensor(X), len(y)
    rows = np.arange(n)

    def step():
        h = Xc
        for i in range(0, len(ps) - 2, 2):
            h = (h @ ps[i] + ps[i + 1]).relu()
        logits = h @ ps[-2] + ps[-1]
        if not train:
            return logits
        # cross-entropy = mean(logsumexp(logits) - logits[y])
        loss = (logits.logsumexp(axis=1) - logits[rows, y]).mean()
        for p in ps:
            p.grad = None
        loss.backward()
        with cr.no_grad():
            for p in ps:
                p.data -= lr * p.grad.data
        return loss

    return step


def _mlp_step_torch(params, X, y, lr, train=True):
    import torch

    ps = [torch.tensor(p, requires_grad=True) for p in params]
    Xt, yt = torch.tensor(X), torch.tensor(y)

    def step():
        if not train:
            with torch.no_grad():
                return _torch_forward(ps, Xt)
        logits = _torch_forward(ps, Xt)
        loss = torch.nn.functional.cross_entropy(logits, yt)
        for p in ps:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in ps:
                p -= lr * p.grad
        return loss

    return step


def _torch_forward(ps, h):
    for i in range(0, len(ps) - 2, 2):
        h = (h @ ps[i] + ps[i + 1]).relu()
    return h @ ps[-2] + ps[-1]


def _mlp_step_numpy(params, X, y, lr, train=True):
    """The same step written by hand: the floor for any NumPy-based engine."""
    ps = [p.copy() for p in params]
    n = len(y)
    rows = np.arange(n)

    def step():
        acts, h = [X], X
        for i in range(0, len(ps) - 2, 2):
            h = np.maximum(h @ ps[i] + ps[i + 1], 0)
            acts.append(h)
        logits = h @ ps[-2] + ps[-1]
        if not train:
            return logits
        m = logits.max(axis=1, keepdims=True)
        e = np.exp(logits - m)
        s = e.sum(axis=1, keepdims=True)
        g = e / s
        g[rows, y] -= 1
        g /= n
        for i in range(len(ps) - 2, -1, -2):
            a = acts[i // 2]
            gW, gb = a.T @ g, g.sum(axis=0)
            if i:
                g = (g @ ps[i].T) * (a > 0)
            ps[i] -= lr * gW
            ps[i + 1] -= lr * gb
        return logits

    return step


def mlp(batch: int, train: bool = True) -> Workload:
    def build():
        rng = np.random.default_rng(0)
        params = _mlp_params([784, 256, 256, 10], rng)
        X = rng.standard_normal((batch, 784)).astype(np.float32)
        y = rng.integers(0, 10, batch)
        return {
            "chainrule": _mlp_step_chainrule(params, X, y, 0.01, train),
            "torch": _mlp_step_torch(params, X, y, 0.01, train),
            "numpy": _mlp_step_numpy(params, X, y, 0.01, train),
        }

    kind = "train step" if train else "forward"
    return Workload(f"MLP 784-256-256-10 b{batch} {kind}", build)


def moons_tanh() -> Workload:
    """W4: micrograd's demo, a 2-16-16-1 tanh MLP, full batch of 100 points, MSE."""

    def build():
        rng = np.random.default_rng(0)
        t = rng.uniform(0, np.pi, 50)
        X = np.concatenate([np.c_[np.cos(t), np.sin(t)], np.c_[1 - np.cos(t), 0.5 - np.sin(t)]])
        X = (X + 0.1 * rng.standard_normal(X.shape)).astype(np.float32)
        y = np.r_[np.ones(50), -np.ones(50)].astype(np.float32)[:, None]
        params = _mlp_params([2, 16, 16, 1], rng)
        return {"chainrule": _tanh_cr(params, X, y), "torch": _tanh_torch(params, X, y),
                "numpy": _tanh_numpy(params, X, y)}

    return Workload("moons MLP 2-16-16-1 tanh", build, repeat_scale=10)


def _tanh_cr(params, X, y):
    ps = [cr.tensor(p, requires_grad=True) for p in params]
    Xc, yc = cr.tensor(X), cr.tensor(y)

    def step():
        h = Xc
        for i in range(0, 4, 2):
            h = (h @ ps[i] + ps[i + 1]).tanh()
        loss = ((h @ ps[4] + ps[5] - yc) ** 2).mean()
        for p in ps:
            p.grad = None
        loss.backward()
        with cr.no_grad():
            for p in ps:
                p.data -= 0.05 * p.grad.data

    return step


def _tanh_torch(params, X, y):
    import torch

    ps = [torch.tensor(p, requires_grad=True) for p in params]
    Xt, yt = torch.tensor(X), torch.tensor(y)

    def step():
        h = Xt
        for i in range(0, 4, 2):
            h = (h @ ps[i] + ps[i + 1]).tanh()
        loss = ((h @ ps[4] + ps[5] - yt) ** 2).mean()
        for p in ps:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in ps:
                p -= 0.05 * p.grad

    return step


def _tanh_numpy(params, X, y):
    ps = [p.copy() for p in params]
    n = len(y)

    def step():
        h1 = np.tanh(X @ ps[0] + ps[1])
        h2 = np.tanh(h1 @ ps[2] + ps[3])
        out = h2 @ ps[4] + ps[5]
        g = 2 * (out - y) / n
        g4, g5 = h2.T @ g, g.sum(0)
        g = (g @ ps[4].T) * (1 - h2 * h2)
        g2, g3 = h1.T @ g, g.sum(0)
        g = (g @ ps[2].T) * (1 - h1 * h1)
        g0, g1 = X.T @ g, g.sum(0)
        for p, gp in zip(ps, (g0, g1, g2, g3, g4, g5)):
            p -= 0.05 * gp

    return step


def deep_chain(depth: int = 5000) -> Workload:
    """W5: y = tanh(y) * 1.0001 + 0.001, 5,000 times on a 64-vector, then backward."""

    def build():
        x0 = np.random.default_rng(0).standard_normal(64).astype(np.float32)

        def cr_step():
            x = cr.tensor(x0, requires_grad=True)
            y = x
            for _ in range(depth):
                y = y.tanh() * 1.0001 + 0.001
            y.sum().backward()

        def torch_step():
            import torch

            x = torch.tensor(x0, requires_grad=True)
            y = x
            for _ in range(depth):
                y = y.tanh() * 1.0001 + 0.001
            y.sum().backward()

        def numpy_step():
            ys, y = [], x0
            for _ in range(depth):
                t = np.tanh(y)
                ys.append(t)
                y = t * 1.0001 + 0.001
            g = np.ones_like(x0)
            for t in reversed(ys):
                g = g * 1.0001 * (1 - t * t)

        return {"chainrule": cr_step, "torch": torch_step, "numpy": numpy_step}

    return Workload(f"deep chain tanh x{depth}", build, repeat_scale=0.1)


ALL = {
    "W1": lambda: [mlp(128), mlp(128, train=False)],
    "W2": lambda: [mlp(16)],
    "W4": lambda: [moons_tanh()],
    "W5": lambda: [deep_chain()],
}
