"""A deep sigmoid network that stops learning, the health report that says why, and the fix.

    python examples/health_vanishing.py                    # English
    python examples/health_vanishing.py --lang zh          # 中文
    python examples/health_vanishing.py --figures out/     # also out/sigmoid.png, out/fixed.png

Ten sigmoid layers of 64 units on the 8x8 digits, trained by SGD with momentum: the loss
stays at ln(10) = 2.3 and the accuracy at chance. Backpropagation multiplies dl/da by
sigma'(z) <= 0.25 at every layer on the way back (the lecture's amplifier), so the first
layer's gradient is some 1e-9 of the last one's: the monitor flags it as vanishing. The
same network with ReLU and batch norm after each Linear keeps the gradient the same size
at every depth, and learns.
"""

import argparse
import math
from pathlib import Path

import numpy as np

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
import chainrule.optim as optim
from chainrule.data import load_dataset
from chainrule.health import Monitor
from chainrule.health.report import report_text

DEPTH, WIDTH, EPOCHS, BATCH = 10, 64, 8, 32

LINES = {
    "en": {"title": "== {name}: {depth} layers, test accuracy {acc:.3f}, last loss {loss:.3f}",
           "ratio": "first layer's gradient / last layer's (RMS): {ratio:.2g}",
           "sigmoid": "sigmoid", "fixed": "ReLU + batch norm"},
    "zh": {"title": "== {name}：{depth} 层，测试准确率 {acc:.3f}，最后的损失 {loss:.3f}",
           "ratio": "第一层与最后一层的梯度之比（RMS）：{ratio:.2g}",
           "sigmoid": "sigmoid", "fixed": "ReLU + 批归一化"},
}


def build(fixed: bool) -> nn.Sequential:
    cr.manual_seed(0)
    layers: list = [nn.Flatten()]
    size = 64
    for _ in range(DEPTH):
        layers.append(nn.Linear(size, WIDTH))
        if fixed:
            layers += [nn.BatchNorm1d(WIDTH), nn.ReLU()]
        else:
            layers.append(nn.Sigmoid())
        size = WIDTH
    layers.append(nn.Linear(size, 10))
    return nn.Sequential(*layers)


def train(model, x, y) -> Monitor:
    """A PyTorch-style loop, the monitor stepped after each optimizer step."""
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    monitor = Monitor(model, every=20, log=None)
    order = np.random.default_rng(0)
    for epoch in range(1, EPOCHS + 1):
        monitor.new_epoch(epoch)
        idx = order.permutation(len(x))
        for i in range(0, len(x), BATCH):
            b = idx[i:i + BATCH]
            loss = F.cross_entropy(model(cr.tensor(x[b])), cr.tensor(y[b]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            monitor.step(loss, optimizer)
    monitor.close()
    return monitor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lang", choices=("en", "zh"), default="en")
    parser.add_argument("--figures", type=Path, metavar="DIR",
                        help="also draw each run's health figure into DIR")
    args = parser.parse_args()
    say = LINES[args.lang]
    x, y, _ = load_dataset("digits")
    x_test, y_test, _ = load_dataset("digits", "test")
    for key, fixed in (("sigmoid", False), ("fixed", True)):
        model = build(fixed)
        monitor = train(model, x, y)
        model.eval()
        with cr.no_grad():
            acc = float((model(cr.tensor(x_test)).numpy().argmax(1) == y_test).mean())
        last = monitor.records[-1]
        weights = [p for p in last["params"] if len(p["shape"]) == 2]
        print(say["title"].format(name=say[key], depth=DEPTH, acc=acc, loss=last["loss"]))
        print(say["ratio"].format(ratio=weights[0]["grad_rms"] / weights[-1]["grad_rms"]))
        print(report_text(monitor.records, say[key], args.lang, every=monitor.every))
        print()
        if args.figures:
            from chainrule.health.figure import draw

            args.figures.mkdir(parents=True, exist_ok=True)
            draw(monitor.records, args.figures / f"{key}.png", say[key], args.lang)
    print(f"ln(10) = {math.log(10):.3f}: the loss of a network that has learned nothing")


if __name__ == "__main__":
    main()
