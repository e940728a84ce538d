"""Indexing, ordering, scans, einsum and norms, on one causal self-attention head.

The scores are an einsum, the future is masked with triu + masked_fill, each token's two
strongest links come from topk, the diagonal is read with gather, and the loss adds an L1
norm of the weights. Every step is differentiable: one backward() gives dL/dW, which
gradcheck confirms against finite differences.
"""

import numpy as np

import chainrule as cr

cr.manual_seed(0)
T, D = 5, 4  # tokens, features
x = cr.randn(T, D, dtype=cr.float64)
Wq, Wk, Wv = (cr.randn(D, D, dtype=cr.float64, requires_grad=True) for _ in range(3))


def attention(Wq, Wk, Wv):
    q, k, v = cr.einsum("td,de->te", x, Wq), x @ Wk, x @ Wv
    scores = cr.einsum("te,se->ts", q, k) / D ** 0.5  # token t looks at token s
    future = cr.ones(T, T).triu(1) > 0  # s > t: not seen yet
    weights = scores.masked_fill(future, -np.inf).softmax(dim=-1)
    return weights, weights @ v


def loss_fn(Wq, Wk, Wv):
    weights, out = attention(Wq, Wk, Wv)
    return out.norm() + 0.01 * (Wq.norm(p=1) + Wk.norm(p=1))


weights, out = attention(Wq, Wk, Wv)
print("each row of weights sums to 1:", np.allclose(cr.cumsum(weights, dim=1)[:, -1].numpy(), 1))
print("weight of each token on itself (gather on the diagonal):",
      weights.gather(1, cr.arange(T).reshape(T, 1)).numpy().ravel().round(3))
top = weights.topk(2, dim=1)
print("the two tokens each token attends to most:", top.indices.numpy().tolist())

loss = loss_fn(Wq, Wk, Wv)
loss.backward()
print(f"loss {loss.item():.4f}; |dL/dWq| = {Wq.grad.norm().item():.4f}")
print("gradcheck passed:", cr.gradcheck(loss_fn, [Wq.detach(), Wk.detach(), Wv.detach()]))
