"""The benchmark workloads, each built identically for chainrule, PyTorch and NumPy.

A workload's ``build()`` returns ``{framework: step}``; a step is one training step
(forward, backward, SGD update) or, for the ``forward`` variants, the forward pass only.
chainrule's and PyTorch's training steps return their (forward, backward) durations,
timed inside the step, for the backward/forward ratio.
chainrule and PyTorch are written the way a user of each would write them (modules,
fused cross-entropy, SGD); NumPy is the same step by hand, the floor for a NumPy engine.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import jax_steps
import numpy as np

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule import optim
from chainrule.data import make_moons


@dataclass
class Workload:
    name: str
    build: Callable[[], dict]
    repeat_scale: float = 1.0
    flops: float = 0.0  # floating-point operations of one step, for the GEMM-rate floor
    micrograd: Callable[[], Callable] | None = None  # builds micrograd's step (W4 only)


def _exposing(step, params):
    """Give a training step ``step.params()``: its framework's current parameters as arrays,
    so that tests/test_benchmarks.py can check every framework computes the same update."""
    step.params = params
    return step


def _made(makers: dict, only: str | None) -> dict:
    """Build the steps of every framework, or of ``only`` that one (no other imported)."""
    return {name: make() for name, make in makers.items() if only in (None, name)}


def _init(sizes, rng):
    """Weights (out, in) and biases, uniform +-1/sqrt(fan_in), float32."""
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1 / np.sqrt(fan_in)
        params.append(rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32))
        params.append(rng.uniform(-bound, bound, fan_out).astype(np.float32))
    return params


def _cr_mlp(params, act):
    layers = []
    for i in range(0, len(params), 2):
        lin = nn.Linear(params[i].shape[1], params[i].shape[0])
        lin.weight.data[...] = params[i]
        lin.bias.data[...] = params[i + 1]
        layers.append(lin)
        if i + 2 < len(params):
            layers.append(act())
    return nn.Sequential(*layers)


def _torch_mlp(params, act):
    import torch

    layers = []
    for i in range(0, len(params), 2):
        lin = torch.nn.Linear(params[i].shape[1], params[i].shape[0])
        with torch.no_grad():
            lin.weight.copy_(torch.as_tensor(params[i]))
            lin.bias.copy_(torch.as_tensor(params[i + 1]))
        layers.append(lin)
        if i + 2 < len(params):
            layers.append(act())
    return torch.nn.Sequential(*layers)


def _cr_step(model, loss_fn, X, y, lr, train):
    opt = optim.SGD(model.parameters(), lr=lr)
    Xc = cr.tensor(X)

    if not train:
        def forward():
            with cr.no_grad():
                return model(Xc)
        return forward

    def step():
        t0 = time.perf_counter()
        loss = loss_fn(model(Xc), y)
        t1 = time.perf_counter()
        opt.zero_grad()
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        return t1 - t0, t2 - t1  # forward, backward

    return _exposing(step, lambda: [p.data for p in model.parameters()])


def _cr_compiled(model, loss_fn, X, y, lr, train):
    """chainrule's step under ``cr.compile``: recorded on the first call, replayed after.
    The data are arguments (a replay reads only what a step is given or holds by
    reference); phases are not timed inside, since a replay runs no Python of the step."""
    opt = optim.SGD(model.parameters(), lr=lr)
    Xc, yc = cr.tensor(X), (cr.tensor(y) if y.dtype.kind in "iu" else y)

    if not train:
        @cr.compile
        def forward(x):
            with cr.no_grad():
                return model(x)
        def infer():
            return forward(Xc)

        infer.compiled = forward
        return infer

    @cr.compile
    def compiled(x, y):
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    def step():
        compiled(Xc, yc)

    step.compiled = compiled
    return _exposing(step, lambda: [p.data for p in model.parameters()])


def _torch_step(model, loss_fn, X, y, lr, train):
    import torch

    opt = torch.optim.SGD(model.parameters(), lr=lr)
    Xt, yt = torch.as_tensor(X), torch.as_tensor(y)

    if not train:
        def forward():
            with torch.no_grad():
                return model(Xt)
        return forward

    def step():
        t0 = time.perf_counter()
        loss = loss_fn(model(Xt), yt)
        t1 = time.perf_counter()
        opt.zero_grad()
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        return t1 - t0, t2 - t1  # forward, backward

    return _exposing(step, lambda: [p.detach().numpy() for p in model.parameters()])


# --- W1 / W2: MLP 784-256-256-10 ------------------------------------------------------------


def _numpy_mlp(params, X, y, lr, train):
    ps = [p.copy() for p in params]
    n, rows = len(y), np.arange(len(y))

    def step():
        acts, h = [X], X
        for i in range(0, len(ps) - 2, 2):
            h = np.maximum(h @ ps[i].T + ps[i + 1], 0)
            acts.append(h)
        logits = h @ ps[-2].T + ps[-1]
        if not train:
            return logits
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        g = e / e.sum(axis=1, keepdims=True)
        g[rows, y] -= 1
        g /= n
        for i in range(len(ps) - 2, -1, -2):
            a = acts[i // 2]
            gw, gb = g.T @ a, g.sum(axis=0)
            if i:
                g = (g @ ps[i]) * (a > 0)
            ps[i] -= lr * gw
            ps[i + 1] -= lr * gb
        return logits

    return _exposing(step, lambda: ps)


def _torch_mlp_step(params, X, y, train):
    import torch

    return _torch_step(_torch_mlp(params, torch.nn.ReLU), torch.nn.functional.cross_entropy,
                       X, y, 0.01, train)


def mlp(batch: int, train: bool = True) -> Workload:
    sizes = [784, 256, 256, 10]

    def build(only=None):
        rng = np.random.default_rng(0)
        params = _init(sizes, rng)
        X = rng.standard_normal((batch, 784)).astype(np.float32)
        y = rng.integers(0, 10, batch)
        makers = {
            "chainrule": lambda: _cr_step(_cr_mlp(params, nn.ReLU), F.cross_entropy, X, y,
                                          0.01, train),
            "cr compiled": lambda: _cr_compiled(_cr_mlp(params, nn.ReLU), F.cross_entropy, X,
                                                y, 0.01, train),
            "torch": lambda: _torch_mlp_step(params, X, y, train),
            "numpy": lambda: _numpy_mlp(params, X, y, 0.01, train),
        }
        if jax_steps.available():
            makers["jax"] = lambda: jax_steps.mlp(params, X, y, 0.01, train)
        return _made(makers, only)

    gemm = sum(2 * batch * a * b for a, b in zip(sizes[:-1], sizes[1:]))
    flops = gemm * (3 if train else 1) - (2 * batch * 784 * 256 if train else 0)
    kind = "train step" if train else "forward"
    return Workload(f"MLP b{batch} {kind}", build, flops=flops)


# --- W3: CNN ---------------------------------------------------------------------------------


def _numpy_cnn(w1, b1, w2, b2, w3, b3, X, y, lr):
    """conv 1->8, relu, pool, conv 8->16, relu, pool, linear, cross-entropy, SGD, by hand."""
    ws = [w1.copy(), b1.copy(), w2.copy(), b2.copy(), w3.copy(), b3.copy()]
    n, rows = len(y), np.arange(len(y))
    win = np.lib.stride_tricks.sliding_window_view

    def im2col(x, k):
        v = win(x, (k, k), axis=(2, 3))  # (N, C, Ho, Wo, k, k)
        n_, c, ho, wo = v.shape[:4]
        return v.transpose(0, 2, 3, 4, 5, 1).reshape(n_ * ho * wo, k * k * c), (n_, ho, wo)

    def col2im(cols, shape, k):
        n_, c, h, w = shape
        ho, wo = h - k + 1, w - k + 1
        v = cols.reshape(n_, ho, wo, k, k, c)
        out = np.zeros((n_, h, w, c), dtype=cols.dtype)
        for u in range(k):
            for t in range(k):
                out[:, u:u + ho, t:t + wo, :] += v[:, :, :, u, t, :]
        return out.transpose(0, 3, 1, 2)

    def pool(x):  # 2x2 max, NCHW, with the argmax mask
        n_, c, h, w = x.shape
        v = x[:, :, :h // 2 * 2, :w // 2 * 2].reshape(n_, c, h // 2, 2, w // 2, 2)
        m = v.max(axis=(3, 5))
        return m, (v == m[:, :, :, None, :, None])

    def unpool(g, mask, shape):
        n_, c, h, w = shape
        d = np.zeros(shape, dtype=g.dtype)
        d[:, :, :h // 2 * 2, :w // 2 * 2] = (mask * g[:, :, :, None, :, None]).reshape(
            n_, c, h // 2 * 2, w // 2 * 2)
        return d

    def step():
        w1, b1, w2, b2, w3, b3 = ws
        c1, (_, h1, v1) = im2col(X, 3)
        z1 = (c1 @ w1.reshape(8, -1).T + b1).reshape(n, h1, v1, 8).transpose(0, 3, 1, 2)
        a1 = np.maximum(z1, 0)
        p1, m1 = pool(a1)
        c2, (_, h2, v2) = im2col(p1, 3)
        w2f = w2.transpose(0, 2, 3, 1).reshape(16, -1)
        z2 = (c2 @ w2f.T + b2).reshape(n, h2, v2, 16).transpose(0, 3, 1, 2)
        a2 = np.maximum(z2, 0)
        p2, m2 = pool(a2)
        f = p2.reshape(n, -1)
        logits = f @ w3.T + b3
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        g = e / e.sum(axis=1, keepdims=True)
        g[rows, y] -= 1
        g /= n
        gw3, gb3 = g.T @ f, g.sum(0)
        g = unpool((g @ w3).reshape(p2.shape), m2, a2.shape) * (z2 > 0)
        g2 = g.transpose(0, 2, 3, 1).reshape(-1, 16)
        gw2 = (g2.T @ c2).reshape(16, 3, 3, 8).transpose(0, 3, 1, 2)
        gb2 = g2.sum(0)
        g = col2im(g2 @ w2f, p1.shape, 3)
        g = unpool(g, m1, a1.shape) * (z1 > 0)
        g1 = g.transpose(0, 2, 3, 1).reshape(-1, 8)
        gw1, gb1 = (g1.T @ c1).reshape(8, 1, 3, 3), g1.sum(0)
        for p, gp in zip(ws, (gw1, gb1, gw2, gb2, gw3, gb3)):
            p -= lr * gp

    return _exposing(step, lambda: ws)


def _torch_cnn(arrays):
    import torch

    model = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                torch.nn.Conv2d(8, 16, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                torch.nn.Flatten(), torch.nn.Linear(400, 10))
    with torch.no_grad():
        for p, a in zip(model.parameters(), arrays):
            p.copy_(torch.as_tensor(a))
    return model


def cnn(batch: int = 64, train: bool = True) -> Workload:
    def build(only=None):
        rng = np.random.default_rng(0)

        def u(shape, fan_in):
            return rng.uniform(-1, 1, shape).astype(np.float32) / np.sqrt(fan_in)

        w1, b1 = u((8, 1, 3, 3), 9), u(8, 9)
        w2, b2 = u((16, 8, 3, 3), 72), u(16, 72)
        w3, b3 = u((10, 400), 400), u(10, 400)
        arrays = (w1, b1, w2, b2, w3, b3)
        X = rng.random((batch, 1, 28, 28), dtype=np.float32)
        y = rng.integers(0, 10, batch)

        def cr_model():
            model = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Conv2d(8, 16, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                                  nn.Linear(400, 10))
            for p, a in zip(model.parameters(), arrays):
                p.data[...] = a
            return model

        def torch_step():
            import torch

            return _torch_step(_torch_cnn(arrays), torch.nn.functional.cross_entropy, X, y,
                               0.01, train)

        makers = {
            "chainrule": lambda: _cr_step(cr_model(), F.cross_entropy, X, y, 0.01, train),
            "cr compiled": lambda: _cr_compiled(cr_model(), F.cross_entropy, X, y, 0.01, train),
            "torch": torch_step,
        }
        if train:
            makers["numpy"] = lambda: _numpy_cnn(*arrays, X, y, 0.01)
        if jax_steps.available():
            makers["jax"] = lambda: jax_steps.cnn(list(arrays), X, y, 0.01, train)
        return _made(makers, only)

    conv = 2 * batch * (26 * 26 * 8 * 9 + 11 * 11 * 16 * 72) + 2 * batch * 400 * 10
    flops = conv * 3 if train else conv
    return Workload(f"CNN b{batch} {'train step' if train else 'forward'}", build,
                    repeat_scale=0.3, flops=flops)


# --- W4: micrograd's demo --------------------------------------------------------------------


def moons_tanh() -> Workload:
    """A 2-16-16-1 tanh MLP, full batch of 100 two-moons points, MSE, SGD."""

    def build(only=None):
        x, labels = make_moons(100, noise=0.1, seed=0)
        y = (labels * 2.0 - 1.0).astype(np.float32)[:, None]
        params = _init([2, 16, 16, 1], np.random.default_rng(0))

        def torch_step():
            import torch

            return _torch_step(_torch_mlp(params, torch.nn.Tanh), torch.nn.functional.mse_loss,
                               x, y, 0.05, True)

        makers = {
            "chainrule": lambda: _cr_step(_cr_mlp(params, nn.Tanh), F.mse_loss, x, y, 0.05, True),
            "cr compiled": lambda: _cr_compiled(_cr_mlp(params, nn.Tanh), F.mse_loss, x, y, 0.05,
                                                True),
            "torch": torch_step,
            "numpy": lambda: _numpy_tanh(params, x, y),
        }
        if jax_steps.available():
            makers["jax"] = lambda: jax_steps.tanh_mlp(params, x, y, 0.05)
        return _made(makers, only)

    def micrograd():
        import micrograd_step

        x, labels = make_moons(100, noise=0.1, seed=0)
        y = (labels * 2.0 - 1.0).astype(np.float32)[:, None]
        return micrograd_step.tanh_mlp(_init([2, 16, 16, 1], np.random.default_rng(0)), x, y,
                                       0.05)

    return Workload("moons MLP 2-16-16-1 tanh", build, repeat_scale=10, micrograd=micrograd)


def _numpy_tanh(params, X, y):
    ps = [p.copy() for p in params]
    n = len(y)

    def step():
        h1 = np.tanh(X @ ps[0].T + ps[1])
        h2 = np.tanh(h1 @ ps[2].T + ps[3])
        out = h2 @ ps[4].T + ps[5]
        g = 2 * (out - y) / n
        grads = [None] * 6
        grads[4], grads[5] = g.T @ h2, g.sum(0)
        g = (g @ ps[4]) * (1 - h2 * h2)
        grads[2], grads[3] = g.T @ h1, g.sum(0)
        g = (g @ ps[2]) * (1 - h1 * h1)
        grads[0], grads[1] = g.T @ X, g.sum(0)
        for p, gp in zip(ps, grads):
            p -= 0.05 * gp

    return _exposing(step, lambda: ps)


# --- W5: a deep graph ------------------------------------------------------------------------


def numpy_chain(x0: np.ndarray, depth: int):
    """W5 by hand in NumPy: ``forward()`` (the tanh of every level, kept) and
    ``backward(ys)`` (d sum(y) / dx from them)."""

    def forward():
        ys, y = [], x0
        for _ in range(depth):
            t = np.tanh(y)
            ys.append(t)
            y = t * 1.0001 + 0.001
        return ys

    def backward(ys):
        g = np.ones_like(x0)
        for t in reversed(ys):
            g = g * 1.0001 * (1 - t * t)
        return g

    return forward, backward


def deep_chain(depth: int = 5000) -> Workload:
    """y = tanh(y) * 1.0001 + 0.001, 5,000 times on a 64-vector, then backward."""

    def build(only=None):
        x0 = np.random.default_rng(0).standard_normal(64).astype(np.float32)
        grads = {}  # each framework's last d sum(y) / dx, for step.params()

        def cr_step():
            x = cr.tensor(x0, requires_grad=True)
            y = x
            for _ in range(depth):
                y = y.tanh() * 1.0001 + 0.001
            y.sum().backward()
            grads["chainrule"] = x.grad.data

        @cr.compile
        def cr_chain(x):
            y = x
            for _ in range(depth):
                y = y.tanh() * 1.0001 + 0.001
            y.sum().backward()

        def cr_compiled():
            x = cr.tensor(x0, requires_grad=True)
            cr_chain(x)
            grads["cr compiled"] = x.grad.data

        cr_compiled.compiled = cr_chain

        def torch_step():
            import torch

            x = torch.tensor(x0, requires_grad=True)
            y = x
            for _ in range(depth):
                y = y.tanh() * 1.0001 + 0.001
            y.sum().backward()
            grads["torch"] = x.grad.numpy()

        np_forward, np_backward = numpy_chain(x0, depth)

        def numpy_step():
            grads["numpy"] = np_backward(np_forward())

        def jax_grad():
            jax_step = jax_steps.deep_chain(x0, depth)

            def step():
                grads["jax"] = jax_step()
            return step

        makers = {"chainrule": lambda: cr_step, "cr compiled": lambda: cr_compiled,
                  "torch": lambda: torch_step, "numpy": lambda: numpy_step}
        if jax_steps.available():
            makers["jax"] = jax_grad
        return {k: _exposing(f, lambda k=k: [np.asarray(grads[k])])
                for k, f in _made(makers, only).items()}

    return Workload(f"deep chain tanh x{depth}", build, repeat_scale=0.1)


def by_key(key: str) -> Workload:
    """The training-step workload of ``key`` (W1-W5), as benchmarks/revisions.py times it."""
    return ALL[key]()[0]


ALL = {
    "W1": lambda: [mlp(128), mlp(128, train=False)],
    "W2": lambda: [mlp(16)],
    "W3": lambda: [cnn(64), cnn(64, train=False)],
    "W4": lambda: [moons_tanh()],
    "W5": lambda: [deep_chain()],
}
