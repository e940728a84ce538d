"""The workloads' steps in JAX: the compiled peer (``jax.jit`` of forward, gradient and SGD).

Each maker takes the same initial weights and data as chainrule's and PyTorch's steps and
returns a step that runs one compiled update and waits for its result. Parameters are
donated to the update, so XLA may update them in place, as a JAX user would write it.
JAX is optional: ``available()`` says whether it imports.
"""

from __future__ import annotations

import os

import numpy as np


def available() -> bool:
    if os.environ.get("BENCH_NO_JAX"):  # run.py --no-jax
        return False
    try:
        import jax  # noqa: F401
    except ImportError:
        return False
    return True


def _cross_entropy(jax, jnp, logits, y):
    logp = jax.nn.log_softmax(logits, axis=1)
    return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))


def _trainer(loss, params, args, lr):
    """A step that replaces ``params`` by one jitted SGD update of ``loss(params, *args)``."""
    import jax

    def update(ps, *args):
        grads = jax.grad(loss)(ps, *args)
        return [p - lr * g for p, g in zip(ps, grads)]

    update = jax.jit(update, donate_argnums=0)
    state = [[jax.numpy.array(p) for p in params]]

    def step():
        state[0] = update(state[0], *args)
        jax.block_until_ready(state[0])

    step.params = lambda: [np.asarray(p) for p in state[0]]
    return step


def _classifier_step(forward, params, X, y, lr, train):
    """The forward pass alone, or a training step on its cross-entropy."""
    import jax
    import jax.numpy as jnp

    Xj, yj = jnp.asarray(X), jnp.asarray(y)
    if not train:
        fwd = jax.jit(forward)
        ps = [jnp.asarray(p) for p in params]
        return lambda: fwd(ps, Xj).block_until_ready()
    return _trainer(lambda ps, X, y: _cross_entropy(jax, jnp, forward(ps, X), y),
                    params, (Xj, yj), lr)


def mlp(params, X, y, lr, train):
    """784-256-256-10 ReLU MLP, cross-entropy (W1, W2)."""
    import jax

    def forward(ps, X):
        h = X
        for i in range(0, len(ps) - 2, 2):
            h = jax.nn.relu(h @ ps[i].T + ps[i + 1])
        return h @ ps[-2].T + ps[-1]

    return _classifier_step(forward, params, X, y, lr, train)


def cnn(params, X, y, lr, train):
    """conv 1->8, ReLU, max-pool 2, conv 8->16, ReLU, max-pool 2, linear (W3), NCHW."""
    import jax
    import jax.numpy as jnp
    from jax import lax

    def conv(x, w, b):
        z = lax.conv_general_dilated(x, w, (1, 1), "VALID",
                                     dimension_numbers=("NCHW", "OIHW", "NCHW"))
        return z + b[None, :, None, None]

    def pool(x):
        return lax.reduce_window(x, -jnp.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")

    def forward(ps, X):
        w1, b1, w2, b2, w3, b3 = ps
        h = pool(jax.nn.relu(conv(X, w1, b1)))
        h = pool(jax.nn.relu(conv(h, w2, b2)))
        return h.reshape(h.shape[0], -1) @ w3.T + b3

    return _classifier_step(forward, params, X, y, lr, train)


def tanh_mlp(params, X, y, lr):
    """2-16-16-1 tanh MLP, mean squared error, full batch (W4)."""
    import jax.numpy as jnp

    def loss(ps, X, y):
        h = jnp.tanh(X @ ps[0].T + ps[1])
        h = jnp.tanh(h @ ps[2].T + ps[3])
        return jnp.mean((h @ ps[4].T + ps[5] - y) ** 2)

    return _trainer(loss, params, (jnp.asarray(X), jnp.asarray(y)), lr)


def deep_chain(x0: np.ndarray, depth: int):
    """y = tanh(y) * 1.0001 + 0.001, ``depth`` times, as a compiled loop (``lax.scan``)."""
    import jax
    import jax.numpy as jnp

    def f(x):
        def body(y, _):
            return jnp.tanh(y) * 1.0001 + 0.001, None

        y, _ = jax.lax.scan(body, x, None, length=depth)
        return y.sum()

    grad = jax.jit(jax.grad(f))
    x = jnp.asarray(x0)
    return lambda: grad(x).block_until_ready()
