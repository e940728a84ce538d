"""Function transforms on a small network: forward mode, reverse mode, and both together.

A 3-4-2 tanh network's loss as a function of its 24 parameters. Forward mode (jvp) gives
the change of the loss along one direction in one pass; reverse mode (grad) gives all 24
partial derivatives in one backward pass: for one loss and many parameters, reverse mode
wins, which is why training backpropagates. Forward over reverse gives a Hessian-vector
product without ever forming the 24 x 24 Hessian; vmap(grad) gives per-sample gradients.
"""

import numpy as np

import chainrule as cr
from chainrule import func

rng = np.random.default_rng(0)
X = cr.tensor(rng.standard_normal((8, 3)))  # 8 samples, float64 for exact checks
Y = cr.tensor(rng.standard_normal((8, 2)))
params = cr.tensor(rng.standard_normal(24) * 0.5)


def loss(p, x=X, y=Y):
    w1, b1, w2 = p[:12].reshape(4, 3), p[12:16], p[16:24].reshape(2, 4)
    z = (x @ w1.T + b1).tanh() @ w2.T
    return ((z - y) ** 2).mean()


# Forward mode: one pass, one direction v: the directional derivative dL/dp . v.
v = cr.tensor(rng.standard_normal(24))
value, slope = func.jvp(loss, (params,), (v,))
# Reverse mode: one backward pass, every partial derivative at once.
g = func.grad(loss)(params)
print(f"loss {value.item():.6f}")
print(f"jvp along v {slope.item():.6f}  =  grad . v {float(g.numpy() @ v.numpy()):.6f}")

# Forward over reverse: H v, the curvature along v, at the cost of a few gradients.
hv = func.hvp(loss, (params,), (v,))
H = func.hessian(loss)(params)  # 24 forward passes through the backward pass
print(f"hvp equals hessian @ v: largest difference "
      f"{np.abs(hv.numpy() - H.numpy() @ v.numpy()).max():.1e}")
print(f"hessian symmetric: largest asymmetry {np.abs(H.numpy() - H.numpy().T).max():.1e}")

# Jacobians both ways: jacfwd (one pass per input) equals jacrev (one per output).
def outputs(p):
    w1, b1, w2 = p[:12].reshape(4, 3), p[12:16], p[16:24].reshape(2, 4)
    return ((X[:2] @ w1.T + b1).tanh() @ w2.T).reshape(-1)


jf, jr = func.jacfwd(outputs)(params), func.jacrev(outputs)(params)
print(f"jacobian {jf.shape}: jacfwd - jacrev {np.abs(jf.numpy() - jr.numpy()).max():.1e}")

# Per-sample gradients: the gradient of each sample's loss, one row per sample.
per_sample = func.vmap(func.grad(loss), in_dims=(None, 0, 0))(params, X[:, None], Y[:, None])
mean_of_rows = per_sample.numpy().mean(axis=0)
print(f"per-sample gradients {per_sample.shape}; their mean is the batch gradient: "
      f"{np.abs(mean_of_rows - g.numpy()).max():.1e}")
