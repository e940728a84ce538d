"""Where W1's step goes: each of its matrix products timed alone, in each orientation.

W1 at one thread is GEMM-bound. This prints the median time of every product of the
step (forward x @ W.T per layer, backward dW = g.T @ x and dx = g @ W) as chainrule and
the hand-written NumPy step call them, the same forward product with W's transpose made
contiguous first (a plain, non-transposed GEMM), and XLA's time for it when JAX is
installed. Usage (pinned to n cores, as run.py does):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/gemm_profile.py --threads 1
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))


def median_us(fn, n: int = 300) -> float:
    for _ in range(20):
        fn()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e6


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=128)
    args = parser.parse_args(argv)
    n = args.threads
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:n])
    if n == 1:
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                                   " --xla_cpu_multi_thread_eigen=false"
                                   " intra_op_parallelism_threads=1").strip()
    import jax_steps
    from threadpoolctl import threadpool_limits

    threadpool_limits(n)
    jnp = None
    if jax_steps.available():
        import jax
        import jax.numpy as jnp

    rng = np.random.default_rng(0)

    def f32(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    b = args.batch
    layers = [(784, 256), (256, 256), (256, 10)]
    print(f"W1's products, batch {b}, {n} thread(s), median us (NumPy {np.__version__})")
    print(f"{'product':<34} {'as called':>10} {'W.T contiguous':>15} {'XLA':>8}")
    total = 0.0
    for i, (fan_in, fan_out) in enumerate(layers, 1):
        x, w, g = f32(b, fan_in), f32(fan_out, fan_in), f32(b, fan_out)
        wt = np.ascontiguousarray(w.T)
        fwd = median_us(lambda x=x, w=w: x @ w.T)
        plain = median_us(lambda x=x, wt=wt: x @ wt)
        xla = float("nan")
        if jnp is not None:
            product = jax.jit(lambda x, w: x @ w.T)
            xj, wj = jnp.asarray(x), jnp.asarray(w)
            xla = median_us(lambda p=product, a=xj, c=wj: p(a, c).block_until_ready())
        dw = median_us(lambda x=x, g=g: g.T @ x)
        total += fwd + dw
        print(f"{f'layer {i} forward x @ W.T':<34} {fwd:>10.1f} {plain:>15.1f} {xla:>8.1f}")
        print(f"{f'layer {i} backward dW = g.T @ x':<34} {dw:>10.1f}")
        if i > 1:  # the first layer's input needs no gradient
            dx = median_us(lambda g=g, w=w: g @ w)
            total += dx
            print(f"{f'layer {i} backward dx = g @ W':<34} {dx:>10.1f}")
    print(f"{'all products of one step':<34} {total:>10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
