"""Fashion-MNIST with a small CNN, written with the public API only.

    apt-get install dataset-fashion-mnist     # the IDX files, once
    python examples/fashion_cnn.py [--epochs 12] [--limit N]

(`chainrule train --dataset fashion-mnist --model cnn` runs the same recipe with
checkpoints, resume, metrics and plots.)
"""

import argparse
import time

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
import chainrule.optim as optim
from chainrule.data import DataLoader, TensorDataset, load_fashion_mnist

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=12)
parser.add_argument("--limit", type=int, default=0, help="train on the first N images only")
parser.add_argument("--data-dir", default=None)
args = parser.parse_args()

x_train, y_train = load_fashion_mnist("train", args.data_dir)
x_test, y_test = load_fashion_mnist("test", args.data_dir)
if args.limit:
    x_train, y_train = x_train[: args.limit], y_train[: args.limit]
    x_test, y_test = x_test[: args.limit], y_test[: args.limit]

cr.manual_seed(0)
model = nn.Sequential(
    nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Dropout(0.3), nn.Linear(64 * 7 * 7, 10),
)
print(f"{sum(p.size for p in model.parameters()):,} parameters")
opt = optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-2)
sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs)
loader = DataLoader(TensorDataset(x_train, y_train), batch_size=64, shuffle=True, seed=0)


@cr.no_grad()
def accuracy(x, y):
    model.eval()
    correct = sum(int((model(cr.tensor(x[i:i + 500])).numpy().argmax(1) == y[i:i + 500]).sum())
                  for i in range(0, len(y), 500))
    model.train()
    return correct / len(y)


for epoch in range(args.epochs):
    start, total = time.perf_counter(), 0.0
    for x, y in loader:
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item() * len(y)
    sched.step()
    print(f"epoch {epoch + 1}: train loss {total / len(y_train):.4f}, test accuracy "
          f"{accuracy(x_test, y_test):.4f}, {time.perf_counter() - start:.0f} s")
