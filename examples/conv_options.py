"""PyTorch's conv, pooling and normalization options in one small network, trained on the
embedded 8x8 digits (a few seconds):

    python examples/conv_options.py [--epochs 6]

Upsample (nearest) to 16x16; a 'same'-padded conv with GroupNorm; max pooling with
padding and ceil_mode; a depthwise-separable block (a dilated depthwise conv with
reflect padding, groups = channels, then a 1x1 pointwise conv without bias) with
BatchNorm2d; a Conv1d over the rows as a sequence with BatchNorm1d on (N, C, L); global
average pooling (AdaptiveAvgPool2d(1)). The names and arguments are PyTorch's.
"""

import argparse

import numpy as np
from threadpoolctl import threadpool_limits

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
import chainrule.optim as optim
from chainrule.data import DataLoader, TensorDataset, load_dataset

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=6)
args = parser.parse_args()


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.image = nn.Sequential(
            nn.Upsample(scale_factor=2),                                  # 8x8 -> 16x16
            nn.Conv2d(1, 16, 3, padding="same"), nn.GroupNorm(4, 16), nn.ReLU(),
            nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),         # -> 8x8
            nn.Conv2d(16, 16, 3, padding="same", dilation=2, groups=16,   # depthwise
                      padding_mode="reflect"),
            nn.Conv2d(16, 32, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),  # pointwise
            nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.rows = nn.Sequential(                                        # rows as a sequence
            nn.Conv1d(8, 16, 3, padding=1, bias=False), nn.BatchNorm1d(16), nn.ReLU(),
            nn.AvgPool1d(2, ceil_mode=True, count_include_pad=False), nn.Flatten())
        self.head = nn.Linear(32 + 16 * 4, 10)

    def forward(self, x):                          # x: (N, 1, 8, 8)
        rows = x.reshape(x.shape[0], 8, 8)          # (N, C=8 rows, L=8 columns)
        return self.head(cr.cat([self.image(x), self.rows(rows)], axis=1))


x_train, y_train, _ = load_dataset("digits", "train")
x_test, y_test, _ = load_dataset("digits", "test")
x_train = x_train.reshape(-1, 1, 8, 8).astype(np.float32)
x_test = x_test.reshape(-1, 1, 8, 8).astype(np.float32)

cr.manual_seed(0)
model = Net()
print(f"{sum(p.size for p in model.parameters()):,} parameters")
opt = optim.AdamW(model.parameters(), lr=3e-3)
loader = DataLoader(TensorDataset(x_train, y_train), batch_size=64, shuffle=True, seed=0)
# Small products: one BLAS thread (a second one, on a busy machine, made this 20x slower).
with threadpool_limits(1):
    for epoch in range(args.epochs):
        total = 0.0
        for x, y in loader:
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(y)
        print(f"epoch {epoch + 1}: training loss {total / len(y_train):.4f}")

model.eval()
with cr.no_grad():
    predicted = model(cr.tensor(x_test)).numpy().argmax(axis=1)
print(f"test accuracy {(predicted == y_test).mean():.4f} on {len(y_test)} held-out digits")
