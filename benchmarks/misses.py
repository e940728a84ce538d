"""The profiles behind issue 13's missed targets: where each step's time goes.

``make bench`` gives ratios; this says why the ones that miss stay where they are, each
part timed side by side in one run (medians, 1 BLAS thread unless ``--threads``):

- **GEMM floor** (W1, W2 against JAX jit): the step's matrix products alone, in NumPy,
  in the orientations chainrule runs them, and the SGD update alone (two passes over each
  weight, as NumPy has no axpy), against JAX's whole step, which XLA fuses. When NumPy's
  GEMMs alone take as long as JAX's whole step, no NumPy engine can reach JAX.
- **Replay anatomy** (W2, W4 compiled against JAX jit): the compiled call, its guard
  (``plan.holds``), the generated replay (``plan.run``) and the hand-written NumPy step,
  which runs the same NumPy calls with no guard, no Tensor and no version counter.
- **Eager anatomy** (W5, 15,000 ops): forward and backward, chainrule with Python's
  cyclic garbage collector on and off, against the same NumPy calls by hand; the
  collector's passes by generation (import-time objects frozen first, as run.py does);
  the forward's top functions (cProfile).

Run: ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python benchmarks/misses.py``
(about 40 s; ``--rounds``, ``--threads``).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import pstats
import statistics
import time

import numpy as np
import workloads
from jax_steps import available as jax_available

import chainrule as cr


def median_ms(fn, rounds: int, repeats: int) -> float:
    fn()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(repeats):
            fn()
        times.append((time.perf_counter() - start) / repeats)
    return 1e3 * statistics.median(times)


def side_by_side(fns: dict, rounds: int, repeats: int) -> dict:
    """Median ms per call of each function, the functions alternating round by round."""
    for fn in fns.values():
        fn()
    times = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            for _ in range(repeats):
                fn()
            times[name].append((time.perf_counter() - start) / repeats)
    return {name: 1e3 * statistics.median(t) for name, t in times.items()}


def mlp_gemms(batch: int):
    """The W1/W2 step's eight products (forward 3, backward 5), on its shapes, each in
    the orientation chainrule's Linear runs it."""
    rng = np.random.default_rng(0)
    sizes = [784, 256, 256, 10]
    ws = [rng.standard_normal((o, i)).astype(np.float32) for i, o in zip(sizes, sizes[1:])]
    acts = [rng.standard_normal((batch, n)).astype(np.float32) for n in sizes]
    gs = [rng.standard_normal((batch, n)).astype(np.float32) for n in sizes[1:]]

    wide = 16 <= batch <= 32  # ops.linalg.Linear's orientation for few rows: w @ x.T

    def gemms():
        for a, w in zip(acts, ws):
            (w @ a.T) if wide and w.shape[0] >= 128 else (a @ w.T)  # forward
        for i in (2, 1, 0):
            gs[i].T @ acts[i]  # weight gradient
            if i:
                gs[i] @ ws[i]  # input gradient
    return gemms


def sgd_update():
    """The MLP's SGD update as a replay lowers it: ``w -= np.multiply(g, lr, out=work)``
    per parameter, two passes over each weight."""
    rng = np.random.default_rng(0)
    shapes = [(256, 784), (256,), (256, 256), (256,), (10, 256), (10,)]
    ws = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    gs = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    work = [np.empty_like(w) for w in ws]

    def update():
        for w, g, k in zip(ws, gs, work):
            w -= np.multiply(g, 0.01, out=k)
    return update


def gemm_floor(key: str, rounds: int) -> None:
    batch = {"W1": 128, "W2": 16}[key]
    fns = {"numpy GEMMs alone": mlp_gemms(batch), "numpy SGD update alone": sgd_update()}
    steps = workloads.by_key(key).build()
    fns["numpy step by hand"] = steps["numpy"]
    fns["cr compiled"] = steps["cr compiled"]
    if "jax" in steps:
        fns["jax jit step"] = steps["jax"]
    t = side_by_side(fns, rounds, 20 if key == "W2" else 5)
    print(f"{key} (MLP 784-256-256-10, batch {batch}) train step, ms:")
    for name, ms in t.items():
        print(f"  {name:24s} {ms:7.3f}")
    if "jax jit step" in t:
        print(f"  NumPy's GEMMs alone / JAX's whole step = "
              f"{t['numpy GEMMs alone'] / t['jax jit step']:.2f}")


