"""Per-sample gradients with vmap(grad): one gradient per sample, for a whole batch at once.

A 784-128-10 MLP (28 x 28 images, as Fashion-MNIST's) and 64 samples. The gradient
of each sample's loss is what differentially private SGD clips, one by one, and what the
spread of SGD's steps is made of. A Python loop of 64 backward passes gives them; vmap
runs the loss once on the whole batch (each op by its batching rule) and one backward
pass, with every weight copied to each sample so that its gradient comes out per sample.
Then: the per-sample gradient norms, and a clipped mean gradient (DP-SGD's step, without
its noise).

    python examples/per_sample_gradients.py
"""

import numpy as np

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import func

rng = np.random.default_rng(0)
params = tuple(cr.tensor(a) for a in (
    rng.uniform(-1, 1, (128, 784)).astype(np.float32) / 28,
    np.zeros(128, np.float32),
    rng.uniform(-1, 1, (10, 128)).astype(np.float32) / 11.3,
    np.zeros(10, np.float32)))
X = cr.tensor(rng.standard_normal((64, 784)).astype(np.float32))
Y = cr.tensor(rng.integers(0, 10, 64))


def loss_of_one(params, x, y):
    """One sample's loss: x of shape (784,), y one class index."""
    w1, b1, w2, b2 = params
    h = F.relu(F.linear(x[None], w1, b1))
    return F.cross_entropy(F.linear(h, w2, b2), y[None])


per_sample = func.vmap(func.grad(loss_of_one), in_dims=(None, 0, 0))
grads = per_sample(params, X, Y)  # a tuple like params, each with a leading axis of 64
print("per-sample gradient shapes:", [tuple(g.shape) for g in grads])

# The same, as a loop of 64 backward passes: equal, sample by sample.
loop = [func.grad(loss_of_one)(params, X[i], Y[i]) for i in range(64)]
worst = max(float(np.abs(g.numpy()[i] - loop[i][k].numpy()).max())
            for k, g in enumerate(grads) for i in range(64))
print(f"largest difference from the loop: {worst:.1e}")

# Per-sample norms, and DP-SGD's clipped mean: each sample's gradient scaled to norm <= C.
norms = np.sqrt(sum((g.numpy().reshape(64, -1) ** 2).sum(axis=1) for g in grads))
C = 1.0
scale = np.minimum(1.0, C / norms)
clipped = [(g.numpy() * scale.reshape((64,) + (1,) * (g.ndim - 1))).mean(axis=0)
           for g in grads]
print(f"per-sample gradient norms: min {norms.min():.3f}, median {np.median(norms):.3f}, "
      f"max {norms.max():.3f}; {int((norms > C).sum())} of 64 clipped to {C}")
print("clipped mean gradient shapes:", [c.shape for c in clipped])


# How much faster than the loop: benchmarks/func.py measures it, side by side.
