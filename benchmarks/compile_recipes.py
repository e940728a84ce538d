"""The training recipes' step, eager and compiled (cr.compile), side by side: what decides
whether `chainrule train` compiles by default. Median ms per step, alternating rounds, in
one process, 1 thread (pinned); the Fashion-MNIST CNN on made-up 28x28 images (the same
shapes and recipe as the real run).

    PYTHONPATH=src python benchmarks/compile_recipes.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time

import numpy as np


def _steps(dataset, model_name, compiled, x, y):
    import chainrule as cr
    from chainrule.train import loop, models, recipes, steps
    from chainrule.train.state import EpochSums

    recipe = recipes.recipe_for(dataset, model_name)
    cr.manual_seed(0)
    model = models.build_model(recipe, x.shape[1:], 10)
    opt = loop.make_optimizer(recipe, model.parameters())
    xb, yb = cr.tensor(x[:recipe.batch_size]), cr.tensor(y[:recipe.batch_size])
    sums = EpochSums()

    update = steps.compiled_update() if compiled else None

    def step():
        steps.train_step(model, opt, xb, yb, sums, update)

    return step


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:1])
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    from chainrule._allocator import keep_freed_memory
    from chainrule.data import load_digits

    keep_freed_memory()
    dx, dy = load_digits("train")
    rng = np.random.default_rng(0)
    fx, fy = rng.random((64, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, 64)
    for name, dataset, model, x, y, reps in (("digits MLP (b32)", "digits", "mlp", dx, dy, 200),
                                             ("Fashion CNN (b64)", "fashion-mnist", "cnn", fx,
                                              fy, 5)):
        eager, comp = _steps(dataset, model, False, x, y), _steps(dataset, model, True, x, y)
        for s in (eager, comp):
            for _ in range(3):
                s()
        gc.collect()
        times = {"eager": [], "compiled": []}
        for _ in range(args.rounds):
            for key, s in (("eager", eager), ("compiled", comp)):
                for _ in range(reps):
                    t0 = time.perf_counter()
                    s()
                    times[key].append(time.perf_counter() - t0)
        e, c = (statistics.median(times[k]) * 1e3 for k in ("eager", "compiled"))
        print(f"{name:<20} eager {e:8.3f} ms  compiled {c:8.3f} ms  compiled/eager {c / e:.2f}",
              flush=True)


if __name__ == "__main__":
    main()
