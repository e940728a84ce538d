"""Backpropagation with the raw engine: a 2-8-1 network learns XOR by gradient descent.

No layers, no optimizer: tensors, the forward pass, ``loss.backward()`` (the chain rule,
edge by edge) and the update w <- w - lr * dL/dw, by hand.
"""

import numpy as np

import chainrule as cr

cr.manual_seed(1)
X = cr.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
y = cr.tensor([[0.0], [1.0], [1.0], [0.0]])

W1 = cr.randn(2, 8, requires_grad=True)
b1 = cr.zeros(8, requires_grad=True)
W2 = cr.randn(8, 1, requires_grad=True)
b2 = cr.zeros(1, requires_grad=True)
params = [W1, b1, W2, b2]

for step in range(2001):
    h = (X @ W1 + b1).tanh()  # forward pass: z = xW + b, a = tanh(z)
    p = (h @ W2 + b2).sigmoid()
    loss = ((p - y) ** 2).sum()  # L = sum over samples of l^n
    for w in params:
        w.grad = None
    loss.backward()  # backward pass: dL/dw for every w
    with cr.no_grad():
        for w in params:
            w.data -= 0.5 * w.grad.data  # gradient descent
    if step % 500 == 0:
        print(f"step {step:4d}  loss {loss.item():.4f}")

print("predictions:", np.round(p.numpy().ravel(), 3), "targets:", y.numpy().ravel())
if loss.item() > 0.05:
    raise SystemExit("XOR was not learned")
