"""Shared by the health tests: small models on the embedded digits, and a plain loop."""

from __future__ import annotations

import numpy as np

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule.data import load_dataset

X, Y, _ = load_dataset("digits")  # float32 pixels in [0, 1], 10 classes


def mlp(widths, activation, seed: int = 0, flatten: bool = True) -> nn.Sequential:
    """Flatten, then [Linear, activation] per hidden width, then Linear to 10 classes:
    layer 1 is the first Linear and layer 2 its activation, as in `chainrule train`'s."""
    cr.manual_seed(seed)
    layers = [nn.Flatten()] if flatten else []
    for a, b in zip(widths, widths[1:]):
        layers += [nn.Linear(a, b), activation()]
    layers.append(nn.Linear(widths[-1], 10))
    return nn.Sequential(*layers)


def batch(i: int, size: int = 32, scale: float = 1.0):
    """The i-th batch of the digits in a fixed order: (x, y) tensors."""
    idx = np.random.default_rng(i).choice(len(X), size, replace=False)
    return cr.tensor(X[idx] * np.float32(scale)), cr.tensor(Y[idx])


def step(model, optimizer, monitor, xb, yb):
    """One training step, the way a PyTorch user writes it; the record, if sampled."""
    loss = F.cross_entropy(model(xb), yb)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return monitor.step(loss, optimizer) if monitor is not None else None


def forward_to(model, layer: str, x) -> np.ndarray:
    """The output of ``model``'s layer named ``layer`` on ``x``, computed by hand from the
    model's layers (no hooks, no monitor)."""
    h = x
    with cr.no_grad():
        for name, m in model.named_children():
            h = m(h)
            if name == layer:
                return h.numpy()
    raise KeyError(layer)


def hooks_on(model) -> int:
    """How many hooks of any kind the model and its submodules hold."""
    return sum(len(m._forward_pre_hooks) + len(m._forward_hooks) + len(m._backward_hooks)
               for m in model.modules())


def by_name(items, key: str, value: str) -> dict:
    found = [x for x in items if x[key] == value]
    assert len(found) == 1, (value, items)
    return found[0]
