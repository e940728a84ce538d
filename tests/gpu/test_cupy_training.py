"""Fashion-MNIST on the GPU: the CNN recipe of examples/fashion_cnn.py (conv, batch norm,
max pooling, dropout, AdamW), trained for one epoch on a slice on CuPy and on NumPy from
the same seed; their test accuracies must agree within a band (float32 sums run in other
orders on a GPU, so the runs part slowly), and both must have learned."""

from __future__ import annotations

import numpy as np

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule.data import DataLoader, TensorDataset, load_fashion_mnist

from .gpu import cupy_or_skip

cupy_or_skip()

TRAIN, TEST = 6000, 2000


def _run(backend: str) -> float:
    x, y = load_fashion_mnist("train")
    xt, yt = load_fashion_mnist("test")
    cr.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32),
        nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.3), nn.Linear(32 * 7 * 7, 10),
    ).to(backend)
    opt = cr.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-2)
    loader = DataLoader(TensorDataset(x[:TRAIN], y[:TRAIN]), batch_size=64, shuffle=True,
                        seed=0)
    model.train()
    for xb, yb in loader:
        opt.zero_grad()
        F.cross_entropy(model(xb.to(backend)), yb.numpy()).backward()
        opt.step()
    model.eval()
    with cr.no_grad():
        logits = model(cr.tensor(xt[:TEST]).to(backend)).numpy()
    return float((logits.argmax(axis=1) == np.asarray(yt[:TEST])).mean())


def test_fashion_cnn_on_the_gpu_matches_the_cpu():
    gpu, cpu = _run("cupy"), _run("numpy")
    print(f"test accuracy after one epoch on {TRAIN} images: GPU {gpu:.4f}, CPU {cpu:.4f}")
    assert gpu > 0.7 and cpu > 0.7
    assert abs(gpu - cpu) < 0.02
