"""Side-by-side benchmarks: chainrule vs PyTorch CPU vs NumPy by hand, in one process.

Each workload is built for every framework from the same initial weights and data,
then timed alternately (a round of chainrule, a round of PyTorch, a round of NumPy ...),
so that machine noise hits all of them alike. Reported: median ms per step and the
ratio chainrule / PyTorch (and chainrule / NumPy-by-hand, the floor for a NumPy engine).

Run with ``make bench`` (which unsets OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE for this
command only) or ``python benchmarks/run.py --threads 1 2 --workloads W1 W2``.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import workloads  # noqa: E402


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


def measure(workload, repeats: int, rounds: int) -> dict:
    """Median seconds per step for each framework, alternating rounds."""
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
    for _ in range(rounds):
        for name, step in steps.items():
            samples[name].extend(time_steps(step, repeats))
    return {name: statistics.median(s) for name, s in samples.items()}


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
    import subprocess

    env = {**os.environ, "OMP_NUM_THREADS": str(threads),
           "OPENBLAS_NUM_THREADS": str(threads)}
    out = {}
    for name in ("chainrule", "torch", "numpy"):
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
    return "; ".join(parts)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[2, 1])
    parser.add_argument("--workloads", nargs="+", default=list(workloads.ALL))
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-memory", dest="memory", action="store_false",
                        help="skip the peak-memory measurement")
    args = parser.parse_args(argv)

    import torch

    import chainrule

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"python {platform.python_version()}, numpy {np.__version__}, "
          f"chainrule {chainrule.__version__}, torch {torch.__version__}")
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        print(f"{var}={os.environ.get(var, '(unset)')}")
    header = (f"{'workload':<24} {'thr':>3} {'chainrule':>10} {'torch':>9} {'numpy':>9} "
              f"{'floor':>8} {'cr/torch':>8} {'cr/numpy':>8}")
    for n in args.threads:
        set_threads(n)
        rate = gemm_rate()
        print(f"\nBLAS: {blas_info()}")
        print(f"float32 GEMM rate (1024^3, NumPy): {rate / 1e9:.1f} GFLOP/s; times are "
              "median ms per step; floor = the step's FLOPs at that rate")
        print(header)
        print("-" * len(header))
        for key in args.workloads:
            for wl in workloads.ALL[key]():
                reps = max(1, int(args.repeats * wl.repeat_scale))
                med = measure(wl, reps, args.rounds)
                cr_ms = med["chainrule"] * 1e3
                t_ms = med["torch"] * 1e3
                np_ms = med.get("numpy", float("nan")) * 1e3
                floor = f"{wl.flops / rate * 1e3:8.3f}" if wl.flops else f"{'-':>8}"
                print(f"{wl.name:<24} {n:>3} {cr_ms:>10.3f} {t_ms:>9.3f} {np_ms:>9.3f} "
                      f"{floor} {cr_ms / t_ms:>8.2f} {cr_ms / np_ms:>8.2f}", flush=True)
        if args.memory:
            mem = peak_memory(n)
            print("peak memory added by 50 W1 steps: " + ", ".join(
                f"{k} {v / 2**20:.1f} MiB" for k, v in mem.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
