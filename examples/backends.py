"""The same model trained on NumPy arrays and on PyTorch tensors (or CuPy arrays on a GPU,
with --backend cupy): chainrule's engine, layers and optimizer run on whichever array
library holds the data (docs/backends.md).

    python examples/backends.py                 # NumPy, then PyTorch CPU tensors
    python examples/backends.py --backend cupy  # NumPy, then CuPy on the GPU
"""

from __future__ import annotations

import argparse

import numpy as np

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F


def train(backend: str, steps: int = 60) -> tuple[float, float]:
    cr.manual_seed(0)  # the same initial weights on every backend
    model = nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 2)).to(backend)
    opt = cr.optim.Adam(model.parameters(), lr=0.05)  # made after the move, as in PyTorch
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 2)).astype(np.float32)
    y = (x[:, 0] * x[:, 1] > 0).astype(np.int64)  # XOR of the signs
    xb = cr.tensor(x).to(backend)  # the batch where the model is; labels stay NumPy
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(model(xb), y)
        loss.backward()
        opt.step()
    accuracy = float((model(xb).numpy().argmax(axis=1) == y).mean())  # .numpy(): to host
    assert model[0].weight.backend == backend
    return loss.item(), accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="torch", choices=["torch", "cupy",
                                                                "array_api_strict"])
    args = parser.parse_args()
    for backend in ("numpy", args.backend):
        loss, accuracy = train(backend)
        print(f"{backend:>16}: final loss {loss:.6f}, accuracy {accuracy:.3f}")


if __name__ == "__main__":
    main()
