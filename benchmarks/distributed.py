"""Data parallelism on this machine: processes against threads, and the all-reduce's cost.

    python benchmarks/distributed.py [--steps 30] [--batch 64]

Measures, for the Fashion-MNIST CNN of `chainrule train --dataset fashion-mnist --model
cnn` (random data of its shape: the step's time does not depend on the values):

1. samples per second of a training step at the same global batch (2 x --batch):
   one process with 2 BLAS threads, and 2 processes (mpiexec) with 1 thread each,
   DistributedDataParallel averaging the gradients;
2. on 2 processes: the all-reduce of the CNN's gradients alone, its share of the step,
   and the time the step waits for it at the end of backward (the rest is overlapped
   with the backward pass, which launched it from the gradient hooks);
3. the all-reduce of W1's 269,322 float32 parameters (the 784-256-256-10 MLP of
   benchmarks/workloads.py) against the memory-bandwidth bound: an all-reduce of B bytes
   over shared memory moves at least 2 B per rank (its own data out, the other's in);
4. a projection, on paper, for 8 and 64 machines on a 10 Gb/s network: the measured
   compute time plus a ring all-reduce, 2 (N - 1) / N * bytes / bandwidth, plus
   2 (N - 1) message latencies (50 us each, TCP on 10 GbE, assumed).

Each configuration runs in its own processes; the parent prints the table. Timings on a
shared machine move by tens of percent: read the ratios, and run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # this checkout's chainrule, in every process


def _cnn():
    import chainrule as cr
    from chainrule.train.models import build_model
    from chainrule.train.recipes import recipe_for

    cr.manual_seed(0)
    return build_model(recipe_for("fashion-mnist", "cnn"), (1, 28, 28), 10)


def worker(args) -> dict:
    """Runs in each benchmark process: times the step (and, on 2 ranks, the all-reduce)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(args.threads)
    import chainrule as cr
    import chainrule.distributed as dist
    import chainrule.nn.functional as F
    from chainrule import nn, optim
    from chainrule.distributed import collectives as C

    dist.init()
    rank, world = dist.get_rank(), dist.get_world_size()
    model = _cnn()
    # buckets of 50 KB: the CNN's 201 KB of gradients in 5, so that the overlap shows
    net = nn.parallel.DistributedDataParallel(model, bucket_cap_mb=0.05) if world > 1 \
        else model
    opt = optim.AdamW(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(rank)
    x = cr.tensor(rng.random((args.batch, 1, 28, 28), dtype=np.float32))
    y = rng.integers(0, 10, args.batch)
    waited, early = [], []
    if world > 1:  # time what the step waits for at the end of backward
        finish = type(net)._finish

        def timed(self):
            early.append(self._sync["next"])  # buckets started while backward still ran
            t = time.perf_counter()
            finish(self)
            waited.append(time.perf_counter() - t)

        type(net)._finish = timed

    def step():
        loss = F.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    times = []
    for _ in range(args.steps):
        dist.barrier()
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    out = {"step": float(np.median(times)), "world": world, "batch": args.batch}
    if world > 1:
        out["waited"] = float(np.median(waited[-args.steps:]))
        out["early"], out["buckets"] = int(np.median(early)), len(net._buckets)
        size = sum(p.data.size for p in model.parameters())
        out["allreduce"] = _time_allreduce(C, np.zeros(size + 20, np.float32), args.steps)
        out["params"] = size
        w1 = np.zeros(784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10, np.float32)
        out["w1_allreduce"] = _time_allreduce(C, w1, args.steps)
        out["w1_bytes"] = w1.nbytes
        out["cache_bandwidth"] = _copy_bandwidth(w1.size, args.steps)  # W1's size: cached
        out["copy_bandwidth"] = _copy_bandwidth(2**23, args.steps)  # 32 MB: to memory
    return out if rank == 0 else {}


def _copy_bandwidth(size: int, steps: int) -> float:
    """Bytes per second through np.copyto (read + write) of ``size`` float32."""
    a = np.ones(size, np.float32)
    b = np.empty_like(a)
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        np.copyto(b, a)
        times.append(time.perf_counter() - t)
    return 2 * a.nbytes / float(np.median(times))


def _time_allreduce(C, buffer, steps) -> float:
    import chainrule.distributed as dist

    times = []
    for _ in range(steps):
        dist.barrier()
        t = time.perf_counter()
        C.all_reduce_array(buffer)
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def run(cmd, threads) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), OPENBLAS_NUM_THREADS=str(threads),
               OMP_NUM_THREADS=str(threads))
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    if out.returncode:
        sys.exit(out.stdout + out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch", type=int, default=64, help="per process")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        result = worker(args)
        if result:
            print(json.dumps(result))
        return
    from chainrule.distributed import launch

    me = [sys.executable, __file__, "--worker", "--steps", str(args.steps)]
    one = run(me + ["--threads", "2", "--batch", str(2 * args.batch)], 2)
    two = run([launch.mpiexec(), "-n", "2"] + me + ["--threads", "1", "--batch",
                                                   str(args.batch)], 1)
    compute = run(me + ["--threads", "1", "--batch", str(args.batch)], 1)
    report(args, one, two, compute)


def report(args, one, two, compute) -> None:
    g = 2 * args.batch
    rate1, rate2 = g / one["step"], g / two["step"]
    print(f"Fashion-MNIST CNN ({two['params']:,} parameters), global batch {g}, median of "
          f"{args.steps} steps")
    print(f"  1 process x 2 threads : {one['step'] * 1e3:7.2f} ms/step  {rate1:7.0f} samples/s")
    print(f"  2 processes x 1 thread: {two['step'] * 1e3:7.2f} ms/step  {rate2:7.0f} samples/s"
          f"  ({rate2 / rate1:.2f}x the threads' rate; target >= 0.9x)")
    print(f"  1 process x 1 thread, batch {args.batch} (one rank's compute): "
          f"{compute['step'] * 1e3:.2f} ms/step")
    ar, waited = two["allreduce"], two["waited"]
    print(f"  gradient all-reduce alone: {ar * 1e3:.3f} ms ({ar / two['step']:.1%} of the "
          f"step); {two['early']} of its {two['buckets']} buckets started while backward "
          f"still ran; at the end of backward the step waited {waited * 1e3:.3f} ms (the last "
          "buckets, and the slower rank)")
    w1, nbytes = two["w1_allreduce"], two["w1_bytes"]
    print(f"W1 all-reduce, {nbytes / 1e6:.2f} MB float32 on 2 processes: {w1 * 1e3:.3f} ms "
          f"({nbytes / w1 / 1e9:.2f} GB/s of gradient); bound: 2 x bytes through memory")
    for name, key in (("in the caches (a 1 MB copy)", "cache_bandwidth"),
                      ("to DRAM (a 32 MB copy)", "copy_bandwidth")):
        bound = 2 * nbytes / two[key]
        print(f"  copying {name}: {two[key] / 1e9:.1f} GB/s, bound {bound * 1e3:.3f} ms: the "
              f"all-reduce takes {w1 / bound:.1f}x it")
    net = 10e9 / 8
    grads = two["params"] * 4
    print(f"projection, batch {args.batch} per machine, 10 Gb/s ring all-reduce of "
          f"{grads / 1e3:.0f} KB, 50 us per message (no overlap counted):")
    for n in (2, 8, 64):
        # bandwidth term, plus 2 (N - 1) message latencies of 50 us (TCP on 10 GbE)
        comm = 2 * (n - 1) / n * grads / net + 2 * (n - 1) * 50e-6
        t = compute["step"] + comm
        print(f"  {n:3d} machines: {compute['step'] * 1e3:.2f} ms compute + {comm * 1e3:.3f} "
              f"ms all-reduce = {t * 1e3:.2f} ms/step, {n * args.batch / t:8.0f} samples/s "
              f"({n * args.batch / t / (args.batch / compute['step']):.1f}x one machine)")


if __name__ == "__main__":
    main()
