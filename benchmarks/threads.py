"""Where do two BLAS threads start to pay? Matrix products and training steps timed at
1 and 2 threads, side by side in one run, on a quiet machine and beside a process
spinning on one core (``busy.py``).

    python benchmarks/threads.py                 # quiet, then busy
    python benchmarks/threads.py --only gemm     # the products alone

Prints, per product (m x k by k x n, float32, as Linear and the im2col convolution call
it) and per training step (the digits MLP, W1's MLP, the Fashion-MNIST CNN: the recipes'
models, on random data), the median ms at 1 and at 2 threads and their ratio. The
threads rule of ``chainrule train`` (src/chainrule/train/threads.py) takes its threshold
from these numbers: docs/performance.md has them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))

# (m, k, n): the products of the models below, and squares between them
PRODUCTS = [
    (32, 64, 256), (32, 256, 128),  # digits MLP, batch 32: layers 1 and 2
    (64, 64, 64), (128, 128, 128), (128, 256, 256),
    (128, 784, 256),  # W1's first layer
    (256, 256, 256), (512, 512, 512),
    (50176, 9, 32), (12544, 288, 64), (3136, 576, 64),  # Fashion CNN b64, im2col: rows b*h*w
    (1024, 1024, 1024),
]


def median_ms(fn, repeats: int, rounds: int, limits) -> dict:
    """Median ms of ``fn`` under each thread count, alternating rounds."""
    from threadpoolctl import threadpool_limits

    times = {n: [] for n in limits}
    for n in limits:  # warm up: wake the BLAS threads, fill the caches
        with threadpool_limits(limits=n):
            fn()
    for _ in range(rounds):
        for n in limits:
            with threadpool_limits(limits=n):
                for _ in range(repeats):
                    t0 = time.perf_counter()
                    fn()
                    times[n].append(time.perf_counter() - t0)
    return {n: statistics.median(t) * 1e3 for n, t in times.items()}


def gemms(rounds: int) -> None:
    rng = np.random.default_rng(0)
    for m, k, n in PRODUCTS:
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((k, n), dtype=np.float32)
        macs = m * k * n
        repeats = max(3, min(200, int(2e8 / macs)))
        ms = median_ms(lambda a=a, b=b: a @ b, repeats, rounds, (1, 2))
        print(f"  {m:>5} x {k:>4} x {n:>4}  {macs / 1e6:9.2f} M MACs  1 thr {ms[1]:8.3f} ms"
              f"  2 thr {ms[2]:8.3f} ms  2/1 {ms[2] / ms[1]:5.2f}", flush=True)


def step_of(dataset: str, model: str, hidden=None, batch=None):
    """One training step of a recipe's model on random data of its dataset's shape."""
    import chainrule as cr
    from chainrule.train.loop import make_optimizer
    from chainrule.train.models import build_model
    from chainrule.train.recipes import recipe_for
    from chainrule.train.state import EpochSums
    from chainrule.train.steps import train_step

    recipe = recipe_for(dataset, model, hidden=hidden, batch_size=batch)
    shape = {"digits": (1, 8, 8), "fashion-mnist": (1, 28, 28)}[dataset]
    if model == "mlp":
        shape = (int(np.prod(shape)),)
    cr.manual_seed(0)
    net = build_model(recipe, shape, 10)
    opt = make_optimizer(recipe, net.parameters())
    rng = np.random.default_rng(0)
    x = cr.tensor(rng.standard_normal((recipe.batch_size, *shape), dtype=np.float32))
    y = cr.tensor(rng.integers(0, 10, recipe.batch_size))
    sums = EpochSums()
    return lambda: train_step(net, opt, x, y, sums)


def steps(rounds: int) -> None:
    models = [("digits MLP 64-256-128-10, b32", ("digits", "mlp"), 50),
              ("W1 MLP 784-256-256-10, b128", ("fashion-mnist", "mlp", (256, 256), 128), 10),
              ("Fashion CNN 32-64-64 bn, b64", ("fashion-mnist", "cnn"), 2)]
    for name, args, repeats in models:
        ms = median_ms(step_of(*args), repeats, rounds, (1, 2))
        print(f"  {name:<32} 1 thr {ms[1]:8.3f} ms  2 thr {ms[2]:8.3f} ms"
              f"  2/1 {ms[2] / ms[1]:5.2f}", flush=True)


def main(argv=None) -> int:
    from busy import spinning

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("gemm", "steps"))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--busy", choices=("both", "no", "yes"), default="both")
    args = parser.parse_args(argv)
    from chainrule._allocator import keep_freed_memory

    keep_freed_memory()  # as chainrule train does
    print(f"{os.cpu_count()} cores, pinned to {sorted(os.sched_getaffinity(0))}; "
          f"load average {os.getloadavg()[0]:.1f} at the start")
    for busy in {"both": (False, True), "no": (False,), "yes": (True,)}[args.busy]:
        with spinning(busy) as core:
            print("busy: one process spinning on core " + str(core) if busy else "quiet")
            if args.only != "steps":
                gemms(args.rounds)
            if args.only != "gemm":
                steps(args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
