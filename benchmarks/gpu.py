"""chainrule on CuPy against PyTorch CUDA: the W1 and W3 training steps on one GPU, in the
same run, alternating rounds, from the same initial weights and data.

    python benchmarks/gpu.py [--rounds 5] [--repeats 50]     # `make gpu-check` runs it

Prints median milliseconds per step and the ratio chainrule/PyTorch. Without CuPy or a
CUDA device (or PyTorch's CUDA build) it says which is missing and exits 0, as the GPU
tests skip.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np


def _missing() -> str | None:
    try:
        import cupy
    except ImportError:
        return "CuPy is not installed (pip install cupy-cuda12x or cupy-cuda13x)"
    try:
        if cupy.cuda.runtime.getDeviceCount() == 0:
            return "no CUDA device"
    except Exception as e:  # noqa: BLE001 - no driver or runtime
        return f"CUDA is not usable ({type(e).__name__}: {e})"
    try:
        import torch
    except ImportError:
        return "PyTorch is not installed"
    if not torch.cuda.is_available():
        return "PyTorch has no CUDA here (a CPU build?)"
    return None


def _models(key: str, rng):
    """The workload's layers for chainrule and PyTorch, with the same initial weights."""
    import torch

    import chainrule.nn as nn

    if key == "W1":
        cr_model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                                 nn.Linear(256, 10))
        t_model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(),
                                      torch.nn.Linear(256, 256), torch.nn.ReLU(),
                                      torch.nn.Linear(256, 10))
        x = rng.standard_normal((128, 784)).astype(np.float32)
    else:
        cr_model = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.MaxPool2d(2),
                                 nn.Conv2d(8, 16, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                                 nn.Linear(16 * 5 * 5, 10))
        t_model = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3), torch.nn.ReLU(),
                                      torch.nn.MaxPool2d(2), torch.nn.Conv2d(8, 16, 3),
                                      torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
                                      torch.nn.Linear(16 * 5 * 5, 10))
        x = rng.standard_normal((64, 1, 28, 28)).astype(np.float32)
    with torch.no_grad():
        for p, q in zip(t_model.parameters(), cr_model.parameters()):
            p.copy_(torch.from_numpy(q.numpy()))
    y = rng.integers(0, 10, x.shape[0])
    return cr_model, t_model, x, y


def build(key: str):
    """{'chainrule': step, 'torch': step}, each one SGD training step on the GPU."""
    import cupy
    import torch

    import chainrule as cr
    import chainrule.nn.functional as F

    cr.manual_seed(0)
    cr_model, t_model, x, y = _models(key, np.random.default_rng(0))
    cr_model.to("cupy")
    t_model.cuda()
    cr_opt = cr.optim.SGD(cr_model.parameters(), lr=0.01)
    t_opt = torch.optim.SGD(t_model.parameters(), lr=0.01)
    cx, tx = cr.tensor(cupy.asarray(x)), torch.from_numpy(x).cuda()
    ty = torch.from_numpy(y).cuda()

    def cr_step():
        cr_opt.zero_grad()
        F.cross_entropy(cr_model(cx), y).backward()
        cr_opt.step()
        cupy.cuda.Device().synchronize()

    def t_step():
        t_opt.zero_grad()
        torch.nn.functional.cross_entropy(t_model(tx), ty).backward()
        t_opt.step()
        torch.cuda.synchronize()

    return {"chainrule": cr_step, "torch": t_step}


def _time(step, repeats: int) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    return (time.perf_counter() - start) / repeats * 1e3


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--workloads", nargs="+", default=["W1", "W3"], choices=["W1", "W3"])
    args = parser.parse_args(argv)
    missing = _missing()
    if missing:
        print(f"benchmarks/gpu.py: skipped: {missing}")
        return 0
    import cupy

    print(f"GPU: {cupy.cuda.runtime.getDeviceProperties(0)['name'].decode()}")
    for key in args.workloads:
        steps = build(key)
        for step in steps.values():
            for _ in range(5):  # warm-up: kernels compiled and cached, memory pools filled
                step()
        times = {name: [] for name in steps}
        for _ in range(args.rounds):
            for name, step in steps.items():
                times[name].append(_time(step, args.repeats))
        ms = {name: statistics.median(t) for name, t in times.items()}
        print(f"{key}: chainrule (CuPy) {ms['chainrule']:.3f} ms, PyTorch CUDA "
              f"{ms['torch']:.3f} ms per step, chainrule/PyTorch "
              f"{ms['chainrule'] / ms['torch']:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
