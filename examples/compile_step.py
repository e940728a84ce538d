"""cr.compile: record a training step once, replay it on every later batch.

Trains the same small MLP (with dropout) twice from one seed, eagerly and compiled, and
shows that the two runs are bitwise the same and how much faster the replay is; then a
step that cannot be recorded (it reads `loss.item()` inside) runs eagerly and says why.

    python examples/compile_step.py
"""

from __future__ import annotations

import time
import warnings

import numpy as np

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule import optim
from chainrule.data import load_digits


def train(compiled: bool, x, y, epochs: int = 3):
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.2), nn.Linear(128, 10))
    opt = optim.AdamW(model.parameters(), lr=5e-3)

    def step(xb, yb):
        opt.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        return loss  # a tensor: a replay gives it back with this step's value

    if compiled:
        step = cr.compile(step)
    batches = [(cr.tensor(x[i:i + 32]), cr.tensor(y[i:i + 32])) for i in range(0, len(y), 32)]
    start, losses = time.perf_counter(), []
    for _ in range(epochs):
        losses += [step(xb, yb).item() for xb, yb in batches]
    return losses, [p.numpy().copy() for p in model.parameters()], \
        time.perf_counter() - start, step


def main() -> None:
    x, y = load_digits("train")
    eager_losses, eager_params, eager_s, _ = train(False, x, y)
    losses, params, compiled_s, step = train(True, x, y)
    same = losses == eager_losses and all(np.array_equal(a, b)
                                          for a, b in zip(params, eager_params))
    print(f"eager: {eager_s:.2f} s, compiled: {compiled_s:.2f} s "
          f"({compiled_s / eager_s:.2f}x); bitwise the same: {same}")
    print(f"compiled step: {step.stats} (the short last batch is a second recording)")

    @cr.compile
    def reads_a_value(xb):
        out = (xb * 2).sum()
        return out * 2 if out.item() > 0 else out  # Python branching on a value

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reads_a_value(cr.tensor(x[:4]))
    print(f"eager fallback: {reads_a_value.fallback_reason}")


if __name__ == "__main__":
    main()
