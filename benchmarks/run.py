"""Side-by-side benchmarks: chainrule vs PyTorch CPU vs JAX jit vs NumPy by hand.

Each workload is built for every framework from the same initial weights and data,
then timed alternately (a round of chainrule, a round of PyTorch, a round of NumPy ...),
so that machine noise hits all of them alike. Reported: median ms per step and the
ratios chainrule / PyTorch, chainrule / JAX and chainrule / NumPy-by-hand (the floor for
a NumPy engine); and chainrule's step under ``cr.compile`` ("cr comp", recorded in the
warm-up, replayed when timed) over eager chainrule, NumPy by hand and JAX. JAX is measured
when it is installed (``pip install -e '.[bench]'``).

Each thread count runs in its own process, pinned to that many cores: XLA sizes its
thread pool once, at start-up, so pinning is what makes "n threads" mean the same for
every framework; BLAS (threadpoolctl) and PyTorch are also told n.

Run with ``make bench`` (which unsets OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE for this
command only) or ``python benchmarks/run.py --threads 1 2 --workloads W1 W2``.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))


def set_threads(n: int) -> None:
    from threadpoolctl import threadpool_limits

    global _limiter
    _limiter = threadpool_limits(limits=n)
    import torch

    torch.set_num_threads(n)


def time_steps(step, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return times


def measure(workload, repeats: int, rounds: int) -> tuple[dict, dict]:
    """Median seconds per step for each framework, alternating rounds; and, for steps that
    report their phases, the median of backward / forward over the same steps."""
    steps = workload.build()
    for step in steps.values():  # warm up: caches, BLAS threads, allocator
        for _ in range(3):
            step()
    # Import-time objects (PyTorch brings ~150k) would otherwise be rescanned by every
    # full garbage collection, a cost that lands on whichever framework allocates Python
    # objects per op. Freezing them is neutral: it applies to every framework alike.
    gc.collect()
    gc.freeze()
    samples = {name: [] for name in steps}
    phases = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            for _ in range(repeats):
                t0 = time.perf_counter()
                out = step()
                samples[name].append(time.perf_counter() - t0)
                if isinstance(out, tuple):
                    phases[name].append(out[1] / out[0])
    return ({name: statistics.median(s) for name, s in samples.items()},
            {name: statistics.median(r) for name, r in phases.items() if r})


def gemm_rate() -> float:
    """This machine's float32 GEMM rate through NumPy's BLAS, in FLOP/s (best of 5)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((1024, 1024), dtype=np.float32)
    b = rng.standard_normal((1024, 1024), dtype=np.float32)
    a @ b
    best = min(time_steps(lambda: a @ b, 5))
    return 2 * 1024**3 / best


def peak_memory(threads: int) -> dict:
    """Peak memory added by 50 W1 steps, per framework, each in its own process."""

    env = {**os.environ, "OMP_NUM_THREADS": str(threads),
           "OPENBLAS_NUM_THREADS": str(threads)}
    out = {}
    import jax_steps

    names = ("chainrule", "torch", "numpy") + (("jax",) if jax_steps.available() else ())
    for name in names:
        proc = subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__),
                                                            "memory.py"), name],
                              capture_output=True, text=True, env=env, timeout=600)
        out[name] = int(proc.stdout.strip()) if proc.returncode == 0 else float("nan")
    return out


def blas_info() -> str:
    import torch
    from threadpoolctl import threadpool_info

    parts = []
    for info in threadpool_info():
        parts.append(f"{info.get('internal_api')} {info.get('version')} "
                     f"({info.get('architecture')}, {info.get('num_threads')} threads)")
    parts.append(f"torch {torch.__version__} ({torch.get_num_threads()} threads, "
                 f"{torch.backends.mkldnn.is_available() and 'oneDNN' or 'no oneDNN'})")
    import jax_steps

    if jax_steps.available():
        import jax

        parts.append(f"jax {jax.__version__} (XLA CPU)")
    parts.append(f"pinned to cores {sorted(os.sched_getaffinity(0))}")
    return "; ".join(parts)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[2, 1])
    parser.add_argument("--workloads", nargs="+", default=["W1", "W2", "W3", "W4", "W5"])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-memory", dest="memory", action="store_false",
                        help="skip the peak-memory measurement")
    parser.add_argument("--no-jax", dest="jax", action="store_false",
                        help="leave JAX out even if it is installed")
    parser.add_argument("--no-micrograd", dest="micrograd", action="store_false",
                        help="skip timing micrograd on W4 (about a second per step)")
    parser.add_argument("--busy", action="store_true",
                        help="measure a busy machine: a second process spins on the last "
                        "core for the whole run (busy.py)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return run_child(args, args.threads[0])

    import torch

    import chainrule

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"python {platform.python_version()}, numpy {np.__version__}, "
          f"chainrule {chainrule.__version__}, torch {torch.__version__}", flush=True)
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        print(f"{var}={os.environ.get(var, '(unset)')}", flush=True)
    from busy import spinning

    with spinning(args.busy) as core:
        if args.busy:
            print(f"busy: a second process spins on core {core} for the whole run", flush=True)
        return run_children(args)