def replay_anatomy(key: str, rounds: int) -> None:
    steps = workloads.by_key(key).build()
    step = steps["cr compiled"]
    step()
    step()
    compiled = step.compiled
    plan = compiled._plans[0]
    seen = {}
    replay = plan.replay
    plan.replay = lambda args: seen.setdefault("args", args) and replay(args)
    step()
    plan.replay = replay
    args = seen["args"]
    fns = {"compiled call": lambda: compiled(*args),
           "  its guard (holds)": lambda: plan.holds(args),
           "  its replay (run)": lambda: plan.run(args),
           "numpy step by hand": steps["numpy"]}
    if "jax" in steps:
        fns["jax jit step"] = steps["jax"]
    t = side_by_side(fns, rounds, 200)
    print(f"{key} compiled step, us (the replay: {plan.n_ops} recorded ops, "
          f"{len(plan.run.source.splitlines())} lines):")
    for name, ms in t.items():
        print(f"  {name:22s} {1e3 * ms:8.1f}")
    guard, run = t["  its guard (holds)"], t["  its replay (run)"]
    wrapper = t["compiled call"] - run - guard
    print(f"  the call = guard {1e3 * guard:.1f} + cache lookup and lock {1e3 * wrapper:.1f} + "
          f"replay {1e3 * run:.1f} us; replay - hand step = "
          f"{1e3 * (run - t['numpy step by hand']):+.1f} us (the gradients' Tensor wraps, "
          "version counters and the optimizer's guard; minus any faster GEMM orientation)")


def eager_anatomy(rounds: int, depth: int = 5000, freeze: bool = True) -> None:
    x0 = np.random.default_rng(0).standard_normal(64).astype(np.float32)
    if freeze:
        # as benchmarks/run.py: the import-time objects (PyTorch's, JAX's) frozen, so that
        # a full collection scans the step's own objects only
        gc.collect()
        gc.freeze()

    def cr_forward():
        x = cr.tensor(x0, requires_grad=True)
        y = x
        for _ in range(depth):
            y = y.tanh() * 1.0001 + 0.001
        return y.sum()

    np_forward, np_backward = workloads.numpy_chain(x0, depth)

    passes = {}
    started = [0.0]

    def watch(phase, info):
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            n, s = passes.get(info["generation"], (0, 0.0))
            passes[info["generation"]] = (n + 1, s + time.perf_counter() - started[0])

    rows = {}
    for collector in ("on", "off"):
        (gc.enable if collector == "on" else gc.disable)()
        f, b = [], []
        if collector == "on":
            gc.callbacks.append(watch)
        for _ in range(rounds):
            start = time.perf_counter()
            loss = cr_forward()
            mid = time.perf_counter()
            loss.backward()
            f.append(mid - start)
            b.append(time.perf_counter() - mid)
            del loss
        if collector == "on":
            gc.callbacks.remove(watch)
        rows[f"chainrule, collector {collector}"] = (statistics.median(f), statistics.median(b))
    gc.enable()
    f, b = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        ys = np_forward()
        mid = time.perf_counter()
        np_backward(ys)
        f.append(mid - start)
        b.append(time.perf_counter() - mid)
    rows["numpy by hand"] = (statistics.median(f), statistics.median(b))
    ops = 3 * depth
    print(f"W5 eager (a deep chain, {ops:,} ops), ms (us per op):")
    for name, (fw, bw) in rows.items():
        print(f"  {name:28s} forward {1e3 * fw:6.1f} ({1e6 * fw / ops:4.2f})"
              f"   backward {1e3 * bw:6.1f} ({1e6 * bw / ops:4.2f})")
    per_step = {g: (n / rounds, 1e3 * s / rounds) for g, (n, s) in sorted(passes.items())}
    print("  the collector's passes per step (collector on), by generation: " + ", ".join(
        f"gen {g}: {n:.0f} taking {ms:.1f} ms" for g, (n, ms) in per_step.items()))
    profile = cProfile.Profile()
    profile.enable()
    cr_forward()
    profile.disable()
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(6)
    lines = [s for s in out.getvalue().splitlines() if s.strip()][-7:]
    print("  forward, cProfile (its own overhead inflates every line):")
    for line in lines:
        print("    " + line.strip())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args(argv)
    from threadpoolctl import threadpool_limits

    from chainrule import _allocator

    _allocator.keep_freed_memory()  # as benchmarks/run.py, for every side alike
    if not jax_available():
        print("(JAX is not installed: the JAX rows are left out; make .venv/.bench-installed)")
    with threadpool_limits(limits=args.threads):
        print(f"{args.threads} BLAS thread(s), medians of {args.rounds} rounds\n")
        for key in ("W1", "W2"):
            gemm_floor(key, args.rounds)
            print()
        for key in ("W4", "W2"):
            replay_anatomy(key, args.rounds)
            print()
        eager_anatomy(max(5, args.rounds // 2))


if __name__ == "__main__":
    main()
