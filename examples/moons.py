"""A micrograd-style classifier: two moons, a 2-16-16-1 MLP, hinge loss, SGD.

The same demo micrograd trains with scalar Values, here on tensors with the public API.
"""


import chainrule as cr
import chainrule.nn as nn
from chainrule.data import make_moons

cr.manual_seed(1337)
X, y = make_moons(100, noise=0.1, seed=0)
Y = cr.tensor(y * 2.0 - 1.0).reshape(-1, 1)  # labels -1 / +1
Xt = cr.tensor(X)

model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(),
                      nn.Linear(16, 1))
params = list(model.parameters())

for step in range(100):
    scores = model(Xt)
    data_loss = (1 - Y * scores).relu().mean()  # max-margin (hinge) loss
    reg_loss = 1e-4 * sum((p * p).sum() for p in params)  # L2 regularization
    loss = data_loss + reg_loss
    accuracy = ((scores.numpy() > 0) == (Y.numpy() > 0)).mean()
    model.zero_grad()
    loss.backward()
    lr = 1.0 - 0.9 * step / 100  # learning-rate decay
    with cr.no_grad():
        for p in params:
            p.sub_(p.grad * lr)  # gradient descent
    if step % 10 == 0:
        print(f"step {step:3d}  loss {loss.item():.4f}  accuracy {accuracy:.0%}")

print(f"final accuracy {accuracy:.0%}")
if accuracy < 0.95:
    raise SystemExit("the moons were not separated")