def run_children(args) -> int:
    for n in args.threads:
        if n > os.cpu_count():
            print(f"\n{n} threads: skipped, this machine has {os.cpu_count()} cores")
            continue
        env = dict(os.environ)
        if not args.jax:
            env["BENCH_NO_JAX"] = "1"
        if not args.micrograd:
            env["BENCH_NO_MICROGRAD"] = "1"
        if n == 1:  # XLA's own pools; the pinning below is what holds them to one core
            env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false"
                                " intra_op_parallelism_threads=1").strip()
        cmd = [sys.executable, os.path.abspath(__file__), "--child", "--threads", str(n),
               "--repeats", str(args.repeats), "--rounds", str(args.rounds),
               "--workloads", *args.workloads] + ([] if args.memory else ["--no-memory"])
        rc = subprocess.call(cmd, env=env)
        if rc:
            return rc
    return 0


def keep_freed_memory() -> str:
    """chainrule's allocator settings (src/chainrule/_allocator.py), set here for the whole
    process before any workload is built, so that every framework measured runs with them
    (PyTorch's and JAX's host allocations go through malloc too); what was set, in words."""
    from chainrule._allocator import keep_freed_memory

    if keep_freed_memory():
        return "freed memory kept for reuse (mallopt), for every framework alike"
    return "glibc's defaults (CHAINRULE_MALLOC=system, or not glibc)"


def run_child(args, n: int) -> int:
    """One thread count, in a process pinned to n cores."""
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:n])
    allocator = keep_freed_memory()
    import micrograd_step
    import workloads

    set_threads(n)
    rate = gemm_rate()
    print(f"\nBLAS: {blas_info()}")
    print(f"allocator: {allocator}")
    print(f"float32 GEMM rate (1024^3, NumPy): {rate / 1e9:.1f} GFLOP/s; times are "
          "median ms per step; floor = the step's FLOPs at that rate")
    header = (f"{'workload':<24} {'thr':>3} {'chainrule':>10} {'cr comp':>9} {'torch':>9} "
              f"{'jax':>9} {'numpy':>9} {'floor':>8} {'cr/torch':>8} {'cr/jax':>7} "
              f"{'cr/numpy':>8} {'comp/cr':>7} {'comp/np':>7} {'comp/jax':>8}")
    print(header)
    print("-" * len(header), flush=True)
    nan = float("nan")
    for key in args.workloads:
        for wl in workloads.ALL[key]():
            reps = max(1, int(args.repeats * wl.repeat_scale))
            medians, ratios = measure(wl, reps, args.rounds)
            med = {k: v * 1e3 for k, v in medians.items()}
            cr_ms, t_ms = med["chainrule"], med["torch"]
            j_ms, np_ms = med.get("jax", nan), med.get("numpy", nan)
            c_ms = med.get("cr compiled", nan)
            floor = f"{wl.flops / rate * 1e3:8.3f}" if wl.flops else f"{'-':>8}"
            print(f"{wl.name:<24} {n:>3} {cr_ms:>10.3f} {c_ms:>9.3f} {t_ms:>9.3f} "
                  f"{j_ms:>9.3f} {np_ms:>9.3f} {floor} {cr_ms / t_ms:>8.2f} "
                  f"{cr_ms / j_ms:>7.2f} {cr_ms / np_ms:>8.2f} {c_ms / cr_ms:>7.2f} "
                  f"{c_ms / np_ms:>7.2f} {c_ms / j_ms:>8.2f}", flush=True)
            if ratios and key in ("W1", "W3"):
                print(f"{'  backward / forward':<24} {n:>3} " + ", ".join(
                    f"{k} {r:.2f}" for k, r in ratios.items()) + " (median over the same "
                    "steps, phases timed inside each)", flush=True)
            if wl.micrograd and micrograd_step.available():
                mg_ms = statistics.median(time_steps(wl.micrograd(), 3)) * 1e3
                print(f"{'  micrograd (scalars)':<24} {n:>3} {mg_ms:>10.0f} ms per step: "
                      f"chainrule is {mg_ms / cr_ms:,.0f}x faster", flush=True)
    if args.memory:
        mem = peak_memory(n)
        print("peak memory added by 50 W1 steps: " + ", ".join(
            f"{k} {v / 2**20:.1f} MiB" for k, v in mem.items()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
