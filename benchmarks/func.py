"""chainrule.func's costs, as ratios measured side by side in one run (issue 17):

- jvp / forward: ``func.jvp`` of the W1 MLP's loss (784-256-256-10, batch 128, float32)
  along a random direction for every parameter, against the loss alone (target <= 1.5;
  its products alone are 2.26x the forward's: x dW1^T, and dh W^T + h dW^T per layer);
- hvp / grad: ``func.hvp`` of the same loss against ``func.grad`` (target <= 3);
  torch.func's ratios for the same pairs beside them, for scale;
- loop / vmap(grad): per-sample gradients of a 784-128-10 MLP for 64 samples, a Python
  loop of 64 backward passes through an ``nn.Sequential`` (zero_grad, forward, backward,
  copy the grads) against one ``func.vmap(func.grad(loss))`` (target >= 10); PyTorch's
  torch.func.vmap(grad) beside it for scale.

The C allocator keeps freed memory (``_allocator.keep_freed_memory``, as
benchmarks/run.py) for all sides alike. Each pair alternates in rounds, so that machine
noise hits both sides; the medians over the rounds give the ratio. Run with
``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python benchmarks/func.py``
(``--threads N``: BLAS threads, default 1; ``--rounds``, ``--repeats``).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from workloads import _init  # the same weights as make bench's workloads

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule import func


def mlp_loss(x, y):
    """The MLP's cross-entropy as a function of its parameters (W, b per layer)."""
    def loss(*p):
        h = x
        for i in range(0, len(p), 2):
            h = F.linear(h, p[i], p[i + 1])
            if i + 2 < len(p):
                h = F.relu(h)
        return F.cross_entropy(h, y)
    return loss


def w1_cases():
    rng = np.random.default_rng(0)
    params = tuple(cr.tensor(p) for p in _init([784, 256, 256, 10], rng))
    x = cr.tensor(rng.standard_normal((128, 784)).astype(np.float32))
    y = rng.integers(0, 10, 128)
    v = tuple(cr.tensor(rng.standard_normal(p.shape).astype(np.float32)) for p in params)
    loss = mlp_loss(x, y)
    nums = tuple(range(len(params)))

    def forward():
        with cr.no_grad():
            return loss(*params)

    return {
        "jvp / forward": (lambda: func.jvp(loss, params, v), forward),
        "hvp / grad": (lambda: func.hvp(loss, params, v),
                       lambda: func.grad(loss, argnums=nums)(*params)),
    }


def w1_torch_cases():
    """The same pairs in torch.func, for scale (None without PyTorch)."""
    try:
        import torch
        from torch import func as tfunc
    except ImportError:
        return None
    rng = np.random.default_rng(0)
    params = tuple(torch.tensor(p) for p in _init([784, 256, 256, 10], rng))
    x = torch.tensor(rng.standard_normal((128, 784)).astype(np.float32))
    y = torch.tensor(rng.integers(0, 10, 128))
    v = tuple(torch.tensor(rng.standard_normal(p.shape).astype(np.float32)) for p in params)
    tf = torch.nn.functional

    def loss(*p):
        h = x
        for i in range(0, len(p), 2):
            h = tf.linear(h, p[i], p[i + 1])
            if i + 2 < len(p):
                h = torch.relu(h)
        return tf.cross_entropy(h, y)

    nums = tuple(range(len(params)))

    def forward():
        with torch.no_grad():
            return loss(*params)

    def hvp():  # torch.func's recipe: jvp of grad
        return tfunc.jvp(tfunc.grad(loss, argnums=nums), params, v)[1]

    return {
        "jvp / forward": (lambda: tfunc.jvp(loss, params, v), forward),
        "hvp / grad": (hvp, lambda: tfunc.grad(loss, argnums=nums)(*params)),
    }


