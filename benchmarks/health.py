"""What the health monitor costs: step time with no monitor, every=50 and every=1.

    python benchmarks/health.py [--rounds 7] [--steps 50] [--threads 1]

Two workloads, the ones `chainrule train` runs by default: the digits MLP (64-256-128-10,
ReLU, dropout 0.2, AdamW, batch 32: a dispatch-bound step of about a millisecond) and
W1's MLP (784-256-256-10, ReLU, SGD, batch 128: a GEMM-bound one). Each configuration
trains its own copy from the same weights on the same batches; rounds alternate between
the configurations, so that a busy machine slows all of them alike, and the median of the
rounds' mean step times is reported with its ratio to "off" (no monitor: the model has
no hook, the loop no call). every=50 is what ``--health`` does by default; its cost is
also derived from every=1's (every step sampled), which noise hides less.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def _digits(chainrule):
    nn, optim = chainrule.nn, chainrule.optim
    from chainrule.data import load_dataset

    x, y, _ = load_dataset("digits")
    chainrule.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 256), nn.ReLU(), nn.Dropout(0.2),
                          nn.Linear(256, 128), nn.ReLU(), nn.Dropout(0.2), nn.Linear(128, 10))
    return model, optim.AdamW(model.parameters(), lr=5e-3, weight_decay=1e-4), x, y, 32


def _w1(chainrule):
    nn, optim = chainrule.nn, chainrule.optim
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2048, 784)).astype(np.float32)
    y = rng.integers(0, 10, 2048)
    chainrule.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                          nn.Linear(256, 10))
    return model, optim.SGD(model.parameters(), lr=0.01), x, y, 128


WORKLOADS = {"digits MLP, AdamW, batch 32": _digits, "W1 MLP 784-256-256-10, batch 128": _w1}
CONFIGS = ("off", "every=50", "every=1")


class Trainer:
    """One configuration's model, optimizer, monitor and position in the data."""

    def __init__(self, make, config: str):
        import chainrule as cr
        import chainrule.nn.functional as F
        from chainrule.health import Monitor

        self.cr, self.F = cr, F
        self.model, self.opt, self.x, self.y, self.batch = make(cr)
        self.monitor = None if config == "off" else Monitor(
            self.model, every=int(config.split("=")[1]), log=None, keep=False)
        self.i = 0

    def steps(self, n: int) -> float:
        """Mean seconds per step over ``n`` training steps."""
        cr, F, b = self.cr, self.F, self.batch
        batches = []
        for _ in range(n):
            lo = (self.i * b) % (len(self.x) - b)
            batches.append((cr.tensor(self.x[lo:lo + b]), cr.tensor(self.y[lo:lo + b])))
            self.i += 1
        start = time.perf_counter()
        for xb, yb in batches:
            loss = F.cross_entropy(self.model(xb), yb)
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            if self.monitor is not None:
                self.monitor.step(loss, self.opt)
        return (time.perf_counter() - start) / n


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--steps", type=int, default=50, help="steps per configuration per round")
    p.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    args = p.parse_args()
    from threadpoolctl import threadpool_limits

    from chainrule._allocator import keep_freed_memory

    keep_freed_memory()  # as `chainrule train` does
    with threadpool_limits(limits=args.threads):
        print(f"{args.rounds} rounds x {args.steps} steps per configuration, "
              f"{args.threads} BLAS thread(s); median of the rounds' mean step time")
        print(f"{'workload':36s} {'config':9s} {'ms/step':>8s} {'vs off':>7s}")
        for name, make in WORKLOADS.items():
            trainers = {c: Trainer(make, c) for c in CONFIGS}
            for t in trainers.values():
                t.steps(10)  # warm up: first allocations, caches
            times = {c: [] for c in CONFIGS}
            for _ in range(args.rounds):
                for c, t in trainers.items():
                    times[c].append(t.steps(args.steps))
            off = statistics.median(times["off"])
            for c in CONFIGS:
                ms = statistics.median(times[c])
                print(f"{name:36s} {c:9s} {1000 * ms:8.3f} {ms / off:7.3f}")
            # every=50's few sampled steps hide in the noise of a busy machine: derive its
            # cost from every=1's, where every step pays it
            sampled = statistics.median(times["every=1"]) - off
            print(f"{'':36s} a sampled step costs {1000 * sampled:.3f} ms more: every=50 "
                  f"adds {100 * sampled / 50 / off:.1f} % to the step time")


if __name__ == "__main__":
    main()