def per_sample_case(batch: int = 64):
    """(vmap of grad, the loop of backward passes, torch.func's vmap of grad or None)."""
    rng = np.random.default_rng(1)
    params = _init([784, 128, 10], rng)
    X = rng.standard_normal((batch, 784)).astype(np.float32)
    Y = rng.integers(0, 10, batch)
    ps, xs, ys = tuple(cr.tensor(p) for p in params), cr.tensor(X), cr.tensor(Y)

    def one(p, x, y):
        return mlp_loss(x[None], y[None])(*p)

    batched = func.vmap(func.grad(one), in_dims=(None, 0, 0))

    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    for layer, (w, b) in zip((model[0], model[2]), (params[:2], params[2:])):
        layer.weight.data[...] = w
        layer.bias.data[...] = b

    def loop():
        grads = []
        for i in range(batch):
            model.zero_grad()
            F.cross_entropy(model(xs[i:i + 1]), Y[i:i + 1]).backward()
            grads.append([p.grad.numpy().copy() for p in model.parameters()])
        return grads

    theirs = None
    try:
        import torch
        from torch import func as tfunc

        tp = tuple(torch.tensor(p) for p in params)
        tx, ty = torch.tensor(X), torch.tensor(Y)

        def tone(p, x, y):
            h = torch.relu(torch.nn.functional.linear(x[None], p[0], p[1]))
            return torch.nn.functional.cross_entropy(
                torch.nn.functional.linear(h, p[2], p[3]), y[None])

        tgrad = tfunc.vmap(tfunc.grad(tone), in_dims=(None, 0, 0))
        theirs = lambda: tgrad(tp, tx, ty)  # noqa: E731
    except ImportError:
        pass
    return (lambda: batched(ps, xs, ys)), loop, theirs


def _time(fn, repeats: int) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def side_by_side(fns: dict, rounds: int, repeats: int) -> dict:
    """Median seconds per call of each function, alternating them round by round."""
    for fn in fns.values():
        fn()  # warm up
    times = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            times[name].append(_time(fn, repeats))
    return {name: statistics.median(t) for name, t in times.items()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    from threadpoolctl import threadpool_limits

    from chainrule import _allocator

    # freed blocks kept for reuse, as benchmarks/run.py does for every framework alike:
    # a per-sample gradient is 26 MB, mapped afresh on every call with glibc's defaults
    _allocator.keep_freed_memory()

    with threadpool_limits(limits=args.threads):
        try:
            import torch
            torch.set_num_threads(args.threads)
        except ImportError:
            pass
        print(f"chainrule.func, {args.threads} BLAS thread(s), median of {args.rounds} "
              f"rounds x {args.repeats} calls, ms per call")
        theirs = w1_torch_cases() or {}
        for name, (fn, base) in w1_cases().items():
            fns = {"fn": fn, "base": base}
            if name in theirs:
                fns["torch fn"], fns["torch base"] = theirs[name]
            t = side_by_side(fns, args.rounds, args.repeats)
            line = (f"W1 {name:14s} {1e3 * t['fn']:8.2f} / {1e3 * t['base']:8.2f} = "
                    f"{t['fn'] / t['base']:.2f}x")
            if "torch fn" in t:
                line += (f"   (torch.func: {1e3 * t['torch fn']:.2f} / "
                         f"{1e3 * t['torch base']:.2f} = {t['torch fn'] / t['torch base']:.2f}x)")
            print(line)
        batched, loop, theirs = per_sample_case()
        fns = {"vmap": batched, "loop": loop}
        if theirs is not None:
            fns["torch"] = theirs
        t = side_by_side(fns, args.rounds, max(1, args.repeats // 2))
        print(f"per-sample grads, 784-128-10, 64 samples: loop {1e3 * t['loop']:.2f} / "
              f"vmap(grad) {1e3 * t['vmap']:.2f} = {t['loop'] / t['vmap']:.1f}x faster"
              + (f"; torch.func vmap(grad) {1e3 * t['torch']:.2f}" if "torch" in t else ""))


if __name__ == "__main__":
    main()
